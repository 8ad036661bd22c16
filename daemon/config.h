/*
 * config.h - the daemon's configuration: defaults, then the config file,
 * then command-line flags, each later source overriding the earlier.
 *
 * Every option has one row in a table (config.c) that gives its flag name,
 * which is also its key in the config file, its type, bounds and help text;
 * --help is printed from the same table. Once loaded, the config is
 * read-only except the log level, which SIGHUP may reload.
 */
#ifndef DAEMON_CONFIG_H
#define DAEMON_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_HOST_MAX 256
#define CONFIG_NODE_MAX 96 /* as STORE_NODE_MAX */

struct fitd_config {
	char listen_host[CONFIG_HOST_MAX];
	uint16_t listen_port;
	char state_dir[PATH_MAX];
	char store[PATH_MAX];	    /* "" for SQLite in state_dir, or a postgresql:// URI */
	char node[CONFIG_NODE_MAX]; /* "" for HOSTNAME:HASH of state_dir (main.c) */
	char config_file[PATH_MAX];
	char token_file[PATH_MAX]; /* "" for none: then the listen host must be loopback */
	int log_level;

	int64_t http_threads;
	int64_t connection_limit;
	int64_t per_ip_limit;
	int64_t idle_timeout_s;
	int64_t connection_memory_kib;
	int64_t max_upload_mib;
	int64_t max_json_kib;
	int64_t max_columns;
	int64_t max_field_bytes;
	int64_t max_rows;
	int64_t stop_grace_ms;
	int64_t max_predict_mib;
	int64_t max_predict_rows;
	int64_t max_streams;
	int64_t model_cache;
	int64_t worker_threads;
	int64_t reserved_cores;
	int64_t trial_memory_mib;
	int64_t max_running_jobs;
	int64_t lease_ms;
	int64_t stream_poll_ms; /* shared store: streams' poll while LISTEN is up */
	int64_t watchdog_stall_s;
	int64_t rate_limit_token;
	int64_t rate_burst_token;
	int64_t rate_limit_ip;
	int64_t rate_burst_ip;
	int64_t max_jobs_per_token;
	int64_t max_streams_per_token;
	int64_t rate_limit_predict;
	int64_t rate_burst_predict;
	double retention_days; /* finished jobs older than this are deleted; 0: never */
};

enum config_result {
	CONFIG_RUN,   /* start the daemon */
	CONFIG_EXIT,  /* --help or --version was printed: exit 0 */
	CONFIG_ERROR, /* a one-line reason was printed to stderr: exit 2 */
};

/*
 * Fills cfg from defaults, the config file (if --config is given) and argv.
 * Refuses (CONFIG_ERROR) to listen on a host that is not loopback without
 * a token file.
 */
enum config_result config_load(struct fitd_config *cfg, int argc, char **argv);

/*
 * Writes the store's location into buf with any password in it replaced by
 * "***" (for logs and --print-config); "sqlite" when it is "".
 */
void config_store_redacted(const char *store, char *buf, size_t cap);

/* Prints the effective configuration as config-file lines. */
void config_print(const struct fitd_config *cfg, FILE *out);

#endif

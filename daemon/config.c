/*
 * config.c - the option table, the config file reader and the flag parser.
 *
 * The config file holds "key = value" lines; '#' starts a comment line and
 * blank lines are ignored. Keys are the long flag names without "--". An
 * unknown key, a bad value or a value out of bounds stops the daemon with a
 * one-line reason naming the file and line (or the flag).
 */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fitd_config.h"
#include "daemon/base/log.h"

enum opt_type {
	OPT_LISTEN,
	OPT_PATH,
	OPT_LEVEL,
	OPT_INT,
	OPT_NUM,   /* a decimal number (double) within min..max */
	OPT_STORE, /* a postgresql:// URI */
	OPT_NODE,  /* a node id: CONFIG_NODE_MAX - 1 printable bytes, no space */
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION,
	OPT_PRINT,
};

struct opt_row {
	const char *name;
	enum opt_type type;
	size_t offset; /* into struct fitd_config, for OPT_PATH, OPT_INT and OPT_NUM */
	int64_t min, max;
	const char *arg;
	const char *help;
};

#define INT_OPT(n, field, lo, hi, h)                                            \
	{                                                                       \
		n, OPT_INT, offsetof(struct fitd_config, field), lo, hi, "N", h \
	}

static const struct opt_row opts[] = {
	{ "listen", OPT_LISTEN, 0, 0, 0, "HOST:PORT",
	  "address to serve HTTP on (default 127.0.0.1:8080; port 0 picks a free one)" },
	{ "state-dir", OPT_PATH, offsetof(struct fitd_config, state_dir), 0, 0, "DIR",
	  "database and dataset files; created if missing (default $STATE_DIRECTORY or "
	  "./fitd-state)" },
	{ "store", OPT_STORE, offsetof(struct fitd_config, store), 0, 0, "URI",
	  "keep jobs, trials, events, datasets and models in PostgreSQL at this postgresql:// URI "
	  "(state-dir then holds only caches and uploads in progress); default: SQLite in "
	  "state-dir" },
	{ "node", OPT_NODE, offsetof(struct fitd_config, node), 0, 0, "ID",
	  "this daemon's id among those sharing one PostgreSQL store: the owner of its job and "
	  "trial leases, and node= in its logs (default HOSTNAME:HASH of the state directory)" },
	INT_OPT("lease-ms", lease_ms, 100, 3600000,
		"job and trial leases on a shared store: a node silent this long loses its jobs "
		"to the others; renewed every third of it at most (default 30000)"),
	INT_OPT("stream-poll-ms", stream_poll_ms, 100, 3600000,
		"on a shared store, how often event streams look for other nodes' events while "
		"the LISTEN connection is up (it wakes them at once); while it is down, every "
		"second or this, whichever is sooner (default 5000)"),
	{ "config", OPT_CONFIG, 0, 0, 0, "FILE", "read options from FILE; flags override it" },
	{ "log-level", OPT_LEVEL, 0, 0, 0, "LEVEL", "error, warn, info (default) or debug" },
	{ "token-file", OPT_PATH, offsetof(struct fitd_config, token_file), 0, 0, "FILE",
	  "bearer tokens ('<sha256 hex> <scopes> <name>' lines); without it every route is "
	  "open, and only a loopback listen host is allowed" },
	INT_OPT("http-threads", http_threads, 1, 64, "HTTP event threads (default 2)"),
	INT_OPT("connection-limit", connection_limit, 1, 100000,
		"open HTTP connections in all (default 1024)"),
	INT_OPT("per-ip-limit", per_ip_limit, 0, 100000,
		"open HTTP connections from one address; 0 = no limit (default 256)"),
	INT_OPT("idle-timeout", idle_timeout_s, 1, 86400,
		"seconds before an idle connection is closed (default 60)"),
	INT_OPT("connection-memory-kib", connection_memory_kib, 32, 65536,
		"memory for headers and buffers per connection in KiB (default 128)"),
	INT_OPT("max-upload-mib", max_upload_mib, 1, 1048576,
		"largest dataset upload in MiB (default 2048)"),
	INT_OPT("max-json-kib", max_json_kib, 1, 65536,
		"largest JSON request body in KiB (default 1024)"),
	INT_OPT("max-columns", max_columns, 1, 100000, "columns per dataset (default 4096)"),
	INT_OPT("max-field-bytes", max_field_bytes, 16, 16777216,
		"bytes in one CSV field (default 65536)"),
	INT_OPT("max-rows", max_rows, 0, INT64_MAX, "rows per dataset; 0 = no limit (default 0)"),
	INT_OPT("stop-grace-ms", stop_grace_ms, 0, 600000,
		"on SIGTERM, how long in-flight requests may finish (default 5000)"),
	INT_OPT("max-predict-mib", max_predict_mib, 1, 4096,
		"largest prediction request body in MiB (default 64)"),
	INT_OPT("max-predict-rows", max_predict_rows, 1, 100000000,
		"rows in one prediction request (default 1000000)"),
	INT_OPT("max-streams", max_streams, 1, 100000, "concurrent event streams (default 256)"),
	INT_OPT("model-cache", model_cache, 1, 4096, "parsed models kept in memory (default 16)"),
	INT_OPT("worker-threads", worker_threads, 0, 4096,
		"threads for training in all; 0 = cores - reserved-cores (default 0)"),
	INT_OPT("reserved-cores", reserved_cores, 0, 4096,
		"cores kept for the API when worker-threads is 0 (default 1)"),
	INT_OPT("trial-memory-mib", trial_memory_mib, 0, 16777216,
		"estimated memory of the running trials in MiB; 0 = half the RAM (default 0)"),
	INT_OPT("max-running-jobs", max_running_jobs, 1, 4096,
		"jobs that run at once; later ones wait queued, in order (default 8)"),
	INT_OPT("watchdog-stall-s", watchdog_stall_s, 0, 86400,
		"stop the systemd watchdog pings while a trial has not finished an epoch for this "
		"long; 0 = never (default 600)"),
	INT_OPT("rate-limit-token", rate_limit_token, 0, 1000000,
		"requests a second per token; 0 = no limit (default 50)"),
	INT_OPT("rate-burst-token", rate_burst_token, 1, 1000000,
		"requests a token may send at once before its rate applies (default 500)"),
	INT_OPT("rate-limit-ip", rate_limit_ip, 0, 1000000,
		"requests a second per client address (IPv6: per /64); 0 = no limit (default 100)"),
	INT_OPT("rate-burst-ip", rate_burst_ip, 1, 1000000,
		"requests an address may send at once before its rate applies (default 1000)"),
	INT_OPT("max-jobs-per-token", max_jobs_per_token, 0, 1000000,
		"queued and running jobs of one token; 0 = no cap (default 100)"),
	INT_OPT("max-streams-per-token", max_streams_per_token, 0, 100000,
		"open event streams of one token; 0 = no cap (default 64)"),
	INT_OPT("rate-limit-predict", rate_limit_predict, 0, 10000000,
		"predictions a second per address and per token, in place of the limits above; "
		"0 = no limit (default 2000)"),
	INT_OPT("rate-burst-predict", rate_burst_predict, 1, 10000000,
		"predictions an address or a token may send at once (default 4000)"),
	{ "retention-days", OPT_NUM, offsetof(struct fitd_config, retention_days), 0, 36500, "DAYS",
	  "delete finished jobs (trials, events, models but those an alias holds) this long "
	  "after they ended; decimals allowed (0.5 = 12 hours); 0 = keep them (default 0)" },
	{ "print-config", OPT_PRINT, 0, 0, 0, NULL, "print the effective configuration and exit" },
	{ "version", OPT_VERSION, 0, 0, 0, NULL, "print the version and exit" },
	{ "help", OPT_HELP, 0, 0, 0, NULL, "print this help and exit" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void set_defaults(struct fitd_config *cfg)
{
	const char *sd = getenv("STATE_DIRECTORY"); /* set by systemd's StateDirectory= */

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->listen_port = 8080;
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s",
		 sd && sd[0] && !strchr(sd, ':') ? sd : "./fitd-state");
	cfg->log_level = FITD_LOG_INFO;
	cfg->http_threads = 2;
	cfg->connection_limit = 1024;
	cfg->per_ip_limit = 256;
	cfg->idle_timeout_s = 60;
	cfg->connection_memory_kib = 128;
	cfg->max_upload_mib = 2048;
	cfg->max_json_kib = 1024;
	cfg->max_columns = 4096;
	cfg->max_field_bytes = 65536;
	cfg->max_rows = 0;
	cfg->stop_grace_ms = 5000;
	cfg->max_predict_mib = 64;
	cfg->max_predict_rows = 1000000;
	cfg->max_streams = 256;
	cfg->model_cache = 16;
	cfg->worker_threads = 0;
	cfg->reserved_cores = 1;
	cfg->trial_memory_mib = 0;
	cfg->max_running_jobs = 8;
	cfg->lease_ms = 30000;
	cfg->stream_poll_ms = 5000;
	cfg->watchdog_stall_s = 600;
	cfg->rate_limit_token = 50;
	cfg->rate_burst_token = 500;
	cfg->rate_limit_ip = 100;
	cfg->rate_burst_ip = 1000;
	cfg->max_jobs_per_token = 100;
	cfg->max_streams_per_token = 64;
	cfg->rate_limit_predict = 2000;
	cfg->rate_burst_predict = 4000;
	cfg->retention_days = 0;
}

static bool parse_listen(struct fitd_config *cfg, const char *v, char *why, size_t cap)
{
	const char *colon = strrchr(v, ':');
	const char *host = v, *host_end = colon;
	char *end;
	long port;

	if (colon == NULL || colon == v) {
		snprintf(why, cap, "expected HOST:PORT, got '%s'", v);
		return false;
	}
	if (v[0] == '[' && colon[-1] == ']') {
		host = v + 1;
		host_end = colon - 1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535) {
		snprintf(why, cap, "bad port in '%s' (0 to 65535)", v);
		return false;
	}
	if ((size_t)(host_end - host) >= sizeof(cfg->listen_host) || host_end == host) {
		snprintf(why, cap, "bad host in '%s'", v);
		return false;
	}
	memcpy(cfg->listen_host, host, (size_t)(host_end - host));
	cfg->listen_host[host_end - host] = '\0';
	cfg->listen_port = (uint16_t)port;
	return true;
}

static bool parse_int(const struct opt_row *row, const char *v, int64_t *out, char *why, size_t cap)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || n < row->min || n > row->max) {
		snprintf(why, cap, "%s must be an integer from %lld to %lld, got '%s'", row->name,
			 (long long)row->min, (long long)row->max, v);
		return false;
	}
	*out = n;
	return true;
}

static bool parse_num(const struct opt_row *row, const char *v, double *out, char *why, size_t cap)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || !(x >= (double)row->min) ||
	    !(x <= (double)row->max)) {
		snprintf(why, cap, "%s must be a number from %lld to %lld, got '%s'", row->name,
			 (long long)row->min, (long long)row->max, v);
		return false;
	}
	*out = x;
	return true;
}

/* Applies one option value; false with a reason in why. */
static bool opt_set(struct fitd_config *cfg, const struct opt_row *row, const char *v, char *why,
		    size_t cap)
{
	char *field = (char *)cfg + row->offset;
	int level;

	switch (row->type) {
	case OPT_LISTEN:
		return parse_listen(cfg, v, why, cap);
	case OPT_PATH:
		if (v[0] == '\0' || strlen(v) >= PATH_MAX) {
			snprintf(why, cap, "%s must be a non-empty path", row->name);
			return false;
		}
		snprintf(field, PATH_MAX, "%s", v);
		return true;
	case OPT_NODE: {
		size_t len = strlen(v);
		bool ok = len > 0 && len < CONFIG_NODE_MAX;

		for (size_t i = 0; ok && i < len; i++)
			ok = v[i] > ' ' && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
		if (!ok) {
			snprintf(why, cap,
				 "node must be 1 to %d printable characters without space, quote "
				 "or backslash",
				 CONFIG_NODE_MAX - 1);
			return false;
		}
		snprintf(field, CONFIG_NODE_MAX, "%s", v);
		return true;
	}
	case OPT_STORE:
		if ((strncmp(v, "postgresql://", 13) != 0 && strncmp(v, "postgres://", 11) != 0) ||
		    strlen(v) >= PATH_MAX) {
			snprintf(why, cap, "store must be a postgresql:// URI, got '%.40s'", v);
			return false;
		}
		snprintf(field, PATH_MAX, "%s", v);
		return true;
	case OPT_LEVEL:
		level = fitd_log_level_parse(v);
		if (level < 0) {
			snprintf(why, cap, "log-level must be error, warn, info or debug, got '%s'",
				 v);
			return false;
		}
		cfg->log_level = level;
		return true;
	case OPT_INT:
		return parse_int(row, v, (int64_t *)(void *)field, why, cap);
	case OPT_NUM:
		return parse_num(row, v, (double *)(void *)field, why, cap);
	default:
		snprintf(why, cap, "%s cannot be set here", row->name);
		return false;
	}
}

static const struct opt_row *opt_find(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static bool load_file(struct fitd_config *cfg, const char *path)
{
	char line[PATH_MAX + 128], why[512];
	FILE *f = fopen(path, "re");
	unsigned lineno = 0;
	bool ok = true;

	if (f == NULL) {
		fprintf(stderr, "fitd: cannot read config %s: %s\n", path, strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		char *key = trim(line), *eq, *value;
		const struct opt_row *row;

		lineno++;
		if (key[0] == '\0' || key[0] == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			fprintf(stderr, "fitd: %s:%u: expected 'key = value'\n", path, lineno);
			ok = false;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		row = opt_find(key);
		if (row == NULL || row->type >= OPT_CONFIG) {
			fprintf(stderr, "fitd: %s:%u: unknown key '%s'\n", path, lineno, key);
			ok = false;
		} else if (!opt_set(cfg, row, value, why, sizeof(why))) {
			fprintf(stderr, "fitd: %s:%u: %s\n", path, lineno, why);
			ok = false;
		}
	}
	fclose(f);
	return ok;
}

static void print_help(FILE *out)
{
	fprintf(out, "usage: fitd [OPTION]...\n"
		     "Trains and tunes models for uploaded tables; serves the HTTP API.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-28s %s\n", flag, opts[i].help);
	}
	fprintf(out, "\nConfig file keys are the flag names: 'max-columns = 2048'.\n"
		     "\nThe client (see 'fitd COMMAND --help'):\n"
		     "  fitd submit FILE.csv --target COL [--follow]   upload, train, watch\n"
		     "  fitd status [JOB]                              jobs, or one job\n"
		     "  fitd watch JOB                                 follow a job to its end\n"
		     "  fitd cancel JOB                                cancel a job\n"
		     "  fitd delete JOB                                delete a finished job\n"
		     "  fitd alias [NAME [MODEL]] [--delete]           list, show, set or delete "
		     "aliases\n"
		     "  fitd predict --model FILE|ID --input FILE.csv  score a table\n"
		     "\nThe state:\n"
		     "  fitd migrate --from STATE_DIR --to postgresql://...\n"
		     "                                                 move a stopped daemon's "
		     "state into PostgreSQL\n");
}

static void build_longopts(struct option *lo)
{
	for (size_t i = 0; i < NOPTS; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].arg ? required_argument : no_argument;
		lo[i].flag = NULL;
		lo[i].val = 256 + (int)i;
	}
	memset(&lo[NOPTS], 0, sizeof(lo[NOPTS]));
}

/*
 * One pass over argv. With apply false only --config, --help, --version and
 * --print-config are acted on; with apply true every other flag is applied.
 */
static enum config_result scan_flags(struct fitd_config *cfg, int argc, char **argv, bool apply,
				     bool *print)
{
	struct option lo[NOPTS + 1];
	char why[512];
	int c;

	build_longopts(lo);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		const struct opt_row *row;

		if (c < 256) {
			fprintf(stderr, "fitd: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return CONFIG_ERROR;
		}
		row = &opts[c - 256];
		if (!apply && row->type == OPT_HELP) {
			print_help(stdout);
			return CONFIG_EXIT;
		} else if (!apply && row->type == OPT_VERSION) {
			printf("fitd %s\n", FITD_VERSION);
			return CONFIG_EXIT;
		} else if (!apply && row->type == OPT_CONFIG) {
			snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", optarg);
		} else if (!apply && row->type == OPT_PRINT) {
			*print = true;
		} else if (apply && row->type < OPT_CONFIG &&
			   !opt_set(cfg, row, optarg, why, sizeof(why))) {
			fprintf(stderr, "fitd: --%s\n", why);
			return CONFIG_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fitd: unexpected argument '%s' (see --help)\n", argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

/* True for "localhost", 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

enum config_result config_load(struct fitd_config *cfg, int argc, char **argv)
{
	enum config_result r;
	bool print = false;

	set_defaults(cfg);
	r = scan_flags(cfg, argc, argv, false, &print);
	if (r != CONFIG_RUN)
		return r;
	if (cfg->config_file[0] != '\0' && !load_file(cfg, cfg->config_file))
		return CONFIG_ERROR;
	r = scan_flags(cfg, argc, argv, true, &print);
	if (r == CONFIG_RUN && cfg->token_file[0] == '\0' && !host_is_loopback(cfg->listen_host)) {
		fprintf(stderr,
			"fitd: listening on %s needs a token-file: without one every route is "
			"open, which is allowed on a loopback address only\n",
			cfg->listen_host);
		return CONFIG_ERROR;
	}
	if (r == CONFIG_RUN && print) {
		config_print(cfg, stdout);
		return CONFIG_EXIT;
	}
	return r;
}

void config_store_redacted(const char *store, char *buf, size_t cap)
{
	const char *auth = strstr(store, "://");
	const char *at = auth ? strchr(auth + 3, '@') : NULL;
	const char *colon = auth ? strchr(auth + 3, ':') : NULL;

	if (store[0] == '\0')
		snprintf(buf, cap, "sqlite");
	else if (at != NULL && colon != NULL && colon < at)
		snprintf(buf, cap, "%.*s:***%s", (int)(colon - store), store, at);
	else
		snprintf(buf, cap, "%s", store);
}

void config_print(const struct fitd_config *cfg, FILE *out)
{
	bool v6 = strchr(cfg->listen_host, ':') != NULL;
	char store[PATH_MAX];

	fprintf(out, "listen = %s%s%s:%u\n", v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "",
		cfg->listen_port);
	fprintf(out, "state-dir = %s\n", cfg->state_dir);
	config_store_redacted(cfg->store, store, sizeof(store));
	if (cfg->store[0] != '\0')
		fprintf(out, "store = %s\n", store);
	else
		fprintf(out, "# store: SQLite in state-dir\n");
	if (cfg->node[0] != '\0')
		fprintf(out, "node = %s\n", cfg->node);
	else
		fprintf(out, "# node: HOSTNAME:HASH of state-dir\n");
	fprintf(out, "log-level = %s\n", fitd_log_level_name(cfg->log_level));
	if (cfg->token_file[0] != '\0')
		fprintf(out, "token-file = %s\n", cfg->token_file);
	else
		fprintf(out, "# token-file: none, every route is open\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const void *field = (const char *)cfg + opts[i].offset;

		if (opts[i].type == OPT_INT)
			fprintf(out, "%s = %lld\n", opts[i].name,
				(long long)*(const int64_t *)field);
		else if (opts[i].type == OPT_NUM)
			fprintf(out, "%s = %.15g\n", opts[i].name, *(const double *)field);
	}
}

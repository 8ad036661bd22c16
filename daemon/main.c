/*
 * main.c - fitd's entry point: load the config, open the store, serve HTTP,
 * run the scheduler's event loop until SIGTERM or SIGINT, then stop in
 * reverse order.
 *
 * The loop runs on the main thread and owns every libuv handle: the
 * scheduler's wake-ups and timers, the signals (handled here, never in a raw
 * handler), the SSE heartbeat, the systemd watchdog and status, and on a
 * shared store the LISTEN connection (pg_listen.c) and the streams' poll.
 *
 * Streams on a shared store: another node may write a job's events. The
 * LISTEN connection wakes a job's streams at each notification, and the
 * scheduler to read the store again (another node's trial ended, a trial
 * was offered: worker_store_changed()); the poll wakes every waiting stream in case a
 * notification was lost, every stream-poll-ms (default 5 s) while LISTEN
 * is in place and every second (or stream-poll-ms, if sooner) while it is
 * not. A new LISTEN also wakes every stream once, for what was committed
 * while nobody listened.
 *
 * Start: the state directory's lock -> store (migrations, tmp cleanup) ->
 * listener (not ready yet) -> recovery of trials left running -> ready
 * (READY=1, /readyz 200).
 * Stop: STOPPING=1 -> stop accepting and let in-flight requests finish ->
 * running trials are given back to the queue -> the store is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "daemon/client.h"
#include "daemon/config.h"
#include "daemon/notify.h"
#include "daemon/migrate_cmd.h"
#include "daemon/offline_predict.h"
#include "daemon/pg_listen.h"
#include "daemon/wait_policy.h"
#include "fitd_config.h"
#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "store/files.h"
#include "store/store.h"
#include "worker/retention.h"
#include "worker/worker.h"

#define SSE_HEARTBEAT_MS 15000
/* The streams' poll on a shared store while LISTEN is down (at most). */
#define SSE_POLL_DOWN_MS 1000
#define STATUS_MS	 5000

struct daemon {
	struct fitd_config cfg;
	int argc; /* for reloads */
	char **argv;
	struct fitd_metrics *metrics; /* outlives the store, the worker and the API */
	struct api_tokens *tokens;    /* loaded at start, until the API takes them */
	struct store *store;
	struct api_server *api;
	struct worker *worker;
	struct worker_retention *retention; /* on the loop: expired jobs out, free pages back */
	struct pg_listen *listen;	    /* shared store: notifications of new events */
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t watchdog, sse, status, poll;
	bool loop_ready;
	bool stalled;	/* the watchdog pings are withheld */
	int state_lock; /* STATE_DIR/fitd.lock, locked until exit; -1 before */
};

static void notify_worker(void *data)
{
	struct daemon *d = data;

	worker_notify(d->worker);
}

static void forward_events(void *data, const char *job_id)
{
	struct daemon *d = data;

	/* NULL once the API stopped: worker_stop() still records given-back trials. */
	if (d->api != NULL)
		api_events_notify(d->api, job_id);
}

/* The HTTP server's options, from the config and what the daemon wires in. */
static void server_options_from_config(struct daemon *d, struct api_options *o)
{
	const struct fitd_config *cfg = &d->cfg;

	memset(o, 0, sizeof(*o));
	o->host = cfg->listen_host;
	o->port = cfg->listen_port;
	o->threads = (unsigned)cfg->http_threads;
	o->connection_limit = (unsigned)cfg->connection_limit;
	o->per_ip_limit = (unsigned)cfg->per_ip_limit;
	o->idle_timeout_s = (unsigned)cfg->idle_timeout_s;
	o->connection_memory = (size_t)cfg->connection_memory_kib * 1024;
	o->max_upload_bytes = (uint64_t)cfg->max_upload_mib << 20;
	o->max_json_bytes = (size_t)cfg->max_json_kib * 1024;
	o->max_predict_bytes = (size_t)cfg->max_predict_mib << 20;
	o->max_predict_rows = (unsigned)cfg->max_predict_rows;
	o->max_streams = (unsigned)cfg->max_streams;
	o->model_cache = (unsigned)cfg->model_cache;
	o->csv.max_columns = (size_t)cfg->max_columns;
	o->csv.max_field_bytes = (size_t)cfg->max_field_bytes;
	o->csv.max_rows = (size_t)cfg->max_rows;
	o->csv.threads = 2;
	o->notify = notify_worker;
	o->notify_data = d;
	o->metrics = d->metrics;
	o->tokens = d->tokens;
	o->rate_token = (unsigned)cfg->rate_limit_token;
	o->burst_token = (unsigned)cfg->rate_burst_token;
	o->rate_ip = (unsigned)cfg->rate_limit_ip;
	o->burst_ip = (unsigned)cfg->rate_burst_ip;
	o->max_jobs_per_token = (unsigned)cfg->max_jobs_per_token;
	o->max_streams_per_token = (unsigned)cfg->max_streams_per_token;
	o->rate_predict = (unsigned)cfg->rate_limit_predict;
	o->burst_predict = (unsigned)cfg->rate_burst_predict;
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	fitd_log_info("signal", "signal=%s action=stop", strsignal(signum));
	uv_stop(&d->loop);
}

/* The effective configuration as config-file lines (malloc'd; NULL when out of memory). */
static char *config_text(const struct fitd_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	config_print(cfg, f);
	fclose(f);
	return text;
}

/*
 * Reads the token file again and swaps it in; a file that does not parse
 * is refused and the tables in use stay. Turning tokens on or off (a
 * token-file set or removed) waits for a restart, like other keys.
 */
static void reload_tokens(struct daemon *d, const struct fitd_config *fresh)
{
	struct api_tokens *tokens = NULL;
	struct fitd_error err = { 0 };

	if (d->cfg.token_file[0] == '\0' || fresh->token_file[0] == '\0')
		return;
	if (api_tokens_load(fresh->token_file, &tokens, &err) != FITD_OK) {
		fitd_log_warn("reload_failed", "key=token-file reason=\"%s\" kept=previous",
			      err.message);
		return;
	}
	fitd_log_info("reloaded", "key=token-file tokens=%zu", api_tokens_count(tokens));
	api_server_set_tokens(d->api, tokens);
	memcpy(d->cfg.token_file, fresh->token_file, sizeof(d->cfg.token_file));
}

static void default_node(const char *state_dir, char *buf, size_t cap);

/*
 * SIGHUP: reads the configuration again (file, then the same flags) and
 * applies what can change while serving, the log level and the token
 * file; other changed keys are named in the log and wait for a restart. A
 * configuration that no longer parses is refused whole: fitd goes on with
 * the one it has.
 */
static void on_sighup(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	struct fitd_config fresh;
	char *before, *after, *was, *now, *s1 = NULL, *s2 = NULL;

	(void)signum;
	if (config_load(&fresh, d->argc, d->argv) != CONFIG_RUN) {
		fitd_log_warn("reload_failed", "reason=\"invalid configuration (see above)\" "
					       "kept=previous");
		return;
	}
	if (fresh.log_level != d->cfg.log_level) {
		fitd_log_info("reloaded", "key=log-level old=%s new=%s",
			      fitd_log_level_name(d->cfg.log_level),
			      fitd_log_level_name(fresh.log_level));
		d->cfg.log_level = fresh.log_level;
		fitd_log_set_level(fresh.log_level);
	}
	reload_tokens(d, &fresh);
	/* The node id nobody gave is resolved as at the start, to compare like with like. */
	if (fresh.node[0] == '\0')
		default_node(fresh.state_dir, fresh.node, sizeof(fresh.node));
	/* config_print writes the keys in one order: compare line by line. */
	before = config_text(&d->cfg);
	after = config_text(&fresh);
	was = before && after ? strtok_r(before, "\n", &s1) : NULL;
	now = was ? strtok_r(after, "\n", &s2) : NULL;
	for (; was && now; was = strtok_r(NULL, "\n", &s1), now = strtok_r(NULL, "\n", &s2))
		if (strcmp(was, now) != 0)
			fitd_log_warn("reload_needs_restart", "setting=\"%s\" running=\"%s\"", now,
				      was);
	free(before);
	free(after);
	fitd_log_info("signal", "signal=hangup action=reload");
}

/*
 * The watchdog is pinged from the loop that runs the scheduler, so a stuck
 * loop stops the pings; and only while the trials make progress: a trial
 * that has not finished an epoch for watchdog-stall-s means a stuck trial
 * thread, and systemd then restarts fitd (the trial is re-queued).
 */
static void on_watchdog(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int64_t quiet = worker_longest_silence_ms(d->worker);
	bool stalled = d->cfg.watchdog_stall_s > 0 && quiet > d->cfg.watchdog_stall_s * 1000;

	if (stalled != d->stalled)
		fitd_log(stalled ? FITD_LOG_WARN : FITD_LOG_INFO,
			 stalled ? "watchdog_withheld" : "watchdog_resumed",
			 "trial_silent_ms=%lld limit_s=%lld", (long long)quiet,
			 (long long)d->cfg.watchdog_stall_s);
	d->stalled = stalled;
	if (!stalled)
		daemon_notify("WATCHDOG=1");
}

static void on_sse_heartbeat(uv_timer_t *t)
{
	struct daemon *d = t->data;

	/* Stopping: the API is gone while worker_free() runs the loop on. */
	if (d->api == NULL)
		return;
	api_events_heartbeat(d->api);
}

static void on_sse_poll(uv_timer_t *t)
{
	struct daemon *d = t->data;

	if (d->api == NULL) /* stopping, as in on_sse_heartbeat() */
		return;
	api_events_poll(d->api);
}

/* The streams' poll, at the pace that fits the LISTEN connection's state. */
static void set_poll(struct daemon *d, bool listening)
{
	uint64_t ms = (uint64_t)d->cfg.stream_poll_ms;

	if (!listening && ms > SSE_POLL_DOWN_MS)
		ms = SSE_POLL_DOWN_MS;
	uv_timer_start(&d->poll, on_sse_poll, ms, ms);
}

static void on_listen_job(void *data, const char *job_id)
{
	struct daemon *d = data;

	if (d->api == NULL) /* stopping, as in on_sse_heartbeat() */
		return;
	api_events_notify(d->api, job_id);
	worker_job_changed(d->worker, job_id);
}

static void on_listen_state(void *data, bool up)
{
	struct daemon *d = data;

	set_poll(d, up);
	if (up && d->api != NULL) {
		/* Events committed while nobody listened: every stream looks once. */
		api_events_poll(d->api);
		worker_notify(d->worker);
		worker_store_changed(d->worker);
	}
}

/* The LISTEN connection and the poll of a shared store; a failure leaves the poll alone. */
static void start_listen(struct daemon *d)
{
	struct pg_listen_options lo = {
		.uri = d->cfg.store,
		.metrics = d->metrics,
		.node = store_node(d->store),
		.on_job = on_listen_job,
		.on_state = on_listen_state,
		.data = d,
	};
	struct fitd_error err = { 0 };

	set_poll(d, false);
	if (pg_listen_new(&d->loop, &lo, &d->listen, &err) != FITD_OK)
		fitd_log_error("store_listen_failed", "reason=\"%s\"", err.message);
}

static void on_status(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct api_status st;
	struct fitd_error err = { 0 };

	if (d->api == NULL) /* stopping, as in on_sse_heartbeat() */
		return;
	if (api_server_status(d->api, &st, &err) != FITD_OK) {
		daemon_notify("STATUS=store unavailable: %s", err.message);
		return;
	}
	/* The words of GET /readyz, in its order. */
	daemon_notify("STATUS=%s on %s:%u; jobs %lld queued, %lld running; trials %lld queued, "
		      "%lld running; queue depth %u; trial threads %u busy of %u; "
		      "event streams %u; disk %.1f MiB database, %.1f MiB datasets, "
		      "%.1f MiB models",
		      st.ready ? "ready" : "starting", d->cfg.listen_host, api_server_port(d->api),
		      (long long)st.jobs_queued, (long long)st.jobs_running,
		      (long long)st.trials_queued, (long long)st.trials_running, st.queue_depth,
		      st.trial_threads_busy, st.trial_threads, st.event_streams,
		      (double)st.disk.database / 1048576, (double)st.disk.datasets / 1048576,
		      (double)st.disk.models / 1048576);
}

static void start_loop_handles(struct daemon *d)
{
	uint64_t wd = daemon_watchdog_usec();

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&d->sighup, on_sighup, SIGHUP);
	uv_timer_init(&d->loop, &d->watchdog);
	uv_timer_init(&d->loop, &d->sse);
	uv_timer_init(&d->loop, &d->status);
	uv_timer_init(&d->loop, &d->poll);
	d->watchdog.data = d->sse.data = d->status.data = d->poll.data = d;
	if (wd > 0)
		uv_timer_start(&d->watchdog, on_watchdog, wd / 2000, wd / 2000);
	uv_timer_start(&d->sse, on_sse_heartbeat, SSE_HEARTBEAT_MS, SSE_HEARTBEAT_MS);
	uv_timer_start(&d->status, on_status, STATUS_MS, STATUS_MS);
	if (store_shared(d->store))
		start_listen(d);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The retention timer on the loop; retention-days of 0 keeps jobs but still vacuums. */
static int start_retention(struct daemon *d)
{
	struct worker_retention_options ro = { 0 };
	struct fitd_error err = { 0 };

	if (d->cfg.retention_days > 0) {
		ro.retention_ms = (int64_t)(d->cfg.retention_days * 86400000.0);
		if (ro.retention_ms < 1)
			ro.retention_ms = 1;
	}
	if (worker_retention_new(&d->loop, d->store, &ro, forward_events, d, &d->retention, &err) !=
	    FITD_OK) {
		fitd_log_error("retention_failed", "reason=\"%s\"", err.message);
		return -1;
	}
	return 0;
}

/*
 * The node id when none is configured: HOSTNAME:HASH of the state
 * directory's absolute path, so a daemon restarted on its own state
 * directory is the same node (it takes its jobs back at once and re-queues
 * the trials it left running), and two daemons of one host, which need two
 * state directories, are two nodes.
 */
static void default_node(const char *state_dir, char *buf, size_t cap)
{
	char host[64] = "localhost", *path = realpath(state_dir, NULL);
	const char *p = path != NULL ? path : state_dir;
	uint32_t h = 2166136261u; /* FNV-1a */

	gethostname(host, sizeof(host) - 1);
	for (; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(buf, cap, "%s:%08x", host, h);
	free(path);
}

/*
 * Takes the state directory for this process: an flock on
 * STATE_DIR/fitd.lock, held until the process ends, which holds its pid. A
 * second daemon on the same directory would otherwise clean up the first
 * one's uploads in progress, take the trials it runs for trials left
 * running (the same node id) and run its jobs a second time. -1 after
 * logging why.
 */
static int lock_state_dir(struct daemon *d)
{
	struct fitd_error err = { 0 };
	char path[PATH_MAX + 16], pid[32] = "";
	ssize_t n;
	int fd;

	if (store_files_mkdirs(d->cfg.state_dir, &err) != FITD_OK) {
		fitd_log_error("state_dir_failed", "state_dir=\"%s\" reason=\"%s\"",
			       d->cfg.state_dir, err.message);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/fitd.lock", d->cfg.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		fitd_log_error("state_dir_failed", "state_dir=\"%s\" reason=\"open %s: %s\"",
			       d->cfg.state_dir, path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
		if (e == EWOULDBLOCK)
			fitd_log_error("state_dir_in_use",
				       "state_dir=\"%s\" pid=%s reason=\"another fitd (pid %s) "
				       "uses this state directory; give each daemon its own\"",
				       d->cfg.state_dir, pid[0] ? pid : "?", pid[0] ? pid : "?");
		else
			fitd_log_error("state_dir_failed",
				       "state_dir=\"%s\" reason=\"flock %s: %s\"", d->cfg.state_dir,
				       path, strerror(e));
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		fitd_log_warn("state_lock_pid", "path=\"%s\" reason=\"%s\"", path, strerror(errno));
	d->state_lock = fd;
	return 0;
}

static int open_all(struct daemon *d)
{
	struct store_options so = { .state_dir = d->cfg.state_dir, .location = d->cfg.store };
	struct worker_options wo = {
		.threads = (unsigned)d->cfg.worker_threads,
		.reserved_cores = (unsigned)d->cfg.reserved_cores,
		.memory_mib = (uint64_t)d->cfg.trial_memory_mib,
		.max_jobs = (unsigned)d->cfg.max_running_jobs,
		.node = d->cfg.node,
		.lease_ms = d->cfg.lease_ms,
	};
	struct api_options ao;
	struct fitd_error err = { 0 };
	char store[PATH_MAX];

	if (fitd_metrics_new(&d->metrics) != FITD_OK) {
		fitd_log_error("metrics_failed", "reason=\"out of memory\"");
		return -1;
	}
	so.metrics = wo.metrics = d->metrics;
	if (lock_state_dir(d) != 0)
		return -1;
	config_store_redacted(d->cfg.store, store, sizeof(store));
	if (store_open(&so, &d->store, &err) != FITD_OK) {
		fitd_log_error("store_open_failed", "state_dir=\"%s\" store=\"%s\" reason=\"%s\"",
			       d->cfg.state_dir, store, err.message);
		return -1;
	}
	/* After the open, which makes the directory realpath() resolves. */
	if (d->cfg.node[0] == '\0')
		default_node(d->cfg.state_dir, d->cfg.node, sizeof(d->cfg.node));
	d->loop_ready = uv_loop_init(&d->loop) == 0;
	if (!d->loop_ready || worker_new(&d->loop, d->store, &wo, &d->worker, &err) != FITD_OK) {
		fitd_log_error("worker_failed", "reason=\"%s\"", err.message);
		return -1;
	}
	server_options_from_config(d, &ao);
	if (api_server_start(&ao, d->store, &d->api, &err) != FITD_OK) {
		fitd_log_error("listen_failed", "reason=\"%s\"", err.message);
		return -1;
	}
	d->tokens = NULL; /* the server has them */
	worker_on_events(d->worker, forward_events, d);
	fitd_log_info("listening", "addr=%s:%u state_dir=\"%s\" store=\"%s\" version=%s",
		      d->cfg.listen_host, api_server_port(d->api), d->cfg.state_dir, store,
		      FITD_VERSION);
	if (worker_start(d->worker, &err) != FITD_OK) {
		fitd_log_error("recovery_failed", "reason=\"%s\"", err.message);
		return -1;
	}
	return start_retention(d);
}

static void close_all(struct daemon *d)
{
	daemon_notify("STOPPING=1\nSTATUS=stopping");
	pg_listen_free(d->listen); /* its handles close before the walk below */
	d->listen = NULL;
	store_stopping(d->store);
	if (d->api != NULL) {
		api_server_stop(d->api, (unsigned)d->cfg.stop_grace_ms);
		d->api = NULL;
	}
	worker_retention_free(d->retention);
	if (d->worker != NULL) {
		worker_stop(d->worker);
		worker_free(d->worker);
	}
	if (d->loop_ready) {
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
	}
	store_close(d->store);
	fitd_metrics_free(d->metrics);
	api_tokens_free(d->tokens);
	if (d->state_lock >= 0)
		close(d->state_lock); /* the lock goes with it */
	d->state_lock = -1;
}

static int run(struct daemon *d)
{
	int rc = open_all(d);

	if (rc == 0) {
		start_loop_handles(d);
		api_server_set_ready(d->api, true);
		daemon_notify("READY=1");
		on_status(&d->status);
		fitd_log_info("ready", NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	close_all(d);
	fitd_log_info("stopped", NULL);
	return rc == 0 ? 0 : 1;
}

/* The token file named by the config, if any; a bad one stops fitd with a one-line reason. */
static int load_tokens(struct daemon *d)
{
	struct fitd_error err = { 0 };

	if (d->cfg.token_file[0] == '\0')
		return 0;
	if (api_tokens_load(d->cfg.token_file, &d->tokens, &err) != FITD_OK) {
		fprintf(stderr, "fitd: %s\n", err.message);
		return -1;
	}
	fitd_log_info("tokens_loaded", "file=\"%s\" tokens=%zu", d->cfg.token_file,
		      api_tokens_count(d->tokens));
	return 0;
}

/* `fitd NAME …` runs a subcommand; fitd with flags only is the daemon. */
static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} subcommands[] = {
	{ "predict", offline_predict_main }, { "submit", client_submit_main },
	{ "status", client_status_main },    { "watch", client_watch_main },
	{ "cancel", client_cancel_main },    { "delete", client_delete_main },
	{ "alias", client_alias_main },	     { "migrate", migrate_cmd_main },
};

int main(int argc, char **argv)
{
	static struct daemon d;

	wait_policy_apply(argv); /* first: libgomp reads its settings once */
	for (size_t i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	switch (config_load(&d.cfg, argc, argv)) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		return 2;
	case CONFIG_RUN:
		break;
	}
	d.argc = argc;
	d.argv = argv;
	d.state_lock = -1;
	fitd_log_set_level(d.cfg.log_level);
	if (load_tokens(&d) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	return run(&d);
}

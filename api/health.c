/*
 * health.c - liveness, readiness and the status facts.
 *
 * /healthz answers 200 while the process serves at all; /readyz only once
 * the store is open and recovery is done (the daemon flips the flag), so a
 * load balancer or systemd can tell "alive" from "able to take work".
 * /readyz also tells what fitd is doing, from api_server_status(): the same
 * function feeds systemd's STATUS= line, and it reads the very sources
 * GET /metrics renders (the store's state counts, the scheduler's gauges,
 * the open streams, the state directory's bytes), so the three never
 * disagree. On a shared store it says whether the LISTEN connection that
 * wakes event streams is in place (fitd_store_listen_connected).
 */
#include "api/internal.h"

#include <string.h>

#include "daemon/base/metrics.h"

void api__health_get(struct api__request *req)
{
	api__reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

int api_server_status(struct api_server *srv, struct api_status *st, struct fitd_error *err)
{
	const struct fitd_metrics *m = srv->opt.metrics;
	int64_t jobs[STORE_JOB_NSTATES], trials[STORE_TRIAL_NSTATES];
	int rc = store_job_count_by_state(srv->store, jobs, err);

	if (rc == FITD_OK)
		rc = store_trial_count_by_state(srv->store, trials, err);
	if (rc != FITD_OK)
		return rc;
	memset(st, 0, sizeof(*st));
	st->ready = atomic_load(&srv->ready);
	st->jobs_queued = jobs[STORE_JOB_QUEUED];
	st->jobs_running = jobs[STORE_JOB_RUNNING];
	st->trials_queued = trials[STORE_TRIAL_QUEUED];
	st->trials_running = trials[STORE_TRIAL_RUNNING];
	st->event_streams = api_events_open_streams(srv);
	store_disk_usage(srv->store, &st->disk);
	if (m != NULL) {
		st->trial_threads = atomic_load_explicit(&m->trial_threads, memory_order_relaxed);
		st->trial_threads_busy = atomic_load_explicit(&m->trial_threads_busy,
							      memory_order_relaxed);
		st->queue_depth = atomic_load_explicit(&m->queue_depth, memory_order_relaxed);
		st->listening = atomic_load_explicit(&m->listen_connected, memory_order_relaxed) !=
				0;
	}
	return FITD_OK;
}

static const char *ready_word(struct api_server *srv, bool ready)
{
	if (ready)
		return "ready";
	return atomic_load(&srv->stopping) ? "stopping" : "starting";
}

/* The store object: its engine, this node and, on PostgreSQL, whether LISTEN is in place. */
static json_t *store_facts(struct api_server *srv, const struct api_status *st)
{
	bool shared = store_shared(srv->store);
	json_t *o = json_pack("{s:s, s:s}", "engine", shared ? "postgresql" : "sqlite", "node",
			      store_node(srv->store));

	if (o != NULL && shared)
		json_object_set_new(o, "listening", json_boolean(st->listening));
	return o;
}

void api__ready_get(struct api__request *req)
{
	struct api_status st;
	struct fitd_error err = { 0 };

	if (api_server_status(req->srv, &st, &err) != FITD_OK) {
		api__reply_json(
		    req, 503,
		    json_pack("{s:s, s:s}", "status", "unavailable", "reason", err.message));
		return;
	}
	api__reply_json(req, st.ready ? 200 : 503,
			json_pack("{s:s, s:{s:I, s:I}, s:{s:I, s:I}, s:i, s:{s:i, s:i}, s:i,"
				  " s:{s:I, s:I, s:I}, s:o}",
				  "status", ready_word(req->srv, st.ready), "jobs", "queued",
				  (json_int_t)st.jobs_queued, "running",
				  (json_int_t)st.jobs_running, "trials", "queued",
				  (json_int_t)st.trials_queued, "running",
				  (json_int_t)st.trials_running, "queue_depth", (int)st.queue_depth,
				  "trial_threads", "busy", (int)st.trial_threads_busy, "total",
				  (int)st.trial_threads, "event_streams", (int)st.event_streams,
				  "disk", "database", (json_int_t)st.disk.database, "datasets",
				  (json_int_t)st.disk.datasets, "models",
				  (json_int_t)st.disk.models, "store", store_facts(req->srv, &st)));
}

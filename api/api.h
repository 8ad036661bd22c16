/*
 * api.h - fitd's HTTP server: the v1 contract of DESIGN.md on top of
 * libmicrohttpd with its internal epoll threads.
 *
 * Handlers validate, then read through the store's read-only connections or
 * write through its single writer; they never run model code and never wait
 * on a trial. Every error is JSON: {"error": {"code", "message"}}.
 */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"
#include "store/store.h"
#include "daemon/base/status.h"

struct fitd_metrics;

struct api_options {
	const char *host;	    /* numeric or resolvable; "127.0.0.1" */
	uint16_t port;		    /* 0 picks a free port; see api_server_port() */
	unsigned threads;	    /* epoll threads in MHD's pool */
	unsigned connection_limit;  /* open connections in all */
	unsigned per_ip_limit;	    /* open connections from one address */
	unsigned idle_timeout_s;    /* close a connection idle this long */
	size_t connection_memory;   /* MHD's memory pool per connection */
	uint64_t max_upload_bytes;  /* largest dataset body (Content-Length) */
	size_t max_json_bytes;	    /* largest JSON request body */
	size_t max_predict_bytes;   /* largest prediction request body */
	unsigned max_streams;	    /* concurrent event streams */
	unsigned max_predict_rows;  /* rows in one prediction request */
	unsigned model_cache;	    /* parsed models kept in memory */
	void (*notify)(void *data); /* wakes the scheduler: a job was submitted or cancelled */
	void *notify_data;
	unsigned worker_threads;      /* the trial thread budget, for status */
	struct store_csv_options csv; /* column, field and row limits of uploads */
	struct fitd_metrics *metrics; /* the store's and worker's figures for /metrics; may be NULL */
	struct api_tokens *tokens;    /* taken by a successful start; NULL: every route is open */
	unsigned rate_ip, burst_ip;   /* requests a second and burst per client address; 0: off */
	unsigned rate_token, burst_token; /* the same per token */
	/* the prediction routes' own, per address and per token, in place of the two above */
	unsigned rate_predict, burst_predict;
	unsigned max_jobs_per_token;	/* queued and running jobs of one token; 0: no cap */
	unsigned max_streams_per_token; /* open event streams of one token; 0: no cap */
};

struct api_server;

/*
 * Binds and starts serving. Until api_server_set_ready(true), /readyz
 * answers 503 and routes that need the store answer 503 not_ready.
 * The store must outlive the server.
 */
int api_server_start(const struct api_options *opt, struct store *store, struct api_server **out,
		     struct fitd_error *err);

/* The port actually bound (useful with port 0). */
uint16_t api_server_port(const struct api_server *srv);

void api_server_set_ready(struct api_server *srv, bool ready);

/*
 * Replaces the token table (taken) at once for every later request; the
 * old one is freed here, once no request is looking at it. Any thread.
 */
void api_server_set_tokens(struct api_server *srv, struct api_tokens *tokens);

/* Tells the event streams of job_id that it has new events. Any thread. */
void api_events_notify(struct api_server *srv, const char *job_id);

/* Asks every event stream for a keep-alive comment line. Any thread. */
void api_events_heartbeat(struct api_server *srv);

/*
 * Asks every waiting event stream to look in the store for new events (a
 * shared store: another node may have written them). Any thread.
 */
void api_events_poll(struct api_server *srv);

unsigned api_events_open_streams(struct api_server *srv);

/* What fitd is doing: GET /readyz and systemd's STATUS= report these, read as /metrics reads them. */
struct api_status {
	bool ready;
	int64_t jobs_queued, jobs_running;
	int64_t trials_queued, trials_running;
	unsigned trial_threads, trial_threads_busy;
	unsigned queue_depth; /* trials ready to start that wait for a thread or memory */
	unsigned event_streams;
	bool listening; /* a shared store's LISTEN connection is in place (daemon/pg_listen.c) */
	struct store_disk disk; /* bytes of the state directory, by kind */
};

/* Any thread; reads the store's state counts (a read connection, never the writer). */
int api_server_status(struct api_server *srv, struct api_status *st, struct fitd_error *err);

/*
 * Stops accepting connections, lets in-flight requests finish for up to
 * grace_ms, then closes what remains and frees the server; NULL is allowed.
 * Meanwhile a new request on an open keep-alive connection that needs the
 * store gets 503 shutting_down, and every answer closes its connection, so
 * clients go elsewhere and the wait ends as soon as the requests are done.
 * Connections still open when grace_ms runs out are closed by
 * libmicrohttpd, even in the middle of an answer.
 */
void api_server_stop(struct api_server *srv, unsigned grace_ms);

#endif

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

#include "store/store.h"
#include "worker/fit/status.h"

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

/* Tells the event streams of job_id that it has new events. Any thread. */
void api_events_notify(struct api_server *srv, const char *job_id);

/* Asks every event stream for a keep-alive comment line. Any thread. */
void api_events_heartbeat(struct api_server *srv);

unsigned api_events_open_streams(struct api_server *srv);

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

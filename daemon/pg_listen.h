/*
 * pg_listen.h - the LISTEN connection of a daemon on a shared PostgreSQL
 * store: it wakes the event streams of a job as soon as another node (or
 * this one) commits events of it.
 *
 * Every transaction that appends an event NOTIFYs STORE_PG_EVENTS_CHANNEL
 * with the job id and the writing node (store/pg.h); this module keeps one
 * libpq connection of its own on the daemon's libuv loop, never blocking
 * the loop on the network, and turns each notification of another node
 * into a call of on_job (what this node wrote it has woken itself). A
 * notification is a hint: one sent while the connection is down is lost,
 * so the daemon also polls the streams (main.c), more often while this
 * connection is down.
 *
 * Everything here runs on the loop's thread.
 */
#ifndef DAEMON_PG_LISTEN_H
#define DAEMON_PG_LISTEN_H

#include <stdbool.h>
#include <uv.h>

#include "daemon/base/metrics.h"
#include "daemon/base/status.h"

struct pg_listen;

struct pg_listen_options {
	const char *uri;	      /* the postgresql:// store location; copied */
	struct fitd_metrics *metrics; /* notifications, reconnects, connected; may be NULL */
	const char *node;	      /* this node's id, outliving the listener; may be NULL */
	/* A notification for job_id (a NUL-terminated id, valid for the call only). */
	void (*on_job)(void *data, const char *job_id);
	/*
	 * LISTEN is in place (up) or was lost (!up). On every up, events may
	 * have been committed while nobody listened: the callee wakes every
	 * stream once.
	 */
	void (*on_state)(void *data, bool up);
	void *data;
};

/*
 * Starts connecting at once (non-blocking: PQconnectStart driven by a
 * uv_poll on its socket) and keeps the connection up: a lost or refused
 * one is made again after 50 ms, doubling to 1 s between tries. FITD_ENOMEM
 * is the only failure.
 */
int pg_listen_new(uv_loop_t *loop, const struct pg_listen_options *opt, struct pg_listen **out,
		  struct fitd_error *err);

/* Whether LISTEN is in place now. */
bool pg_listen_up(const struct pg_listen *l);

/*
 * Closes the connection and the handles; NULL-safe. No callback is called
 * after it returns. The memory is freed by the handles' close callbacks,
 * so the loop must run once more (uv_run) before it is closed.
 */
void pg_listen_free(struct pg_listen *l);

#endif

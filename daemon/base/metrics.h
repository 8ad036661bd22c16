/*
 * metrics.h - the figures the store and the scheduler publish for GET
 * /metrics, and the Prometheus text format (0.0.4) they are written in.
 *
 * It lives in daemon/base/, which every library may use, so the writer
 * and the scheduler can publish without depending on api/.
 * api/ keeps what only it sees (HTTP requests, event streams), reads the
 * job and trial counts from the store at scrape time and renders it all.
 * There is no global registry: the daemon makes one struct fitd_metrics
 * and hands it down in store_options, worker_options and api_options;
 * NULL there turns every update into a no-op (the unit tests).
 *
 * Every update is a relaxed C11 atomic, so no thread ever waits on a lock
 * to count. A scrape may see one series a few updates ahead of another,
 * never a torn value. Durations are summed in integer nanoseconds since
 * C11 has no atomic add on double.
 */
#ifndef FITD_METRICS_H
#define FITD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/base/buf.h"

#define FITD_HISTOGRAM_MAX_BOUNDS 12

/* A histogram of durations: fixed upper bounds in seconds, +Inf implied. */
struct fitd_histogram {
	const double *bounds; /* ascending, in static storage */
	size_t nbounds;
	atomic_uint_least64_t counts[FITD_HISTOGRAM_MAX_BOUNDS + 1]; /* per bucket; last: +Inf */
	atomic_uint_least64_t sum_ns;
};

/* Zeroes h; bounds must outlive it and nbounds be at most FITD_HISTOGRAM_MAX_BOUNDS. */
void fitd_histogram_init(struct fitd_histogram *h, const double *bounds, size_t nbounds);

/* Counts one duration of ns nanoseconds (negative counts as 0). Any thread, lock-free. */
void fitd_histogram_observe(struct fitd_histogram *h, int64_t ns);

/* Observations so far (the sum of the buckets). */
uint64_t fitd_histogram_count(const struct fitd_histogram *h);

/* ---- the text of a scrape ---- */

/* Hard cap of one scrape, for the struct fitd_buf it is written into. */
#define FITD_TEXT_MAX (4u << 20)

/*
 * The HELP and TYPE lines of a family. help must hold no backslash or
 * newline (the callers pass fixed sentences).
 */
void fitd_prom_family(struct fitd_buf *t, const char *name, const char *type, const char *help);

/*
 * The _bucket, _sum and _count samples of h under name, with labels ("" or
 * already escaped pairs such as route="/healthz"). The buckets are read
 * once and _count is their total, so le="+Inf" always equals _count.
 */
void fitd_prom_histogram(struct fitd_buf *t, const char *name, const char *labels,
			 const struct fitd_histogram *h);

/* ---- what store/ and worker/ publish ---- */

struct fitd_metrics {
	struct fitd_histogram trial_duration; /* worker: each trial that ran and finished */
	struct fitd_histogram store_write;    /* store: each write transaction, begin to commit */
	atomic_uint trial_threads;	      /* worker: the trial thread budget */
	atomic_uint trial_threads_busy;	      /* worker: of it, in running trials and refits */
	atomic_uint queue_depth;	      /* worker: see fitd_metrics_set_worker() */
	/* several nodes on one PostgreSQL (store/pg_nodes.c) */
	atomic_uint_least64_t lease_losses;   /* jobs whose lease another node took from us */
	atomic_uint_least64_t trials_rescued; /* running trials of a dead or fenced node re-queued */
	atomic_uint_least64_t stale_writes;   /* writes refused because their lease had moved */
	/* the LISTEN connection on a shared store (daemon/pg_listen.c) */
	atomic_uint_least64_t notifications;	 /* event notifications received */
	atomic_uint_least64_t listen_reconnects; /* connections made again after a loss */
	atomic_uint listen_connected;		 /* 1 while LISTEN is in place */
};

int fitd_metrics_new(struct fitd_metrics **out);

/* NULL is allowed. Free only after everything that updates m has stopped. */
void fitd_metrics_free(struct fitd_metrics *m);

/* A trial finished after duration_ms of running. m may be NULL. */
void fitd_metrics_trial_finished(struct fitd_metrics *m, int64_t duration_ms);

/* A write transaction took ns from BEGIN to COMMIT or ROLLBACK. m may be NULL. */
void fitd_metrics_store_write(struct fitd_metrics *m, int64_t ns);

/*
 * The scheduler's view after a pass: the thread budget, the threads busy
 * and the trials ready to start that wait for a thread or memory. m may
 * be NULL.
 */
void fitd_metrics_set_worker(struct fitd_metrics *m, unsigned threads, unsigned busy,
			     unsigned queue_depth);

/* Several nodes: a job lease lost, n trials rescued, a stale write refused. m may be NULL. */
void fitd_metrics_lease_lost(struct fitd_metrics *m);
void fitd_metrics_trials_rescued(struct fitd_metrics *m, int64_t n);
void fitd_metrics_stale_write(struct fitd_metrics *m);

/*
 * The LISTEN connection: n notifications received, a connection made again
 * after one was lost, and whether LISTEN is in place now. m may be NULL.
 */
void fitd_metrics_notifications(struct fitd_metrics *m, uint64_t n);
void fitd_metrics_listen_reconnect(struct fitd_metrics *m);
void fitd_metrics_set_listening(struct fitd_metrics *m, bool connected);

/* Appends the families above (trial durations, threads, queue, store writes). */
void fitd_metrics_write(const struct fitd_metrics *m, struct fitd_buf *t);

#endif

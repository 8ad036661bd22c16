/*
 * retention.h - the store's upkeep on the scheduler's loop: deleting the
 * jobs that ended longer ago than the retention period, and giving the
 * database's free pages back to the file system.
 *
 * A timer on the loop given to worker_retention_new() (the scheduler's,
 * never an HTTP thread) wakes every period. With a retention period set it
 * deletes, oldest first, the jobs that ended before now minus that period,
 * as DELETE /v1/jobs/{id} does (store_job_delete(): models an alias holds
 * stay), logs each (event=retention_deleted job=… age_days=…) and tells the
 * hook, so event streams still replaying the job end. Then, whether or not
 * retention is on (jobs and models are also deleted over HTTP), it runs
 * store_vacuum() in steps until no free page is left. A tick does at most
 * a bounded amount of work (WORKER_RETENTION_BATCH jobs) so the loop stays
 * responsive; the next tick takes the rest.
 *
 * Everything here runs on the loop thread.
 */
#ifndef WORKER_RETENTION_H
#define WORKER_RETENTION_H

#include <stdint.h>
#include <uv.h>

#include "store/store.h"
#include "worker/worker.h"

#define WORKER_RETENTION_BATCH 100   /* jobs deleted in one tick at most */
#define WORKER_VACUUM_STEP     2048  /* pages (8 MiB) given back per writer hold */
#define WORKER_UPKEEP_MAX_MS   60000 /* the longest period between ticks */
#define WORKER_UPKEEP_MIN_MS   500   /* the shortest, for very short retention periods */

struct worker_retention_options {
	int64_t retention_ms; /* delete jobs that ended this long ago; 0: keep them all */
	int64_t period_ms; /* between ticks; 0: a quarter of retention_ms within the bounds above */
};

struct worker_retention;

/*
 * Starts the timer on loop; the first tick comes one period from now. fn
 * (may be NULL) is told each deleted job's id, with data, on the loop
 * thread. The store must outlive the timer.
 */
int worker_retention_new(uv_loop_t *loop, struct store *store,
			 const struct worker_retention_options *opt, worker_events_fn fn,
			 void *data, struct worker_retention **out, struct fitd_error *err);

/* One tick now, as the timer does (for tests and for a daemon that stops soon). */
void worker_retention_run(struct worker_retention *r);

/*
 * Stops the timer and closes its handle; the memory is freed by the
 * loop's close callback, so the loop must run once more (worker_free() or
 * the daemon's closing uv_run() does). NULL is allowed.
 */
void worker_retention_free(struct worker_retention *r);

#endif

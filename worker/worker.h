/*
 * worker.h - the scheduler: it owns the job queue's in-memory side, asks the
 * searcher for trials, claims them in the store and runs them on the trial
 * pool, and turns their results, cancels and deadlines into committed state.
 *
 * Everything here runs on the thread of the libuv loop given to
 * worker_new(), except worker_notify(), which any thread may call. Trial
 * threads talk back only through locked queues drained on the loop thread
 * after uv_async_send.
 *
 * Parallelism: a job runs up to parallel_trials trials of threads_per_trial
 * OpenMP threads each, and across all jobs the threads in use never exceed
 * the budget (worker_options.threads: cores minus reserved cores). Jobs
 * share free threads round-robin.
 */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "store/store.h"

struct fitd_metrics;

struct worker_options {
	unsigned threads;	 /* the thread budget for trials; 0: cores - reserved */
	unsigned reserved_cores; /* kept for the API when threads is 0 */
	uint64_t memory_mib;	 /* estimated memory of the running trials; 0: half the RAM */
	const char *node;	 /* this daemon's id in leases and logs; NULL: host:pid */
	int64_t lease_ms;	 /* trial and job lease, renewed by the heartbeat; 0: 30000 */
	int64_t heartbeat_ms;	 /* lease renewal and elapsed-time bookkeeping; 0: 2000 */
	int64_t progress_ms; /* at most one trial_progress event per trial this often; 0: 1000 */
	unsigned max_jobs;   /* jobs running at once (the others wait queued); 0: 8 */
	struct fitd_metrics *metrics; /* trial durations, threads, queue depth; NULL: none */
};

struct worker;

/* Called on the loop thread after events of job_id were committed. */
typedef void (*worker_events_fn)(void *data, const char *job_id);

int worker_new(uv_loop_t *loop, struct store *store, const struct worker_options *opt,
	       struct worker **out, struct fitd_error *err);

/* Sets the hook told about new events (SSE streams resume on it). */
void worker_on_events(struct worker *w, worker_events_fn fn, void *data);

/*
 * Recovers what a previous process left running (trials back to queued, or
 * failed after max_attempts), then starts scheduling.
 */
int worker_start(struct worker *w, struct fitd_error *err);

/* Wakes the scheduler: a job was submitted or cancelled. Any thread. */
void worker_notify(struct worker *w);

/*
 * Tells the scheduler that other nodes changed the shared store (a
 * notification): at its next pass it reads back the trials of its jobs and
 * looks for offered trials to take, rather than at its next poll. Sets a
 * flag and wakes the loop; any thread.
 */
void worker_store_changed(struct worker *w);

/*
 * The same for one job another node wrote to (a notification naming it):
 * the job, when held here, is read back at the next pass, and free threads
 * look for offered trials; the other jobs wait for their poll. On the
 * loop's thread only.
 */
void worker_job_changed(struct worker *w, const char *job_id);

/*
 * The longest time any running trial or refit has gone without a sign of
 * progress (its start, a mini-batch or a chunk of rows polling for a stop,
 * its end), in ms; 0 when nothing runs. Those come every few seconds at
 * most, so a long silence means a trial thread is stuck. Loop thread.
 */
int64_t worker_longest_silence_ms(struct worker *w);

/*
 * Stops: running trials are aborted and given back to the queue (the
 * attempt is not counted), elapsed time is saved. Blocks until the trial
 * threads are idle. Call before closing the loop; then worker_free().
 */
void worker_stop(struct worker *w);

/* Closes the libuv handles and frees; runs the loop briefly. NULL is allowed. */
void worker_free(struct worker *w);

#endif

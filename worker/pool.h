/*
 * pool.h - the dedicated pool of trial threads.
 *
 * Model fitting runs here and never on libuv's shared thread pool, which
 * also serves file and DNS work. Tasks run in submission order on the first
 * free thread; a task reports its result itself (the scheduler gives it a
 * closure that queues the result and wakes the loop with uv_async_send).
 * The queue is linked through the callers' own task records, so queueing
 * never allocates and cannot fail.
 */
#ifndef WORKER_POOL_H
#define WORKER_POOL_H

#include <stddef.h>

#include "daemon/base/status.h"

struct worker_pool;

typedef void (*worker_pool_fn)(void *arg);

/* A queued task: the caller's memory, usually a field of what arg points to. */
struct worker_pool_task {
	worker_pool_fn fn;
	void *arg;
	struct worker_pool_task *next; /* guarded by the pool's lock */
};

/* Starts nthreads threads (at least 1). */
int worker_pool_new(unsigned nthreads, struct worker_pool **out, struct fitd_error *err);

/*
 * Queues fn(arg) in task, which must stay valid until fn is called; the pool
 * does not touch task after that, so fn may free it. Never blocks and never
 * fails; the scheduler keeps the number of queued tasks within its thread
 * budget.
 */
void worker_pool_submit(struct worker_pool *pool, struct worker_pool_task *task, worker_pool_fn fn,
			void *arg);

/* Threads currently running a task. */
unsigned worker_pool_busy(struct worker_pool *pool);

unsigned worker_pool_size(const struct worker_pool *pool);

/*
 * Lets running and queued tasks finish (callers abort them first), then
 * joins the threads and frees the pool; NULL is allowed.
 */
void worker_pool_free(struct worker_pool *pool);

#endif

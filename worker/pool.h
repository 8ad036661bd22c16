/*
 * pool.h - the dedicated pool of trial threads.
 *
 * Model fitting runs here and never on libuv's shared thread pool, which
 * also serves file and DNS work. Tasks run in submission order on the first
 * free thread; a task reports its result itself (the scheduler gives it a
 * closure that queues the result and wakes the loop with uv_async_send).
 */
#ifndef WORKER_POOL_H
#define WORKER_POOL_H

#include <stddef.h>

#include "worker/fit/status.h"

struct worker_pool;

typedef void (*worker_task_fn)(void *arg);

/* Starts nthreads threads (at least 1). */
int worker_pool_new(unsigned nthreads, struct worker_pool **out, struct fitd_error *err);

/*
 * Queues fn(arg). Never blocks and never fails for lack of a free thread;
 * the scheduler keeps the number of queued tasks within its thread budget.
 */
void worker_pool_submit(struct worker_pool *pool, worker_task_fn fn, void *arg);

/* Threads currently running a task. */
unsigned worker_pool_busy(struct worker_pool *pool);

unsigned worker_pool_size(const struct worker_pool *pool);

/*
 * Lets running and queued tasks finish (callers abort them first), then
 * joins the threads and frees the pool; NULL is allowed.
 */
void worker_pool_free(struct worker_pool *pool);

#endif

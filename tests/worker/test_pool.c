/*
 * test_pool.c - the trial thread pool: every task runs once, on at most
 * nthreads threads at a time; a thread that comes free takes the oldest
 * queued task (so one thread runs them in submission order, and with n
 * threads task i starts before task i + n); freeing the pool waits for
 * queued tasks.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "worker/pool.h"

struct counter {
	atomic_int runs;
	atomic_int inside;
	atomic_int max_inside;
};

static void task(void *arg)
{
	struct counter *c = arg;
	int now = atomic_fetch_add(&c->inside, 1) + 1;
	int seen = atomic_load(&c->max_inside);

	while (now > seen && !atomic_compare_exchange_weak(&c->max_inside, &seen, now))
		;
	usleep(2000);
	atomic_fetch_sub(&c->inside, 1);
	atomic_fetch_add(&c->runs, 1);
}

START_TEST(every_task_runs_once_within_the_thread_budget)
{
	struct counter c = { 0 };
	struct worker_pool_task tasks[60];
	struct worker_pool *pool;
	struct fitd_error err = { 0 };

	ck_assert_int_eq(worker_pool_new(3, &pool, &err), FITD_OK);
	ck_assert_uint_eq(worker_pool_size(pool), 3);
	for (int i = 0; i < 60; i++)
		worker_pool_submit(pool, &tasks[i], task, &c);
	worker_pool_free(pool); /* waits for all 60 */
	ck_assert_int_eq(atomic_load(&c.runs), 60);
	ck_assert_int_le(atomic_load(&c.max_inside), 3);
	ck_assert_int_ge(atomic_load(&c.max_inside), 2);
}
END_TEST

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	atomic_int started;
};

static void wait_gate(void *arg)
{
	struct gate *g = arg;

	atomic_fetch_add(&g->started, 1);
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

START_TEST(busy_counts_running_tasks)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	struct worker_pool_task tasks[3];
	struct worker_pool *pool;

	ck_assert_int_eq(worker_pool_new(2, &pool, NULL), FITD_OK);
	ck_assert_uint_eq(worker_pool_busy(pool), 0);
	for (int i = 0; i < 3; i++)
		worker_pool_submit(pool, &tasks[i], wait_gate, &g);
	while (atomic_load(&g.started) < 2)
		usleep(1000);
	usleep(20000);
	ck_assert_int_eq(atomic_load(&g.started), 2); /* the third waits for a thread */
	ck_assert_uint_eq(worker_pool_busy(pool), 2);
	pthread_mutex_lock(&g.lock);
	g.open = 1;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	worker_pool_free(pool);
	ck_assert_int_eq(atomic_load(&g.started), 3);
}
END_TEST

/*
 * Tasks that note the order they start in, then hold their thread until
 * the test releases them one by one.
 */
#define NORDERED 12

struct ordered {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int order[NORDERED]; /* task indexes in the order they started */
	int nstarted;
	bool released[NORDERED];
};

struct ordered_task {
	struct worker_pool_task pool_task;
	struct ordered *o;
	int idx;
};

static void ordered_run(void *arg)
{
	struct ordered_task *t = arg;
	struct ordered *o = t->o;

	pthread_mutex_lock(&o->lock);
	o->order[o->nstarted++] = t->idx;
	pthread_cond_broadcast(&o->cond);
	while (!o->released[t->idx])
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

/* Waits (o->lock held) until n tasks have started, and a little longer to see that no more do. */
static void wait_started(struct ordered *o, int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	while (o->nstarted < n)
		ck_assert_int_ne(pthread_cond_timedwait(&o->cond, &o->lock, &until), ETIMEDOUT);
	pthread_mutex_unlock(&o->lock);
	usleep(20000);
	pthread_mutex_lock(&o->lock);
	ck_assert_int_eq(o->nstarted, n); /* every thread is held: nothing else starts */
}

/* Run with _i + 1 threads: 1, 2 and 3. */
START_TEST(free_thread_takes_the_oldest_task)
{
	struct ordered o = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct ordered_task tasks[NORDERED];
	unsigned nthreads = (unsigned)_i + 1;
	struct worker_pool *pool;
	bool first[NORDERED] = { false };

	ck_assert_int_eq(worker_pool_new(nthreads, &pool, NULL), FITD_OK);
	for (int i = 0; i < NORDERED; i++) {
		tasks[i] = (struct ordered_task){ .o = &o, .idx = i };
		worker_pool_submit(pool, &tasks[i].pool_task, ordered_run, &tasks[i]);
	}
	pthread_mutex_lock(&o.lock);
	/* The first nthreads tasks start, in whatever order their threads run. */
	wait_started(&o, (int)nthreads);
	for (unsigned k = 0; k < nthreads; k++)
		first[o.order[k]] = true;
	for (unsigned i = 0; i < nthreads; i++)
		ck_assert_msg(first[i], "task %u is not among the first %u to start", i, nthreads);
	/* Releasing task k frees one thread, which must take task k + nthreads. */
	for (int k = 0; k + (int)nthreads < NORDERED; k++) {
		o.released[k] = true;
		pthread_cond_broadcast(&o.cond);
		wait_started(&o, k + (int)nthreads + 1);
		ck_assert_int_eq(o.order[k + (int)nthreads], k + (int)nthreads);
	}
	for (int k = 0; k < NORDERED; k++)
		o.released[k] = true;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	worker_pool_free(pool);
	ck_assert_int_eq(o.nstarted, NORDERED);
}
END_TEST

START_TEST(zero_threads_means_one)
{
	struct worker_pool *pool;

	ck_assert_int_eq(worker_pool_new(0, &pool, NULL), FITD_OK);
	ck_assert_uint_eq(worker_pool_size(pool), 1);
	worker_pool_free(pool);
	worker_pool_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker_pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_task_runs_once_within_the_thread_budget);
	tcase_add_test(tc, busy_counts_running_tasks);
	tcase_add_loop_test(tc, free_thread_takes_the_oldest_task, 0, 3);
	tcase_add_test(tc, zero_threads_means_one);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

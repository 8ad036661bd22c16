/*
 * test_pool.c - the trial thread pool: every task runs once, on at most
 * nthreads threads at a time, in submission order per free thread, and
 * freeing the pool waits for queued tasks.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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
	tcase_add_test(tc, zero_threads_means_one);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

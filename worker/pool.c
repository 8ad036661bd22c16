/*
 * pool.c - a fixed set of pthreads taking tasks from one FIFO; see pool.h.
 */
#include "worker/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct worker_pool_task *head, *tail; /* guarded by lock */
	unsigned busy;			      /* guarded by lock */
	bool stopping;			      /* guarded by lock */
	unsigned nthreads;
	pthread_t *threads;
};

static void *pool_main(void *p)
{
	struct worker_pool *pool = p;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct worker_pool_task *t;
		worker_pool_fn fn;
		void *arg;

		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->head == NULL)
			break;
		t = pool->head;
		pool->head = t->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->busy++;
		fn = t->fn;
		arg = t->arg;
		pthread_mutex_unlock(&pool->lock);
		fn(arg); /* may free t */
		pthread_mutex_lock(&pool->lock);
		pool->busy--;
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int worker_pool_new(unsigned nthreads, struct worker_pool **out, struct fitd_error *err)
{
	struct worker_pool *pool = calloc(1, sizeof(*pool));

	*out = NULL;
	if (pool == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial pool");
	if (nthreads == 0)
		nthreads = 1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->threads = calloc(nthreads, sizeof(*pool->threads));
	if (pool->threads == NULL) {
		free(pool);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial pool");
	}
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_main, pool) != 0) {
			worker_pool_free(pool);
			return fitd_error_set(err, FITD_ENOMEM, NULL, "cannot start trial thread");
		}
		pool->nthreads = i + 1;
	}
	*out = pool;
	return FITD_OK;
}

void worker_pool_submit(struct worker_pool *pool, struct worker_pool_task *t, worker_pool_fn fn,
			void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail)
		pool->tail->next = t;
	else
		pool->head = t;
	pool->tail = t;
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

unsigned worker_pool_busy(struct worker_pool *pool)
{
	unsigned busy;

	pthread_mutex_lock(&pool->lock);
	busy = pool->busy;
	pthread_mutex_unlock(&pool->lock);
	return busy;
}

unsigned worker_pool_size(const struct worker_pool *pool)
{
	return pool->nthreads;
}

void worker_pool_free(struct worker_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}

/*
 * retention.c - the retention timer: expired jobs out, free pages back; see
 * retention.h.
 *
 * "Expired" is judged by the wall clock (finished_at is wall time, as every
 * *_at), so a clock stepped forward deletes early and one stepped back
 * late, never wrongly: a job is deleted at the earliest retention_ms after
 * the time it ended by the clock then.
 */
#include "worker/retention.h"

#include <stdlib.h>

#include "daemon/base/log.h"

#define MS_PER_DAY 86400000.0

struct worker_retention {
	uv_timer_t timer;
	struct store *store;
	struct worker_retention_options opt;
	worker_events_fn fn;
	void *data;
};

/* Deletes up to a batch of the jobs that ended before the retention period. */
static void expire(struct worker_retention *r)
{
	struct fitd_error err = { 0 };
	char(*ids)[STORE_ID_MAX] = NULL;
	int64_t *ended = NULL, now = store_now_ms();
	size_t n = 0;

	if (store_job_expired(r->store, now - r->opt.retention_ms, WORKER_RETENTION_BATCH, &ids,
			      &ended, &n, &err) != FITD_OK) {
		fitd_log_warn("retention_failed", "reason=\"%s\"", err.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_job_deletion del = { 0 };

		if (store_job_delete(r->store, ids[i], &del, &err) != FITD_OK) {
			/* Deleted meanwhile over HTTP, or the store refused: the next tick sees. */
			if (err.status != FITD_ENOTFOUND)
				fitd_log_warn("retention_failed", "job=%s reason=\"%s\"", ids[i],
					      err.message);
			continue;
		}
		fitd_log_info("retention_deleted",
			      "job=%s age_days=%.6g models_deleted=%zu "
			      "models_kept=%zu",
			      ids[i], (double)(now - ended[i]) / MS_PER_DAY, del.models_deleted,
			      del.nkept);
		store_job_deletion_release(&del);
		if (r->fn != NULL)
			r->fn(r->data, ids[i]);
	}
	free(ids);
	free(ended);
}

/* Gives every free page back, a step at a time so the writer is shared. */
static void vacuum(struct worker_retention *r)
{
	struct fitd_error err = { 0 };
	int64_t freed = 0, step = 0, left = 0;

	do {
		if (store_vacuum(r->store, WORKER_VACUUM_STEP, &step, &left, &err) != FITD_OK) {
			fitd_log_warn("vacuum_failed", "reason=\"%s\"", err.message);
			break;
		}
		freed += step;
	} while (step > 0 && left > 0);
	if (freed > 0)
		fitd_log_info("vacuumed", "reason=deleted pages=%lld", (long long)freed);
}

void worker_retention_run(struct worker_retention *r)
{
	if (r->opt.retention_ms > 0)
		expire(r);
	vacuum(r);
}

static void on_tick(uv_timer_t *t)
{
	worker_retention_run(t->data);
}

int worker_retention_new(uv_loop_t *loop, struct store *store,
			 const struct worker_retention_options *opt, worker_events_fn fn,
			 void *data, struct worker_retention **out, struct fitd_error *err)
{
	struct worker_retention *r = calloc(1, sizeof(*r));
	int64_t period;

	*out = NULL;
	if (r == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "retention timer");
	r->store = store;
	r->opt = *opt;
	r->fn = fn;
	r->data = data;
	period = opt->period_ms > 0	 ? opt->period_ms
		 : opt->retention_ms > 0 ? opt->retention_ms / 4
					 : WORKER_UPKEEP_MAX_MS;
	if (opt->period_ms <= 0 && period < WORKER_UPKEEP_MIN_MS)
		period = WORKER_UPKEEP_MIN_MS;
	if (opt->period_ms <= 0 && period > WORKER_UPKEEP_MAX_MS)
		period = WORKER_UPKEEP_MAX_MS;
	r->opt.period_ms = period;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, on_tick, (uint64_t)period, (uint64_t)period);
	if (opt->retention_ms > 0)
		fitd_log_info("retention_started", "days=%.6g period_ms=%lld",
			      (double)opt->retention_ms / MS_PER_DAY, (long long)period);
	*out = r;
	return FITD_OK;
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void worker_retention_free(struct worker_retention *r)
{
	if (r == NULL)
		return;
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, on_closed);
}

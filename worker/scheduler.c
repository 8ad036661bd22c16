/*
 * scheduler.c - the loop side of the worker: wake-ups, the thread budget,
 * round-robin slot filling, cancels, deadlines and the refit. What trials
 * report back is queued and recorded by record.c.
 *
 * One pass, schedule(), does everything in order: publish throttled
 * progress, record finished tasks, pick up new or cancelled jobs, end jobs
 * whose search is over, hand free threads to jobs round-robin, and end the
 * jobs that this ended. It runs on every wake-up (uv_async_t from trial
 * threads and from the API), on the deadline timer and on the heartbeat.
 * Every state change is one store transaction, made before the in-memory
 * state moves on.
 *
 * A pass does a bounded amount of work (SCHED_PASS_TRIALS trials started or
 * refused, SCHED_PASS_LOADS jobs loaded), then wakes itself and returns, so
 * the loop's signals, heartbeat and watchdog run in between however fast
 * trials fail. A job's time budget is wall-clock time from its load: it
 * counts whatever its trials do (waiting for a thread, failing at once,
 * the refit).
 *
 * On a shared store (several nodes) a pass also, at most every
 * SCHED_SHARE_POLL_MS or when told the store changed, reads back the
 * trials other nodes run of the jobs this node holds and checks the guest
 * jobs (share_read()); after filling its own threads it offers the next
 * trials of its jobs as queued rows (offer_trials()), and free threads
 * take the trials other nodes' jobs offer, run on guest copies of those
 * jobs (take_offered()). A job held here ends only when none of its
 * trials is queued or running on any node.
 */
#include "worker/scheduler.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "daemon/base/clock.h"
#include "worker/ensemble.h"
#include "worker/params.h"
#include "worker/pool.h"

#define REFIT_GRACE_MS	    600
#define PROGRESS_PER_THREAD 16	  /* room in the progress queue per trial thread */
#define IDLE_TRIM_MS	    10000 /* no trial this long: the fits' kept buffers go back */

static void schedule(struct worker *w);
static void on_tick(uv_timer_t *h);

int64_t sched_now_mono(void)
{
	return fitd_clock_ms();
}

void sched_emit(struct worker *w, const char *job_id)
{
	if (w->on_events != NULL)
		w->on_events(w->on_events_data, job_id);
}

/* ---- ending jobs ---- */

/* Commits the running time of every job; skipped for this heartbeat when out of memory. */
static void save_elapsed(struct worker *w)
{
	char(*ids)[STORE_ID_MAX];
	int64_t *ms, now = sched_now_mono();
	size_t n = 0, cap = 0;

	for (struct sched_job *j = w->jobs; j != NULL; j = j->next)
		cap++;
	if (cap == 0)
		return;
	ids = calloc(cap, STORE_ID_MAX);
	ms = calloc(cap, sizeof(*ms));
	if (ids == NULL || ms == NULL)
		goto out;
	for (struct sched_job *j = w->jobs; j != NULL; j = j->next) {
		int64_t total = sched_job_elapsed(j, now);

		memcpy(ids[n], j->id, STORE_ID_MAX);
		/* A lost job's time is the new holder's to count. */
		ms[n++] = j->end == SCHED_END_LOST ? 0 : total - j->elapsed_saved_ms;
	}
	if (store_job_add_elapsed(w->store, (const char(*)[STORE_ID_MAX])ids, ms, n, NULL) ==
	    FITD_OK) {
		n = 0;
		for (struct sched_job *j = w->jobs; j != NULL; j = j->next)
			j->elapsed_saved_ms += ms[n++];
	}
out:
	free(ids);
	free(ms);
}

static void unlink_job(struct worker *w, struct sched_job *j)
{
	for (struct sched_job **p = &w->jobs; *p != NULL; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			break;
		}
	}
	if (w->rr == j)
		w->rr = j->next;
}

static void finish_job(struct sched_job *j, enum store_job_state st, const char *code,
		       const char *message)
{
	struct worker *w = j->w;
	struct fitd_error err = { 0 };
	int64_t delta = sched_job_elapsed(j, sched_now_mono()) - j->elapsed_saved_ms;
	const char(*id)[STORE_ID_MAX] = (const char(*)[STORE_ID_MAX])j->id;

	store_job_add_elapsed(w->store, id, &delta, 1, NULL);
	if (store_job_finish(w->store, j->id, st, code, message, &err) != FITD_OK)
		fitd_log_warn("job_finish_failed", "job=%s reason=\"%s\"", j->id, err.message);
	fitd_log_info("job_finished", "job=%s state=%s best_trial=%lld model=%s", j->id,
		      store_job_state_name(st), (long long)j->best_idx, j->best_model_id);
	sched_emit(w, j->id);
	unlink_job(w, j);
	sched_job_free(j);
	atomic_store(&w->lease_due, true); /* a slot for another job */
}

static bool start_refit(struct sched_job *j);

/* Ends a job that has no completed trial to refit, saying why. */
static void fail_empty(struct sched_job *j)
{
	char message[FITD_ERROR_MESSAGE_MAX];

	if (j->end == SCHED_END_DEADLINE)
		snprintf(message, sizeof(message),
			 "no trial completed within max_seconds (%g s); see the trials for their "
			 "errors, or give more time",
			 (double)j->plan.max_ms / 1000);
	else
		snprintf(message, sizeof(message),
			 "no trial completed: see the trials for their errors");
	finish_job(j, STORE_JOB_FAILED, "no_trial_completed", message);
}

/*
 * Says why a job ends on its best trial's model as it was published during
 * the search (fitted on its first fold's training rows) when no refit made
 * the final model: search.refit false, no time left, or a failed refit.
 */
static void say_final_model(struct sched_job *j)
{
	static const char kept[] = "the best trial's model is kept, fitted on its first fold";
	char reason[FITD_ERROR_MESSAGE_MAX + 128];
	struct fitd_error err = { 0 };
	json_t *detail;
	char *doc;
	int64_t elapsed = sched_job_elapsed(j, sched_now_mono());
	int64_t left = elapsed < j->plan.max_ms ? j->plan.max_ms - elapsed : 0;

	if (j->final_said)
		return;
	if (!j->plan.refit)
		snprintf(reason, sizeof(reason), "search.refit is false: %s", kept);
	else if (j->refit_done)
		snprintf(reason, sizeof(reason), "the refit on all rows failed (%s): %s",
			 j->refit_error, kept);
	else if (!sched_job_refit_fits(j, elapsed))
		snprintf(reason, sizeof(reason),
			 "refitting on all rows would take about %.1f s, more than the %.1f s "
			 "left within max_seconds: %s",
			 (double)sched_job_refit_estimate(j) / 1000, (double)left / 1000, kept);
	else
		snprintf(reason, sizeof(reason), "the refit on all rows could not start: %s", kept);
	detail = json_pack("{s:s, s:s}", "kind", "single", "reason", reason);
	doc = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;
	if (doc == NULL || store_job_set_detail(j->w->store, j->id, doc, &err) != FITD_OK)
		fitd_log_warn("job_detail_failed", "job=%s reason=\"%s\"", j->id,
			      doc == NULL ? "out of memory" : err.message);
	free(doc);
	json_decref(detail);
}

/*
 * A shared store: a search ended early (a deadline, a cancel, a failure)
 * withdraws the trials it offered that no node took, and ends those other
 * nodes run (timeout at a deadline, else interrupted, as its own stopped
 * trials end), so no trial of the job runs anywhere once it ends. False
 * while that cannot be written: the next pass tries again.
 */
static bool withdraw(struct sched_job *j)
{
	struct worker *w = j->w;
	struct fitd_error err = { 0 };
	int64_t ended = 0;

	if (!store_shared(w->store) || j->withdrawn || j->end == SCHED_END_LOST ||
	    j->end == SCHED_END_SEARCH_DONE)
		return true;
	if (store_trial_withdraw(w->store, j->id, w->owner,
				 j->end == SCHED_END_DEADLINE ? STORE_TRIAL_TIMEOUT
							      : STORE_TRIAL_INTERRUPTED,
				 &ended, &err) != FITD_OK) {
		fitd_log_warn("trials_withdraw_failed", "job=%s reason=\"%s\"", j->id, err.message);
		return false;
	}
	j->withdrawn = true;
	if (ended > 0)
		fitd_log_info("trials_withdrawn", "job=%s trials=%lld node=%s", j->id,
			      (long long)ended, w->owner);
	sched_job_refresh(j, NULL);
	return true;
}

/* Moves a job towards its end; may free it. */
static void check_end(struct sched_job *j, int64_t now)
{
	int64_t elapsed = sched_job_elapsed(j, now);
	bool search_time_up = j->plan.max_ms > 0 &&
			      elapsed >= j->plan.max_ms - sched_job_refit_reserve(j);

	if (j->end == SCHED_END_NONE && j->cancel_seen) {
		j->end = SCHED_END_CANCEL;
		sched_stop_running(j, WORKER_STOP_CANCEL);
	} else if (j->end == SCHED_END_NONE && search_time_up) {
		j->end = SCHED_END_DEADLINE;
		sched_stop_running(j, WORKER_STOP_DEADLINE);
	} else if (j->end == SCHED_END_NONE && j->running == 0 && sched_job_search_over(j)) {
		j->end = SCHED_END_SEARCH_DONE;
	}
	if (j->refit != NULL && j->plan.max_ms > 0 && elapsed >= j->plan.max_ms + REFIT_GRACE_MS)
		atomic_store(&j->refit->stop, WORKER_STOP_DEADLINE);
	if (j->end == SCHED_END_NONE || j->running > 0 || j->refit != NULL || !withdraw(j))
		return;
	switch (j->end) {
	case SCHED_END_LOST:
		fitd_log_info("job_dropped", "job=%s node=%s", j->id, j->w->owner);
		sched_emit(j->w, j->id);
		unlink_job(j->w, j);
		sched_job_free(j);
		return;
	case SCHED_END_CANCEL:
		finish_job(j, STORE_JOB_CANCELLED, NULL, NULL);
		return;
	case SCHED_END_FAILED:
		finish_job(j, STORE_JOB_FAILED, j->fail_code, j->fail_message);
		return;
	default:
		break;
	}
	if (j->best_idx < 0) {
		fail_empty(j);
		return;
	}
	/*
	 * Without a refit the best trial's model, published when it was best,
	 * stays. A refit starts when it should end on time; one that runs
	 * over is stopped REFIT_GRACE_MS after max_seconds.
	 */
	if (j->plan.refit && !j->refit_done && sched_job_refit_fits(j, elapsed) && start_refit(j))
		return;
	say_final_model(j);
	finish_job(j, STORE_JOB_SUCCEEDED, NULL, NULL);
}

/* ---- starting trials ---- */

/* A task for trial idx (or the refit), its status set from the parameters; NULL when out of memory. */
static struct worker_task *new_task(struct sched_job *j, int64_t idx, json_t *params,
				    unsigned threads, struct fitd_error *err)
{
	struct worker_fit_context ctx = {
		.task = j->plan.task,
		.metric = j->plan.metric,
		.patience = j->plan.patience,
		.seed = j->plan.seed,
		.threads = (int)threads,
	};
	struct worker_task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	snprintf(t->job_id, sizeof(t->job_id), "%s", j->id);
	t->idx = idx;
	t->hooks = &sched_hooks;
	t->owner = j;
	t->params_json = json_incref(params);
	t->data = worker_data_ref(j->data);
	t->store = j->w->store;
	t->keep_oof = j->plan.ensemble;
	t->oof_bar_idx = sched_job_oof_bar(j);
	t->oof_bar = t->oof_bar_idx >= 0 ? j->recs[t->oof_bar_idx].score : NAN;
	t->explain = !j->plan.refit;
	atomic_init(&t->stop, WORKER_STOP_NONE);
	t->prog_score = NAN;
	t->status = worker_params_from_json(params, &ctx, &t->params, err);
	/*
	 * On a small table gbdt fits every tree on every training row, as
	 * scikit-learn's HistGradientBoosting does below 10,000 rows: early
	 * stopping would hold a tenth of the few rows out and stop on the
	 * noise of a few hundred, and trees is searched like any setting.
	 */
	if (t->status == FITD_OK && t->params.model == FIT_MODEL_GBDT &&
	    (int64_t)j->data->nall < j->plan.gbdt_min_rows)
		t->params.patience = 0;
	return t;
}

static void submit(struct worker *w, struct worker_task *t)
{
	w->threads_busy += (unsigned)t->params.threads;
	w->memory_busy += t->memory;
	w->tasks_running++;
	atomic_store_explicit(&t->sign_ms, sched_now_mono(), memory_order_relaxed);
	worker_pool_submit(w->pool, &t->pool_task, worker_task_run, t);
}

/* Frees a task that was never submitted; NULL is allowed. */
static void discard_task(struct worker_task *t)
{
	if (t == NULL)
		return;
	sched_snapshot_free(t->hook_data);
	worker_task_release(t);
	free(t);
}

static bool start_refit(struct sched_job *j)
{
	struct worker *w = j->w;
	unsigned free_threads = w->opt.threads - w->threads_busy;
	unsigned threads = j->threads_per * j->parallel;
	struct fitd_error err = { 0 };
	struct worker_task *t;

	if (threads > free_threads)
		threads = free_threads;
	if (threads == 0)
		return true; /* wait for a thread; check_end comes back */
	j->final_idx = sched_job_final_trial(j);
	t = new_task(j, j->final_idx, j->recs[j->final_idx].params, threads, &err);
	if (t == NULL)
		return true; /* out of memory: the next pass tries again */
	if (t->status != FITD_OK) {
		discard_task(t);
		return false;
	}
	t->refit = true;
	t->keep_oof = false;
	t->final_idx = j->final_idx;
	if (j->final_idx == j->best_idx)
		snprintf(t->standin_id, sizeof(t->standin_id), "%s", j->best_model_id);
	if (j->plan.max_ms > 0)
		t->deadline_ms = sched_now_mono() + j->plan.max_ms -
				 sched_job_elapsed(j, sched_now_mono());
	t->ensemble_always = j->plan.ensemble_always;
	if (j->plan.ensemble &&
	    sched_job_candidates(j, threads, &t->cands, &t->ncands) != FITD_OK) {
		discard_task(t);
		return true; /* out of memory: the next pass tries again */
	}
	j->refit = t;
	fitd_log_info("refit_started", "job=%s trial=%lld top_trial=%lld threads=%u", j->id,
		      (long long)j->final_idx, (long long)j->best_idx, threads);
	submit(w, t);
	return true;
}

/* The categorical feature of d with the most levels, or -1 when there is none. */
static long widest_categorical(const struct worker_data *d)
{
	long widest = -1;

	for (size_t i = 0; i < d->nfeatures; i++) {
		const struct fit_column *c = &d->frame->cols[d->features[i]];

		if (c->type == FIT_COL_CATEGORICAL &&
		    (widest < 0 || c->nlevels > d->frame->cols[widest].nlevels))
			widest = (long)d->features[i];
	}
	return widest;
}

/*
 * The estimated peak memory of t; FITD_ETOOBIG when it alone exceeds the
 * budget, with what to change: the widest categorical column is named, to
 * be excluded, when the fit without it would be admitted (rows hold a code
 * per column, but a column's levels widen the weights: a network's first
 * layer has a row of weights per level). Folds train on fewer rows than the
 * refit, so all rows are counted.
 */
static int estimate_memory(struct worker *w, struct worker_task *t, struct fitd_error *err)
{
	const struct worker_data *d = t->data;
	struct fit_shape shape = { d->nall,	  d->nfeatures, d->width,
				   d->cat_levels, d->nclasses,	d->cat_columns };
	size_t bytes = SIZE_MAX, without = SIZE_MAX, need, have = w->memory_budget >> 20;
	long wide;

	if (fit_model_memory(&shape, &t->params, &bytes) == FITD_OK && bytes <= w->memory_budget) {
		t->memory = bytes;
		return FITD_OK;
	}
	need = (bytes >> 20) + 1;
	wide = widest_categorical(d);
	if (wide >= 0) {
		size_t levels = d->frame->cols[wide].nlevels;

		shape.columns--;
		shape.width -= levels + 1;
		shape.cat_levels -= levels;
		shape.cat_columns--;
		if (shape.columns == 0 || fit_model_memory(&shape, &t->params, &without) != FITD_OK)
			without = SIZE_MAX;
	}
	if (without <= w->memory_budget)
		return fitd_error_set(
		    err, FITD_ETOOBIG, "memory_limit",
		    "the fit needs an estimated %zu MiB, more than the trial memory "
		    "budget of %zu MiB: column '%.40s' has %zu levels, and the fit "
		    "without it would be admitted; exclude it or raise --trial-memory-mib",
		    need, have, d->frame->cols[wide].name, d->frame->cols[wide].nlevels);
	return fitd_error_set(
	    err, FITD_ETOOBIG, "memory_limit",
	    "the fit needs an estimated %zu MiB, more than the trial memory "
	    "budget of %zu MiB: exclude columns, choose smaller settings or raise "
	    "--trial-memory-mib",
	    need, have);
}

/*
 * Trial idx is claimed (rec is its record): t runs on the pool or, refused
 * before running (parameters the core rejects, a fit too large, with why in
 * err), is recorded as failed like a finished trial, so an outcome the
 * store refuses is tried again.
 */
static void run_claimed(struct sched_job *j, struct sched_rec *rec, struct worker_task *t,
			const struct fitd_error *err)
{
	struct worker *w = j->w;

	rec->state = STORE_TRIAL_RUNNING;
	rec->last_progress_ms = 0;
	t->generation = rec->generation;
	rec->task = t;
	j->running++;
	if (t->status == FITD_OK) {
		submit(w, t);
		return;
	}
	t->err = *err;
	t->params.threads = 0;
	t->memory = 0;
	w->tasks_running++;
	sched_finish_task(w, t);
}

/*
 * Claims and starts trial idx; false when nothing could start. Whatever
 * can fail for lack of memory comes before the claim, so such a trial is
 * not started and stays as it was (queued, or not created yet) for the next
 * pass; once claimed, starting it cannot fail.
 */
static bool start_trial(struct sched_job *j, int64_t idx)
{
	struct worker *w = j->w;
	struct sched_rec *rec = sched_job_rec(j, idx);
	struct sched_snapshot *snap = NULL;
	struct fitd_error err = { 0 };
	struct worker_task *t = NULL;
	char *params = NULL;
	bool started = false;

	if (rec != NULL && rec->params == NULL)
		rec->params = sched_job_propose(j, idx);
	if (rec == NULL || rec->params == NULL)
		goto out;
	t = new_task(j, idx, rec->params, j->threads_per, &err);
	if (t == NULL)
		goto out;
	if (t->status == FITD_OK)
		t->status = estimate_memory(w, t, &err);
	/* Too big for the memory left: wait for running trials to give some back. */
	if (t->status == FITD_OK && w->memory_busy + t->memory > w->memory_budget)
		goto out;
	if (t->status == FITD_OK && sched_job_snapshot(j, idx, &snap) != FITD_OK)
		goto out;
	t->hook_data = snap;
	params = json_dumps(rec->params, JSON_COMPACT | JSON_SORT_KEYS);
	if (params == NULL)
		goto out;
	if (store_trial_claim(w->store, j->id, idx, params, w->owner, w->opt.lease_ms,
			      &rec->generation, &err) != FITD_OK) {
		/* Shared: another node took the trial offered; its row says how it ends. */
		if (err.status == FITD_ESTATE && store_shared(w->store)) {
			rec->state = STORE_TRIAL_RUNNING;
			j->store_changed = w->share_due = true;
			goto out;
		}
		fitd_log_warn("trial_claim_failed", "job=%s trial=%lld reason=\"%s\"", j->id,
			      (long long)idx, err.message);
		goto out;
	}
	run_claimed(j, rec, t, &err);
	t = NULL; /* the pool's, or recorded */
	started = true;
out:
	free(params);
	discard_task(t);
	return started;
}

/* The job whose turn it is to get free threads, or NULL when none can use them. */
static bool fill_one(struct worker *w, struct sched_job *j)
{
	unsigned free_threads = w->opt.threads - w->threads_busy;
	int64_t idx;

	if (j->end != SCHED_END_NONE || j->running >= j->parallel || j->threads_per > free_threads)
		return false;
	idx = sched_job_next_trial(j);
	return idx >= 0 && start_trial(j, idx);
}

/*
 * Hands free threads to jobs one trial at a time, round-robin, until none
 * can use them or the pass has started (or refused) SCHED_PASS_TRIALS.
 */
static void fill_slots(struct worker *w)
{
	bool started = true;

	while (started && !w->stopping && w->threads_busy < w->opt.threads) {
		struct sched_job *start = w->rr ? w->rr : w->jobs, *j = start;

		started = false;
		if (j == NULL)
			return;
		if (w->pass_trials == 0) {
			w->pass_cut = true;
			return;
		}
		do {
			struct sched_job *next = j->next ? j->next : w->jobs;

			if (fill_one(w, j)) {
				w->rr = next;
				w->pass_trials--;
				started = true;
				break;
			}
			j = next;
		} while (j != start);
	}
}

/* ---- trials of one job on every node (a shared store) ---- */

/* Offers new trial idx of j for any node to take; false when it could not. */
static bool offer_trial(struct sched_job *j, int64_t idx)
{
	struct worker *w = j->w;
	struct sched_rec *rec = sched_job_rec(j, idx);
	struct fitd_error err = { 0 };
	char *params;

	if (rec != NULL && rec->params == NULL)
		rec->params = sched_job_propose(j, idx);
	if (rec == NULL || rec->params == NULL)
		return false;
	params = json_dumps(rec->params, JSON_COMPACT | JSON_SORT_KEYS);
	if (params == NULL)
		return false;
	if (store_trial_offer(w->store, j->id, idx, params, w->owner, &err) == FITD_OK) {
		rec->state = STORE_TRIAL_QUEUED;
	} else {
		/* It exists already (read it back), or the job moved to another node. */
		if (err.status == FITD_ESTATE)
			j->store_changed = w->share_due = true;
		else
			fitd_log_warn("trial_offer_failed", "job=%s trial=%lld reason=\"%s\"",
				      j->id, (long long)idx, err.message);
	}
	free(params);
	return rec->state == STORE_TRIAL_QUEUED;
}

/*
 * The holder of a job proposes beyond its own threads: new trials the
 * searcher allows are offered, queued in the store, while fewer than the
 * job's shared_parallel are queued or running on all nodes. Its own free
 * threads were filled first (fill_slots), so it prefers its own trials; an
 * offered trial waiting to be taken stops further offers.
 */
static void offer_trials(struct worker *w)
{
	for (struct sched_job *j = w->jobs; j != NULL; j = j->next) {
		while (j->end == SCHED_END_NONE && !w->stopping &&
		       sched_job_pending(j) < j->shared_parallel) {
			int64_t idx;

			if (w->pass_trials == 0) {
				w->pass_cut = true;
				return;
			}
			idx = sched_job_next_trial(j);
			/* None, or an offered one not taken yet. */
			if (idx < 0 || ((size_t)idx < j->nrecs &&
					j->recs[idx].state != (enum store_trial_state) - 1))
				break;
			if (!offer_trial(j, idx))
				break;
			w->pass_trials--;
		}
	}
}

static struct sched_job *find_in(struct sched_job *list, const char *id)
{
	for (struct sched_job *j = list; j != NULL; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

/* Gives taken trial idx back untouched (the attempt is not counted). */
static void give_back(struct sched_job *g, int64_t idx, int64_t generation)
{
	struct store_trial_outcome o = { .state = STORE_TRIAL_QUEUED };

	store_trial_finish(g->w->store, g->id, idx, generation, &o, NULL);
}

/*
 * Takes the next offered trial of guest g and starts it; false when there
 * is none or it could not start (then it is given back). The history is
 * read after the take, so the pruning snapshot of trial k holds every
 * trial below k - SEARCH_WINDOW, finished before k was proposed.
 */
static bool start_guest_trial(struct sched_job *g)
{
	struct worker *w = g->w;
	struct sched_snapshot *snap = NULL;
	struct fitd_error err = { 0 };
	struct worker_task *t = NULL;
	struct sched_rec *rec;
	int64_t idx = 0, gen = 0;
	char *params = NULL;
	json_error_t jerr;
	int rc = store_trial_take(w->store, g->id, w->owner, w->opt.lease_ms, &idx, &gen, &params,
				  &err);

	if (rc != FITD_OK) {
		if (rc != FITD_ENOTFOUND)
			fitd_log_warn("trial_take_failed", "job=%s reason=\"%s\"", g->id,
				      err.message);
		return false;
	}
	sched_job_refresh(g, NULL);
	rec = sched_job_rec(g, idx);
	if (rec != NULL && rec->params == NULL)
		rec->params = json_loads(params, 0, &jerr);
	free(params);
	if (rec != NULL && rec->params != NULL)
		t = new_task(g, idx, rec->params, g->threads_per, &err);
	if (t != NULL && t->status == FITD_OK)
		t->status = estimate_memory(w, t, &err);
	if (t == NULL || (t->status == FITD_OK && w->memory_busy + t->memory > w->memory_budget) ||
	    (t->status == FITD_OK && sched_job_snapshot(g, idx, &snap) != FITD_OK)) {
		discard_task(t);
		give_back(g, idx, gen);
		return false;
	}
	t->hook_data = snap;
	rec->generation = gen;
	g->idle_since_ms = sched_now_mono();
	fitd_log_info("trial_taken", "job=%s trial=%lld node=%s", g->id, (long long)idx, w->owner);
	run_claimed(g, rec, t, &err);
	return true;
}

static void append_to(struct sched_job **list, struct sched_job *j)
{
	while (*list != NULL)
		list = &(*list)->next;
	*list = j;
}

/* The guest copy of job id, loaded when this node has none; NULL when it cannot be. */
static struct sched_job *guest_of(struct worker *w, const char *id)
{
	struct sched_job *g = find_in(w->guests, id);
	struct fitd_error err = { 0 };

	if (g != NULL || sched_now_mono() < w->guest_load_after_ms)
		return g;
	if (w->pass_loads == 0) {
		w->pass_cut = true;
		return NULL;
	}
	w->pass_loads--;
	if (sched_job_load(w, id, true, &g, &err) != FITD_OK) {
		fitd_log_warn("job_guest_failed", "job=%s node=%s reason=\"%s\"", id, w->owner,
			      err.message);
		w->guest_load_after_ms = sched_now_mono() + w->opt.heartbeat_ms;
		return NULL;
	}
	append_to(&w->guests, g);
	return g;
}

/* Free threads take the trials other nodes' jobs offer, oldest job first. */
static void take_offered(struct worker *w)
{
	char(*ids)[STORE_ID_MAX] = NULL;
	struct fitd_error err = { 0 };
	size_t n = 0;

	if (w->stopping || w->threads_busy >= w->opt.threads)
		return;
	if (store_trial_offered(w->store, w->opt.max_jobs, &ids, &n, &err) != FITD_OK) {
		fitd_log_warn("offered_scan_failed", "reason=\"%s\"", err.message);
		return;
	}
	for (size_t i = 0; i < n && w->threads_busy < w->opt.threads; i++) {
		struct sched_job *g;

		if (find_in(w->jobs, ids[i]) != NULL) /* held here: fill_slots takes its own */
			continue;
		g = guest_of(w, ids[i]);
		while (g != NULL && w->threads_busy + g->threads_per <= w->opt.threads &&
		       g->running < g->parallel) {
			if (w->pass_trials == 0) {
				w->pass_cut = true;
				break;
			}
			if (!start_guest_trial(g))
				break;
			w->pass_trials--;
		}
	}
	free(ids);
}

/*
 * Once a heartbeat, the guests' jobs are read: a job cancelled or ended
 * stops the trials run here for it; a guest idle for GUEST_IDLE_MS, or
 * whose job ended, is freed once its trials are back.
 */
#define GUEST_IDLE_MS 10000
static void tend_guests(struct worker *w, int64_t now)
{
	if (now - w->guests_at_ms < w->opt.heartbeat_ms)
		return;
	w->guests_at_ms = now;
	for (struct sched_job *g = w->guests, *next; g != NULL; g = next) {
		struct store_job row;
		bool over = false;
		int rc = store_job_get(w->store, g->id, &row, NULL);

		next = g->next;
		if (rc == FITD_OK) {
			over = row.state != STORE_JOB_RUNNING || row.cancel_requested;
			store_job_release(&row);
		}
		if (rc == FITD_ENOTFOUND || over)
			sched_stop_running(g, WORKER_STOP_CANCEL);
		if (g->running > 0) {
			g->idle_since_ms = now;
			continue;
		}
		if (rc == FITD_ENOTFOUND || over || now - g->idle_since_ms >= GUEST_IDLE_MS) {
			for (struct sched_job **p = &w->guests; *p != NULL; p = &(*p)->next)
				if (*p == g) {
					*p = g->next;
					break;
				}
			fitd_log_info("job_guest_freed", "job=%s node=%s", g->id, w->owner);
			sched_job_free(g);
		}
	}
}

/*
 * A shared store, every SCHED_SHARE_POLL_MS or when told the store
 * changed (worker_store_changed()): the held jobs with trials on other
 * nodes read them back, the guests' running trials are checked (rescued or
 * withdrawn ones stop) and the guests' jobs looked at. In between, when
 * share_due, only the jobs marked store_changed (a notification naming
 * them, a claim or an offer that met another node's row) are read back.
 * True when the pass should also take offered trials.
 */
static bool share_read(struct worker *w)
{
	int64_t now = sched_now_mono();
	bool all = atomic_exchange(&w->store_changed, false) ||
		   now - w->share_at_ms >= SCHED_SHARE_POLL_MS;
	bool due = w->share_due;

	w->share_due = false;
	if (!store_shared(w->store) || w->stopping || (!all && !due))
		return false;
	if (all)
		w->share_at_ms = now;
	for (struct sched_job *j = w->jobs; j != NULL; j = j->next) {
		bool remote = false;

		for (size_t i = 0; i < j->nrecs && !remote; i++)
			remote = j->recs[i].task == NULL &&
				 (j->recs[i].state == STORE_TRIAL_QUEUED ||
				  j->recs[i].state == STORE_TRIAL_RUNNING);
		if ((all || j->store_changed) && remote && j->end != SCHED_END_LOST)
			sched_job_refresh(j, NULL);
		j->store_changed = false;
	}
	for (struct sched_job *g = w->guests; g != NULL; g = g->next) {
		if ((all || g->store_changed) && g->running > 0)
			sched_job_refresh(g, NULL);
		g->store_changed = false;
	}
	tend_guests(w, now);
	return true;
}

/* ---- picking up jobs ---- */

static struct sched_job *find_job(struct worker *w, const char *id)
{
	return find_in(w->jobs, id);
}

static void append_job(struct worker *w, struct sched_job *j)
{
	append_to(&w->jobs, j);
}

/* A job that cannot even be loaded fails at once with the reason. */
static void fail_unloadable(struct worker *w, const char *id, const struct fitd_error *why)
{
	struct fitd_error err = { 0 };
	struct store_job job;

	fitd_log_warn("job_load_failed", "job=%s reason=\"%s\"", id, why->message);
	if (store_job_get(w->store, id, &job, &err) == FITD_OK) {
		if (job.state == STORE_JOB_QUEUED)
			store_job_start(w->store, id, NULL, NULL);
		store_job_release(&job);
	}
	store_job_finish(w->store, id, STORE_JOB_FAILED, why->code[0] ? why->code : "load_failed",
			 why->message, NULL);
	sched_emit(w, id);
}

/*
 * A shared store: the jobs this node holds the lease of, renewed and taken
 * (store_job_lease()), into *ids; a job running here that is not among
 * them was taken by another node: its trials stop at once and it is
 * dropped once they have, nothing written. cancel gets each job's flag.
 */
static int lease_jobs(struct worker *w, char (**ids)[STORE_ID_MAX], bool **cancel, size_t *n,
		      struct fitd_error *err)
{
	struct store_held *held = NULL;
	int64_t rescued = 0;
	int rc = store_job_lease(w->store, w->owner, w->opt.lease_ms, w->opt.max_jobs, &held, n,
				 &rescued, err);

	*ids = NULL;
	*cancel = NULL;
	if (rc != FITD_OK)
		return rc;
	if (rescued > 0)
		fitd_log_info("trials_rescued", "node=%s trials=%lld", w->owner,
			      (long long)rescued);
	if (*n > 0) {
		*ids = calloc(*n, STORE_ID_MAX);
		*cancel = calloc(*n, sizeof(**cancel));
	}
	if (*n > 0 && (*ids == NULL || *cancel == NULL)) {
		free(*ids);
		free(*cancel);
		free(held);
		*ids = NULL;
		*cancel = NULL;
		*n = 0;
		return fitd_error_set(err, FITD_ENOMEM, NULL, "held jobs");
	}
	for (size_t i = 0; i < *n; i++) {
		memcpy((*ids)[i], held[i].id, STORE_ID_MAX);
		(*cancel)[i] = held[i].cancel_requested;
	}
	for (struct sched_job *j = w->jobs; j != NULL; j = j->next) {
		bool kept = false;

		for (size_t i = 0; i < *n && !kept; i++)
			kept = strcmp(j->id, held[i].id) == 0;
		if (kept || j->end == SCHED_END_LOST)
			continue;
		fitd_log_warn("job_lease_lost", "job=%s node=%s", j->id, w->owner);
		fitd_metrics_lease_lost(w->opt.metrics);
		j->end = SCHED_END_LOST;
		sched_stop_running(j, WORKER_STOP_SHUTDOWN);
	}
	free(held);
	return FITD_OK;
}

static void sync_jobs(struct worker *w)
{
	char(*ids)[STORE_ID_MAX] = NULL;
	struct fitd_error err = { 0 };
	bool *cancel = NULL;
	size_t n = 0;
	bool shared = store_shared(w->store);
	int rc;

	if (shared) {
		int64_t now = sched_now_mono();

		if (!atomic_exchange(&w->lease_due, false) &&
		    now - w->lease_at_ms < w->opt.heartbeat_ms)
			return;
		w->lease_at_ms = now;
	}
	rc = shared ? lease_jobs(w, &ids, &cancel, &n, &err)
		    : store_job_active(w->store, w->opt.max_jobs, &ids, &n, &err);
	if (rc != FITD_OK) {
		fitd_log_warn("job_scan_failed", "reason=\"%s\"", err.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct sched_job *j = find_job(w, ids[i]);
		struct store_job row;

		if (j == NULL) {
			if (sched_now_mono() < w->load_after_ms)
				continue;
			if (w->pass_loads == 0) {
				w->pass_cut = true; /* the next pass loads it */
				continue;
			}
			w->pass_loads--;
			rc = sched_job_load(w, ids[i], false, &j, &err);
			if (rc == FITD_ENOMEM) {
				/*
				 * Out of memory for now: the job stays as it is, and
				 * loading waits a heartbeat rather than retry every pass.
				 */
				fitd_log_warn("job_load_deferred", "job=%s reason=\"%s\"", ids[i],
					      err.message);
				w->load_after_ms = sched_now_mono() + w->opt.heartbeat_ms;
				continue;
			}
			if (rc != FITD_OK) {
				fail_unloadable(w, ids[i], &err);
				continue;
			}
			append_job(w, j);
			sched_emit(w, j->id);
		}
		if (cancel != NULL) {
			j->cancel_seen = j->cancel_seen || cancel[i];
		} else if (!j->cancel_seen &&
			   store_job_get(w->store, j->id, &row, NULL) == FITD_OK) {
			j->cancel_seen = row.cancel_requested;
			store_job_release(&row);
		}
	}
	free(cancel);
	free(ids);
}

/* ---- the loop ---- */

/* Publishes the thread and queue gauges; the loop thread owns what they count. */
static void publish_gauges(struct worker *w)
{
	unsigned depth = 0;

	if (w->opt.metrics == NULL)
		return;
	for (struct sched_job *j = w->jobs; j != NULL && !w->stopping; j = j->next)
		depth += sched_job_ready(j);
	fitd_metrics_set_worker(w->opt.metrics, w->opt.threads, w->threads_busy, depth);
}

static void arm_tick(struct worker *w, int64_t now)
{
	int64_t next = -1;

	for (struct sched_job *j = w->jobs; j != NULL; j = j->next) {
		int64_t left;

		if (j->plan.max_ms == 0)
			continue;
		left = j->plan.max_ms - sched_job_refit_reserve(j) - sched_job_elapsed(j, now);
		if (j->end != SCHED_END_NONE)
			left += sched_job_refit_reserve(j) + REFIT_GRACE_MS;
		if (left < 0)
			left = 0;
		if (next < 0 || left < next)
			next = left;
	}
	if (next >= 0)
		uv_timer_start(&w->tick, on_tick, (uint64_t)next + 5, 0);
	else
		uv_timer_stop(&w->tick);
}

static void check_ends(struct worker *w)
{
	int64_t now = sched_now_mono();

	for (struct sched_job *j = w->jobs, *next; j != NULL; j = next) {
		next = j->next;
		check_end(j, now);
	}
}

static void schedule(struct worker *w)
{
	bool share;

	w->pass_trials = SCHED_PASS_TRIALS;
	w->pass_loads = SCHED_PASS_LOADS;
	w->pass_cut = false;
	sched_drain_progress(w);
	sched_drain_done(w);
	if (w->stopping)
		return;
	sync_jobs(w);
	share = share_read(w);
	check_ends(w);
	fill_slots(w);
	if (store_shared(w->store))
		offer_trials(w);
	if (share)
		take_offered(w);
	check_ends(w); /* trials refused at once may have ended their job */
	arm_tick(w, sched_now_mono());
	publish_gauges(w);
	if (w->pass_cut)
		uv_async_send(&w->wake); /* after what else the loop has to do */
}

static void on_wake(uv_async_t *h)
{
	schedule(h->data);
}

static void on_tick(uv_timer_t *h)
{
	schedule(h->data);
}

static void on_poll(uv_timer_t *h)
{
	schedule(h->data);
}

static void on_heartbeat(uv_timer_t *h)
{
	struct worker *w = h->data;
	struct fitd_error err = { 0 };

	save_elapsed(w);
	atomic_store(&w->lease_due, true);
	sched_retry_unrecorded(w, false);
	if (w->tasks_running > 0 &&
	    store_trial_heartbeat(w->store, w->owner, w->opt.lease_ms, &err) != FITD_OK)
		fitd_log_warn("heartbeat_failed", "reason=\"%s\"", err.message);
	/* The fits' kept buffers go back to the system once trials stop for a while. */
	if (w->tasks_running > 0)
		w->busy_at_ms = sched_now_mono();
	else if (sched_now_mono() - w->busy_at_ms >= IDLE_TRIM_MS)
		fit_buffers_trim();
	schedule(w);
}

/* ---- public ---- */

static unsigned default_threads(unsigned reserved)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < 1)
		cores = 1;
	return cores > (long)reserved ? (unsigned)(cores - (long)reserved) : 1;
}

int worker_new(uv_loop_t *loop, struct store *store, const struct worker_options *opt,
	       struct worker **out, struct fitd_error *err)
{
	struct worker *w = calloc(1, sizeof(*w));
	char host[64] = "localhost";
	int rc;

	*out = NULL;
	if (w == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "worker");
	w->loop = loop;
	w->store = store;
	w->opt = *opt;
	if (w->opt.threads == 0)
		w->opt.threads = default_threads(opt->reserved_cores);
	w->memory_budget = (size_t)w->opt.memory_mib << 20;
	if (w->memory_budget == 0)
		w->memory_budget = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE) /
				   2;
	if (w->opt.lease_ms <= 0)
		w->opt.lease_ms = 30000;
	if (w->opt.heartbeat_ms <= 0)
		w->opt.heartbeat_ms = 2000;
	if (w->opt.progress_ms <= 0)
		w->opt.progress_ms = 1000;
	if (w->opt.max_jobs == 0)
		w->opt.max_jobs = 8;
	/* Each running task at most once, and those finished since the last drain. */
	fitd_buf_init(&w->progress, PROGRESS_PER_THREAD * w->opt.threads * sizeof(void *));
	if (w->opt.heartbeat_ms * 3 > w->opt.lease_ms)
		w->opt.heartbeat_ms = w->opt.lease_ms / 3 > 0 ? w->opt.lease_ms / 3 : 1;
	gethostname(host, sizeof(host) - 1);
	if (opt->node != NULL && opt->node[0] != '\0')
		snprintf(w->owner, sizeof(w->owner), "%s", opt->node);
	else
		snprintf(w->owner, sizeof(w->owner), "%s:%ld", host, (long)getpid());
	w->opt.node = NULL; /* the caller's string; w->owner is the copy */
	rc = store_set_node(store, w->owner, w->opt.lease_ms, err);
	if (rc != FITD_OK) {
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->lock, NULL);
	rc = worker_pool_new(w->opt.threads, &w->pool, err);
	if (rc != FITD_OK) {
		pthread_mutex_destroy(&w->lock);
		free(w);
		return rc;
	}
	atomic_init(&w->lease_due, true);
	uv_async_init(loop, &w->wake, on_wake);
	uv_timer_init(loop, &w->heartbeat);
	uv_timer_init(loop, &w->tick);
	uv_timer_init(loop, &w->poll);
	atomic_init(&w->store_changed, false);
	w->wake.data = w->heartbeat.data = w->tick.data = w->poll.data = w;
	publish_gauges(w);
	*out = w;
	return FITD_OK;
}

void worker_on_events(struct worker *w, worker_events_fn fn, void *data)
{
	w->on_events = fn;
	w->on_events_data = data;
}

int worker_start(struct worker *w, struct fitd_error *err)
{
	int64_t requeued = 0, failed = 0;
	int rc = store_trial_recover(w->store, &requeued, &failed, err);

	if (rc != FITD_OK)
		return rc;
	if (requeued > 0 || failed > 0)
		fitd_log_info("recovered", "node=%s trials_requeued=%lld trials_failed=%lld",
			      w->owner, (long long)requeued, (long long)failed);
	fitd_log_info("worker_started", "threads=%u memory_mib=%zu node=%s lease_ms=%lld",
		      w->opt.threads, w->memory_budget >> 20, w->owner, (long long)w->opt.lease_ms);
	uv_timer_start(&w->heartbeat, on_heartbeat, (uint64_t)w->opt.heartbeat_ms,
		       (uint64_t)w->opt.heartbeat_ms);
	if (store_shared(w->store))
		uv_timer_start(&w->poll, on_poll, SCHED_SHARE_POLL_MS, SCHED_SHARE_POLL_MS);
	schedule(w);
	return FITD_OK;
}

void worker_notify(struct worker *w)
{
	atomic_store(&w->lease_due, true);
	uv_async_send(&w->wake);
}

void worker_store_changed(struct worker *w)
{
	atomic_store(&w->store_changed, true);
	uv_async_send(&w->wake);
}

void worker_job_changed(struct worker *w, const char *job_id)
{
	struct sched_job *j = find_in(w->jobs, job_id);

	if (j == NULL)
		j = find_in(w->guests, job_id);
	if (j != NULL)
		j->store_changed = true;
	w->share_due = true;
	uv_async_send(&w->wake);
}

static int64_t silence_of(const struct worker_task *t, int64_t now)
{
	return t ? now - atomic_load_explicit(&t->sign_ms, memory_order_relaxed) : 0;
}

int64_t worker_longest_silence_ms(struct worker *w)
{
	int64_t now = sched_now_mono(), longest = 0;

	for (int list = 0; list < 2; list++) {
		for (const struct sched_job *j = list ? w->guests : w->jobs; j != NULL;
		     j = j->next) {
			int64_t quiet = silence_of(j->refit, now);

			for (size_t i = 0; i < j->nrecs; i++) {
				int64_t q = silence_of(j->recs[i].task, now);

				quiet = q > quiet ? q : quiet;
			}
			longest = quiet > longest ? quiet : longest;
		}
	}
	return longest;
}

/*
 * A shared store: gives up this node's job leases once its trials are given
 * back, so the other nodes go on with its jobs at once.
 */
static void unlease(struct worker *w)
{
	struct fitd_error err = { 0 };
	int64_t released = 0;

	if (!store_shared(w->store))
		return;
	if (store_job_unlease(w->store, w->owner, &released, &err) != FITD_OK)
		fitd_log_warn("lease_release_failed", "node=%s reason=\"%s\"", w->owner,
			      err.message);
	else if (released > 0)
		fitd_log_info("leases_released", "node=%s jobs=%lld", w->owner,
			      (long long)released);
}

void worker_stop(struct worker *w)
{
	w->stopping = true;
	for (struct sched_job *j = w->jobs; j != NULL; j = j->next)
		sched_stop_running(j, WORKER_STOP_SHUTDOWN);
	for (struct sched_job *g = w->guests; g != NULL; g = g->next)
		sched_stop_running(g, WORKER_STOP_SHUTDOWN);
	/* Joining the pool waits for every task; their results are then recorded. */
	worker_pool_free(w->pool);
	w->pool = NULL;
	sched_drain_progress(w);
	sched_drain_done(w);
	sched_retry_unrecorded(w, true);
	save_elapsed(w);
	unlease(w);
	publish_gauges(w);
	uv_timer_stop(&w->heartbeat);
	uv_timer_stop(&w->tick);
	uv_timer_stop(&w->poll);
}

void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->pool != NULL)
		worker_stop(w);
	while (w->jobs != NULL) {
		struct sched_job *j = w->jobs;

		w->jobs = j->next;
		sched_job_free(j);
	}
	while (w->guests != NULL) {
		struct sched_job *g = w->guests;

		w->guests = g->next;
		sched_job_free(g);
	}
	uv_close((uv_handle_t *)&w->wake, NULL);
	uv_close((uv_handle_t *)&w->heartbeat, NULL);
	uv_close((uv_handle_t *)&w->tick, NULL);
	uv_close((uv_handle_t *)&w->poll, NULL);
	uv_run(w->loop, UV_RUN_NOWAIT);
	pthread_mutex_destroy(&w->lock);
	fitd_buf_release(&w->progress);
	free(w);
}

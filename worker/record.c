/*
 * record.c - results coming back from trial threads: the hooks a task
 * calls on its own thread, and the loop side that records what they queued.
 *
 * A trial thread queues its progress and, once, its end under the worker's
 * lock and wakes the loop; the loop drains both queues at the start of each
 * scheduling pass. Every finished trial is one store transaction (its state,
 * score, events and, for a new best, its model file), made before the
 * in-memory history moves on. Progress is throttled per trial and may be
 * dropped (when its queue cannot grow); a finished trial never is: the done
 * queue is linked through the tasks themselves, so queueing cannot fail,
 * and a result the store refuses stays with its task, which keeps its slot
 * and is committed again on the next heartbeat.
 */
#include "worker/scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "worker/json.h"

/* ---- hooks called on trial threads ---- */

/*
 * The first reason to stop a task is the one it keeps: a later one (a
 * shutdown after a cancel, a cancel after a prune) must not change how a
 * finished task whose outcome waits for the store is recorded.
 */
static void stop_task(struct worker_task *t, enum worker_stop why)
{
	int none = WORKER_STOP_NONE;

	if (t != NULL)
		atomic_compare_exchange_strong(&t->stop, &none, (int)why);
}

/*
 * Queues t's progress under w->lock; false when the queue cannot grow (the
 * epoch is not shown). The queue's failure sticks until the next drain.
 */
static bool push_progress(struct worker *w, struct worker_task *t)
{
	return fitd_buf_add(&w->progress, &t, sizeof(t)) == FITD_OK;
}

/* The progress queue's tasks, as an array of *n. */
static struct worker_task **progress_tasks(const struct fitd_buf *q, size_t *n)
{
	*n = q->len / sizeof(struct worker_task *);
	return (struct worker_task **)q->data;
}

/*
 * Successive halving, decided on the trial thread at the rung's own epoch so
 * the trial stops exactly there whatever the loop is doing.
 */
static void at_rung(struct worker_task *t, unsigned epoch, double score)
{
	const struct sched_snapshot *snap = t->hook_data;
	int rung = search_rung_at(snap->search, t->params_json, epoch);
	/* a gbdt's budget is its boosting rounds */
	unsigned last = t->params.model == FIT_MODEL_GBDT ? t->params.gbdt.trees : t->params.epochs;

	if (rung < 0 || (unsigned)rung != t->nrungs || t->nrungs == WORKER_MAX_RUNGS)
		return;
	t->rungs[t->nrungs++] = score;
	if (epoch < last && search_should_prune(snap->search, (size_t)t->idx, t->params_json, epoch,
						score, &snap->h))
		stop_task(t, WORKER_STOP_PRUNE);
}

static void hook_progress(struct worker_task *t, unsigned fold, unsigned epoch, double loss,
			  double score)
{
	struct sched_job *j = t->owner;
	struct worker *w = j->w;

	if (t->hook_data != NULL && fold == 0 && isfinite(score))
		at_rung(t, epoch, score);
	pthread_mutex_lock(&w->lock);
	t->prog_fold = fold;
	t->prog_epoch = epoch;
	t->prog_loss = loss;
	t->prog_score = score;
	if (!t->prog_pending)
		t->prog_pending = push_progress(w, t);
	pthread_mutex_unlock(&w->lock);
	uv_async_send(&w->wake);
}

static void hook_done(struct worker_task *t)
{
	struct sched_job *j = t->owner;
	struct worker *w = j->w;

	struct worker_task **queued;
	size_t n;

	pthread_mutex_lock(&w->lock);
	atomic_store_explicit(&t->sign_ms, sched_now_mono(), memory_order_relaxed);
	/* Its last progress is moot now; drop it so nothing points at t once freed. */
	queued = progress_tasks(&w->progress, &n);
	for (size_t i = 0; t->prog_pending && i < n; i++) {
		if (queued[i] == t) {
			queued[i] = NULL;
			t->prog_pending = false;
		}
	}
	t->done_next = NULL;
	if (w->done_last != NULL)
		w->done_last->done_next = t;
	else
		w->done = t;
	w->done_last = t;
	pthread_mutex_unlock(&w->lock);
	uv_async_send(&w->wake);
}

const struct worker_task_hooks sched_hooks = { hook_progress, hook_done };

/* ---- recording results ---- */

void sched_stop_running(struct sched_job *j, enum worker_stop why)
{
	for (size_t i = 0; i < j->nrecs; i++)
		stop_task(j->recs[i].task, why);
	stop_task(j->refit, why);
}

static enum store_trial_state state_of(const struct worker_task *t)
{
	if (t->status == FITD_OK)
		return STORE_TRIAL_COMPLETED;
	if (t->status != FITD_ECANCELLED)
		return STORE_TRIAL_FAILED;
	switch ((enum worker_stop)atomic_load(&t->stop)) {
	case WORKER_STOP_CANCEL:
		return STORE_TRIAL_INTERRUPTED;
	case WORKER_STOP_DEADLINE:
		return STORE_TRIAL_TIMEOUT;
	case WORKER_STOP_SHUTDOWN:
		return STORE_TRIAL_QUEUED;
	case WORKER_STOP_PRUNE:
		return STORE_TRIAL_PRUNED;
	case WORKER_STOP_NONE:
		break;
	}
	return STORE_TRIAL_FAILED;
}

static bool better(const struct sched_job *j, double score)
{
	if (j->best_idx < 0)
		return true;
	return j->plan.higher_is_better ? score > j->best_score : score < j->best_score;
}

/*
 * Writes the model document of t with its provenance (and the columns the
 * job excluded, which prediction input may then name); fills id and size.
 */
static int publish_model(struct sched_job *j, struct worker_task *t, char id[STORE_ID_MAX],
			 int64_t *bytes, struct fitd_error *err)
{
	size_t nex = worker_spec_exclude_count(j->spec);
	json_t *excluded = nex > 0 ? json_array() : NULL;
	char *text;
	int rc;

	for (size_t i = 0; i < nex; i++)
		excluded = worker_json_append(excluded,
					      json_string(worker_spec_exclude(j->spec, i)));
	if (nex > 0 && excluded == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "model file: out of memory");
	if (excluded != NULL)
		json_object_set_new(t->model, "excluded_columns", excluded);
	json_object_set_new(t->model, "job", json_string(j->id));
	json_object_set_new(t->model, "trial", t->refit ? json_null() : json_integer(t->idx));
	json_object_set_new(t->model, "refit", json_boolean(t->refit));
	if (t->detail != NULL)
		json_object_set(t->model, "selection", t->detail);
	json_object_set_new(t->model, "metric",
			    json_pack("{s:s, s:f, s:f}", "name", fit_metric_name(j->plan.metric),
				      "cv_mean", t->refit ? j->best_score : t->score, "cv_std",
				      t->score_std));
	text = json_dumps(t->model, JSON_COMPACT);
	if (text == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "model file: out of memory");
	*bytes = (int64_t)strlen(text);
	rc = store_model_write(j->w->store, text, strlen(text), id, err);
	free(text);
	return rc;
}

static char *trial_event(const struct sched_job *j, const struct worker_task *t,
			 enum store_trial_state st)
{
	json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "job", j->id, "trial",
			      (json_int_t)t->idx, "state", store_trial_state_name(st), "epochs",
			      (json_int_t)t->epochs, "duration_ms", (json_int_t)t->duration_ms);
	char *text;

	if (st == STORE_TRIAL_COMPLETED) {
		json_object_set_new(o, "score", json_real(t->score));
		json_object_set_new(o, "score_std", json_real(t->score_std));
	}
	if (st == STORE_TRIAL_FAILED)
		json_object_set_new(
		    o, "error",
		    json_pack("{s:s, s:s}", "code", t->err.code, "message", t->err.message));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static char *best_event(const struct sched_job *j, int64_t idx, double score, const char *model_id,
			const json_t *params)
{
	json_t *o = json_pack("{s:s, s:I, s:f, s:s, s:O}", "job", j->id, "trial", (json_int_t)idx,
			      "score", score, "model_id", model_id, "params", params);
	char *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return text;
}

/* Fold scores, rungs and, on a shared store, the node that ran it. */
static char *result_json(const struct sched_job *j, const struct worker_task *t)
{
	json_t *folds = json_array();
	json_t *rungs = json_array();
	json_t *doc;
	char *text;

	for (unsigned i = 0; i < t->nfolds_done; i++)
		json_array_append_new(folds, json_real(t->fold_scores[i]));
	for (unsigned i = 0; i < t->nrungs; i++)
		json_array_append_new(rungs, json_real(t->rungs[i]));
	doc = json_pack("{s:o, s:o}", "fold_scores", folds, "rungs", rungs);
	if (store_shared(j->w->store))
		json_object_set_new(doc, "node", json_string(j->w->owner));
	text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(doc);
	return text;
}

/*
 * A model file could not be written (the state directory's disk is full, or
 * failing): the job ends failed with that reason once its running trials
 * are back, instead of searching on into trials whose models are lost too.
 */
static void end_for_model(struct sched_job *j, const struct fitd_error *err)
{
	/* Another node's now, or run here as a guest: nothing to end here. */
	if (j->end == SCHED_END_LOST || j->guest)
		return;
	j->end = SCHED_END_FAILED;
	snprintf(j->fail_code, sizeof(j->fail_code), "%s",
		 err->code[0] ? err->code : fitd_status_code(err->status));
	snprintf(j->fail_message, sizeof(j->fail_message), "model file not written: %.200s",
		 err->message);
}

/* A trial's outcome as the store takes it, and the text it points into. */
struct outcome {
	struct store_trial_outcome o;
	char model_id[STORE_ID_MAX]; /* "" without a model file */
	char *event;		     /* trial_finished data; NULL for a trial given back */
	char *best_event;	     /* new_best data, with o.new_best */
	char *result;		     /* fold scores and rungs */
};

static void outcome_release(struct outcome *out)
{
	free(out->event);
	free(out->best_event);
	free(out->result);
}

/* Turns the outcome into t's failure with rc and err (t's status and error follow). */
static void outcome_fail(struct outcome *out, struct worker_task *t, int rc,
			 const struct fitd_error *err)
{
	t->status = rc;
	t->err = *err;
	out->o.state = STORE_TRIAL_FAILED;
	out->o.has_score = out->o.new_best = false;
	out->o.score = NAN;
	out->o.error_code = t->err.code[0] ? t->err.code : fitd_status_code(rc);
	out->o.error_message = t->err.message;
}

/*
 * The model file of a new best: the one an earlier try wrote (whose outcome
 * the store refused), or a new one. Without it the trial cannot be the
 * best: it fails, and the job with it (end_for_model).
 */
static void outcome_model(struct sched_job *j, struct worker_task *t, struct outcome *out)
{
	struct fitd_error err = { 0 };
	int rc;

	if (t->refused_model_id[0] != '\0') {
		snprintf(out->model_id, sizeof(out->model_id), "%s", t->refused_model_id);
		out->o.model_bytes = t->refused_model_bytes;
	} else if (t->model != NULL) {
		rc = publish_model(j, t, out->model_id, &out->o.model_bytes, &err);
		if (rc != FITD_OK) {
			fitd_log_warn("model_write_failed", "job=%s trial=%lld reason=\"%s\"",
				      j->id, (long long)t->idx, err.message);
			out->model_id[0] = '\0';
			outcome_fail(out, t, rc, &err);
			end_for_model(j, &err);
			return;
		}
	}
	if (out->model_id[0] != '\0')
		out->o.model_id = out->model_id;
}

/*
 * The outcome of finished trial t (not a refit): its state, score and
 * texts and, for a new best, its model file, written here. out is the
 * caller's to release.
 */
static void outcome_build(struct sched_job *j, struct worker_task *t, struct outcome *out)
{
	struct store_trial_outcome *o = &out->o;
	enum store_trial_state st = state_of(t);

	*out = (struct outcome){ .o.state = st };
	/* A pruned trial shows the score it was stopped on. */
	o->has_score = st == STORE_TRIAL_COMPLETED || (st == STORE_TRIAL_PRUNED && t->nrungs > 0);
	o->score = st == STORE_TRIAL_COMPLETED ? t->score
		   : t->nrungs > 0	       ? t->rungs[t->nrungs - 1]
					       : NAN;
	o->score_std = t->score_std;
	o->epochs = t->epochs;
	o->duration_ms = t->duration_ms;
	o->result_json = out->result = result_json(j, t);
	if (st == STORE_TRIAL_FAILED) {
		o->error_code = t->err.code[0] ? t->err.code : fitd_status_code(t->status);
		o->error_message = t->err.message;
	}
	o->new_best = st == STORE_TRIAL_COMPLETED && better(j, t->score);
	o->higher_is_better = j->plan.higher_is_better;
	if (o->new_best)
		outcome_model(j, t, out);
	if (o->state != STORE_TRIAL_QUEUED)
		o->event_json = out->event = trial_event(j, t, o->state);
	if (o->new_best)
		o->best_event_json = out->best_event = best_event(j, t->idx, t->score,
								  out->model_id, t->params_json);
}

/*
 * After the store committed out: t's record and, for a new best, the job's
 * best follow; the circuit breaker counts it.
 */
static void outcome_apply(struct sched_job *j, const struct worker_task *t,
			  const struct outcome *out)
{
	struct sched_rec *rec = sched_job_rec(j, t->idx);

	rec->state = out->o.state;
	rec->has_score = out->o.has_score;
	rec->score = out->o.score;
	rec->score_std = t->score_std;
	rec->duration_ms = t->duration_ms;
	rec->oof = out->o.state == STORE_TRIAL_COMPLETED && t->oof_written;
	rec->nrungs = t->nrungs;
	memcpy(rec->rungs, t->rungs, sizeof(rec->rungs));
	if (out->o.new_best) {
		j->best_idx = t->idx;
		j->best_score = t->score;
		j->best_duration_ms = t->duration_ms;
		snprintf(j->best_model_id, sizeof(j->best_model_id), "%s", out->model_id);
	}
	sched_job_note_outcome(j, out->o.state, out->o.error_code, out->o.error_message);
	if (rec->oof && !j->guest) /* the holder keeps and prunes the files */
		sched_job_prune_oof(j);
}

/*
 * Commits the outcome of trial t (not a refit) and moves its record on; t
 * stays the caller's. False when the store refused it for a reason other
 * than a stale claim: the record is left running, to be tried again.
 */
static bool record_trial(struct sched_job *j, struct worker_task *t)
{
	struct fitd_error err = { 0 };
	struct outcome out;
	int rc;

	outcome_build(j, t, &out);
	rc = store_trial_finish(j->w->store, j->id, t->idx, t->generation, &out.o, &err);
	if (rc == FITD_OK) {
		outcome_apply(j, t, &out);
	} else if (rc == FITD_ECONFLICT) {
		/* Claimed again elsewhere since: this outcome is not ours to record. */
		fitd_log_warn("trial_record_failed", "job=%s trial=%lld reason=\"%s\"", j->id,
			      (long long)t->idx, err.message);
		sched_job_rec(j, t->idx)->state = STORE_TRIAL_QUEUED;
	} else {
		fitd_log_warn("trial_record_failed", "job=%s trial=%lld reason=\"%s\" retry=true",
			      j->id, (long long)t->idx, err.message);
		/* The next try reuses the model file instead of writing another. */
		snprintf(t->refused_model_id, sizeof(t->refused_model_id), "%s", out.model_id);
		t->refused_model_bytes = out.o.model_bytes;
	}
	if (rc == FITD_OK || rc == FITD_ECONFLICT)
		fitd_log_info("trial_finished", "job=%s trial=%lld state=%s score=%g ms=%lld",
			      j->id, (long long)t->idx, store_trial_state_name(out.o.state),
			      out.o.score, (long long)t->duration_ms);
	outcome_release(&out);
	return rc == FITD_OK || rc == FITD_ECONFLICT;
}

static void record_refit(struct sched_job *j, struct worker_task *t)
{
	char model_id[STORE_ID_MAX];
	struct fitd_error err = { 0 };
	int64_t bytes = 0;
	char *ev;
	int rc = t->status;

	j->refit_done = true;
	/* An ensemble stands for its best-ranked member's trial. */
	if (rc == FITD_OK && t->final_idx >= 0 && (size_t)t->final_idx < j->nrecs)
		j->final_idx = t->final_idx;
	if (rc == FITD_OK)
		rc = publish_model(j, t, model_id, &bytes, &err);
	if (rc == FITD_OK) {
		double score = j->recs[j->final_idx].score;
		char *detail = t->detail != NULL ? json_dumps(t->detail, JSON_COMPACT) : NULL;

		ev = best_event(j, j->final_idx, score, model_id,
				j->recs[j->final_idx].params != NULL ? j->recs[j->final_idx].params
								     : t->params_json);
		rc = store_job_set_model(j->w->store, j->id, model_id, bytes, j->final_idx, score,
					 detail, ev, &err);
		free(ev);
		free(detail);
	}
	if (rc == FITD_OK) {
		snprintf(j->best_model_id, sizeof(j->best_model_id), "%s", model_id);
		j->best_idx = j->final_idx;
		j->best_score = j->recs[j->final_idx].score;
		j->final_said = true;
	} else {
		snprintf(j->refit_error, sizeof(j->refit_error), "%s",
			 t->status != FITD_OK ? t->err.message : err.message);
		fitd_log_warn("refit_failed", "job=%s reason=\"%s\" fallback=%s", j->id,
			      t->status != FITD_OK ? t->err.message : err.message,
			      j->best_model_id);
		/* With no trial model to fall back on, a lost model file fails the job. */
		if (t->status == FITD_OK && j->best_model_id[0] == '\0')
			end_for_model(j, &err);
	}
	fitd_log_info("refit_finished", "job=%s model=%s ms=%lld fold0=%s", j->id, j->best_model_id,
		      (long long)t->duration_ms, t->used_standin ? "stand-in" : "fitted");
}

/* Gives back the slot, threads and memory of finished task t and frees it. */
static void free_task(struct worker *w, struct worker_task *t)
{
	struct sched_job *j = t->owner;

	if (!t->refit) {
		sched_job_rec(j, t->idx)->task = NULL;
		j->running--;
	}
	w->threads_busy -= (unsigned)t->params.threads;
	w->memory_busy -= t->memory;
	w->tasks_running--;
	if (j->guest) /* a thread for the next offered trial */
		w->share_due = true;
	sched_snapshot_free(t->hook_data);
	worker_task_release(t);
	free(t);
	sched_emit(w, j->id);
}

/* Records t and frees it; false when the store refused a trial's outcome (t is kept). */
static bool record_done(struct worker *w, struct worker_task *t)
{
	struct sched_job *j = t->owner;

	if (t->refit) {
		record_refit(j, t);
		j->refit = NULL;
	} else {
		if (!record_trial(j, t))
			return false;
		/*
		 * Given back at shutdown is not finished, one that failed before
		 * running had no thread, and a refit is not a trial.
		 */
		if (state_of(t) != STORE_TRIAL_QUEUED && t->params.threads > 0)
			fitd_metrics_trial_finished(w->opt.metrics, t->duration_ms);
	}
	free_task(w, t);
	return true;
}

void sched_finish_task(struct worker *w, struct worker_task *t)
{
	if (record_done(w, t))
		return;
	/* Still running as far as the job and the watchdog go, until the store takes it. */
	atomic_store_explicit(&t->sign_ms, sched_now_mono(), memory_order_relaxed);
	t->done_next = w->unrecorded;
	w->unrecorded = t;
}

void sched_drain_done(struct worker *w)
{
	struct worker_task *t;

	pthread_mutex_lock(&w->lock);
	t = w->done;
	w->done = w->done_last = NULL;
	pthread_mutex_unlock(&w->lock);
	while (t != NULL) {
		struct worker_task *next = t->done_next;

		sched_finish_task(w, t);
		t = next;
	}
}

void sched_retry_unrecorded(struct worker *w, bool last)
{
	struct worker_task *t = w->unrecorded;

	w->unrecorded = NULL;
	while (t != NULL) {
		struct worker_task *next = t->done_next;

		if (!last)
			sched_finish_task(w, t);
		else if (!record_done(w, t))
			free_task(w, t); /* its row stays running: the next start requeues it */
		t = next;
	}
}

static void publish_progress(struct worker *w, struct worker_task *t, unsigned fold, unsigned epoch,
			     double loss, double score)
{
	struct sched_job *j = t->owner;
	struct sched_rec *rec = t->refit ? NULL : sched_job_rec(j, t->idx);
	int64_t now = sched_now_mono();
	json_t *o;
	char *text;

	if (rec == NULL || j->end == SCHED_END_LOST ||
	    now - rec->last_progress_ms < w->opt.progress_ms)
		return;
	rec->last_progress_ms = now;
	o = json_pack("{s:s, s:I, s:I, s:I, s:f}", "job", j->id, "trial", (json_int_t)t->idx,
		      "fold", (json_int_t)fold, "epoch", (json_int_t)epoch, "train_loss",
		      isfinite(loss) ? loss : 0.0);
	if (isfinite(score))
		json_object_set_new(o, "score", json_real(score));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	/* Fenced by the claim's generation: a trial taken over since writes nothing. */
	if (store_trial_progress(w->store, j->id, t->idx, t->generation, text, NULL) == FITD_OK)
		sched_emit(w, j->id);
	free(text);
}

void sched_drain_progress(struct worker *w)
{
	struct worker_task **list;
	struct fitd_buf queue;
	size_t n;

	/* The queue is ours now; an empty one (its failure cleared) takes its place. */
	pthread_mutex_lock(&w->lock);
	queue = w->progress;
	fitd_buf_init(&w->progress, queue.max);
	list = progress_tasks(&queue, &n);
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL)
			list[i]->prog_pending = false;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		struct worker_task *t = list[i];
		unsigned fold, epoch;
		double loss, score;

		if (t == NULL)
			continue;
		pthread_mutex_lock(&w->lock);
		fold = t->prog_fold;
		epoch = t->prog_epoch;
		loss = t->prog_loss;
		score = t->prog_score;
		pthread_mutex_unlock(&w->lock);
		publish_progress(w, t, fold, epoch, loss, score);
	}
	fitd_buf_release(&queue);
}

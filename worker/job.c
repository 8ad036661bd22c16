/*
 * job.c - one running job on the scheduler's side: its plan (read from the
 * normalized spec), its data, its trial history and its searcher.
 *
 * Loading rebuilds everything from the store, so a job resumes after a
 * restart exactly where its committed trials left it: the searcher is fed
 * the stored history and proposes what it would have proposed before, and
 * the circuit breaker's count of failures in a row is counted again. On a
 * shared store the same reading, repeated (sched_job_refresh()), brings in
 * what other nodes did with the job's trials.
 */
#include "worker/scheduler.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "store/store.h"
#include "worker/ensemble.h"
#include "worker/params.h"

/* Effective parallelism: small tables get many one-thread trials, large ones fewer wide ones. */
#define WIDE_TRIAL_CELLS 2000000

/* The scheduler's copy of what it reads often from the spec. */
static void read_plan(const struct worker_spec *spec, struct sched_plan *p)
{
	const struct worker_search_options *search = worker_spec_search(spec);

	memset(p, 0, sizeof(*p));
	p->task = worker_spec_task(spec);
	p->metric = worker_spec_metric(spec);
	p->higher_is_better = worker_spec_higher_is_better(spec);
	worker_spec_validation(spec, &p->folds, &p->repeats, &p->holdout);
	p->patience = worker_spec_early_patience(spec);
	p->gbdt_min_rows = worker_spec_gbdt_min_rows(spec);
	p->max_ms = llround(search->max_seconds * 1000); /* 2.5 s is 2500 ms */
	p->parallel = search->parallel_trials;
	p->threads_per = search->threads_per_trial;
	p->seed = search->seed;
	p->ensemble = search->ensemble;
	p->ensemble_always = search->ensemble_always;
	p->refit = search->refit;
	p->max_trials = search->max_trials;
}

static void choose_parallelism(struct sched_job *j)
{
	unsigned budget = j->w->opt.threads;
	double cells = (double)j->data->nall * (double)j->data->nfeatures;

	j->threads_per = j->plan.threads_per;
	/* A job of one trial has no other trial to share the threads with. */
	if (j->threads_per == 0)
		j->threads_per = cells < WIDE_TRIAL_CELLS && j->plan.max_trials != 1 ? 1 : budget;
	if (j->threads_per > budget)
		j->threads_per = budget;
	j->parallel = j->plan.parallel ? j->plan.parallel : budget / j->threads_per;
	if (j->parallel * j->threads_per > budget)
		j->parallel = budget / j->threads_per;
	if (j->parallel == 0)
		j->parallel = 1;
	/* On a shared store auto runs as many at once as the searcher's window lets. */
	j->shared_parallel = j->plan.parallel ? j->plan.parallel : SEARCH_WINDOW + 1;
}

/* A guest runs its trials with the holder's threads per trial, within this node's budget. */
static void guest_parallelism(struct sched_job *j, const char *runtime)
{
	json_t *doc = runtime ? json_loads(runtime, 0, NULL) : NULL;
	json_int_t per = json_integer_value(json_object_get(doc, "threads_per_trial"));

	json_decref(doc);
	if (per > 0) {
		j->threads_per = (unsigned)per < j->w->opt.threads ? (unsigned)per
								   : j->w->opt.threads;
		j->parallel = j->w->opt.threads / j->threads_per;
		if (j->parallel == 0)
			j->parallel = 1;
	}
}

/*
 * The records grow by hand rather than as a fitd_buf: a fitd_buf's failure
 * sticks, and a job must be able to grow its records on a later pass after
 * memory ran out once (the trial it could not start is started then).
 */
struct sched_rec *sched_job_rec(struct sched_job *j, int64_t idx)
{
	size_t need = (size_t)idx + 1;

	if (need > j->caprecs) {
		size_t cap = j->caprecs ? j->caprecs : 64;
		struct sched_rec *grown;

		while (cap < need)
			cap *= 2;
		grown = realloc(j->recs, cap * sizeof(*j->recs));
		if (grown == NULL)
			return NULL;
		j->recs = grown;
		memset(j->recs + j->caprecs, 0, (cap - j->caprecs) * sizeof(*j->recs));
		j->caprecs = cap;
	}
	if (need > j->nrecs) {
		for (size_t i = j->nrecs; i < need; i++)
			j->recs[i].state = (enum store_trial_state) - 1; /* not created yet */
		j->nrecs = need;
	}
	return &j->recs[idx];
}

/* The rung scores kept in a trial's result ({"rungs": [...]}). */
static void read_rungs(const char *result, struct sched_rec *rec)
{
	json_t *doc = result ? json_loads(result, 0, NULL) : NULL;
	json_t *rungs = json_object_get(doc, "rungs");

	rec->nrungs = 0;
	for (size_t i = 0; i < json_array_size(rungs) && i < WORKER_MAX_RUNGS; i++)
		rec->rungs[rec->nrungs++] = json_number_value(json_array_get(rungs, i));
	json_decref(doc);
}

/* Counts one finished trial into the breaker's streak of identical failures. */
static void streak_add(struct sched_job *j, enum store_trial_state st, const char *code,
		       const char *message)
{
	if (st == STORE_TRIAL_QUEUED || st == STORE_TRIAL_RUNNING)
		return; /* not finished: given back, or still running */
	if (st != STORE_TRIAL_FAILED) {
		j->streak = 0;
		return;
	}
	code = code && code[0] ? code : "failed";
	if (j->streak == 0 || strcmp(j->streak_code, code) != 0) {
		j->streak = 0;
		snprintf(j->streak_code, sizeof(j->streak_code), "%s", code);
	}
	j->streak++;
	snprintf(j->streak_message, sizeof(j->streak_message), "%s", message ? message : "");
}

/*
 * Trips the breaker (see SCHED_BREAKER_TRIALS): the job ends failed with
 * the streak's code and its last message, said whole; "N trials in a
 * row ..." comes first when both fit.
 */
static void breaker_check(struct sched_job *j)
{
	char both[2 * FITD_ERROR_MESSAGE_MAX];
	int w;

	if (j->streak < SCHED_BREAKER_TRIALS || j->best_idx >= 0 || j->end != SCHED_END_NONE ||
	    j->guest)
		return;
	j->end = SCHED_END_FAILED;
	snprintf(j->fail_code, sizeof(j->fail_code), "%s", j->streak_code);
	w = snprintf(both, sizeof(both), "%u trials in a row failed (%s) and none completed: %s",
		     j->streak, j->streak_code, j->streak_message);
	if (w > 0 && (size_t)w < sizeof(j->fail_message))
		memcpy(j->fail_message, both, (size_t)w + 1);
	else
		memcpy(j->fail_message, j->streak_message, sizeof(j->fail_message));
	fitd_log_warn("search_stopped", "job=%s reason=breaker code=%s trials_failed=%u", j->id,
		      j->streak_code, j->streak);
	sched_stop_running(j, WORKER_STOP_CANCEL);
}

void sched_job_note_outcome(struct sched_job *j, enum store_trial_state st, const char *code,
			    const char *message)
{
	streak_add(j, st, code, message);
	breaker_check(j);
}

/* The data's shape as the searcher sees it: rows a fold trains on, widths, outputs. */
static struct search_shape data_shape(const struct sched_job *j)
{
	double n = (double)j->data->nall;
	struct search_shape sh = {
		.width = j->data->width,
		.features = j->data->nfeatures,
		.outputs = j->data->nclasses > 2 ? j->data->nclasses : 1,
	};

	if (j->plan.folds > 1)
		sh.rows = (size_t)(n * (double)(j->plan.folds - 1) / (double)j->plan.folds);
	else
		sh.rows = (size_t)(n * (1 - j->plan.holdout));
	return sh;
}

/* Whether state is a trial's end. */
static bool terminal(enum store_trial_state st)
{
	return st != STORE_TRIAL_QUEUED && st != STORE_TRIAL_RUNNING &&
	       st != (enum store_trial_state) - 1;
}

/* Takes stored row t into rec (not running here); false when out of memory. */
static bool apply_row(struct sched_job *j, struct sched_rec *rec, const struct store_trial *t)
{
	json_error_t jerr;

	if (rec->params == NULL)
		rec->params = json_loads(t->params, 0, &jerr);
	rec->state = t->state;
	rec->has_score = t->has_score;
	rec->score = t->score;
	rec->score_std = t->score_std;
	rec->duration_ms = t->duration_ms;
	/* A completed trial wrote its file before it was recorded. */
	rec->oof = rec->state == STORE_TRIAL_COMPLETED && rec->has_score;
	read_rungs(t->result, rec);
	streak_add(j, rec->state, t->error_code, t->error_message);
	if (rec->state == STORE_TRIAL_COMPLETED && rec->has_score &&
	    (j->best_idx < 0 || (j->plan.higher_is_better ? rec->score > j->best_score
							  : rec->score < j->best_score))) {
		j->best_idx = t->idx;
		j->best_score = rec->score;
		j->best_duration_ms = t->duration_ms;
	}
	return rec->params != NULL;
}

/* Fills the history from the store's trial rows. */
static int load_history(struct sched_job *j, struct fitd_error *err)
{
	struct store_trial *rows = NULL;
	size_t n = 0;
	int rc = store_trial_all(j->w->store, j->id, 0, &rows, &n, err);

	for (size_t i = 0; rc == FITD_OK && i < n; i++) {
		struct sched_rec *rec = sched_job_rec(j, rows[i].idx);

		if (rec == NULL) {
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial history");
			break;
		}
		apply_row(j, rec, &rows[i]);
	}
	for (size_t i = 0; i < n; i++)
		store_trial_release(&rows[i]);
	free(rows);
	if (rc == FITD_OK && !j->guest) {
		breaker_check(j);
		sched_job_prune_oof(j);
	}
	return rc;
}

/* The stored best's model, when the stored best is the trial j holds best. */
static void read_best_model(struct sched_job *j)
{
	struct store_job row;

	if (store_job_get(j->w->store, j->id, &row, NULL) != FITD_OK)
		return;
	if (row.best_trial == j->best_idx)
		snprintf(j->best_model_id, sizeof(j->best_model_id), "%s", row.best_model_id);
	else
		j->best_model_id[0] = '\0';
	store_job_release(&row);
}

/* Forgets a record: the trial was offered and withdrawn before anyone took it. */
static void forget(struct sched_rec *rec)
{
	json_decref(rec->params);
	memset(rec, 0, sizeof(*rec));
	rec->state = (enum store_trial_state) - 1;
}

int sched_job_refresh(struct sched_job *j, struct fitd_error *err)
{
	struct store_trial *rows = NULL;
	size_t n = 0, r = 0, bound;
	int64_t best = j->best_idx;
	size_t from = 0;
	int rc;

	/* An ended trial never changes: read from the first one that has not. */
	while (from < j->nrecs && terminal(j->recs[from].state))
		from++;
	rc = store_trial_all(j->w->store, j->id, (int64_t)from, &rows, &n, err);
	if (rc != FITD_OK)
		return rc;
	bound = j->nrecs;
	if (n > 0 && (size_t)rows[n - 1].idx + 1 > bound)
		bound = (size_t)rows[n - 1].idx + 1;
	for (size_t i = from; i < bound; i++) {
		const struct store_trial *t = r < n && rows[r].idx == (int64_t)i ? &rows[r++]
										 : NULL;
		struct sched_rec *rec = sched_job_rec(j, (int64_t)i);
		int none = WORKER_STOP_NONE;

		if (rec == NULL) {
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial history");
			break;
		}
		if (rec->task != NULL) {
			/* Rescued or withdrawn since: nothing of it can be recorded. */
			if (t == NULL || t->state != STORE_TRIAL_RUNNING ||
			    t->generation != rec->generation)
				atomic_compare_exchange_strong(&rec->task->stop, &none,
							       (int)WORKER_STOP_SHUTDOWN);
			continue;
		}
		if (t == NULL) {
			if (rec->state == STORE_TRIAL_QUEUED)
				forget(rec);
			continue;
		}
		if (terminal(rec->state))
			continue; /* an ended trial never changes */
		if (!apply_row(j, rec, t)) {
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial history");
			break;
		}
		if (terminal(rec->state))
			breaker_check(j);
	}
	for (size_t i = 0; i < n; i++)
		store_trial_release(&rows[i]);
	free(rows);
	if (!j->guest && j->best_idx != best)
		read_best_model(j);
	if (!j->guest)
		sched_job_prune_oof(j);
	return rc;
}

unsigned sched_job_pending(const struct sched_job *j)
{
	unsigned n = 0;

	for (size_t i = 0; i < j->nrecs; i++)
		if (j->recs[i].state == STORE_TRIAL_QUEUED ||
		    j->recs[i].state == STORE_TRIAL_RUNNING)
			n++;
	return n;
}

/*
 * The target's classes as the dataset's stored facts count them (the
 * validator's count), or 0 to count them from the table: the dataset has
 * none kept (a job submitted before they were) or they cannot be read.
 */
static size_t stored_classes(struct sched_job *j, const struct store_job *row)
{
	struct store_column *cols = NULL;
	size_t n = 0, classes = 0;
	int64_t rows;

	if (j->plan.task != FIT_TASK_CLASSIFICATION ||
	    store_dataset_columns(j->w->store, row->dataset_id, &rows, &cols, &n, NULL) != FITD_OK)
		return 0;
	for (size_t c = 0; c < n; c++)
		if (strcmp(cols[c].name, row->target) == 0)
			classes = (size_t)(cols[c].numeric ? cols[c].distinct : cols[c].levels);
	store_columns_free(cols, n);
	return classes;
}

static int load_data(struct sched_job *j, const struct store_job *row, struct fitd_error *err)
{
	size_t nex = worker_spec_exclude_count(j->spec);
	const char **names = calloc(nex ? nex : 1, sizeof(*names));
	size_t classes = stored_classes(j, row);
	char path[PATH_MAX];
	int rc;

	if (names == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "excluded columns");
	for (size_t i = 0; i < nex; i++)
		names[i] = worker_spec_exclude(j->spec, i);
	rc = store_dataset_path(j->w->store, row->dataset_id, path, sizeof(path), err);
	if (rc == FITD_OK)
		rc = worker_data_new(path, row->target, names, nex, j->plan.task, classes,
				     j->plan.folds, j->plan.repeats, j->plan.holdout, j->plan.seed,
				     &j->data, err);
	free(names);
	return rc;
}

static int start_if_queued(struct sched_job *j, const struct store_job *row, struct fitd_error *err)
{
	char runtime[96];

	snprintf(runtime, sizeof(runtime), "{\"parallel_trials\":%u,\"threads_per_trial\":%u}",
		 j->parallel, j->threads_per);
	if (row->state == STORE_JOB_QUEUED)
		return store_job_start(j->w->store, j->id, runtime, err);
	return store_job_set_runtime(j->w->store, j->id, runtime, err);
}

int sched_job_load(struct worker *w, const char *id, bool guest, struct sched_job **out,
		   struct fitd_error *err)
{
	struct sched_job *j = calloc(1, sizeof(*j));
	struct store_job row = { 0 };
	json_error_t jerr;
	int rc;

	*out = NULL;
	if (j == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "job");
	j->w = w;
	j->guest = guest;
	fitd_buf_init(&j->hist, SIZE_MAX); /* as many as there are records */
	j->best_idx = -1;
	j->final_idx = -1;
	snprintf(j->id, sizeof(j->id), "%s", id);
	rc = store_job_get(w->store, id, &row, err);
	if (rc != FITD_OK)
		goto fail;
	j->spec_json = json_loads(row.spec_json, 0, &jerr);
	if (j->spec_json == NULL) {
		rc = fitd_error_set(err, FITD_EFORMAT, "bad_spec", "stored spec: %s", jerr.text);
		goto fail;
	}
	rc = worker_spec_from_json(j->spec_json, &j->spec, err);
	if (rc == FITD_OK) {
		read_plan(j->spec, &j->plan);
		rc = load_data(j, &row, err);
	}
	if (rc == FITD_OK) {
		struct search_shape shape = data_shape(j);

		rc = search_new_sized(j->spec, &shape, &j->search, err);
	}
	if (rc == FITD_OK)
		rc = load_history(j, err);
	if (rc != FITD_OK)
		goto fail;
	choose_parallelism(j);
	if (guest)
		guest_parallelism(j, row.runtime_json);
	else
		rc = start_if_queued(j, &row, err);
	if (rc != FITD_OK)
		goto fail;
	j->elapsed_saved_ms = row.elapsed_ms;
	j->elapsed_ms = row.elapsed_ms;
	j->run_mark_ms = sched_now_mono();
	snprintf(j->best_model_id, sizeof(j->best_model_id), "%s", row.best_model_id);
	j->idle_since_ms = j->run_mark_ms;
	fitd_log_info(guest ? "job_guest" : "job_running",
		      "job=%s trials_done=%lld parallel=%u threads_per_trial=%u node=%s", j->id,
		      (long long)row.trials_done, j->parallel, j->threads_per, w->owner);
	store_job_release(&row);
	*out = j;
	return FITD_OK;
fail:
	store_job_release(&row);
	sched_job_free(j);
	return rc;
}

void sched_job_free(struct sched_job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->nrecs; i++)
		json_decref(j->recs[i].params);
	free(j->recs);
	fitd_buf_release(&j->hist);
	search_free(j->search);
	worker_spec_free(j->spec);
	json_decref(j->spec_json);
	worker_data_unref(j->data);
	free(j);
}

int64_t sched_job_elapsed(struct sched_job *j, int64_t now_mono)
{
	j->elapsed_ms += now_mono - j->run_mark_ms;
	j->run_mark_ms = now_mono;
	return j->elapsed_ms;
}

unsigned sched_job_fold_fits(const struct sched_job *j)
{
	return j->plan.folds ? j->plan.folds * j->plan.repeats : 1;
}

int64_t sched_job_refit_estimate(const struct sched_job *j)
{
	return j->best_duration_ms / sched_job_fold_fits(j) * 3 / 2 + 200;
}

#define ENSEMBLE_RESERVE_TRIALS 4
int64_t sched_job_refit_reserve(const struct sched_job *j)
{
	int64_t est, cap, fits = sched_job_fold_fits(j);

	if (j->best_idx < 0 || j->plan.max_ms == 0 || !j->plan.refit)
		return 0;
	est = sched_job_refit_estimate(j);
	cap = j->plan.max_ms / (j->plan.ensemble ? 4 : 5);
	if (est > cap)
		return 0; /* no refit: the search has the whole budget */
	if (!j->plan.ensemble)
		return est;
	for (size_t i = 0, seen = 0; i < j->nrecs && seen < ENSEMBLE_RESERVE_TRIALS; i++) {
		const struct sched_rec *r = &j->recs[i];
		int64_t ms = r->duration_ms < j->best_duration_ms ? r->duration_ms
								  : j->best_duration_ms;

		if (!r->oof || (int64_t)i == j->best_idx)
			continue;
		est += ms / fits * WORKER_ENSEMBLE_REFIT_PCT / 100;
		seen++;
	}
	return est < cap ? est : cap;
}

bool sched_job_refit_fits(const struct sched_job *j, int64_t elapsed_ms)
{
	return j->plan.max_ms == 0 ||
	       elapsed_ms + sched_job_refit_estimate(j) <= j->plan.max_ms + SCHED_REFIT_LATE_MS;
}

/* Simpler models first: the family table's order (linear and logistic, svm, gbdt, mlp). */
static unsigned complexity(const json_t *params)
{
	enum fit_model_kind m = FIT_MODEL_COUNT;

	fit_model_kind_parse(json_string_value(json_object_get(params, "model")), &m);
	return fit_family_simplicity(m);
}

int64_t sched_job_final_trial(const struct sched_job *j)
{
	const struct sched_rec *top = &j->recs[j->best_idx];
	double margin = top->score_std / sqrt((double)sched_job_fold_fits(j));
	double bound = j->plan.higher_is_better ? top->score - margin : top->score + margin;
	int64_t pick = j->best_idx;

	for (size_t i = 0; i < j->nrecs; i++) {
		const struct sched_rec *r = &j->recs[i];
		const struct sched_rec *p = &j->recs[pick];
		unsigned c, cp;

		if (r->state != STORE_TRIAL_COMPLETED || !r->has_score || r->params == NULL ||
		    (j->plan.higher_is_better ? r->score < bound : r->score > bound))
			continue;
		c = complexity(r->params);
		cp = complexity(p->params);
		if (c < cp || (c == cp && (j->plan.higher_is_better ? r->score > p->score
								    : r->score < p->score)))
			pick = (int64_t)i;
	}
	return pick;
}

/* Whether completed trial a ranks before b: better score, then lower index. */
static bool ranks_before(const struct sched_job *j, size_t a, size_t b)
{
	double sa = j->recs[a].score, sb = j->recs[b].score;

	if (sa != sb)
		return j->plan.higher_is_better ? sa > sb : sa < sb;
	return a < b;
}

/* Completed trials with a file, best first, into idx (j->nrecs entries); their count. */
static size_t ranked_oof(const struct sched_job *j, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < j->nrecs; i++) {
		size_t at;

		if (!j->recs[i].oof || !j->recs[i].has_score)
			continue;
		at = n++;
		while (at > 0 && ranks_before(j, i, idx[at - 1])) {
			idx[at] = idx[at - 1];
			at--;
		}
		idx[at] = i;
	}
	return n;
}

int64_t sched_job_oof_bar(const struct sched_job *j)
{
	size_t *idx = malloc((j->nrecs + 1) * sizeof(size_t));
	int64_t bar = -1;

	if (idx == NULL)
		return -1; /* no bar: the file is written, then pruned */
	if (ranked_oof(j, idx) >= SCHED_OOF_KEEP)
		bar = (int64_t)idx[SCHED_OOF_KEEP - 1];
	free(idx);
	return bar;
}

void sched_job_prune_oof(struct sched_job *j)
{
	size_t *idx = malloc((j->nrecs + 1) * sizeof(size_t));
	size_t n;

	if (idx == NULL)
		return; /* the next completion prunes */
	n = ranked_oof(j, idx);
	for (size_t k = SCHED_OOF_KEEP; k < n; k++) {
		store_oof_remove(j->w->store, j->id, (int64_t)idx[k]);
		j->recs[idx[k]].oof = false;
	}
	free(idx);
}

int sched_job_candidates(struct sched_job *j, unsigned threads, struct worker_candidate **out,
			 size_t *nout)
{
	size_t *idx = malloc((j->nrecs + 1) * sizeof(size_t));
	struct worker_candidate *c = calloc(SCHED_OOF_KEEP, sizeof(*c));
	struct worker_fit_context ctx = {
		.task = j->plan.task,
		.metric = j->plan.metric,
		.patience = j->plan.patience,
		.seed = j->plan.seed,
		.threads = (int)threads,
	};
	size_t n, k = 0;

	*out = NULL;
	*nout = 0;
	if (idx == NULL || c == NULL) {
		free(idx);
		free(c);
		return FITD_ENOMEM;
	}
	n = ranked_oof(j, idx);
	for (size_t i = 0; i < n && k < SCHED_OOF_KEEP; i++) {
		const struct sched_rec *r = &j->recs[idx[i]];

		if (r->params == NULL ||
		    worker_params_from_json(r->params, &ctx, &c[k].params, NULL) != FITD_OK)
			continue;
		c[k].idx = (int64_t)idx[i];
		c[k].params_json = json_incref(r->params);
		c[k].score = r->score;
		c[k].fold_ms = r->duration_ms / sched_job_fold_fits(j);
		k++;
	}
	free(idx);
	*out = c;
	*nout = k;
	return FITD_OK;
}

static enum search_trial_state search_state(enum store_trial_state st)
{
	switch (st) {
	case STORE_TRIAL_COMPLETED:
		return SEARCH_TRIAL_COMPLETED;
	case STORE_TRIAL_PRUNED:
		return SEARCH_TRIAL_PRUNED;
	case STORE_TRIAL_FAILED:
		return SEARCH_TRIAL_FAILED;
	case STORE_TRIAL_TIMEOUT:
		return SEARCH_TRIAL_TIMEOUT;
	case STORE_TRIAL_INTERRUPTED:
		return SEARCH_TRIAL_INTERRUPTED;
	default:
		return SEARCH_TRIAL_PENDING;
	}
}

static bool created(const struct sched_rec *rec)
{
	return rec->state != (enum store_trial_state) - 1;
}

/* The searcher's view of the trials below `below`, borrowing from recs into out. */
static size_t view(const struct sched_job *j, size_t below, struct search_trial *out)
{
	size_t n = 0;

	for (size_t i = 0; i < below && i < j->nrecs; i++) {
		const struct sched_rec *rec = &j->recs[i];

		if (!created(rec))
			continue;
		out[n++] = (struct search_trial){
			.idx = i,
			.state = search_state(rec->state),
			.params = rec->params,
			.has_score = rec->has_score && rec->state == STORE_TRIAL_COMPLETED,
			.score = rec->score,
			.rungs = rec->rungs,
			.nrungs = rec->nrungs,
		};
	}
	return n;
}

/*
 * The whole history, in j->hist (valid until recs change); false when out
 * of memory. The scratch only grows, to room for every record (its len is
 * that room); after a failure it is dropped, so the next call starts afresh.
 */
static bool history(struct sched_job *j, struct search_history *h)
{
	size_t need = (j->nrecs ? j->nrecs : 1) * sizeof(struct search_trial);
	struct search_trial *hist;

	if (need > j->hist.len && fitd_buf_grow(&j->hist, need - j->hist.len) == NULL) {
		fitd_buf_release(&j->hist);
		return false;
	}
	hist = (struct search_trial *)j->hist.data;
	*h = (struct search_history){ hist, view(j, j->nrecs, hist) };
	return true;
}

json_t *sched_job_propose(struct sched_job *j, int64_t idx)
{
	struct search_history h;

	return history(j, &h) ? search_propose(j->search, (size_t)idx, &h) : NULL;
}

/* The index of the next new trial, and whether any created trial is still to finish. */
static size_t next_new(const struct sched_job *j, bool *pending)
{
	size_t next = 0;

	*pending = false;
	for (size_t i = 0; i < j->nrecs && created(&j->recs[i]); i++) {
		next = i + 1;
		if (j->recs[i].state == STORE_TRIAL_QUEUED ||
		    j->recs[i].state == STORE_TRIAL_RUNNING)
			*pending = true;
	}
	return next;
}

/*
 * Whether no trial may be proposed at index next: the searcher stops, or
 * the daemon's own cap, which bounds a job given no max_trials (a time
 * budget alone) to WORKER_MAX_TRIALS, the most the spec allows.
 */
static bool stops_at(const struct sched_job *j, size_t next, const struct search_history *h)
{
	return next >= WORKER_MAX_TRIALS || search_should_stop(j->search, next, h, NULL);
}

bool sched_job_search_over(struct sched_job *j)
{
	struct search_history h;
	bool pending;
	size_t next = next_new(j, &pending);

	return !pending && history(j, &h) && stops_at(j, next, &h);
}

int64_t sched_job_next_trial(struct sched_job *j)
{
	struct search_history h;
	bool pending;
	size_t next = next_new(j, &pending);

	if (!history(j, &h))
		return -1;
	for (size_t i = 0; i < next; i++)
		if (j->recs[i].state == STORE_TRIAL_QUEUED && j->recs[i].task == NULL)
			return (int64_t)i;
	if (stops_at(j, next, &h) || !search_may_propose(j->search, next, &h))
		return -1;
	return (int64_t)next;
}

unsigned sched_job_ready(struct sched_job *j)
{
	struct search_history h;
	unsigned slots = j->parallel > j->running ? j->parallel - j->running : 0;
	unsigned ready = 0;
	bool pending;
	size_t next;

	if (j->end != SCHED_END_NONE || slots == 0 || !history(j, &h))
		return 0;
	next = next_new(j, &pending);
	for (size_t i = 0; i < next; i++)
		if (j->recs[i].state == STORE_TRIAL_QUEUED && j->recs[i].task == NULL)
			ready++;
	if (!stops_at(j, next, &h) && search_may_propose(j->search, next, &h))
		ready++;
	return ready < slots ? ready : slots;
}

int sched_job_snapshot(struct sched_job *j, int64_t idx, struct sched_snapshot **out)
{
	size_t below = idx > SEARCH_WINDOW ? (size_t)idx - SEARCH_WINDOW : 0;
	struct sched_snapshot *s;
	size_t n;

	*out = NULL;
	if (!search_prunes(j->search))
		return FITD_OK;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return FITD_ENOMEM;
	s->search = j->search;
	s->trials = calloc(below ? below : 1, sizeof(*s->trials));
	s->rungs = calloc(below ? below : 1, WORKER_MAX_RUNGS * sizeof(double));
	if (s->trials == NULL || s->rungs == NULL) {
		sched_snapshot_free(s);
		return FITD_ENOMEM;
	}
	n = view(j, below, s->trials);
	for (size_t i = 0; i < n; i++) {
		double *r = s->rungs + i * WORKER_MAX_RUNGS;

		memcpy(r, s->trials[i].rungs, s->trials[i].nrungs * sizeof(double));
		s->trials[i].rungs = r;
		s->trials[i].params = json_incref((json_t *)s->trials[i].params);
	}
	s->h = (struct search_history){ s->trials, n };
	*out = s;
	return FITD_OK;
}

void sched_snapshot_free(struct sched_snapshot *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->h.n; i++)
		json_decref((json_t *)s->trials[i].params);
	free(s->trials);
	free(s->rungs);
	free(s);
}

/*
 * task.c - what runs on a trial thread, a task: cross-validate a setting
 * (a trial), or refit the job's best setting on every training row and
 * explain the result.
 *
 * A trial fits one model per fold and scores each on its validation rows;
 * the trial's score is the mean over folds and the fold-0 model is kept as a
 * stand-in, in case the job's time runs out before its refit. The refit
 * first measures the permutation importance of the final trial's fold-0
 * model on rows that model never saw (read back from the trial's model
 * file, or fitted again: same seed, same model), then fits all rows the
 * way the folds were fitted. Early stopping never watches the rows that
 * score (see fit_fold), so the cross-validation score estimates the model
 * the refit makes. A job with search.refit false has no refit: its trials
 * measure the permutation importance of their fold-0 model themselves, and
 * the best trial's stand-in is the job's model, fitted once.
 */
#include "worker/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/clock.h"
#include "daemon/base/log.h"
#include "store/store.h"
#include "worker/ensemble.h"
#include "worker/fit/ensemble.h"
#include "worker/fit/explain.h"
#include "worker/fit/metric.h"
#include "worker/fit/rng.h"
#include "worker/json.h"
#include "worker/model_json.h"
#include "worker/spec.h"

#define IMPORTANCE_MAX_ROWS 5000
#define IMPORTANCE_REPEATS  3
#define WATCH_SHARE	    10	 /* early stopping watches one training row in this many */
#define WATCH_MIN	    5	 /* ... and at least this many, or it is off */
#define SPEED_ROWS	    1000 /* rows an ensemble's prediction speed is measured on */
/*
 * Fitted preprocessings a job keeps (fit_prep_cache): a fold's training
 * rows, with and without the rows early stopping watches, and the refit's.
 */
#define PREP_CACHE_ENTRIES 24

/* ---- shared job data ---- */

static int find_features(struct worker_data *d, const char *const *exclude, size_t nexclude,
			 struct fitd_error *err)
{
	const struct fit_frame *f = d->frame;

	d->features = calloc(f->ncols, sizeof(*d->features));
	if (d->features == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "feature list");
	for (size_t c = 0; c < f->ncols; c++) {
		bool skip = c == d->target;

		for (size_t e = 0; e < nexclude && !skip; e++)
			skip = strcmp(f->cols[c].name, exclude[e]) == 0;
		if (skip)
			continue;
		d->features[d->nfeatures++] = c;
		d->width += f->cols[c].type == FIT_COL_NUMERIC ? 2 : f->cols[c].nlevels + 1;
		d->cat_levels += f->cols[c].type == FIT_COL_NUMERIC ? 0 : f->cols[c].nlevels;
		d->cat_columns += f->cols[c].type != FIT_COL_NUMERIC;
	}
	if (d->nfeatures == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "no_features",
				      "no input column is left besides the target");
	return FITD_OK;
}

static int find_labeled_rows(struct worker_data *d, struct fitd_error *err)
{
	const struct fit_column *t = &d->frame->cols[d->target];

	d->all_rows = malloc((d->frame->nrows ? d->frame->nrows : 1) * sizeof(*d->all_rows));
	if (d->all_rows == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "row list");
	for (size_t r = 0; r < d->frame->nrows; r++) {
		bool missing = t->type == FIT_COL_NUMERIC ? isnan(t->num[r]) : t->cat[r] < 0;

		if (!missing)
			d->all_rows[d->nall++] = r;
	}
	return FITD_OK;
}

/* The classes of the target when the dataset's facts did not give them. */
static int count_classes(struct worker_data *d, struct fitd_error *err)
{
	const struct fit_column *t = &d->frame->cols[d->target];
	struct worker_column_info info = { 0 };

	if (t->type == FIT_COL_CATEGORICAL) {
		d->nclasses = t->nlevels;
		return FITD_OK;
	}
	if (worker_column_numeric_facts(t->num, d->frame->nrows, &info) != FITD_OK)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "target facts: out of memory");
	d->nclasses = info.distinct;
	return FITD_OK;
}

int worker_data_new(const char *path, const char *target, const char *const *exclude,
		    size_t nexclude, enum fit_task task, size_t nclasses, unsigned folds,
		    unsigned repeats, double holdout, uint64_t seed, struct worker_data **out,
		    struct fitd_error *err)
{
	struct worker_data *d = calloc(1, sizeof(*d));
	long t;
	int rc;

	*out = NULL;
	if (d == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "job data");
	atomic_init(&d->refs, 1);
	d->task = task;
	rc = fit_frame_load(path, &d->frame, err);
	if (rc != FITD_OK)
		goto fail;
	t = fit_frame_find(d->frame, target);
	if (t < 0) {
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "unknown_column",
				    "the dataset has no column '%s'", target);
		goto fail;
	}
	d->target = (size_t)t;
	rc = find_features(d, exclude, nexclude, err);
	if (rc == FITD_OK)
		rc = find_labeled_rows(d, err);
	d->nclasses = task == FIT_TASK_CLASSIFICATION ? nclasses : 0;
	if (rc == FITD_OK && task == FIT_TASK_CLASSIFICATION && nclasses == 0)
		rc = count_classes(d, err);
	if (rc == FITD_OK)
		rc = fit_split_new(d->frame, d->target, task, folds, repeats, holdout, seed,
				   &d->split, err);
	if (rc == FITD_OK)
		rc = worker_oof_prepare(d, err);
	if (rc == FITD_OK && fit_prep_cache_new(PREP_CACHE_ENTRIES, &d->prep_cache) != FITD_OK)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "job data");
	if (rc != FITD_OK)
		goto fail;
	*out = d;
	return FITD_OK;
fail:
	worker_data_unref(d);
	return rc;
}

struct worker_data *worker_data_ref(struct worker_data *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

void worker_data_unref(struct worker_data *d)
{
	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	worker_oof_release(d);
	fit_prep_cache_free(d->prep_cache); /* before the frame its entries name */
	fit_split_free(d->split);
	fit_frame_free(d->frame);
	free(d->features);
	free(d->all_rows);
	free(d);
}

/* ---- fitting ---- */

static int on_abort(void *data)
{
	struct worker_task *t = data;

	/* Polled after every mini-batch: the watchdog's sign of progress. */
	atomic_store_explicit(&t->sign_ms, fitd_clock_ms(), memory_order_relaxed);
	return atomic_load(&t->stop) != WORKER_STOP_NONE;
}

static void on_progress(void *data, const struct fit_progress *p)
{
	struct worker_task *t = data;

	if (t->hooks->progress != NULL)
		t->hooks->progress(t, t->nfolds_done, p->epoch, p->train_loss, p->valid_score);
}

static int fit_rows(struct worker_task *t, const struct fit_params *params, const size_t *train,
		    size_t ntrain, const size_t *valid, size_t nvalid, struct fit_model **model)
{
	const struct worker_data *d = t->data;
	struct fit_problem prob = {
		.frame = d->frame,
		.target = d->target,
		.features = d->features,
		.nfeatures = d->nfeatures,
		.train = train,
		.ntrain = ntrain,
		.valid = valid,
		.nvalid = nvalid,
		.task = d->task,
		.prep_cache = d->prep_cache,
	};
	struct fit_callbacks cb = { .abort = on_abort, .progress = on_progress, .data = t };

	return fit_model_train(&prob, params, &cb, model, &t->err);
}

/*
 * Fits a fold: its training rows minus about one in WATCH_SHARE, which early
 * stopping watches (chosen by a hash of the row and the seed, so the same
 * for every trial). Early stopping keeps the weights of its best epoch; had
 * it watched the validation rows that then score the fold, the score would
 * be the best of many noisy epochs, inflated most for the noisiest settings,
 * which a search would then prefer. Without early stopping (patience 0, or
 * an optimizer run to convergence, lbfgs, newton and dcd, which has no
 * epochs to pick) the validation rows are only reported as progress. rows
 * is scratch for ntrain indexes.
 */
static int fit_fold(struct worker_task *t, const size_t *train, size_t ntrain, const size_t *valid,
		    size_t nvalid, size_t *rows, struct fit_model **model)
{
	struct fit_params p = t->params;
	uint64_t key = fit_hash64(p.seed ^ 0x77617463680aULL);
	size_t nfit = 0, nwatch = 0;

	if (p.patience == 0 ||
	    (fit_family_optimizers(p.model) != 0 && fit_optimizer_converges(p.optimizer)))
		return fit_rows(t, &p, train, ntrain, valid, nvalid, model);
	for (size_t i = 0; i < ntrain; i++)
		nwatch += fit_hash64(train[i] ^ key) % WATCH_SHARE == 0;
	if (nwatch < WATCH_MIN || ntrain - nwatch < 2) {
		p.patience = 0;
		return fit_rows(t, &p, train, ntrain, valid, nvalid, model);
	}
	/* rows: the rows to fit from the front, the watched ones from the back. */
	for (size_t i = 0, back = ntrain; i < ntrain; i++) {
		if (fit_hash64(train[i] ^ key) % WATCH_SHARE == 0)
			rows[--back] = train[i];
		else
			rows[nfit++] = train[i];
	}
	/* The watched rows came in reverse; the core wants them ascending. */
	for (size_t i = 0; i < nwatch / 2; i++) {
		size_t tmp = rows[nfit + i];

		rows[nfit + i] = rows[ntrain - 1 - i];
		rows[ntrain - 1 - i] = tmp;
	}
	return fit_rows(t, &p, rows, nfit, rows + nfit, nwatch, model);
}

/*
 * Adds the coefficients of a linear model in original units: {column, level?,
 * output, value}. FITD_ENOMEM when memory runs out; a model without
 * coefficients (a network) is fine.
 */
static int add_coefficients(json_t *doc, const struct fit_model *m, struct fitd_error *err)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	static const char *const kinds[] = { "value", "missing", "level", "other" };
	struct fit_coefs *c = NULL;
	json_t *arr, *icpt;
	int rc = fit_explain_coefficients(m, &c, NULL);

	if (rc == FITD_ENOMEM)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "coefficients: out of memory");
	if (rc != FITD_OK)
		return FITD_OK;
	arr = json_array();
	icpt = json_array();
	for (size_t i = 0; i < c->n && arr != NULL; i++) {
		const struct fit_coef *k = &c->coef[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:f, s:f}", "column",
				      d->columns[k->column].name, "kind", kinds[k->kind], "output",
				      (json_int_t)k->output, "value", k->original, "standardized",
				      k->standardized);

		if (o != NULL && k->level != NULL &&
		    json_object_set_new(o, "level", json_string(k->level)) != 0) {
			json_decref(o);
			o = NULL;
		}
		arr = worker_json_append(arr, o);
	}
	for (size_t i = 0; i < c->noutputs && icpt != NULL; i++)
		icpt = worker_json_append(icpt, json_real(c->intercept[i]));
	fit_coefs_free(c);
	/* json_object_set_new() takes the reference even when it fails. */
	if (arr == NULL || icpt == NULL) {
		json_decref(arr);
		json_decref(icpt);
	} else if (json_object_set_new(doc, "coefficients", arr) != 0) {
		json_decref(icpt);
	} else if (json_object_set_new(doc, "intercepts", icpt) == 0) {
		return FITD_OK;
	}
	return fitd_error_set(err, FITD_ENOMEM, NULL, "coefficients: out of memory");
}

/*
 * Adds a gbdt model's importance from its trees: per column the total gain
 * and cover of the splits on it ({column, gain, cover}), beside the
 * permutation importance the refit adds. FITD_ENOMEM; nothing for other
 * families.
 */
static int add_tree_importance(json_t *doc, const struct fit_model *m, struct fitd_error *err)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	double *gain = calloc(2 * (d->ncolumns ? d->ncolumns : 1), sizeof(double));
	json_t *arr = json_array();
	bool ok = gain != NULL && arr != NULL;

	if (ok && fit_explain_trees(m, gain, gain + d->ncolumns) != FITD_OK) {
		free(gain);
		json_decref(arr);
		return FITD_OK; /* not a tree model */
	}
	for (size_t j = 0; ok && j < d->ncolumns && arr != NULL; j++)
		arr = worker_json_append(arr, json_pack("{s:s, s:f, s:f}", "column",
							d->columns[j].name, "gain", gain[j],
							"cover", gain[d->ncolumns + j]));
	free(gain);
	if (!ok)
		json_decref(arr);
	/* json_object_set_new() takes the reference even when it fails. */
	else if (arr != NULL && json_object_set_new(doc, "tree_importance", arr) == 0)
		return FITD_OK;
	return fitd_error_set(err, FITD_ENOMEM, NULL, "tree importance: out of memory");
}

/* The model document of m with its coefficients or tree importance, or status FITD_ENOMEM. */
static int model_document(struct worker_task *t, const struct fit_model *m)
{
	int rc;

	t->model = worker_model_to_json(m);
	if (t->model == NULL)
		return fitd_error_set(&t->err, FITD_ENOMEM, NULL, "model document: out of memory");
	rc = add_coefficients(t->model, m, &t->err);
	if (rc == FITD_OK)
		rc = add_tree_importance(t->model, m, &t->err);
	return rc;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/*
 * Permutation importance of m on rows, best first; on more than
 * IMPORTANCE_MAX_ROWS rows on a sample of that many (seeded, so the same
 * for the same job, and taken across the whole table, not from its start).
 * An empty list when it cannot be measured, NULL when memory runs out.
 */
static json_t *importance(struct worker_task *t, const struct fit_model *m, const size_t *rows,
			  size_t nrows)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	double *imp = calloc(d->ncolumns ? d->ncolumns : 1, 2 * sizeof(double));
	json_t *arr = json_array();
	size_t n = nrows < IMPORTANCE_MAX_ROWS ? nrows : IMPORTANCE_MAX_ROWS;
	size_t *sample = nrows > n ? malloc(nrows * sizeof(size_t)) : NULL;
	int rc = imp == NULL || (nrows > n && sample == NULL) ? FITD_ENOMEM : FITD_OK;

	if (rc == FITD_OK && sample != NULL) {
		struct fit_rng rng;

		memcpy(sample, rows, nrows * sizeof(size_t));
		fit_rng_seed(&rng, t->params.seed, 0x696d70);
		for (size_t i = 0; i < n; i++) { /* the first n of a Fisher-Yates shuffle */
			size_t k = i + (size_t)fit_rng_below(&rng, nrows - i), tmp = sample[i];

			sample[i] = sample[k];
			sample[k] = tmp;
		}
		qsort(sample, n, sizeof(size_t), cmp_size);
		rows = sample;
	}
	if (rc == FITD_OK)
		rc = fit_explain_permutation(m, t->data->frame, rows, n, t->params.metric,
					     IMPORTANCE_REPEATS, t->params.seed, t->params.threads,
					     imp, imp + d->ncolumns, NULL);
	if (rc == FITD_ENOMEM) {
		json_decref(arr);
		arr = NULL;
	}
	for (size_t i = 0; rc == FITD_OK && i < d->ncolumns && arr != NULL; i++)
		arr = worker_json_append(arr, json_pack("{s:s, s:f, s:f}", "column",
							d->columns[i].name, "importance", imp[i],
							"std", imp[d->ncolumns + i]));
	free(imp);
	free(sample);
	return arr;
}

/* Adds the permutation importance of m on rows to the model document. */
static int add_importance(struct worker_task *t, const struct fit_model *m, const size_t *rows,
			  size_t nrows)
{
	json_t *imp = importance(t, m, rows, nrows);

	if (imp == NULL || json_object_set_new(t->model, "importance", imp) != 0)
		return fitd_error_set(&t->err, FITD_ENOMEM, NULL, "importance: out of memory");
	return FITD_OK;
}

/*
 * Writes the trial's out-of-fold predictions; a failure (a full disk) only
 * leaves the trial out of the ensemble.
 */
static void keep_oof(struct worker_task *t, const float *v, size_t n)
{
	struct fitd_error err = { 0 };

	t->oof_written = store_oof_write(t->store, t->job_id, t->idx, t->generation, v, n, &err) ==
			 FITD_OK;
	if (!t->oof_written)
		fitd_log_warn("oof_write_failed", "job=%s trial=%lld reason=\"%s\"", t->job_id,
			      (long long)t->idx, err.message);
}

/* Whether the trial ranks after the worst kept file (worker_task.oof_bar_idx). */
static bool short_of_bar(const struct worker_task *t)
{
	if (t->oof_bar_idx < 0)
		return false;
	if (t->score == t->oof_bar)
		return t->idx > t->oof_bar_idx;
	return fit_metric_higher_is_better(t->params.metric) ? t->score < t->oof_bar
							     : t->score > t->oof_bar;
}

static void run_folds(struct worker_task *t)
{
	unsigned k = fit_split_count(t->data->split);
	size_t *rows = malloc((t->data->nall ? t->data->nall : 1) * sizeof(size_t));
	size_t width = t->data->oof_width, at = 0;
	float *oof = t->keep_oof ? malloc((t->data->noof * width + 1) * sizeof(float)) : NULL;
	double sum = 0, sq = 0;
	unsigned epochs = 0;

	if (rows == NULL || (t->keep_oof && oof == NULL)) {
		free(rows);
		free(oof);
		t->status = fitd_error_set(&t->err, FITD_ENOMEM, NULL, "out of memory");
		return;
	}
	for (unsigned i = 0; i < k && i < WORKER_MAX_FOLDS; i++) {
		const size_t *train, *valid;
		size_t ntrain, nvalid;
		struct fit_model *m = NULL;
		double s;

		fit_split_get(t->data->split, i, &train, &ntrain, &valid, &nvalid);
		t->status = fit_fold(t, train, ntrain, valid, nvalid, rows, &m);
		if (t->status == FITD_OK)
			t->status = fit_model_score(m, t->data->frame, valid, nvalid,
						    t->params.metric, t->params.threads, &s,
						    &t->err);
		if (t->status == FITD_OK && !isfinite(s))
			t->status = fitd_error_set(&t->err, FITD_EDIVERGED, "diverged",
						   "the validation score is not finite");
		if (t->status == FITD_OK && oof != NULL)
			t->status = worker_oof_fold(t->data, m, valid, nvalid, t->params.threads,
						    oof + at * width, &t->err);
		at += nvalid;
		if (t->status == FITD_OK && i == 0)
			t->status = model_document(t, m);
		if (t->status == FITD_OK && i == 0 && t->explain)
			t->status = add_importance(t, m, valid, nvalid);
		if (m != NULL)
			epochs += fit_model_desc(m)->report.best_epoch;
		fit_model_free(m);
		if (t->status != FITD_OK)
			break;
		t->fold_scores[i] = s;
		t->nfolds_done = i + 1;
		sum += s;
		sq += s * s;
	}
	free(rows);
	if (t->status == FITD_OK)
		t->score = sum / t->nfolds_done;
	if (t->status == FITD_OK && oof != NULL && !short_of_bar(t))
		keep_oof(t, oof, at * width);
	free(oof);
	if (t->status != FITD_OK)
		return;
	t->score_std = t->nfolds_done > 1
			   ? sqrt(fmax(0, (sq - sum * sum / t->nfolds_done) / (t->nfolds_done - 1)))
			   : 0;
	t->epochs = (epochs + t->nfolds_done / 2) / t->nfolds_done;
	if (t->epochs == 0)
		t->epochs = 1;
}

/*
 * The final trial's fold-0 model, read back from the model file it was
 * published in (t->standin_id); NULL when there is none or it cannot be
 * read, and the refit fits fold 0 again (the same model: fits are
 * deterministic and the file keeps every weight exactly).
 */
static struct fit_model *read_standin(struct worker_task *t)
{
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };
	json_t *doc = NULL;
	char *text = NULL;
	size_t len = 0;

	if (t->standin_id[0] != '\0' &&
	    store_model_read(t->store, t->standin_id, &text, &len, &err) == FITD_OK)
		doc = json_loadb(text, len, 0, NULL);
	if (doc != NULL && worker_model_from_json(doc, &m, &err) != FITD_OK)
		m = NULL;
	if (t->standin_id[0] != '\0' && m == NULL)
		fitd_log_warn("standin_unreadable", "job=%s model=%s reason=\"%s\"", t->job_id,
			      t->standin_id, err.message);
	json_decref(doc);
	free(text);
	return m;
}

/*
 * The single model's refit: the permutation importance of fold 0's model
 * (the trial's stand-in, or fitted again) on rows it never saw, then the
 * fit on all rows.
 */
static void run_single_refit(struct worker_task *t)
{
	const size_t *train, *valid;
	size_t ntrain, nvalid;
	struct fit_model *m = read_standin(t);
	size_t *rows = malloc((t->data->nall ? t->data->nall : 1) * sizeof(size_t));
	json_t *imp = NULL;

	if (rows == NULL) {
		fit_model_free(m);
		t->status = fitd_error_set(&t->err, FITD_ENOMEM, NULL, "out of memory");
		return;
	}
	t->used_standin = m != NULL;
	fit_split_get(t->data->split, 0, &train, &ntrain, &valid, &nvalid);
	t->status = m != NULL ? FITD_OK : fit_fold(t, train, ntrain, valid, nvalid, rows, &m);
	if (t->status == FITD_OK) {
		imp = importance(t, m, valid, nvalid);
		if (imp == NULL)
			t->status = fitd_error_set(&t->err, FITD_ENOMEM, NULL,
						   "importance: out of memory");
	}
	fit_model_free(m);
	m = NULL;
	if (t->status == FITD_OK)
		t->status = fit_fold(t, t->data->all_rows, t->data->nall, NULL, 0, rows, &m);
	free(rows);
	if (t->status == FITD_OK)
		t->status = model_document(t, m);
	if (t->status == FITD_OK && json_object_set(t->model, "importance", imp) != 0)
		t->status = fitd_error_set(&t->err, FITD_ENOMEM, NULL,
					   "model document: out of memory");
	if (t->status == FITD_OK)
		t->epochs = fit_model_desc(m)->report.epochs;
	json_decref(imp);
	fit_model_free(m);
}

/*
 * The ensemble's document: each member's trial, and its size (members,
 * bytes of the document) and prediction speed, measured on up to
 * SPEED_ROWS training rows on one thread.
 */
static int ensemble_document(struct worker_task *t, const struct fit_model *e,
			     const struct worker_ensemble_plan *p)
{
	size_t n = t->data->nall < SPEED_ROWS ? t->data->nall : SPEED_ROWS;
	double *v = malloc((n * fit_model_noutputs(e) + 1) * sizeof(double));
	json_t *members;
	char *text = NULL;
	int64_t start;
	double us = 0;
	int rc = v != NULL ? FITD_OK : FITD_ENOMEM;

	start = (fitd_clock_ns() / 1000);
	if (rc == FITD_OK)
		rc = fit_model_predict(e, t->data->frame, t->data->all_rows, n, 1, v, NULL,
				       &t->err);
	us = (double)((fitd_clock_ns() / 1000) - start) / (double)(n ? n : 1);
	free(v);
	if (rc != FITD_OK)
		return rc == FITD_ENOMEM ? fitd_error_set(&t->err, rc, NULL, "out of memory") : rc;
	t->model = worker_model_to_json(e);
	members = json_object_get(t->model, "members");
	for (size_t k = 0; members != NULL && k < p->n; k++)
		json_object_set_new(json_array_get(members, k), "trial",
				    json_integer(t->cands[p->member[k]].idx));
	text = t->model != NULL ? json_dumps(t->model, JSON_COMPACT) : NULL;
	if (text == NULL ||
	    json_object_set_new(t->model, "size",
				json_pack("{s:I, s:I}", "members", (json_int_t)p->n, "bytes",
					  (json_int_t)strlen(text))) != 0 ||
	    json_object_set_new(t->model, "predict_us_per_row", json_real(us)) != 0)
		rc = fitd_error_set(&t->err, FITD_ENOMEM, NULL, "model document: out of memory");
	free(text);
	return rc;
}

/* Refits every member of plan p on all rows into the ensemble's document in t->model. */
static void refit_members(struct worker_task *t, const struct worker_ensemble_plan *p)
{
	struct fit_model **members = calloc(p->n + 1, sizeof(*members));
	size_t *rows = malloc((t->data->nall ? t->data->nall : 1) * sizeof(size_t));
	struct fit_params keep = t->params;
	struct fit_model *e = NULL;

	t->status = members != NULL && rows != NULL
			? FITD_OK
			: fitd_error_set(&t->err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t k = 0; t->status == FITD_OK && k < p->n; k++) {
		t->params = t->cands[p->member[k]].params;
		t->params.threads = keep.threads;
		t->status = fit_fold(t, t->data->all_rows, t->data->nall, NULL, 0, rows,
				     &members[k]);
	}
	t->params = keep;
	free(rows);
	if (t->status == FITD_OK)
		t->status = fit_model_ensemble_new(members, p->weight, p->n, &e, &t->err);
	else
		for (size_t k = 0; members != NULL && k < p->n; k++)
			fit_model_free(members[k]);
	free(members);
	if (t->status == FITD_OK)
		t->status = ensemble_document(t, e, p);
	fit_model_free(e);
}

/*
 * The final step: with candidates, choose between the ensemble and the
 * single trial (worker_ensemble_plan()); the ensemble's members are refit
 * on all rows, and should that fail the single trial is refit instead.
 */
static void run_refit(struct worker_task *t)
{
	struct worker_ensemble_plan plan;
	const char *why = "ensembles are off (search.ensemble false)";

	if (t->cands != NULL) {
		t->status = worker_ensemble_plan(t, &plan, &t->err);
		if (t->status != FITD_OK)
			return;
		why = plan.reason;
		if (plan.use) {
			refit_members(t, &plan);
			if (t->status == FITD_OK) {
				t->detail = worker_ensemble_detail(t, &plan, true, why);
				t->final_idx = t->cands[plan.member[0]].idx;
				worker_ensemble_plan_release(&plan);
				return;
			}
			if (t->status == FITD_ECANCELLED) {
				worker_ensemble_plan_release(&plan);
				return;
			}
			json_decref(t->model);
			t->model = NULL;
			snprintf(plan.reason, sizeof(plan.reason),
				 "refitting the ensemble's members failed: %.150s", t->err.message);
			fitd_error_clear(&t->err);
			t->status = FITD_OK;
		}
	}
	t->detail = worker_ensemble_detail(t, t->cands != NULL ? &plan : NULL, false, why);
	if (t->cands != NULL)
		worker_ensemble_plan_release(&plan);
	run_single_refit(t);
}

void worker_task_run(void *arg)
{
	struct worker_task *t = arg;
	int64_t start = fitd_clock_ms();

	fitd_error_clear(&t->err);
	if (t->refit)
		run_refit(t);
	else
		run_folds(t);
	if (t->status != FITD_OK) {
		json_decref(t->model);
		t->model = NULL;
	}
	t->duration_ms = fitd_clock_ms() - start;
	t->hooks->done(t);
}

void worker_task_release(struct worker_task *t)
{
	for (size_t c = 0; c < t->ncands; c++)
		json_decref(t->cands[c].params_json);
	free(t->cands);
	t->cands = NULL;
	t->ncands = 0;
	json_decref(t->detail);
	t->detail = NULL;
	json_decref(t->params_json);
	json_decref(t->model);
	worker_data_unref(t->data);
	t->params_json = NULL;
	t->model = NULL;
	t->data = NULL;
}

/*
 * model_gbdt.c - gradient-boosted trees as a model family: the tree engine
 * (gbdt.h) behind fit_model_train(), fit_model_predict(), fit_model_rebuild()
 * and fit_model_memory(), so that a gbdt trial, model and prediction go
 * through the same calls as every other family.
 *
 * A fit fits the target like the other families (classes, or the training
 * mean and deviation of a regression target), hands the engine the raw
 * input columns (trees need no scaling, no imputation, no one-hot: they
 * split on raw values, send missing values and unseen levels one way and
 * split categories into subsets), and the target per frame row, standardized
 * for regression so that huber_delta, penalty and min_split_gain mean the
 * same on every table. The engine reports its validation loss after every
 * round with the validation margins; the progress passed on carries the
 * job's metric computed from those margins, so successive halving and the
 * events compare gbdt rounds in the metric's units, like epochs.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/gbdt.h"
#include "worker/fit/metric.h"

void fit__gbdt_params(const struct fit_params *p, struct fit_gbdt_params *g)
{
	fit_gbdt_params_init(g);
	g->trees = p->gbdt.trees;
	g->learning_rate = p->learning_rate;
	g->max_leaves = p->gbdt.max_leaves;
	g->max_depth = p->gbdt.max_depth;
	g->min_child_weight = p->gbdt.min_child_weight;
	g->min_leaf_rows = p->gbdt.min_leaf_rows;
	g->min_split_gain = p->gbdt.min_split_gain;
	g->subsample = p->gbdt.subsample;
	g->colsample = p->gbdt.colsample;
	g->max_bins = p->gbdt.max_bins;
	g->l1 = p->reg == FIT_REG_L1	       ? p->penalty
		: p->reg == FIT_REG_ELASTICNET ? p->penalty * p->l1_ratio
					       : 0.0;
	g->l2 = p->reg == FIT_REG_L2	       ? p->penalty
		: p->reg == FIT_REG_ELASTICNET ? p->penalty * (1.0 - p->l1_ratio)
					       : 0.0;
	g->patience = p->patience;
	g->loss = p->loss;
	g->huber_delta = p->huber_delta;
	g->seed = p->seed;
	g->threads = p->threads;
}

int fit__gbdt_prep(const struct fit_gbdt_desc *g, struct fit__prep *out, struct fitd_error *err)
{
	struct fit_prep_column *cols = calloc(g->ncolumns ? g->ncolumns : 1, sizeof(*cols));
	int rc;

	if (cols == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t j = 0; j < g->ncolumns; j++) {
		const struct fit_gbdt_column *c = &g->columns[j];

		cols[j] =
		    (struct fit_prep_column){ .name = c->name, .type = c->type, .scale = 1.0 };
		if (c->type == FIT_COL_CATEGORICAL) {
			cols[j].nlevels = c->nlevels;
			cols[j].levels = c->levels;
		}
	}
	rc = fit__prep_copy(cols, g->ncolumns, out, err);
	free(cols);
	return rc;
}

/* ---- training ---- */

/* The progress of a fit: the engine's rounds, passed on with the metric. */
struct watch {
	const struct fit_callbacks *cb;
	enum fit_task task;
	enum fit_metric metric;
	const struct fit__target *target;
	size_t nv, k;
	const double *vy;      /* validation truth in target units (regression) */
	const int32_t *vlabel; /* ... or classes */
	double *z, *vals, *scratch;
};

/*
 * The metric of the validation rows' margins, output-major (k x nv, as
 * progress has them) or row-major (nv x k, as fit_gbdt_predict() writes
 * them); NAN when undefined.
 */
static double watch_score(struct watch *w, const double *margins, int output_major)
{
	double score = NAN;
	int rc;

	for (size_t c = 0; c < w->k; c++)
		for (size_t i = 0; i < w->nv; i++)
			w->z[i * w->k + c] = output_major ? margins[c * w->nv + i]
							  : margins[i * w->k + c];
	fit__outputs_to_values(w->task, w->k, w->target->nclasses, w->target->center,
			       w->target->scale, w->z, w->nv, w->vals, NULL);
	if (w->task == FIT_TASK_REGRESSION)
		rc = fit_metric_regression(w->metric, w->nv, w->vy, w->vals, &score, NULL);
	else
		rc = fit__metric_classification(w->metric, w->nv, w->target->nclasses, w->vlabel,
						w->vals, w->scratch, &score);
	return rc == FITD_OK ? score : NAN;
}

/*
 * Installed on every fit, so that the engine reports the training loss the
 * model's report keeps; passed on only to a caller that asked for progress.
 */
static void on_round(void *data, const struct fit_progress *p)
{
	struct watch *w = data;
	double score;

	if (w->cb == NULL || w->cb->progress == NULL)
		return;
	score = p->valid_margins != NULL ? watch_score(w, p->valid_margins, 1) : NAN;
	w->cb->progress(w->cb->data, &(struct fit_progress){ p->epoch, p->train_loss, score });
}

static int on_abort(void *data)
{
	const struct watch *w = data;

	return w->cb != NULL && w->cb->abort != NULL && w->cb->abort(w->cb->data);
}

/* What a fit holds besides the engine's own memory; freed by fit_release(). */
struct fit_state {
	struct fit__target target;
	size_t *kt, *kv, nt, nv;
	double *y;	 /* regression: per frame row, standardized */
	int32_t *label;	 /* classification: per frame row */
	double *vy;	 /* validation truth in target units (regression) */
	int32_t *vlabel; /* ... or classes */
	double *z, *vals, *scratch;
	struct fit_gbdt_model *g;
};

static void fit_release(struct fit_state *s)
{
	fit__target_release(&s->target);
	free(s->kt);
	free(s->kv);
	free(s->y);
	free(s->label);
	free(s->vy);
	free(s->vlabel);
	free(s->z);
	free(s->vals);
	free(s->scratch);
	fit_gbdt_free(s->g);
}

/*
 * The kept rows of rows (those with a target; validation rows also of a
 * class seen in training), their targets written at their frame rows
 * (regression standardized), and with truth (validation) their targets as
 * the metric reads them.
 */
static int keep_rows(struct fit_state *s, const struct fit_column *tcol, const size_t *rows,
		     size_t n, size_t *kept, size_t *nkept, int truth)
{
	size_t cap = n ? n : 1, m = 0, k = 0;
	double *ys = malloc(cap * sizeof(double));
	int32_t *ls = malloc(cap * sizeof(int32_t));
	int rc = ys && ls ? fit__target_rows(&s->target, tcol, rows, n, 1, ys, ls, kept, &m)
			  : FITD_ENOMEM;

	/* The metric reads regression truth in target units, as fit_model_score() does. */
	if (rc == FITD_OK && truth && s->y != NULL)
		rc = fit__target_rows(&s->target, tcol, rows, n, 0, s->vy, NULL, NULL, &m);
	for (size_t i = 0; rc == FITD_OK && i < m; i++) {
		if (s->y != NULL) {
			s->y[kept[i]] = ys[i];
		} else if (ls[i] >= 0) {
			s->label[kept[i]] = ls[i];
			if (truth)
				s->vlabel[k] = ls[i];
		} else {
			continue; /* a class training never saw: the engine could not score it */
		}
		kept[k++] = kept[i];
	}
	*nkept = k;
	free(ys);
	free(ls);
	return rc;
}

/* The target fitted on the training rows with one; kept rows and targets per frame row. */
static int fit_targets(const struct fit_problem *prob, struct fit_state *s, struct fitd_error *err)
{
	const struct fit_column *tcol = &prob->frame->cols[prob->target];
	size_t nrows = prob->frame->nrows ? prob->frame->nrows : 1;
	size_t nv1 = prob->nvalid ? prob->nvalid : 1;
	int reg = prob->task == FIT_TASK_REGRESSION, rc;

	rc = fit__target_fit(tcol, prob->task, prob->train, prob->ntrain, &s->target, err);
	if (rc != FITD_OK)
		return rc;
	s->kt = malloc((prob->ntrain ? prob->ntrain : 1) * sizeof(size_t));
	s->kv = malloc(nv1 * sizeof(size_t));
	s->vy = malloc(nv1 * sizeof(double));
	s->vlabel = malloc(nv1 * sizeof(int32_t));
	s->y = reg ? malloc(nrows * sizeof(double)) : NULL;
	s->label = reg ? NULL : malloc(nrows * sizeof(int32_t));
	if (s->kt == NULL || s->kv == NULL || s->vy == NULL || s->vlabel == NULL ||
	    (reg ? s->y == NULL : s->label == NULL))
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	rc = keep_rows(s, tcol, prob->train, prob->ntrain, s->kt, &s->nt, 0);
	if (rc == FITD_OK)
		rc = keep_rows(s, tcol, prob->valid, prob->nvalid, s->kv, &s->nv, 1);
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL,
				      rc == FITD_ENOMEM ? "out of memory"
							: "the target column has the wrong type");
	if (s->nt == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "no_rows",
				      "no training row has a target value");
	return FITD_OK;
}

/* The metric's buffers and the wrapped callbacks of a fit with validation rows. */
static int watch_init(struct watch *w, struct fit_state *s, const struct fit_problem *prob,
		      const struct fit_params *p, const struct fit_callbacks *cb)
{
	size_t k = fit__kout(prob->task, s->target.nclasses), nv = s->nv ? s->nv : 1;

	*w = (struct watch){ cb, prob->task, p->metric, &s->target, s->nv, k, s->vy, s->vlabel };
	s->z = malloc(nv * k * sizeof(double));
	s->vals = malloc(nv * (s->target.nclasses ? s->target.nclasses : 1) * sizeof(double));
	s->scratch = malloc((fit__metric_scratch(nv, s->target.nclasses) + 1) * sizeof(double));
	w->z = s->z;
	w->vals = s->vals;
	w->scratch = s->scratch;
	return s->z && s->vals && s->scratch ? FITD_OK : FITD_ENOMEM;
}

/* The report of the engine's fit, with the metric of the kept rounds on the validation rows. */
static int make_report(struct fit_state *s, struct watch *w, const struct fit_frame *frame,
		       int threads, struct fit_report *rep, struct fitd_error *err)
{
	const struct fit_gbdt_report *r = &fit_gbdt_desc(s->g)->report;
	double *margins;
	int rc;

	*rep = (struct fit_report){
		.epochs = r->rounds,
		.best_epoch = r->best_round,
		.train_loss = r->train_loss,
		.valid_score = NAN,
		.passes = r->rounds,
		.stopped_early = r->stopped_early,
	};
	if (s->nv == 0)
		return FITD_OK;
	margins = malloc(s->nv * w->k * sizeof(double));
	if (margins == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	rc = fit_gbdt_predict(s->g, frame, s->kv, s->nv, threads, margins, err);
	if (rc == FITD_OK)
		rep->valid_score = watch_score(w, margins, 0);
	free(margins);
	return rc;
}

int fit__gbdt_train(const struct fit_problem *prob, const struct fit_params *p,
		    const struct fit_callbacks *cb, struct fit_model **out, struct fitd_error *err)
{
	struct fit_state s = { 0 };
	struct fit_gbdt_params g;
	struct fit_gbdt_problem gp;
	struct fit_callbacks wrapped = { on_abort, on_round, NULL };
	struct fit_report rep;
	struct watch w;
	int rc;

	*out = NULL;
	fit__gbdt_params(p, &g);
	rc = fit_targets(prob, &s, err);
	if (rc == FITD_OK && watch_init(&w, &s, prob, p, cb) != FITD_OK)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc != FITD_OK)
		goto out;
	wrapped.data = &w;
	gp = (struct fit_gbdt_problem){
		.frame = prob->frame,
		.features = prob->features,
		.nfeatures = prob->nfeatures,
		.train = s.kt,
		.ntrain = s.nt,
		.valid = s.nv ? s.kv : NULL,
		.nvalid = s.nv,
		.nclasses = prob->task == FIT_TASK_CLASSIFICATION ? s.target.nclasses : 0,
		.y = s.y,
		.label = s.label,
	};
	rc = fit_gbdt_train(&gp, &g, &wrapped, &s.g, err);
	if (rc == FITD_OK)
		rc = make_report(&s, &w, prob->frame, p->threads, &rep, err);
	if (rc == FITD_OK) {
		rc = fit__model_adopt_gbdt(p, prob->frame->cols[prob->target].name, &s.target, s.g,
					   &rep, out, err);
		s.g = NULL; /* the model's now, or freed */
	}
out:
	fit_release(&s);
	return rc;
}

int fit__gbdt_memory(const struct fit_shape *sh, const struct fit_params *p, size_t *bytes)
{
	enum fit_task task = sh->nclasses > 0 ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION;
	struct fit_params r = *p;
	struct fit_gbdt_params g;
	size_t engine = 0, rows = 0;

	fit_params_resolve(&r, task);
	fit__gbdt_params(&r, &g);
	if (fit_gbdt_params_check(&g, task == FIT_TASK_CLASSIFICATION ? 2 : 0) != NULL)
		return FITD_EINVAL;
	if (fit_gbdt_memory_estimate(sh->rows, sh->columns, sh->nclasses, sh->cat_levels, &g,
				     &engine) != FITD_OK)
		return FITD_ETOOBIG;
	/*
	 * Besides the engine: kept row lists, targets per row and the metric's
	 * buffers (at most 8 words a row and output), and a MiB for the
	 * model's columns and small buffers.
	 */
	if (fit__mul(sh->rows, (8 + 3 * (sh->nclasses ? sh->nclasses : 1)) * sizeof(double),
		     &rows) ||
	    fit__add(engine, rows, bytes) || fit__add(*bytes, (size_t)1 << 20, bytes))
		return FITD_ETOOBIG;
	return FITD_OK;
}

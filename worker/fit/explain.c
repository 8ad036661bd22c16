/*
 * explain.c - coefficients of linear models in the data's own units, and
 * permutation importance for every model.
 *
 * Coefficients: a standardized numeric feature (x - center) / scale with
 * weight w contributes w / scale per unit of x, so that is its coefficient in
 * original units, and -w * center / scale moves into the intercept; levels and
 * indicators are 0/1 already. Regression weights are in target deviations, so
 * they are multiplied by the target's scale (and its center added to the
 * intercept).
 *
 * Permutation importance preprocesses the rows once, then for each input
 * column and repeat shuffles that column's features across the rows (a
 * column's features are contiguous), predicts, scores, and puts the features
 * back. The shuffle of (column, repeat) comes from the seed alone. A gbdt
 * model reads raw values: the rows' values of its columns are copied once
 * into a frame of their own, and a column's values are shuffled there.
 */
#include "worker/fit/explain.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/gbdt.h"
#include "worker/fit/gemm.h"
#include "worker/fit/internal.h"
#include "worker/fit/metric.h"

static size_t col_width(const struct fit__prep *p, size_t j)
{
	return (j + 1 < p->ncols ? p->first[j + 1] : p->nfeat) - p->first[j];
}

static enum fit_coef_kind feature_kind(const struct fit_prep_column *c, size_t f)
{
	if (c->type == FIT_COL_NUMERIC)
		return f == 0 ? FIT_COEF_VALUE : FIT_COEF_MISSING;
	return f < c->nlevels ? FIT_COEF_LEVEL : FIT_COEF_OTHER;
}

int fit_explain_coefficients(const struct fit_model *m, struct fit_coefs **out,
			     struct fitd_error *err)
{
	const struct fit__prep *p = &m->prep;
	const struct fit_layer_desc *L = &m->layers[0];
	int reg = m->target.task == FIT_TASK_REGRESSION;
	double ys = reg ? m->target.scale : 1.0;
	struct fit_coefs *c;
	size_t at = 0;

	*out = NULL;
	if (m->ens != NULL || !fit__is_linear(m->desc.params.model))
		return fitd_error_set(err, FITD_EINVAL, "not_linear",
				      "only linear models have coefficients; use permutation "
				      "importance or contributions");
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->coef = calloc(m->kout * p->nfeat + 1, sizeof(*c->coef))) == NULL ||
	    (c->intercept = calloc(m->kout, sizeof(double))) == NULL) {
		fit_coefs_free(c);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
	c->noutputs = m->kout;
	for (size_t o = 0; o < m->kout; o++) {
		double icpt = L->bias[o];

		for (size_t j = 0; j < p->ncols; j++) {
			const struct fit_prep_column *col = &p->cols[j];

			for (size_t f = 0; f < col_width(p, j); f++) {
				struct fit_coef *k = &c->coef[at++];
				double w = L->weights[o * L->nin + p->first[j] + f];

				k->column = j;
				k->kind = feature_kind(col, f);
				k->level = k->kind == FIT_COEF_LEVEL ? col->levels[f] : NULL;
				k->output = o;
				k->standardized = w;
				k->original = (k->kind == FIT_COEF_VALUE ? w / col->scale : w) * ys;
				if (k->kind == FIT_COEF_VALUE)
					icpt -= w * col->center / col->scale;
			}
		}
		c->intercept[o] = reg ? m->target.center + ys * icpt : icpt;
	}
	c->n = at;
	*out = c;
	return FITD_OK;
}

void fit_coefs_free(struct fit_coefs *c)
{
	if (c == NULL)
		return;
	free(c->coef);
	free(c->intercept);
	free(c);
}

int fit_explain_trees(const struct fit_model *m, double *gain, double *cover)
{
	if (m->gbdt == NULL)
		return FITD_EINVAL;
	fit_gbdt_importance(m->gbdt, gain, cover);
	return FITD_OK;
}

/* What a permutation run works with. */
struct perm {
	const struct fit_model *m;
	size_t n, nout;
	enum fit_metric metric;
	int threads;
	float *x;      /* n x xld preprocessed rows: the dense block */
	int32_t *code; /* ... and n x ncat codes */
	float *saved;  /* n x 2 features (or codes) of one column */
	double *z, *values, *y, *scratch;
	double *z0; /* linear models: the margins of the unshuffled rows */
	int32_t *label;
	size_t *order;
	float *net_scratch;
	void *gemm_ws;
	/* gbdt: the rows' raw values of the model's columns, a frame of their own */
	struct fit_frame view;
	struct fit_column *cols;
	void **vals; /* per column: n doubles or n codes */
};

/* The score of the margins in pm->z. */
static int score_margins(struct perm *pm, double *score)
{
	const struct fit_model *m = pm->m;

	fit__outputs_to_values(m->target.task, m->kout, m->target.nclasses, m->target.center,
			       m->target.scale, pm->z, pm->n, pm->values, NULL);
	if (m->target.task == FIT_TASK_REGRESSION)
		return fit_metric_regression(pm->metric, pm->n, pm->y, pm->values, score, NULL);
	return fit__metric_classification(pm->metric, pm->n, m->target.nclasses, pm->label,
					  pm->values, pm->scratch, score);
}

static int perm_score(struct perm *pm, double *score)
{
	const struct fit_model *m = pm->m;
	struct fit__data all = fit__model_rows(m, pm->x, pm->code, pm->n);

	if (m->gbdt != NULL &&
	    fit_gbdt_predict(m->gbdt, &pm->view, NULL, pm->n, pm->threads, pm->z, NULL) != FITD_OK)
		return FITD_ENOMEM;
	if (fit__is_linear(m->desc.params.model))
		fit__linear_scores(m->kout, m->wd, &all, pm->z, pm->threads);
	for (size_t s = 0; m->desc.params.model == FIT_MODEL_MLP && s < pm->n;
	     s += FIT__MLP_CHUNK) {
		size_t cnt = pm->n - s < FIT__MLP_CHUNK ? pm->n - s : FIT__MLP_CHUNK;
		struct fit__data v = fit__data_rows(&all, s, cnt);

		fit__net_forward(&m->net, m->wf, m->wf + m->net.eoff, &v, pm->net_scratch,
				 pm->z + s * m->kout, pm->threads, pm->gemm_ws);
	}
	return score_margins(pm, score);
}

/*
 * A linear model: the margins with column j's features taken from row
 * pm->order[i] for row i, from the unshuffled margins pm->z0. Only column
 * j's terms change, so this reads n rows of one column instead of scoring
 * every feature again.
 */
static void linear_shuffled_margins(struct perm *pm, size_t j)
{
	const struct fit_model *m = pm->m;
	const struct fit__prep *p = &m->prep;
	struct fit__data all = fit__model_rows(m, pm->x, pm->code, pm->n);
	size_t k = m->kout, width = col_width(p, j);
	bool cat = p->cols[j].type != FIT_COL_NUMERIC;

	for (size_t i = 0; i < pm->n; i++) {
		size_t o = pm->order[i];
		const float *xi = pm->x + i * p->xld + p->pos[j],
			    *xo = pm->x + o * p->xld + p->pos[j];
		int32_t ci = cat ? pm->code[i * p->ncat + p->slot[j]] : -1;
		int32_t co = cat ? pm->code[o * p->ncat + p->slot[j]] : -1;

		for (size_t c = 0; c < k; c++) {
			const double *w = m->wd + c * all.ld;
			double dz = 0.0;

			if (cat)
				dz = (co >= 0 ? w[p->xld + (size_t)co] : 0.0) -
				     (ci >= 0 ? w[p->xld + (size_t)ci] : 0.0);
			for (size_t f = 0; !cat && f < width; f++)
				dz += w[p->pos[j] + f] * ((double)xo[f] - (double)xi[f]);
			pm->z[i * k + c] = pm->z0[i * k + c] + dz;
		}
	}
}

/* gbdt: score with column j's raw values in the order of pm->order, then restored. */
static int shuffled_raw_score(struct perm *pm, size_t j, double *score)
{
	size_t size = pm->cols[j].type == FIT_COL_NUMERIC ? sizeof(double) : sizeof(int32_t);
	char *v = pm->vals[j], *saved = (char *)pm->saved;
	int rc;

	memcpy(saved, v, pm->n * size);
	for (size_t i = 0; i < pm->n; i++)
		memcpy(v + i * size, saved + pm->order[i] * size, size);
	rc = perm_score(pm, score);
	memcpy(v, saved, pm->n * size);
	return rc;
}

/*
 * Moves column j's features of row i to (or, with back, from) slot i of
 * saved: a numeric column's value and indicator, a categorical one's code.
 */
static void park(struct perm *pm, size_t j, size_t i, size_t to, int back)
{
	const struct fit__prep *p = &pm->m->prep;
	void *cell, *keep = pm->saved + to * 2;
	size_t bytes;

	if (p->cols[j].type == FIT_COL_CATEGORICAL) {
		cell = pm->code + i * p->ncat + p->slot[j];
		bytes = sizeof(int32_t);
	} else {
		cell = pm->x + i * p->xld + p->pos[j];
		bytes = col_width(p, j) * sizeof(float);
	}
	if (back)
		memcpy(cell, keep, bytes);
	else
		memcpy(keep, cell, bytes);
}

/* Score with column j's features shuffled by (seed, j, rep), then restored. */
static int shuffled_score(struct perm *pm, size_t j, unsigned rep, uint64_t seed, double *score)
{
	struct fit_rng rng;
	int rc;

	fit_rng_seed(&rng, seed ^ fit_hash64(j), 4 + rep);
	if (pm->m->gbdt != NULL || pm->z0 != NULL) {
		for (size_t i = 0; i < pm->n; i++)
			pm->order[i] = i;
		fit_rng_shuffle(&rng, pm->order, pm->n);
		if (pm->z0 == NULL)
			return shuffled_raw_score(pm, j, score);
		linear_shuffled_margins(pm, j);
		return score_margins(pm, score);
	}
	for (size_t i = 0; i < pm->n; i++) {
		pm->order[i] = i;
		park(pm, j, i, i, 0);
	}
	fit_rng_shuffle(&rng, pm->order, pm->n);
	for (size_t i = 0; i < pm->n; i++)
		park(pm, j, i, pm->order[i], 1);
	rc = perm_score(pm, score);
	for (size_t i = 0; i < pm->n; i++)
		park(pm, j, i, i, 1);
	return rc;
}

/* gbdt: room for the rows' raw values of every model column. */
static int perm_alloc_raw(struct perm *pm, size_t nrows)
{
	size_t nc = pm->m->prep.ncols;

	pm->cols = calloc(nc ? nc : 1, sizeof(*pm->cols));
	pm->vals = calloc(nc ? nc : 1, sizeof(*pm->vals));
	if (pm->cols == NULL || pm->vals == NULL)
		return FITD_ENOMEM;
	for (size_t j = 0; j < nc; j++) {
		pm->vals[j] = malloc(nrows * sizeof(double));
		if (pm->vals[j] == NULL)
			return FITD_ENOMEM;
	}
	return FITD_OK;
}

static int perm_alloc(struct perm *pm, size_t nrows)
{
	const struct fit_model *m = pm->m;
	size_t k = m->target.nclasses;

	nrows = nrows ? nrows : 1;
	if (m->gbdt != NULL && perm_alloc_raw(pm, nrows) != FITD_OK)
		return FITD_ENOMEM;
	pm->x = m->gbdt != NULL ? NULL : fit__alloc(nrows * m->prep.xld * sizeof(float));
	pm->code = malloc(nrows * (m->prep.ncat ? m->prep.ncat : 1) * sizeof(int32_t));
	/* two floats a row: a numeric column's value and indicator, or a code; gbdt: a raw value */
	pm->saved = malloc(nrows * 2 * sizeof(float));
	pm->z = malloc(nrows * m->kout * sizeof(double));
	if (fit__is_linear(m->desc.params.model) &&
	    (pm->z0 = malloc(nrows * m->kout * sizeof(double))) == NULL)
		return FITD_ENOMEM;
	pm->values = malloc(nrows * pm->nout * sizeof(double));
	pm->y = malloc(nrows * sizeof(double));
	pm->label = malloc(nrows * sizeof(int32_t));
	pm->order = malloc(nrows * sizeof(size_t));
	pm->scratch = malloc(fit__metric_scratch(nrows, k) * sizeof(double) + 8);
	if (m->desc.params.model == FIT_MODEL_MLP) {
		pm->net_scratch = fit__alloc(fit__net_scratch(&m->net, FIT__MLP_CHUNK) * 4);
		pm->gemm_ws = fit__alloc(fit_gemm_workspace_size(pm->threads));
		if (!pm->net_scratch || !pm->gemm_ws)
			return FITD_ENOMEM;
	}
	return (pm->x || m->gbdt) && pm->code && pm->saved && pm->z && pm->values && pm->y &&
		       pm->label && pm->order && pm->scratch
		   ? FITD_OK
		   : FITD_ENOMEM;
}

static void perm_release(struct perm *pm)
{
	for (size_t j = 0; pm->vals != NULL && j < pm->m->prep.ncols; j++)
		free(pm->vals[j]);
	free(pm->vals);
	free(pm->cols);
	free(pm->x);
	free(pm->code);
	free(pm->saved);
	free(pm->z);
	free(pm->z0);
	free(pm->values);
	free(pm->y);
	free(pm->label);
	free(pm->order);
	free(pm->scratch);
	free(pm->net_scratch);
	free(pm->gemm_ws);
}

/* gbdt: the kept rows' raw values of the model's columns, as the frame pm->view. */
static int perm_load_raw(struct perm *pm, const struct fit_frame *frame, const size_t *kept,
			 struct fitd_error *err)
{
	const struct fit__prep *p = &pm->m->prep;

	for (size_t j = 0; j < p->ncols; j++) {
		long c = fit_frame_find(frame, p->cols[j].name);
		const struct fit_column *src = c >= 0 ? &frame->cols[c] : NULL;

		if (src == NULL || src->type != p->cols[j].type)
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "missing_column",
					      "the data lacks column %s of its type",
					      p->cols[j].name);
		pm->cols[j] = *src;
		for (size_t i = 0; i < pm->n; i++) {
			if (src->type == FIT_COL_NUMERIC)
				((double *)pm->vals[j])[i] = src->num[kept[i]];
			else
				((int32_t *)pm->vals[j])[i] = src->cat[kept[i]];
		}
		pm->cols[j].num = src->type == FIT_COL_NUMERIC ? pm->vals[j] : NULL;
		pm->cols[j].cat = src->type == FIT_COL_NUMERIC ? NULL : pm->vals[j];
	}
	pm->view = (struct fit_frame){ pm->n, p->ncols, pm->cols, NULL };
	return FITD_OK;
}

/* Rows with a target, their truth, and their preprocessed features (gbdt: raw values). */
static int perm_load(struct perm *pm, const struct fit_frame *frame, const size_t *rows,
		     size_t nrows, size_t *kept, struct fitd_error *err)
{
	const struct fit_model *m = pm->m;
	struct fit__bind bind;
	long t = -1;
	int rc;

	for (size_t i = 0; i < frame->ncols && t < 0; i++)
		if (strcmp(frame->cols[i].name, m->target_name) == 0)
			t = (long)i;
	for (size_t i = 0; rows != NULL && i < nrows; i++)
		if (rows[i] >= frame->nrows)
			return fitd_error_set(err, FITD_EINVAL, "bad_row", "row out of range");
	if (t < 0 || (rows == NULL && nrows > frame->nrows))
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "missing_column",
				      "the data lacks the target column or rows");
	if (fit__target_rows(&m->target, &frame->cols[t], rows, nrows, 0, pm->y, pm->label, kept,
			     &pm->n) != FITD_OK)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
				      "the target column has the wrong type");
	if (pm->n == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "no_rows", "no row has a target");
	if (m->gbdt != NULL)
		return perm_load_raw(pm, frame, kept, err);
	rc = fit__bind_init(&m->prep, frame, &bind, err);
	if (rc != FITD_OK)
		return rc;
	fit__prep_rows(&m->prep, &bind, kept, pm->n, pm->x, pm->code, pm->threads);
	fit__bind_release(&bind);
	return FITD_OK;
}

int fit_explain_permutation(const struct fit_model *m, const struct fit_frame *frame,
			    const size_t *rows, size_t nrows, enum fit_metric metric,
			    unsigned repeats, uint64_t seed, int threads, double *importance,
			    double *stddev, struct fitd_error *err)
{
	struct perm pm = { .m = m, .nout = fit_model_noutputs(m), .threads = threads };
	double base, sign;
	int rc;

	if (metric == FIT_METRIC_AUTO)
		metric = m->target.task == FIT_TASK_CLASSIFICATION ? FIT_METRIC_ACCURACY
								   : FIT_METRIC_RMSE;
	pm.metric = metric;
	sign = fit_metric_higher_is_better(metric) ? 1.0 : -1.0;
	pm.threads = threads < 1 ? 1 : threads > FIT_MAX_THREADS ? FIT_MAX_THREADS : threads;
	if (m->ens != NULL)
		return fitd_error_set(err, FITD_EINVAL, "bad_argument",
				      "permutation importance of an ensemble is its members'");
	if (repeats < 1 ||
	    fit_metric_is_classification(metric) != (m->target.task == FIT_TASK_CLASSIFICATION))
		return fitd_error_set(err, FITD_EINVAL, "bad_argument",
				      "repeats must be positive and the metric fit the model");
	rc = perm_alloc(&pm, nrows);
	if (rc != FITD_OK) {
		perm_release(&pm);
		return fitd_error_set(err, rc, NULL, "out of memory");
	}
	rc = perm_load(&pm, frame, rows, nrows, pm.order, err);
	if (rc == FITD_OK && perm_score(&pm, &base) != FITD_OK)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "undefined_metric",
				    "%s is undefined on these rows", fit_metric_name(metric));
	if (rc == FITD_OK && pm.z0 != NULL)
		memcpy(pm.z0, pm.z, pm.n * m->kout * sizeof(double));
	for (size_t j = 0; rc == FITD_OK && j < m->prep.ncols; j++) {
		double sum = 0.0, ss = 0.0;

		for (unsigned r = 0; rc == FITD_OK && r < repeats; r++) {
			double s;

			rc = shuffled_score(&pm, j, r, seed, &s);
			s = sign * (base - s);
			sum += s;
			ss += s * s;
		}
		importance[j] = sum / repeats;
		if (stddev != NULL)
			stddev[j] = sqrt(fmax(ss / repeats - importance[j] * importance[j], 0.0));
	}
	if (rc != FITD_OK && err != NULL && err->status != rc)
		fitd_error_set(err, rc, NULL, "permutation importance failed");
	perm_release(&pm);
	return rc;
}

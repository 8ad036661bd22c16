/*
 * contrib.c - fit_model_contributions(): per row, what each input column
 * adds to the raw prediction, for every family (see explain.h).
 *
 * Linear families: a feature's contribution is its weight times its
 * distance from the training mean, w (x - mean); a column's is the sum over
 * its features (value and missing indicator; one-hot levels and "other":
 * the active level's weight less the column's sum of w mean),
 * and the bias is the output at the means, b + sum w mean. Both sum to the
 * output exactly in real arithmetic (SHAP's linear explainer with
 * independent features).
 *
 * Networks: Shapley values against one baseline, the vector of training
 * means. An order of the columns is walked from the baseline: each column
 * in turn takes the row's values and is credited the change of the output.
 * The changes along one order add up to f(row) - f(baseline), so their
 * average over any set of orders does too, with bias f(baseline). With at
 * most FIT_EXPLAIN_ORDERS orders in all (four columns or fewer) every order
 * is walked, which gives the exact Shapley values; else FIT_EXPLAIN_ORDERS
 * orders drawn from a fixed seed, each with its reverse (antithetic pairs
 * halve the variance), the same orders for every row. A column the network
 * ignores never changes the output, so it gets exactly 0.
 *
 * Trees: the tree engine's exact TreeSHAP (fit_gbdt_shap()).
 *
 * Regression outputs are standardized inside every model: contributions
 * are scaled by the target's deviation and the bias mapped to target units.
 */
#include "worker/fit/explain.h"

#include <stdlib.h>
#include <string.h>

#include "worker/fit/gbdt.h"
#include "worker/fit/gemm.h"
#include "worker/fit/internal.h"

#define ORDER_SEED  0x6f72646572ULL /* "order": the orders' stream */
#define ROW_CHUNK   256		    /* rows preprocessed at a time */
#define MAX_EXACT_C 4		    /* 4! = 24 orders <= FIT_EXPLAIN_ORDERS */

static size_t col_width(const struct fit__prep *p, size_t j)
{
	return (j + 1 < p->ncols ? p->first[j + 1] : p->nfeat) - p->first[j];
}

/* Regression: contributions in target deviations to target units; bias too. */
static void to_target_units(const struct fit_model *m, double *c, size_t n)
{
	size_t w = m->prep.ncols + 1;

	if (m->target.task != FIT_TASK_REGRESSION)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j + 1 < w; j++)
			c[i * w + j] *= m->target.scale;
		c[i * w + w - 1] = m->target.center + m->target.scale * c[i * w + w - 1];
	}
}

/* ---- linear families ---- */

/*
 * What every row of a linear model shares: per output o and column j,
 * at[o * ncols + j] = the sum of w mean over the column's features (a
 * categorical column's row then costs one gather, not a pass over its
 * levels), and the bias b + sum w mean per output.
 */
struct linear_base {
	double *at;
	double *bias;
	size_t *map;
};

static int linear_base_init(struct linear_base *lb, const struct fit_model *m)
{
	const struct fit__prep *p = &m->prep;
	size_t ld = p->ld, k = m->kout;

	lb->at = calloc(k * p->ncols + 1, sizeof(double));
	lb->bias = calloc(k, sizeof(double));
	lb->map = malloc((p->nfeat + 1) * sizeof(size_t));
	if (lb->at == NULL || lb->bias == NULL || lb->map == NULL)
		return FITD_ENOMEM;
	fit__prep_map(p, lb->map);
	for (size_t o = 0; o < k; o++) {
		const double *wt = m->wd + o * ld;

		lb->bias[o] = m->wd[k * ld + o];
		for (size_t j = 0; j < p->ncols; j++) {
			double s = 0.0;

			for (size_t f = p->first[j]; f < p->first[j] + col_width(p, j); f++)
				s += wt[lb->map[f]] * m->feat_mean[f];
			lb->at[o * p->ncols + j] = s;
			lb->bias[o] += s;
		}
	}
	return FITD_OK;
}

static void linear_base_release(struct linear_base *lb)
{
	free(lb->at);
	free(lb->bias);
	free(lb->map);
}

/* Row i of rows of a linear model into out (kout x (ncols + 1)). */
static void linear_row(const struct fit_model *m, const struct linear_base *lb,
		       const struct fit__data *rows, size_t i, double *out)
{
	const struct fit__prep *p = &m->prep;
	size_t ld = p->ld, w = p->ncols + 1;
	const float *x = rows->x + i * p->xld;

	for (size_t o = 0; o < m->kout; o++) {
		const double *wt = m->wd + o * ld;

		for (size_t j = 0; j < p->ncols; j++) {
			double c = 0.0;

			if (p->cols[j].type == FIT_COL_CATEGORICAL) {
				int32_t code = rows->code[i * p->ncat + p->slot[j]];

				c = (code >= 0 ? wt[p->xld + (size_t)code] : 0.0) -
				    lb->at[o * p->ncols + j];
			} else {
				for (size_t f = p->first[j]; f < p->first[j] + col_width(p, j); f++)
					c += wt[lb->map[f]] *
					     ((double)x[lb->map[f]] - m->feat_mean[f]);
			}
			out[o * w + j] = c;
		}
		out[o * w + w - 1] = lb->bias[o];
	}
}

/* ---- networks ---- */

/*
 * The orders of a network's explanation: every one, or seeded antithetic
 * pairs. A categorical column at its baseline (the training shares of its
 * levels) is code ncatw + its slot: emb is the model's categorical weights
 * followed by one row per categorical column, the baseline's mix of its
 * levels' rows, so the network reads a baseline like any level.
 */
struct orders {
	size_t n;      /* orders */
	size_t *cols;  /* n x ncols column indexes */
	float *batch;  /* ROW_CHUNK evaluation rows (xld floats each) */
	int32_t *code; /* ... and their codes (ncat each) */
	float *emb;    /* (ncatw + ncat) x sizes[1] categorical weights */
	float *base;   /* the baseline's dense block (xld floats) */
	double *z;     /* ROW_CHUNK x kout outputs */
	double *steps; /* (n * ncols + 1) x kout outputs of one row's walk */
	float *scratch;
	void *gemm_ws;
};

static size_t factorial_at_most(size_t c, size_t cap)
{
	size_t f = 1;

	for (size_t i = 2; i <= c && f <= cap; i++)
		f *= i;
	return f;
}

/* Order number k of all c! (the factorial number system), into out. */
static void order_at(size_t k, size_t c, size_t *out)
{
	size_t pool[MAX_EXACT_C];

	for (size_t i = 0; i < c; i++)
		pool[i] = i;
	for (size_t i = 0; i < c; i++) {
		size_t rest = factorial_at_most(c - 1 - i, SIZE_MAX), pick = k / rest;

		k %= rest;
		out[i] = pool[pick];
		memmove(pool + pick, pool + pick + 1, (c - 1 - i - pick) * sizeof(size_t));
	}
}

static void orders_fill(struct orders *od, size_t c)
{
	struct fit_rng rng;

	if (c <= MAX_EXACT_C) {
		for (size_t k = 0; k < od->n; k++)
			order_at(k, c, od->cols + k * c);
		return;
	}
	fit_rng_seed(&rng, ORDER_SEED, c);
	for (size_t k = 0; k < od->n; k += 2) {
		size_t *a = od->cols + k * c, *b = a + c;

		for (size_t i = 0; i < c; i++)
			a[i] = i;
		fit_rng_shuffle(&rng, a, c);
		for (size_t i = 0; i < c; i++)
			b[i] = a[c - 1 - i];
	}
}

/*
 * The baseline: the dense block of the training means, and per categorical
 * column a row of weights mixing its levels' rows by their training shares
 * (summed in double, in level order).
 */
static int baseline(struct orders *od, const struct fit_model *m)
{
	const struct fit__prep *p = &m->prep;
	size_t h = m->net.sizes[1], *map = malloc((p->nfeat + 1) * sizeof(size_t));
	double *mix = malloc((h + 1) * sizeof(double));

	if (map == NULL || mix == NULL) {
		free(map);
		free(mix);
		return FITD_ENOMEM;
	}
	fit__prep_map(p, map);
	memcpy(od->emb, m->wf + m->net.eoff, p->ncatw * h * sizeof(float));
	memset(od->base, 0, p->xld * sizeof(float));
	for (size_t j = 0; j < p->ncols; j++) {
		size_t f0 = p->first[j], f1 = f0 + col_width(p, j);

		if (p->cols[j].type == FIT_COL_NUMERIC) {
			for (size_t f = f0; f < f1; f++)
				od->base[map[f]] = (float)m->feat_mean[f];
			continue;
		}
		memset(mix, 0, h * sizeof(double));
		for (size_t f = f0; f < f1; f++)
			for (size_t u = 0; u < h; u++)
				mix[u] += m->feat_mean[f] * od->emb[(map[f] - p->xld) * h + u];
		for (size_t u = 0; u < h; u++)
			od->emb[(p->ncatw + p->slot[j]) * h + u] = (float)mix[u];
	}
	free(map);
	free(mix);
	return FITD_OK;
}

static int orders_init(struct orders *od, const struct fit_model *m, int threads)
{
	size_t c = m->prep.ncols, xld = m->prep.xld, k = m->kout, nc = m->prep.ncat;
	size_t h = m->net.sizes[1];

	memset(od, 0, sizeof(*od));
	od->n = c <= MAX_EXACT_C ? factorial_at_most(c, SIZE_MAX) : FIT_EXPLAIN_ORDERS;
	od->cols = malloc((od->n * c + 1) * sizeof(size_t));
	od->batch = fit__alloc(ROW_CHUNK * xld * sizeof(float));
	od->code = malloc((ROW_CHUNK * nc + 1) * sizeof(int32_t));
	od->emb = calloc((m->prep.ncatw + nc) * h + 1, sizeof(float));
	od->base = fit__alloc(xld * sizeof(float));
	od->z = malloc(ROW_CHUNK * k * sizeof(double));
	od->steps = malloc((od->n * c + 1) * k * sizeof(double));
	od->scratch = fit__alloc(fit__net_scratch(&m->net, ROW_CHUNK) * sizeof(float));
	od->gemm_ws = fit__alloc(fit_gemm_workspace_size(threads));
	if (!od->cols || !od->batch || !od->code || !od->emb || !od->base || !od->z || !od->steps ||
	    !od->scratch || !od->gemm_ws)
		return FITD_ENOMEM;
	orders_fill(od, c);
	return baseline(od, m);
}

static void orders_release(struct orders *od)
{
	free(od->cols);
	free(od->batch);
	free(od->code);
	free(od->emb);
	free(od->base);
	free(od->z);
	free(od->steps);
	free(od->scratch);
	free(od->gemm_ws);
}

/* Step row t of the batch takes column j's values (or baseline) from row i of rows. */
static void take_column(const struct fit__prep *p, struct orders *od, size_t t,
			const struct fit__data *rows, size_t i, size_t j)
{
	if (p->cols[j].type == FIT_COL_CATEGORICAL)
		od->code[t * p->ncat + p->slot[j]] = rows->code[i * p->ncat + p->slot[j]];
	else
		memcpy(od->batch + t * p->xld + p->pos[j], rows->x + i * p->xld + p->pos[j],
		       col_width(p, j) * sizeof(float));
}

/* Step row t of the batch at the baseline. */
static void at_baseline(const struct fit__prep *p, struct orders *od, size_t t)
{
	memcpy(od->batch + t * p->xld, od->base, p->xld * sizeof(float));
	for (size_t j = 0; j < p->ncols; j++)
		if (p->cols[j].type == FIT_COL_CATEGORICAL)
			od->code[t * p->ncat + p->slot[j]] = (int32_t)(p->ncatw + p->slot[j]);
}

/* Step row t of the batch as a copy of step row from. */
static void copy_step(const struct fit__prep *p, struct orders *od, size_t t, size_t from)
{
	memcpy(od->batch + t * p->xld, od->batch + from * p->xld, p->xld * sizeof(float));
	memcpy(od->code + t * p->ncat, od->code + from * p->ncat, p->ncat * sizeof(int32_t));
}

/*
 * The outputs of every step of every order for row i of rows: steps[0] is
 * the baseline, steps[1 + k * c + t] the output once the first t + 1
 * columns of order k hold the row's values. Evaluated ROW_CHUNK steps at a
 * time.
 */
static void walk_orders(const struct fit_model *m, struct orders *od, const struct fit__data *rows,
			size_t i, int threads)
{
	const struct fit__prep *p = &m->prep;
	size_t c = p->ncols, k = m->kout, total = c > 0 ? od->n * c + 1 : 1;
	size_t fill = 0, done = 0;

	for (size_t s = 0; s < total; s++) {
		if (s == 0 || (s - 1) % c == 0)
			at_baseline(p, od, fill); /* a new order starts from the base */
		else
			copy_step(p, od, fill, fill > 0 ? fill - 1 : ROW_CHUNK - 1);
		if (s > 0)
			take_column(p, od, fill, rows, i, od->cols[(s - 1) / c * c + (s - 1) % c]);
		if (++fill == ROW_CHUNK || s + 1 == total) {
			struct fit__data batch = fit__model_rows(m, od->batch, od->code, fill);

			fit__net_forward(&m->net, m->wf, od->emb, &batch, od->scratch, od->z,
					 threads, od->gemm_ws);
			memcpy(od->steps + done * k, od->z, fill * k * sizeof(double));
			/* the last row stays in place: the next chunk's first step continues it */
			done += fill;
			fill = 0;
		}
	}
}

/* A network's contributions of row i of rows into out (kout x (ncols + 1)). */
static void mlp_row(const struct fit_model *m, struct orders *od, const struct fit__data *rows,
		    size_t i, int threads, double *out)
{
	size_t c = m->prep.ncols, k = m->kout, w = c + 1;

	walk_orders(m, od, rows, i, threads);
	memset(out, 0, k * w * sizeof(double));
	for (size_t q = 0; q < od->n; q++) {
		for (size_t t = 0; t < c; t++) {
			size_t j = od->cols[q * c + t];
			const double *now = od->steps + (1 + q * c + t) * k;
			const double *before = t == 0 ? od->steps : now - k;

			for (size_t o = 0; o < k; o++)
				out[o * w + j] += now[o] - before[o];
		}
	}
	for (size_t o = 0; o < k; o++) {
		for (size_t j = 0; j < c; j++)
			out[o * w + j] /= (double)od->n;
		out[o * w + c] = od->steps[o];
	}
}

/* ---- every family but trees: rows preprocessed a chunk at a time ---- */

static int prep_contributions(const struct fit_model *m, const struct fit_frame *frame,
			      const size_t *rows, size_t nrows, int threads, double *out,
			      struct fitd_error *err)
{
	size_t per = m->kout * (m->prep.ncols + 1), idx[ROW_CHUNK];
	int mlp = m->desc.params.model == FIT_MODEL_MLP;
	float *x = fit__alloc(ROW_CHUNK * m->prep.xld * sizeof(float));
	int32_t *code = malloc((ROW_CHUNK * m->prep.ncat + 1) * sizeof(int32_t));
	struct orders od = { 0 };
	struct linear_base lb = { 0 };
	struct fit__bind bind = { 0 };
	int ok = x && code &&
		 (mlp ? orders_init(&od, m, threads) : linear_base_init(&lb, m)) == FITD_OK;
	int rc = ok ? fit__bind_init(&m->prep, frame, &bind, err)
		    : fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");

	for (size_t s = 0; rc == FITD_OK && s < nrows; s += ROW_CHUNK) {
		size_t cnt = nrows - s < ROW_CHUNK ? nrows - s : ROW_CHUNK;
		struct fit__data chunk = fit__model_rows(m, x, code, cnt);

		for (size_t i = 0; i < cnt; i++)
			idx[i] = rows != NULL ? rows[s + i] : s + i;
		fit__prep_rows(&m->prep, &bind, idx, cnt, x, code, threads);
		for (size_t i = 0; i < cnt; i++) {
			if (mlp)
				mlp_row(m, &od, &chunk, i, threads, out + (s + i) * per);
			else
				linear_row(m, &lb, &chunk, i, out + (s + i) * per);
		}
	}
	fit__bind_release(&bind);
	orders_release(&od);
	linear_base_release(&lb);
	free(x);
	free(code);
	return rc;
}

size_t fit_model_explain_cost(const struct fit_model *m)
{
	size_t c = m->prep.ncols;

	if (m->ens != NULL)
		return fit__ensemble_explain_cost(m);
	if (m->desc.params.model != FIT_MODEL_MLP)
		return 1;
	return (c <= MAX_EXACT_C ? factorial_at_most(c, SIZE_MAX) : FIT_EXPLAIN_ORDERS) * c + 1;
}

int fit_model_contributions(const struct fit_model *m, const struct fit_frame *frame,
			    const size_t *rows, size_t nrows, int threads, double *contrib,
			    struct fitd_error *err)
{
	int rc;

	threads = threads < 1 ? 1 : threads > FIT_MAX_THREADS ? FIT_MAX_THREADS : threads;
	for (size_t i = 0; rows != NULL && i < nrows; i++)
		if (rows[i] >= frame->nrows)
			return fitd_error_set(err, FITD_EINVAL, "bad_row",
					      "row %zu is out of range", rows[i]);
	if (rows == NULL && nrows > frame->nrows)
		return fitd_error_set(err, FITD_EINVAL, "bad_row", "the frame has %zu rows",
				      frame->nrows);
	if (m->ens != NULL)
		return fit__ensemble_contributions(m, frame, rows, nrows, threads, contrib, err);
	if (m->gbdt != NULL)
		rc = fit_gbdt_shap(m->gbdt, frame, rows, nrows, threads, contrib, err);
	else
		rc = prep_contributions(m, frame, rows, nrows, threads, contrib, err);
	if (rc == FITD_OK)
		to_target_units(m, contrib, nrows * m->kout);
	return rc;
}

/*
 * contrib.c - fit_model_contributions(): per row, what each input column
 * adds to the raw prediction, for every family (see explain.h).
 *
 * Linear families: a feature's contribution is its weight times its
 * distance from the training mean, w (x - mean); a column's is the sum over
 * its features (value and missing indicator; one-hot levels and "other"),
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

/* One row x (ld floats) of a linear model into out (kout x (ncols + 1)). */
static void linear_row(const struct fit_model *m, const float *x, double *out)
{
	const struct fit__prep *p = &m->prep;
	size_t ld = p->ld, w = p->ncols + 1;

	for (size_t o = 0; o < m->kout; o++) {
		const double *wt = m->wd + o * ld;
		double bias = m->wd[m->kout * ld + o];

		for (size_t j = 0; j < p->ncols; j++) {
			double c = 0.0;

			for (size_t f = p->first[j]; f < p->first[j] + col_width(p, j); f++) {
				c += wt[f] * ((double)x[f] - m->feat_mean[f]);
				bias += wt[f] * m->feat_mean[f];
			}
			out[o * w + j] = c;
		}
		out[o * w + w - 1] = bias;
	}
}

/* ---- networks ---- */

/* The orders of a network's explanation: every one, or seeded antithetic pairs. */
struct orders {
	size_t n;      /* orders */
	size_t *cols;  /* n x ncols column indexes */
	float *batch;  /* ROW_CHUNK evaluation rows (ld floats each) */
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

static int orders_init(struct orders *od, const struct fit_model *m, int threads)
{
	size_t c = m->prep.ncols, ld = m->prep.ld, k = m->kout;

	memset(od, 0, sizeof(*od));
	od->n = c <= MAX_EXACT_C ? factorial_at_most(c, SIZE_MAX) : FIT_EXPLAIN_ORDERS;
	od->cols = malloc((od->n * c + 1) * sizeof(size_t));
	od->batch = fit__alloc(ROW_CHUNK * ld * sizeof(float));
	od->z = malloc(ROW_CHUNK * k * sizeof(double));
	od->steps = malloc((od->n * c + 1) * k * sizeof(double));
	od->scratch = fit__alloc(fit__net_scratch(&m->net, ROW_CHUNK) * sizeof(float));
	od->gemm_ws = fit__alloc(fit_gemm_workspace_size(threads));
	if (!od->cols || !od->batch || !od->z || !od->steps || !od->scratch || !od->gemm_ws)
		return FITD_ENOMEM;
	orders_fill(od, c);
	return FITD_OK;
}

static void orders_release(struct orders *od)
{
	free(od->cols);
	free(od->batch);
	free(od->z);
	free(od->steps);
	free(od->scratch);
	free(od->gemm_ws);
}

/*
 * The outputs of every step of every order for row x: steps[0] is the
 * baseline, steps[1 + k * c + t] the output once the first t + 1 columns
 * of order k hold the row's values. Evaluated ROW_CHUNK steps at a time.
 */
static void walk_orders(const struct fit_model *m, struct orders *od, const float *x,
			const float *base, int threads)
{
	const struct fit__prep *p = &m->prep;
	size_t c = p->ncols, ld = p->ld, k = m->kout, total = c > 0 ? od->n * c + 1 : 1;
	size_t fill = 0, done = 0;

	for (size_t s = 0; s < total; s++) {
		float *row = od->batch + fill * ld;

		if (s == 0 || (s - 1) % c == 0)
			memcpy(row, base,
			       ld * sizeof(float)); /* a new order starts from the base */
		else
			memcpy(row, fill > 0 ? row - ld : od->batch + (ROW_CHUNK - 1) * ld,
			       ld * sizeof(float));
		if (s > 0) {
			size_t j = od->cols[(s - 1) / c * c + (s - 1) % c];

			memcpy(row + p->first[j], x + p->first[j], col_width(p, j) * sizeof(float));
		}
		if (++fill == ROW_CHUNK || s + 1 == total) {
			fit__net_forward(&m->net, m->wf, od->batch, fill, od->scratch, od->z,
					 threads, od->gemm_ws);
			memcpy(od->steps + done * k, od->z, fill * k * sizeof(double));
			/* the last row stays in place: the next chunk's first step continues it */
			done += fill;
			fill = 0;
		}
	}
}

/* A network's contributions of row x into out (kout x (ncols + 1)). */
static void mlp_row(const struct fit_model *m, struct orders *od, const float *x, const float *base,
		    int threads, double *out)
{
	size_t c = m->prep.ncols, k = m->kout, w = c + 1;

	walk_orders(m, od, x, base, threads);
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
	size_t ld = m->prep.ld, per = m->kout * (m->prep.ncols + 1), idx[ROW_CHUNK];
	int mlp = m->desc.params.model == FIT_MODEL_MLP;
	float *x = fit__alloc(ROW_CHUNK * ld * sizeof(float));
	float *base = fit__alloc(ld * sizeof(float));
	struct orders od = { 0 };
	struct fit__bind bind = { 0 };
	int rc = x && base && (!mlp || orders_init(&od, m, threads) == FITD_OK)
		     ? fit__bind_init(&m->prep, frame, &bind, err)
		     : fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");

	for (size_t f = 0; rc == FITD_OK && f < ld; f++)
		base[f] = f < m->prep.nfeat ? (float)m->feat_mean[f] : 0.0f;
	for (size_t s = 0; rc == FITD_OK && s < nrows; s += ROW_CHUNK) {
		size_t cnt = nrows - s < ROW_CHUNK ? nrows - s : ROW_CHUNK;

		for (size_t i = 0; i < cnt; i++)
			idx[i] = rows != NULL ? rows[s + i] : s + i;
		fit__prep_rows(&m->prep, &bind, idx, cnt, x, threads);
		for (size_t i = 0; i < cnt; i++) {
			if (mlp)
				mlp_row(m, &od, x + i * ld, base, threads, out + (s + i) * per);
			else
				linear_row(m, x + i * ld, out + (s + i) * per);
		}
	}
	fit__bind_release(&bind);
	orders_release(&od);
	free(x);
	free(base);
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

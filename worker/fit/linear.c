/*
 * linear.c - the objective of linear, logistic and svm models: the mean loss
 * of decision values z = W x + b over rows, its gradient and its
 * Hessian-vector product (liblinear's fun/grad/Hv), apart from any optimizer.
 *
 * Parameters are w = [W (k rows of ld weights), b (k intercepts)]. One pass
 * over a block of rows computes z, the loss and dloss/dz, and accumulates
 * X^T dz in the same sweep, row by row (the row is still in L1 for the second
 * use), so each row is read from memory once per pass. A row is its dense
 * block and one code per categorical column (internal.h): a one-hot block
 * is a gather in the dot product and a scatter-add in the gradient. Blocks have a fixed
 * size (fit__blocking), each writes its own partial sums, and the partials
 * are added in block order: the result is the same for any number of threads.
 * Thread 0 (the caller) polls the abort callback once per block; the others
 * stop when it says so.
 *
 * Losses are a table of per-row functions; each returns the loss and writes
 * dz and, when asked, the (generalized) second derivative the Hessian needs:
 * a diagonal for most losses, the probabilities for softmax.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef fit__loss_fn row_loss_fn;

static double loss_squared(const double *z, size_t k, double y, int32_t label, double delta,
			   double *dz, double *curv)
{
	double r = z[0] - y;

	(void)k, (void)label, (void)delta;
	dz[0] = r;
	if (curv)
		curv[0] = 1.0;
	return 0.5 * r * r;
}

static double loss_huber(const double *z, size_t k, double y, int32_t label, double delta,
			 double *dz, double *curv)
{
	double r = z[0] - y, a = fabs(r);

	(void)k, (void)label;
	if (a <= delta) {
		dz[0] = r;
		if (curv)
			curv[0] = 1.0;
		return 0.5 * r * r;
	}
	dz[0] = r > 0 ? delta : -delta;
	if (curv)
		curv[0] = 0.0;
	return delta * (a - 0.5 * delta);
}

static double loss_absolute(const double *z, size_t k, double y, int32_t label, double delta,
			    double *dz, double *curv)
{
	double r = z[0] - y;

	(void)k, (void)label, (void)delta;
	dz[0] = (r > 0) - (r < 0);
	if (curv)
		curv[0] = 0.0;
	return fabs(r);
}

/* Binary log loss on one output; label 1 is the positive class. */
static double loss_log(const double *z, size_t k, double y, int32_t label, double delta, double *dz,
		       double *curv)
{
	double t = z[0], p, l;

	(void)k, (void)y, (void)delta;
	if (t >= 0) {
		double e = exp(-t);

		p = 1.0 / (1.0 + e);
		l = t + log1p(e);
	} else {
		double e = exp(t);

		p = e / (1.0 + e);
		l = log1p(e);
	}
	if (label == 1)
		l -= t;
	dz[0] = p - (label == 1);
	if (curv)
		curv[0] = p * (1.0 - p);
	return l;
}

/* Multinomial log loss; curv receives the probabilities. */
static double loss_softmax(const double *z, size_t k, double y, int32_t label, double delta,
			   double *dz, double *curv)
{
	double m = z[0], s = 0.0, logs;

	(void)y, (void)delta;
	for (size_t c = 1; c < k; c++)
		if (z[c] > m)
			m = z[c];
	for (size_t c = 0; c < k; c++) {
		dz[c] = exp(z[c] - m);
		s += dz[c];
	}
	logs = log(s);
	for (size_t c = 0; c < k; c++) {
		dz[c] /= s;
		if (curv)
			curv[c] = dz[c];
	}
	dz[label] -= 1.0;
	return m + logs - z[label];
}

double fit__svm_sign(size_t k, int32_t label, size_t c)
{
	return (k == 1 ? label == 1 : (size_t)label == c) ? 1.0 : -1.0;
}

static double loss_hinge(const double *z, size_t k, double y, int32_t label, double delta,
			 double *dz, double *curv)
{
	double l = 0.0;

	(void)y, (void)delta;
	for (size_t c = 0; c < k; c++) {
		double s = fit__svm_sign(k, label, c), m = 1.0 - s * z[c];

		dz[c] = m > 0 ? -s : 0.0;
		l += m > 0 ? m : 0.0;
		if (curv)
			curv[c] = 0.0;
	}
	return l;
}

static double loss_squared_hinge(const double *z, size_t k, double y, int32_t label, double delta,
				 double *dz, double *curv)
{
	double l = 0.0;

	(void)y, (void)delta;
	for (size_t c = 0; c < k; c++) {
		double s = fit__svm_sign(k, label, c), m = 1.0 - s * z[c];

		dz[c] = m > 0 ? -2.0 * s * m : 0.0;
		l += m > 0 ? m * m : 0.0;
		if (curv)
			curv[c] = m > 0 ? 2.0 : 0.0;
	}
	return l;
}

static const row_loss_fn loss_table[FIT_LOSS_COUNT] = {
	[FIT_LOSS_SQUARED] = loss_squared,   [FIT_LOSS_HUBER] = loss_huber,
	[FIT_LOSS_ABSOLUTE] = loss_absolute, [FIT_LOSS_LOG] = loss_log,
	[FIT_LOSS_HINGE] = loss_hinge,	     [FIT_LOSS_SQUARED_HINGE] = loss_squared_hinge,
};

fit__loss_fn fit__loss_pick(enum fit_loss loss, size_t k)
{
	if (loss == FIT_LOSS_LOG && k > 1)
		return loss_softmax;
	return (unsigned)loss < FIT_LOSS_COUNT ? loss_table[loss] : NULL;
}

static row_loss_fn pick_loss(const struct fit__linear *lin)
{
	return fit__loss_pick(lin->loss, lin->k);
}

size_t fit__blocking(size_t n)
{
	size_t b = FIT__BLOCK_ROWS;

	if (n / FIT__MAX_BLOCKS >= b)
		b = ((n + FIT__MAX_BLOCKS - 1) / FIT__MAX_BLOCKS + 3) / 4 * 4;
	return b;
}

/* Doubles in one block's slot: gradient, loss, then z and dz of one row. */
static size_t slot_size(size_t k, size_t dim)
{
	return (dim + 1 + 2 * k + 7) / 8 * 8;
}

void fit__linear_layout(struct fit__arena *a, struct fit__linear *lin, size_t n, size_t ld,
			size_t k, int with_curv)
{
	size_t dim = k * ld + k, slot = slot_size(k, dim), cells, nb;

	lin->k = k;
	lin->dim = dim;
	lin->block_rows = fit__blocking(n);
	/* a slot per block of the n rows (a pass never has more): wide models have wide slots */
	nb = n / lin->block_rows + 1;
	if (fit__mul(slot, nb < FIT__MAX_BLOCKS ? nb : FIT__MAX_BLOCKS, &cells)) {
		a->overflow = 1;
		return;
	}
	lin->partial = fit__arena_take(a, cells, sizeof(double));
	lin->curv[0] = with_curv ? fit__arena_take(a, n, k * sizeof(double)) : NULL;
	lin->curv[1] = with_curv ? fit__arena_take(a, n, k * sizeof(double)) : NULL;
}

/* Loss of rows r0..r0+nb-1 (through rows when not NULL) into a zeroed slot. */
static void block_grad(const struct fit__linear *lin, row_loss_fn fn, const double *w,
		       const size_t *rows, size_t r0, size_t nb, double *slot, double *curv)
{
	const struct fit__data *d = lin->data;
	size_t k = lin->k, ld = d->ld;
	double *g = slot, *z = slot + lin->dim + 1, *dz = z + k, loss = 0.0;

	memset(slot, 0, (lin->dim + 1) * sizeof(double));
	for (size_t i = r0; i < r0 + nb; i++) {
		size_t r = rows != NULL ? rows[i] : i;

		for (size_t c = 0; c < k; c++)
			z[c] = fit__row_dot(d, r, w + c * ld) + w[k * ld + c];
		loss += fn(z, k, d->y ? d->y[r] : 0.0, d->label ? d->label[r] : 0, lin->delta, dz,
			   curv ? curv + r * k : NULL);
		for (size_t c = 0; c < k; c++) {
			if (dz[c] != 0.0)
				fit__row_axpy(d, r, dz[c], g + c * ld);
			g[k * ld + c] += dz[c];
		}
	}
	slot[lin->dim] = loss;
}

/* Hv over rows r0..r0+nb-1 at the accepted point; the same layout as block_grad. */
static void block_hv(const struct fit__linear *lin, const double *s, size_t r0, size_t nb,
		     double *slot)
{
	const struct fit__data *d = lin->data;
	size_t k = lin->k, ld = d->ld;
	int softmax = lin->loss == FIT_LOSS_LOG && k > 1;
	double *hs = slot, *u = slot + lin->dim + 1;

	memset(slot, 0, (lin->dim + 1) * sizeof(double));
	for (size_t i = r0; i < r0 + nb; i++) {
		const double *p = lin->curv[0] + i * k;
		double pu = 0.0;

		for (size_t c = 0; c < k; c++) {
			u[c] = fit__row_dot(d, i, s + c * ld) + s[k * ld + c];
			pu += softmax ? p[c] * u[c] : 0.0;
		}
		for (size_t c = 0; c < k; c++) {
			double v = softmax ? p[c] * (u[c] - pu) : p[c] * u[c];

			if (v != 0.0)
				fit__row_axpy(d, i, v, hs + c * ld);
			hs[k * ld + c] += v;
		}
	}
}

/*
 * Runs block_grad (hv = 0) or block_hv (hv = 1) over n rows in fixed blocks,
 * in parallel when there is more than one, and adds the slots in block order
 * into slot 0: its first dim doubles then hold the sum (and the next the loss).
 */
static int pass(struct fit__linear *lin, int hv, const double *v, const size_t *rows, size_t n,
		double *curv)
{
	size_t nb = (n + lin->block_rows - 1) / lin->block_rows, slot = slot_size(lin->k, lin->dim);
	row_loss_fn fn = pick_loss(lin);
	int threads = nb > 1 ? lin->threads : 1;

#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
	for (size_t b = 0; b < nb; b++) {
		size_t r0 = b * lin->block_rows;
		size_t cnt = n - r0 < lin->block_rows ? n - r0 : lin->block_rows;
		int stop = omp_get_thread_num() == 0 && nb > 1 ? fit__poll_check(lin->poll)
							       : fit__poll_stopped(lin->poll);

		if (stop)
			continue;
		if (hv)
			block_hv(lin, v, r0, cnt, lin->partial + b * slot);
		else
			block_grad(lin, fn, v, rows, r0, cnt, lin->partial + b * slot, curv);
	}
	if (fit__poll_stopped(lin->poll))
		return FITD_ECANCELLED;
	for (size_t b = 1; b < nb; b++) {
		const double *p = lin->partial + b * slot;

		for (size_t j = 0; j <= lin->dim; j++)
			lin->partial[j] += p[j];
	}
	return FITD_OK;
}

static int lin_grad(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		    double *g)
{
	struct fit__linear *lin = ctx;
	int rc = pass(lin, 0, w, rows, n, rows == NULL ? lin->curv[1] : NULL);

	if (rc != FITD_OK)
		return rc;
	*value = lin->partial[lin->dim] / (double)n;
	for (size_t j = 0; j < lin->dim; j++)
		g[j] = lin->partial[j] / (double)n;
	return isfinite(*value) ? FITD_OK : FITD_EDIVERGED;
}

static int lin_hv(void *ctx, const double *s, double *hs)
{
	struct fit__linear *lin = ctx;
	size_t n = lin->data->n;
	int rc = pass(lin, 1, s, NULL, n, NULL);

	if (rc != FITD_OK)
		return rc;
	for (size_t j = 0; j < lin->dim; j++)
		hs[j] = lin->partial[j] / (double)n;
	return FITD_OK;
}

static void lin_accept(void *ctx)
{
	struct fit__linear *lin = ctx;
	double *t = lin->curv[0];

	lin->curv[0] = lin->curv[1];
	lin->curv[1] = t;
}

void fit__linear_objective(struct fit__linear *lin, struct fit__objective *o)
{
	memset(o, 0, sizeof(*o));
	o->dim = lin->dim;
	o->npen = lin->k * lin->data->ld;
	o->nrows = lin->data->n;
	o->grad = lin_grad;
	o->hv = lin->curv[0] != NULL ? lin_hv : NULL;
	o->accept = lin->curv[0] != NULL ? lin_accept : NULL;
	o->ctx = lin;
}

void fit__linear_scores(size_t k, const double *w, const struct fit__data *rows, double *z,
			int threads)
{
	size_t n = rows->n, ld = rows->ld;

#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n > 1024)
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < k; c++)
			z[i * k + c] = fit__row_dot(rows, i, w + c * ld) + w[k * ld + c];
}

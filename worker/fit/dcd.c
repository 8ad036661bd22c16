/*
 * dcd.c - the linear SVM's own solver: dual coordinate descent for the
 * L2-regularized hinge and squared hinge losses (Hsieh, Chang, Lin, Keerthi
 * and Sundararajan, "A Dual Coordinate Descent Method for Large-scale Linear
 * SVM", ICML 2008; Algorithm 3 with random permutation and shrinking, the
 * method of liblinear's -s 1 and -s 3).
 *
 * For each output the dual of the problem in internal.h (struct fit__dcd)
 * is
 *
 *   min_a  a' (Q + D) a / 2 - sum_i a_i,   0 <= a_i <= U,
 *   Q_ij = y_i y_j [x_i, 1] . [x_j, 1]
 *
 * with U = C, D = 0 for the hinge and U = infinity, D = 1 / (2C) for the
 * squared hinge, and the weights v = sum_i a_i y_i [x_i, 1] kept up to date
 * as the duals move. A coordinate step reads one row: the gradient G = y_i
 * v . [x_i, 1] - 1 + D a_i is one dot product, the exact minimizer along
 * a_i is a_i - G / (Q_ii + D) clipped to [0, U], and the change to v is one
 * axpy of the row (fit__row_dot, fit__row_axpy: the dense block, and a
 * gather or scatter of the one-hot codes). An outer iteration visits the
 * active rows once in a fresh random order. The intercept is the weight of
 * a constant feature BIAS = 1, penalized like the others, as liblinear's -B
 * 1 and scikit-learn's LinearSVC do: its unpenalized form would add the
 * equality sum_i a_i y_i = 0 to the dual, which coordinate steps on one a_i
 * cannot keep. The features are standardized by the preprocessing, so a
 * constant of 1 is on their scale and the penalty on the intercept is
 * small next to C times the losses.
 *
 * Stopping and shrinking follow liblinear: the projected gradient PG of a_i
 * is G, clipped at a bound it cannot cross; an iteration ends the fit when
 * max PG - min PG <= tol over the rows it visited, if it visited them all
 * (else every row comes back and the iteration after decides). A row at a
 * bound whose gradient points out of the box by more than the last
 * iteration's extreme leaves the active set. fitd's tol is liblinear's eps
 * as is, in units of the margin: scikit-learn's LinearSVC passes its tol
 * (1e-4) the same way, liblinear-train's own default is 0.1. epochs caps
 * the outer iterations.
 *
 * Several classes are one-vs-rest, one binary problem per output, each with
 * its own duals, row order and random stream (stream DCD_STREAM + c of the
 * seed), run in parallel over the outputs. Each problem is sequential, so
 * the result does not depend on the number of threads. After every
 * iteration the primal objective (the mean loss over the rows plus the
 * penalty, the core's units) is summed over fixed row blocks in parallel
 * and in block order, then reported with the validation score; a pass polls
 * the abort callback every POLL_ROWS rows (thread 0) and stops when it says
 * so. Working memory is the layout below only.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define BIAS	   1.0		     /* the constant feature whose weight is the intercept */
#define POLL_ROWS  1024		     /* rows of a pass between two polls */
#define DCD_STREAM 0x646364000000ULL /* random stream of output 0 ("dcd") */
#define STEP_MIN   1e-12	     /* a projected gradient below this moves nothing */

/* One binary problem's state between iterations; a cache line each (threads share the array). */
struct __attribute__((aligned(FIT__ALIGN))) dcd_state {
	struct fit_rng rng;
	size_t active;	 /* rows index[0..active) are visited */
	double pg_hi;	 /* the last iteration's largest projected gradient, or +inf */
	double pg_lo;	 /* its smallest, or -inf: the shrinking thresholds */
	int done;	 /* converged over every row */
	uint64_t visits; /* rows visited, for the report */
};

struct dcd_ws {
	double *qd;	      /* n: |[x_i, BIAS]|^2, Q's diagonal */
	double *alpha;	      /* k x n duals */
	size_t *index;	      /* k x n row orders */
	struct dcd_state *st; /* k */
	double *partial;      /* FIT__MAX_BLOCKS slots of slot doubles: loss, then z and dz */
	size_t slot;
	size_t n;
};

static size_t slot_size(size_t k)
{
	return (1 + 2 * k + 7) / 8 * 8;
}

void *fit__dcd_layout(struct fit__arena *a, size_t n, size_t k)
{
	struct dcd_ws *ws = fit__arena_take(a, 1, sizeof(*ws));
	double *qd = fit__arena_take(a, n, sizeof(double));
	size_t cells = 0, slots = 0;
	double *alpha = NULL, *partial = NULL;
	size_t *index = NULL;
	struct dcd_state *st = fit__arena_take(a, k, sizeof(*st));

	if (fit__mul(n, k, &cells) || fit__mul(slot_size(k), FIT__MAX_BLOCKS, &slots)) {
		a->overflow = 1;
		return NULL;
	}
	alpha = fit__arena_take(a, cells, sizeof(double));
	index = fit__arena_take(a, cells, sizeof(size_t));
	partial = fit__arena_take(a, slots, sizeof(double));
	if (ws != NULL)
		*ws = (struct dcd_ws){ qd, alpha, index, st, partial, slot_size(k), n };
	return ws;
}

const double *fit__dcd_dual(const void *ws, size_t c)
{
	const struct dcd_ws *w = ws;

	return w->alpha + c * w->n;
}

/* Zero weights and duals, Q's diagonal, every row active, each output's stream. */
static void start(const struct fit__dcd *d, struct dcd_ws *ws, double *w, uint64_t seed)
{
	const struct fit__data *x = d->data;
	size_t n = x->n, ld = x->ld, k = d->k;

	memset(w, 0, (k * ld + k) * sizeof(double));
	memset(ws->alpha, 0, k * n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		const float *xi = x->x + i * x->xld;
		double sq = BIAS * BIAS;

		for (size_t j = 0; j < x->xld; j++) /* the padding is zero */
			sq += (double)xi[j] * xi[j];
		for (size_t j = 0; j < x->ncat; j++) /* an active one-hot feature is 1 */
			sq += x->code[i * x->ncat + j] >= 0;
		ws->qd[i] = sq;
	}
	for (size_t c = 0; c < k; c++) {
		struct dcd_state *st = &ws->st[c];

		for (size_t i = 0; i < n; i++)
			ws->index[c * n + i] = i;
		fit_rng_seed(&st->rng, seed, DCD_STREAM + c);
		st->active = n;
		st->pg_hi = INFINITY;
		st->pg_lo = -INFINITY;
		st->done = 0;
		st->visits = 0;
	}
}

/* The caller's thread polls the abort callback; the others read its answer. */
static int stopped(struct fit__poll *poll)
{
	return omp_get_thread_num() == 0 ? fit__poll_check(poll) : fit__poll_stopped(poll);
}

/* After a pass with projected gradients in [lo, hi]: done, every row back, or new thresholds. */
static void pass_end(struct dcd_state *st, size_t n, double lo, double hi, double tol)
{
	if (hi - lo <= tol) {
		if (st->active == n) {
			st->done = 1;
			return;
		}
		st->active = n; /* converged on the shrunk set: check every row again */
		st->pg_hi = INFINITY;
		st->pg_lo = -INFINITY;
		return;
	}
	st->pg_hi = hi > 0.0 ? hi : INFINITY;
	st->pg_lo = lo < 0.0 ? lo : -INFINITY;
}

/*
 * One outer iteration of output c: every active row once, in a random
 * order, each a coordinate step on its dual. Stops early, its state then
 * of no further use, when the fit is cancelled.
 */
static void pass(const struct fit__dcd *d, struct dcd_ws *ws, size_t c, double *w, double tol)
{
	const struct fit__data *x = d->data;
	struct dcd_state *st = &ws->st[c];
	size_t n = x->n, ld = x->ld, *index = ws->index + c * n, s = 0;
	double *alpha = ws->alpha + c * n, *wc = w + c * ld, *bc = w + d->k * ld + c;
	int squared = d->loss == FIT_LOSS_SQUARED_HINGE;
	double diag = squared ? 0.5 / d->c : 0.0, upper = squared ? INFINITY : d->c;
	double hi = 0.0, lo = 0.0, b = *bc; /* the intercepts share a cache line: kept here */

	fit_rng_shuffle(&st->rng, index, st->active);
	while (s < st->active) {
		size_t i = index[s];
		double y = fit__svm_sign(d->k, x->label[i], c), a = alpha[i];
		double g = y * (fit__row_dot(x, i, wc) + b) - 1.0 + diag * a, pg = g;

		if (st->visits++ % POLL_ROWS == 0 && stopped(d->poll))
			break;
		if ((a == 0.0 && g > st->pg_hi) || (a == upper && g < st->pg_lo)) {
			index[s] = index[--st->active]; /* shrink: at its bound and staying there */
			index[st->active] = i;
			continue;
		}
		if (a == 0.0)
			pg = fmin(g, 0.0);
		else if (a == upper)
			pg = fmax(g, 0.0);
		hi = fmax(hi, pg);
		lo = fmin(lo, pg);
		if (fabs(pg) > STEP_MIN) {
			double step;

			alpha[i] = fmin(fmax(a - g / (ws->qd[i] + diag), 0.0), upper);
			step = (alpha[i] - a) * y;
			fit__row_axpy(x, i, step, wc);
			b += step * BIAS * BIAS; /* the intercept is BIAS times its weight */
		}
		s++;
	}
	*bc = b;
	if (!fit__poll_stopped(d->poll))
		pass_end(st, n, lo, hi, tol);
}

/*
 * The objective in the core's units, mean loss plus penalty / 2 |v|^2 with
 * penalty 1 / (C n): the loss of fixed blocks of rows in parallel (one slot
 * each), added in block order. 0, or FITD_ECANCELLED.
 */
static int primal(const struct fit__dcd *d, struct dcd_ws *ws, const double *w, double *value)
{
	const struct fit__data *x = d->data;
	size_t n = x->n, ld = x->ld, k = d->k, rows = fit__blocking(n);
	size_t nb = (n + rows - 1) / rows;
	fit__loss_fn fn = fit__loss_pick(d->loss, k);
	double sum = 0.0, sq = 0.0;
	int threads = nb > 1 ? d->threads : 1;

#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
	for (size_t b = 0; b < nb; b++) {
		double *slot = ws->partial + b * ws->slot, *z = slot + 1, *dz = z + k;
		size_t end = n - b * rows < rows ? n : (b + 1) * rows;

		slot[0] = 0.0;
		if (nb > 1 && stopped(d->poll))
			continue;
		for (size_t i = b * rows; i < end; i++) {
			for (size_t c = 0; c < k; c++)
				z[c] = fit__row_dot(x, i, w + c * ld) + w[k * ld + c];
			slot[0] += fn(z, k, 0.0, x->label[i], 0.0, dz, NULL);
		}
	}
	if (fit__poll_stopped(d->poll))
		return FITD_ECANCELLED;
	for (size_t b = 0; b < nb; b++)
		sum += ws->partial[b * ws->slot];
	for (size_t j = 0; j < k * ld; j++)
		sq += w[j] * w[j];
	for (size_t c = 0; c < k; c++)
		sq += (w[k * ld + c] / BIAS) * (w[k * ld + c] / BIAS);
	*value = sum / (double)n + 0.5 * sq / (d->c * (double)n);
	return FITD_OK;
}

/* One iteration of every output not yet done, in parallel over the outputs. */
static int iterate(const struct fit__dcd *d, struct dcd_ws *ws, double *w, double tol)
{
	int threads = d->k > 1 ? (d->threads < (int)d->k ? d->threads : (int)d->k) : 1;

#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
	for (size_t c = 0; c < d->k; c++)
		if (!ws->st[c].done)
			pass(d, ws, c, w, tol);
	return fit__poll_stopped(d->poll) ? FITD_ECANCELLED : FITD_OK;
}

static int all_done(const struct dcd_ws *ws, size_t k)
{
	for (size_t c = 0; c < k; c++)
		if (!ws->st[c].done)
			return 0;
	return 1;
}

int fit__dcd_run(const struct fit__dcd *d, struct fit__run *run, double *w, void *wsp)
{
	struct dcd_ws *ws = wsp;
	struct fit_report *rep = run->report;
	size_t dim = d->k * d->data->ld + d->k;
	uint64_t visits = 0;
	double loss, score;
	int rc = FITD_OK;

	start(d, ws, w, run->params->seed);
	for (unsigned it = 1; it <= run->params->epochs && !rep->converged; it++) {
		rc = iterate(d, ws, w, run->params->tol);
		if (rc == FITD_OK)
			rc = primal(d, ws, w, &loss);
		if (rc != FITD_OK)
			return fitd_error_set(run->err, rc, NULL, "the fit was cancelled");
		rc = fit__run_epoch_end(run, it, loss, w, dim, &score);
		if (rc != FITD_OK)
			return rc;
		rep->epochs = rep->best_epoch = it;
		rep->train_loss = loss;
		rep->valid_score = score;
		rep->converged = all_done(ws, d->k);
	}
	for (size_t c = 0; c < d->k; c++)
		visits += ws->st[c].visits;
	/* a pass over the rows for each output's visits, and one per iteration's objective */
	rep->passes += visits / d->data->n + rep->epochs;
	return FITD_OK;
}

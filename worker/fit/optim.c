/*
 * optim.c - the first-order optimizers (full-batch gradient descent,
 * mini-batch SGD, momentum, Adam) and what every optimizer shares: the
 * penalty terms, the end-of-epoch bookkeeping (divergence check, validation
 * score, progress, early stopping) and the report.
 *
 * Each epoch shuffles the rows with the fit's own generator (stream 1 of the
 * seed), walks them in batches, and after each gradient step applies the L1
 * part of the penalty so that weights reach exactly zero; intercepts and
 * biases are never penalized. Full-batch descent takes the proximal step (soft
 * thresholding by step * l1). Mini-batch methods use the cumulative penalty of
 * Tsuruoka, Tsujii and Ananiadou (ACL 2009): each weight is pulled toward zero
 * by the penalty it would have received so far minus what it did receive,
 * never across zero, which keeps batch noise from holding weights just off
 * zero. Adam is Kingma and Ba's algorithm with bias correction; its L1 step
 * uses Adam's own per-coordinate step size. The only memory used is the workspace laid out by
 * fit__first_layout(), so nothing is allocated while the fit runs.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <string.h>

int fit__objective_grad(const struct fit__objective *o, const double *w, const size_t *rows,
			size_t n, double *value, double *g)
{
	double l2 = 0.0, l1 = 0.0;
	int rc = o->grad(o->ctx, w, rows, n, value, g);

	if (rc != FITD_OK)
		return rc;
	for (size_t j = 0; j < o->npen; j++) {
		l2 += w[j] * w[j];
		l1 += fabs(w[j]);
		g[j] += o->l2 * w[j];
	}
	*value += 0.5 * o->l2 * l2 + o->l1 * l1;
	return isfinite(*value) ? FITD_OK : FITD_EDIVERGED;
}

int fit__objective_hv(const struct fit__objective *o, const double *s, double *hs)
{
	int rc = o->hv(o->ctx, s, hs);

	if (rc != FITD_OK)
		return rc;
	for (size_t j = 0; j < o->npen; j++)
		hs[j] += o->l2 * s[j];
	return FITD_OK;
}

int fit__run_diverged(struct fit__run *run, unsigned epoch, const char *what)
{
	return fitd_error_set(
	    run->err, FITD_EDIVERGED, "diverged",
	    "the %s stopped being finite in epoch %u; try a smaller learning rate", what, epoch);
}

int fit__run_epoch_end(struct fit__run *run, unsigned epoch, double loss, const double *w,
		       size_t dim, double *score)
{
	struct fit_progress pr;
	int rc;

	if (!isfinite(loss))
		return fit__run_diverged(run, epoch, "loss");
	for (size_t j = 0; j < dim; j++)
		if (!isfinite(w[j]))
			return fit__run_diverged(run, epoch, "weights");
	*score = NAN;
	if (run->score != NULL) {
		rc = run->score(run->score_ctx, w, score, &run->stop);
		if (rc != FITD_OK)
			return fitd_error_set(run->err, rc, NULL, "validation failed: %s",
					      fitd_strerror(rc));
	}
	if (fit__poll_check(run->poll))
		return fitd_error_set(run->err, FITD_ECANCELLED, NULL, "the fit was cancelled");
	if (run->cb != NULL && run->cb->progress != NULL) {
		pr.epoch = epoch;
		pr.train_loss = loss;
		pr.valid_score = *score;
		run->cb->progress(run->cb->data, &pr);
	}
	return FITD_OK;
}

struct first_ws {
	double *g, *m, *v, *best;
	double *u, *q; /* cumulative L1: penalty due and penalty applied, per weight */
	size_t *perm;
};

void *fit__first_layout(struct fit__arena *a, size_t dim, size_t n, const struct fit_params *p)
{
	struct first_ws *ws = fit__arena_take(a, 1, sizeof(*ws));
	double *g = fit__arena_take(a, dim, sizeof(double));
	double *m = fit__arena_take(a, dim, sizeof(double));
	double *v = p->optimizer == FIT_OPT_ADAM ? fit__arena_take(a, dim, sizeof(double)) : NULL;
	double *best = p->patience > 0 ? fit__arena_take(a, dim, sizeof(double)) : NULL;
	size_t *perm = fit__arena_take(a, n, sizeof(size_t));
	int l1 = p->reg == FIT_REG_L1 || p->reg == FIT_REG_ELASTICNET;
	double *u = l1 ? fit__arena_take(a, dim, sizeof(double)) : NULL;
	double *q = l1 ? fit__arena_take(a, dim, sizeof(double)) : NULL;

	if (ws != NULL) {
		ws->u = u;
		ws->q = q;
		ws->g = g;
		ws->m = m;
		ws->v = v;
		ws->best = best;
		ws->perm = perm;
	}
	return ws;
}

static double soft(double w, double t)
{
	if (w > t)
		return w - t;
	if (w < -t)
		return w + t;
	return 0.0;
}

/* The L1 step of weight j after its gradient step, thr the step's threshold. */
static double l1_step(struct first_ws *ws, int cumulative, size_t j, double w, double thr)
{
	double before = w;

	if (!cumulative)
		return soft(w, thr);
	ws->u[j] += thr;
	if (w > 0)
		w = fmax(0.0, w - (ws->u[j] + ws->q[j]));
	else if (w < 0)
		w = fmin(0.0, w + (ws->u[j] - ws->q[j]));
	ws->q[j] += w - before;
	return w;
}

/* One update of w by gradient g with step lr; t counts adam steps from 1. */
static void step(const struct fit__objective *o, const struct fit_params *p, struct first_ws *ws,
		 double *w, double lr, unsigned long t, int cumulative)
{
	const double *g = ws->g;
	double l1 = o->l1;

	if (p->optimizer == FIT_OPT_ADAM) {
		double c1 = 1.0 - pow(p->beta1, (double)t), c2 = 1.0 - pow(p->beta2, (double)t);
		double b1 = p->beta1, b2 = p->beta2, eps = p->epsilon, *m = ws->m, *v = ws->v;
		size_t dim = o->dim;

		/*
		 * One thread, without the L1 branch, so that it vectorizes: a
		 * parallel loop here would add a fork and join of the team to
		 * every batch, which costs more than the loop on a busy machine.
		 */
#pragma omp simd
		for (size_t j = 0; j < dim; j++) {
			m[j] = b1 * m[j] + (1.0 - b1) * g[j];
			v[j] = b2 * v[j] + (1.0 - b2) * g[j] * g[j];
			w[j] -= lr * (m[j] / c1) / (sqrt(v[j] / c2) + eps);
		}
		if (l1 > 0.0)
			for (size_t j = 0; j < o->npen; j++)
				w[j] = l1_step(ws, cumulative, j, w[j],
					       lr * l1 / (sqrt(v[j] / c2) + eps));
		return;
	}
	for (size_t j = 0; j < o->dim; j++) {
		if (p->optimizer == FIT_OPT_MOMENTUM) {
			ws->m[j] = p->momentum * ws->m[j] - lr * g[j];
			w[j] += ws->m[j];
		} else {
			w[j] -= lr * g[j];
		}
		if (j < o->npen && l1 > 0.0) {
			w[j] = l1_step(ws, cumulative, j, w[j], lr * l1);
			if (w[j] == 0.0 && p->optimizer == FIT_OPT_MOMENTUM)
				ws->m[j] = 0.0; /* a weight cut to zero loses its velocity */
		}
	}
}

/* Runs one epoch of batches; *loss gets the row-weighted mean batch objective. */
static int epoch_pass(const struct fit__objective *o, struct fit__run *run, struct first_ws *ws,
		      double *w, unsigned epoch, unsigned long *t, double *loss)
{
	const struct fit_params *p = run->params;
	size_t n = o->nrows, batch = p->batch_size;
	double lr = p->learning_rate / (1.0 + p->lr_decay * (double)(epoch - 1)), sum = 0.0;
	int full;

	if (p->optimizer == FIT_OPT_GD || batch == 0 || batch >= n)
		batch = n;
	full = batch == n;
	for (size_t start = 0; start < n; start += batch) {
		size_t nb = n - start < batch ? n - start : batch;
		double f;
		int rc = fit__objective_grad(o, w, full ? NULL : ws->perm + start, nb, &f, ws->g);

		if (rc == FITD_EDIVERGED || (rc == FITD_OK && !isfinite(f)))
			return fit__run_diverged(run, epoch, "loss");
		if (rc != FITD_OK)
			return fitd_error_set(run->err, rc, NULL, "the fit was cancelled");
		sum += f * (double)nb;
		step(o, p, ws, w, lr, ++*t, !full);
		if (fit__poll_check(run->poll))
			return fitd_error_set(run->err, FITD_ECANCELLED, NULL,
					      "the fit was cancelled");
	}
	*loss = sum / (double)n;
	return FITD_OK;
}

/* Whether an early-stopping value (lower is better) beats the best so far. */
static int better(double stop, double best)
{
	if (isnan(best))
		return !isnan(stop);
	return stop < best;
}

int fit__first_run(const struct fit__objective *o, struct fit__run *run, double *w, void *wsp)
{
	const struct fit_params *p = run->params;
	struct first_ws *ws = wsp;
	struct fit_report *rep = run->report;
	struct fit_rng rng;
	unsigned long t = 0;
	unsigned bad = 0;
	double best = NAN, score, loss = NAN;
	int rc = FITD_OK, keep_best = p->patience > 0 && run->score != NULL;

	fit_rng_seed(&rng, p->seed, 1);
	for (size_t i = 0; i < o->nrows; i++)
		ws->perm[i] = i;
	memset(ws->m, 0, o->dim * sizeof(double));
	if (ws->v != NULL)
		memset(ws->v, 0, o->dim * sizeof(double));
	if (ws->u != NULL) {
		memset(ws->u, 0, o->dim * sizeof(double));
		memset(ws->q, 0, o->dim * sizeof(double));
	}
	for (unsigned e = 1; e <= p->epochs; e++) {
		if (p->optimizer != FIT_OPT_GD)
			fit_rng_shuffle(&rng, ws->perm, o->nrows);
		rc = epoch_pass(o, run, ws, w, e, &t, &loss);
		if (rc == FITD_OK)
			rc = fit__run_epoch_end(run, e, loss, w, o->dim, &score);
		if (rc != FITD_OK)
			return rc;
		rep->epochs = e;
		rep->passes++;
		if (!keep_best || better(run->stop, best)) {
			best = run->stop;
			bad = 0;
			rep->best_epoch = e;
			rep->train_loss = loss;
			rep->valid_score = score;
			if (keep_best)
				memcpy(ws->best, w, o->dim * sizeof(double));
		} else if (++bad >= p->patience) {
			rep->stopped_early = 1;
			break;
		}
	}
	if (keep_best && rep->best_epoch > 0)
		memcpy(w, ws->best, o->dim * sizeof(double));
	return FITD_OK;
}

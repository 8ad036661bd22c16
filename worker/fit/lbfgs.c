/*
 * lbfgs.c - limited-memory BFGS (Nocedal and Wright, Algorithm 7.4/7.5) for
 * smooth objectives: the two-loop recursion over the last LBFGS_M steps, a
 * backtracking line search with quadratic interpolation and the Armijo test,
 * and a pair update only when it keeps the approximation positive definite.
 *
 * Each iteration costs one objective pass (more when the line search
 * backtracks, which is rare once the scaling is learned). The fit stops when
 * |grad| <= tol * |grad at the start|, when the objective stops decreasing, or
 * after params.epochs iterations. Working memory is the layout below only.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <string.h>

#define LBFGS_M	     10
#define LBFGS_C1     1e-4
#define LBFGS_MAX_LS 30

struct lbfgs_ws {
	double *s, *y; /* LBFGS_M pairs, dim each */
	double rho[LBFGS_M], alpha[LBFGS_M];
	double *g, *gnew, *d, *wnew;
};

void *fit__lbfgs_layout(struct fit__arena *a, size_t dim)
{
	struct lbfgs_ws *ws = fit__arena_take(a, 1, sizeof(*ws));
	double *s = fit__arena_take(a, dim, LBFGS_M * sizeof(double));
	double *y = fit__arena_take(a, dim, LBFGS_M * sizeof(double));
	double *g = fit__arena_take(a, dim, sizeof(double));
	double *gnew = fit__arena_take(a, dim, sizeof(double));
	double *d = fit__arena_take(a, dim, sizeof(double));
	double *wnew = fit__arena_take(a, dim, sizeof(double));

	if (ws != NULL) {
		ws->s = s;
		ws->y = y;
		ws->g = g;
		ws->gnew = gnew;
		ws->d = d;
		ws->wnew = wnew;
	}
	return ws;
}

/* d = -H g over the stored pairs, oldest first in slot order (start, count). */
static void direction(struct lbfgs_ws *ws, size_t dim, unsigned start, unsigned count)
{
	double *d = ws->d;

	for (size_t i = 0; i < dim; i++)
		d[i] = -ws->g[i];
	for (unsigned q = count; q-- > 0;) {
		unsigned k = (start + q) % LBFGS_M;
		double *s = ws->s + k * dim, *y = ws->y + k * dim;

		ws->alpha[k] = ws->rho[k] * fit__ddot(s, d, dim);
		for (size_t i = 0; i < dim; i++)
			d[i] -= ws->alpha[k] * y[i];
	}
	if (count > 0) {
		unsigned k = (start + count - 1) % LBFGS_M;
		double *y = ws->y + k * dim;
		double gamma = 1.0 / (ws->rho[k] * fit__ddot(y, y, dim));

		for (size_t i = 0; i < dim; i++)
			d[i] *= gamma;
	}
	for (unsigned q = 0; q < count; q++) {
		unsigned k = (start + q) % LBFGS_M;
		double *s = ws->s + k * dim, *y = ws->y + k * dim;
		double beta = ws->rho[k] * fit__ddot(y, d, dim);

		for (size_t i = 0; i < dim; i++)
			d[i] += (ws->alpha[k] - beta) * s[i];
	}
}

/* Backtracks from step t along d until Armijo holds; 0 with *fnew, or a status. */
static int line_search(const struct fit__objective *o, struct fit__run *run, struct lbfgs_ws *ws,
		       const double *w, double f, double gd, double *t, double *fnew)
{
	for (int tries = 0; tries < LBFGS_MAX_LS; tries++) {
		int rc;

		for (size_t i = 0; i < o->dim; i++)
			ws->wnew[i] = w[i] + *t * ws->d[i];
		rc = fit__objective_grad(o, ws->wnew, NULL, o->nrows, fnew, ws->gnew);
		run->report->passes++;
		if (rc == FITD_ECANCELLED)
			return rc;
		if (rc == FITD_OK && *fnew <= f + LBFGS_C1 * *t * gd)
			return FITD_OK;
		if (rc == FITD_OK) {
			double q = -gd * *t * *t / (2.0 * (*fnew - f - gd * *t));

			*t = q > 0.1 * *t && q < 0.5 * *t ? q : 0.5 * *t;
		} else {
			*t *= 0.1; /* the objective overflowed: much shorter */
		}
	}
	return FITD_EDIVERGED;
}

int fit__lbfgs_run(const struct fit__objective *o, struct fit__run *run, double *w, void *wsp)
{
	struct lbfgs_ws *ws = wsp;
	struct fit_report *rep = run->report;
	size_t dim = o->dim;
	unsigned start = 0, count = 0;
	double f, g0, score;
	int rc = fit__objective_grad(o, w, NULL, o->nrows, &f, ws->g);

	rep->passes++;
	if (rc == FITD_ECANCELLED)
		return fitd_error_set(run->err, rc, NULL, "the fit was cancelled");
	if (rc != FITD_OK)
		return fit__run_diverged(run, 0, "loss");
	g0 = sqrt(fit__ddot(ws->g, ws->g, dim));
	rep->train_loss = f;
	for (unsigned it = 1; it <= run->params->epochs && g0 > 0.0; it++) {
		double gd, t, fnew, ys;

		direction(ws, dim, start, count);
		gd = fit__ddot(ws->g, ws->d, dim);
		if (!(gd < 0.0)) { /* not a descent direction: forget the pairs */
			count = 0;
			direction(ws, dim, start, count);
			gd = fit__ddot(ws->g, ws->d, dim);
		}
		t = count == 0 ? fmin(1.0, 1.0 / sqrt(fit__ddot(ws->g, ws->g, dim))) : 1.0;
		rc = line_search(o, run, ws, w, f, gd, &t, &fnew);
		if (rc == FITD_ECANCELLED)
			return fitd_error_set(run->err, rc, NULL, "the fit was cancelled");
		if (rc != FITD_OK)
			break; /* no decrease along d: as good as it gets in floating point */
		{
			unsigned k = (start + count) % LBFGS_M;
			double *s = ws->s + k * dim, *y = ws->y + k * dim;

			for (size_t i = 0; i < dim; i++) {
				s[i] = ws->wnew[i] - w[i];
				y[i] = ws->gnew[i] - ws->g[i];
			}
			ys = fit__ddot(y, s, dim);
			if (ys > 1e-10 * fit__ddot(y, y, dim)) {
				ws->rho[k] = 1.0 / ys;
				if (count < LBFGS_M)
					count++;
				else
					start = (start + 1) % LBFGS_M;
			} else if (count == LBFGS_M) { /* slot k held the oldest pair */
				start = (start + 1) % LBFGS_M;
				count--;
			}
		}
		memcpy(w, ws->wnew, dim * sizeof(double));
		memcpy(ws->g, ws->gnew, dim * sizeof(double));
		rc = fit__run_epoch_end(run, it, fnew, w, dim, &score);
		if (rc != FITD_OK)
			return rc;
		rep->epochs = rep->best_epoch = it;
		rep->train_loss = fnew;
		rep->valid_score = score;
		if (sqrt(fit__ddot(ws->g, ws->g, dim)) <= run->params->tol * g0) {
			rep->converged = 1;
			break;
		}
		if (f - fnew <= 1e-15 * fmax(fabs(f), 1.0)) {
			rep->converged = 1;
			break;
		}
		f = fnew;
	}
	if (g0 == 0.0)
		rep->converged = 1;
	return FITD_OK;
}

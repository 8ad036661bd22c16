/*
 * newton.c - trust-region Newton with conjugate gradients (TRON: Lin, Weng
 * and Keerthi, "Trust region Newton method for large-scale logistic
 * regression", JMLR 2008; the solver of liblinear's primal problems).
 *
 * Each outer iteration solves H s = -g approximately by CG inside the trust
 * region |s| <= delta (Steihaug's truncation), then accepts or rejects w + s
 * by the ratio of the actual to the predicted decrease and resizes delta. A
 * CG step is one Hessian-vector pass over the data and an outer iteration one
 * fused value-and-gradient pass; the objective keeps the Hessian terms of the
 * accepted point apart from those of a trial point (accept()), so a rejected
 * step costs nothing more. Stops at |grad| <= tol * |grad at the start|, or
 * after params.epochs outer iterations.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <string.h>

#define ETA0	    1e-4
#define ETA1	    0.25
#define ETA2	    0.75
#define SIGMA1	    0.25
#define SIGMA2	    0.5
#define SIGMA3	    4.0
#define CG_REL_TOL  0.1
#define CG_MAX_ITER 250

struct newton_ws {
	double *g, *gnew, *s, *r, *d, *hd, *wnew;
};

void *fit__newton_layout(struct fit__arena *a, size_t dim)
{
	struct newton_ws *ws = fit__arena_take(a, 1, sizeof(*ws));
	double *v[7];

	for (int i = 0; i < 7; i++)
		v[i] = fit__arena_take(a, dim, sizeof(double));
	if (ws != NULL) {
		ws->g = v[0];
		ws->gnew = v[1];
		ws->s = v[2];
		ws->r = v[3];
		ws->d = v[4];
		ws->hd = v[5];
		ws->wnew = v[6];
	}
	return ws;
}

static void axpy(double *y, double a, const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

/* The tau >= 0 with |s + tau d| = delta. */
static double to_boundary(const double *s, const double *d, size_t n, double delta)
{
	double std = fit__ddot(s, d, n), sts = fit__ddot(s, s, n), dtd = fit__ddot(d, d, n);
	double dsq = delta * delta, rad = sqrt(fmax(std * std + dtd * (dsq - sts), 0.0));

	if (dtd == 0.0)
		return 0.0;
	return std >= 0 ? (dsq - sts) / (std + rad) : (rad - std) / dtd;
}

/* Steihaug CG: s ~ argmin g's + s'Hs/2 with |s| <= delta; r = -g - Hs. */
static int trcg(const struct fit__objective *o, struct fit__run *run, struct newton_ws *ws,
		double delta)
{
	size_t n = o->dim;
	double cgtol = CG_REL_TOL * sqrt(fit__ddot(ws->g, ws->g, n)), rtr;

	for (size_t i = 0; i < n; i++) {
		ws->s[i] = 0.0;
		ws->r[i] = -ws->g[i];
		ws->d[i] = ws->r[i];
	}
	rtr = fit__ddot(ws->r, ws->r, n);
	for (int it = 0; it < CG_MAX_ITER && sqrt(rtr) > cgtol; it++) {
		double dhd, alpha, rnew;
		int rc = fit__objective_hv(o, ws->d, ws->hd);

		run->report->passes++;
		if (rc != FITD_OK)
			return rc;
		dhd = fit__ddot(ws->d, ws->hd, n);
		alpha = rtr / dhd;
		if (dhd > 0.0)
			axpy(ws->s, alpha, ws->d, n);
		if (!(dhd > 0.0) || sqrt(fit__ddot(ws->s, ws->s, n)) > delta) {
			/* no curvature along d, or outside the region: stop on its edge */
			if (dhd > 0.0)
				axpy(ws->s, -alpha, ws->d, n);
			alpha = to_boundary(ws->s, ws->d, n, delta);
			axpy(ws->s, alpha, ws->d, n);
			axpy(ws->r, -alpha, ws->hd, n);
			break;
		}
		axpy(ws->r, -alpha, ws->hd, n);
		rnew = fit__ddot(ws->r, ws->r, n);
		for (size_t i = 0; i < n; i++)
			ws->d[i] = ws->r[i] + rnew / rtr * ws->d[i];
		rtr = rnew;
	}
	return FITD_OK;
}

/* The trust-region radius after a step of length snorm; liblinear's rules. */
static double resize(double delta, double snorm, double actred, double prered, double alpha)
{
	if (actred < ETA0 * prered)
		return fmin(fmax(alpha, SIGMA1) * snorm, SIGMA2 * delta);
	if (actred < ETA1 * prered)
		return fmax(SIGMA1 * delta, fmin(alpha * snorm, SIGMA2 * delta));
	if (actred < ETA2 * prered)
		return fmax(SIGMA1 * delta, fmin(alpha * snorm, SIGMA3 * delta));
	return fmax(delta, fmin(alpha * snorm, SIGMA3 * delta));
}

static int cancelled(struct fit__run *run, int rc)
{
	if (rc == FITD_ECANCELLED)
		return fitd_error_set(run->err, rc, NULL, "the fit was cancelled");
	return fit__run_diverged(run, run->report->epochs, "loss");
}

int fit__newton_run(const struct fit__objective *o, struct fit__run *run, double *w, void *wsp)
{
	struct newton_ws *ws = wsp;
	struct fit_report *rep = run->report;
	size_t n = o->dim;
	double f, fnew, g0, delta, score;
	unsigned it = 1;
	int rc = fit__objective_grad(o, w, NULL, o->nrows, &f, ws->g);

	rep->passes++;
	if (rc != FITD_OK)
		return cancelled(run, rc);
	o->accept(o->ctx);
	rep->train_loss = f;
	g0 = delta = sqrt(fit__ddot(ws->g, ws->g, n));
	if (g0 == 0.0)
		rep->converged = 1;
	while (it <= run->params->epochs && !rep->converged) {
		double gs, prered, actred, snorm, alpha;

		rc = trcg(o, run, ws, delta);
		if (rc != FITD_OK)
			return cancelled(run, rc);
		for (size_t i = 0; i < n; i++)
			ws->wnew[i] = w[i] + ws->s[i];
		gs = fit__ddot(ws->g, ws->s, n);
		prered = -0.5 * (gs - fit__ddot(ws->s, ws->r, n));
		rc = fit__objective_grad(o, ws->wnew, NULL, o->nrows, &fnew, ws->gnew);
		rep->passes++;
		if (rc == FITD_ECANCELLED)
			return cancelled(run, rc);
		if (rc != FITD_OK)
			fnew = INFINITY; /* overflowed: reject and shrink */
		actred = f - fnew;
		snorm = sqrt(fit__ddot(ws->s, ws->s, n));
		if (it == 1)
			delta = fmin(delta, snorm);
		alpha = fnew - f - gs <= 0 ? SIGMA3 : fmax(SIGMA1, -0.5 * (gs / (fnew - f - gs)));
		delta = resize(delta, snorm, actred, prered, alpha);
		if (actred > ETA0 * prered) {
			memcpy(w, ws->wnew, n * sizeof(double));
			memcpy(ws->g, ws->gnew, n * sizeof(double));
			o->accept(o->ctx);
			f = fnew;
			rc = fit__run_epoch_end(run, it, f, w, n, &score);
			if (rc != FITD_OK)
				return rc;
			rep->epochs = rep->best_epoch = it;
			rep->train_loss = f;
			rep->valid_score = score;
			it++;
			if (sqrt(fit__ddot(ws->g, ws->g, n)) <= run->params->tol * g0)
				rep->converged = 1;
		}
		if ((actred <= 0 && prered <= 0) ||
		    (fabs(actred) <= 1e-12 * fabs(f) && fabs(prered) <= 1e-12 * fabs(f)))
			rep->converged = 1; /* no decrease left to find in floating point */
		if (delta < 1e-300)
			break;
	}
	return FITD_OK;
}

/*
 * test_optim.c - the optimizers on analytic functions, through the same
 * objective interface the models use: an ill-conditioned quadratic (every
 * optimizer) and the Rosenbrock function (lbfgs, newton, adam, momentum),
 * plus Adam's first step (bias correction makes it lr * sign(g)) and the
 * proximal L1 step on a separable problem with a known answer.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/internal.h"

/* f(w) = sum_i a_i (w_i - c_i)^2 / 2 */
static const double qa[4] = { 1.0, 10.0, 100.0, 0.5 };
static const double qc[4] = { 1.0, -2.0, 0.5, 3.0 };
static double hess_at[2];

static int quad_grad(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		     double *g)
{
	(void)ctx, (void)rows, (void)n;
	*value = 0.0;
	for (int i = 0; i < 4; i++) {
		*value += 0.5 * qa[i] * (w[i] - qc[i]) * (w[i] - qc[i]);
		g[i] = qa[i] * (w[i] - qc[i]);
	}
	return FITD_OK;
}

static int quad_hv(void *ctx, const double *s, double *hs)
{
	(void)ctx;
	for (int i = 0; i < 4; i++)
		hs[i] = qa[i] * s[i];
	return FITD_OK;
}

static int rosen_grad(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		      double *g)
{
	double x = w[0], y = w[1];

	(void)ctx, (void)rows, (void)n;
	*value = (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
	g[0] = -2 * (1 - x) - 400 * x * (y - x * x);
	g[1] = 200 * (y - x * x);
	hess_at[0] = x;
	hess_at[1] = y;
	return FITD_OK;
}

static double rosen_accepted[2];

static void rosen_accept(void *ctx)
{
	(void)ctx;
	memcpy(rosen_accepted, hess_at, sizeof(hess_at));
}

static int rosen_hv(void *ctx, const double *s, double *hs)
{
	double x = rosen_accepted[0], y = rosen_accepted[1];
	double hxx = 2 - 400 * (y - x * x) + 800 * x * x, hxy = -400 * x, hyy = 200;

	(void)ctx;
	hs[0] = hxx * s[0] + hxy * s[1];
	hs[1] = hxy * s[0] + hyy * s[1];
	return FITD_OK;
}

static void nop_accept(void *ctx)
{
	(void)ctx;
}

/* Runs optimizer opt on o from w; returns the status. */
static int run(const struct fit__objective *o, struct fit_params *p, double *w,
	       struct fit_report *rep)
{
	struct fit__arena a = { 0 };
	struct fit__poll poll = { 0 };
	struct fitd_error err = { 0 };
	struct fit__run r = { p, NULL, &poll, rep, &err, NULL, NULL, 0 };
	void *ws = NULL, *mem = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	for (int pass = 0; pass < 2; pass++) {
		if (p->optimizer == FIT_OPT_LBFGS)
			ws = fit__lbfgs_layout(&a, o->dim);
		else if (p->optimizer == FIT_OPT_NEWTON)
			ws = fit__newton_layout(&a, o->dim);
		else
			ws = fit__first_layout(&a, o->dim, o->nrows, p);
		if (pass == 0) {
			mem = fit__alloc(a.used);
			a = (struct fit__arena){ .base = mem, .size = a.used };
		}
	}
	if (p->optimizer == FIT_OPT_LBFGS)
		rc = fit__lbfgs_run(o, &r, w, ws);
	else if (p->optimizer == FIT_OPT_NEWTON)
		rc = fit__newton_run(o, &r, w, ws);
	else
		rc = fit__first_run(o, &r, w, ws);
	free(mem);
	return rc;
}

static struct fit_params opt_params(enum fit_optimizer opt, double lr, unsigned epochs)
{
	struct fit_params p;

	fit_params_init(&p);
	p.optimizer = opt;
	p.learning_rate = lr;
	p.epochs = epochs;
	p.tol = 1e-12;
	p.batch_size = 0;
	p.reg = FIT_REG_NONE;
	return p;
}

START_TEST(test_quadratic)
{
	static const struct {
		enum fit_optimizer opt;
		double lr;
		unsigned epochs;
		double tol;
	} cases[] = {
		{ FIT_OPT_GD, 0.019, 3000, 1e-8 },	 { FIT_OPT_SGD, 0.019, 3000, 1e-8 },
		{ FIT_OPT_MOMENTUM, 0.005, 3000, 1e-8 }, { FIT_OPT_ADAM, 0.05, 5000, 1e-3 },
		{ FIT_OPT_LBFGS, 0, 100, 1e-9 },	 { FIT_OPT_NEWTON, 0, 100, 1e-9 },
	};
	struct fit__objective o = { 4, 0, 1, 0, 0, quad_grad, quad_hv, nop_accept, NULL };

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fit_params p = opt_params(cases[k].opt, cases[k].lr, cases[k].epochs);
		struct fit_report rep;
		double w[4] = { 0 };

		ck_assert_int_eq(run(&o, &p, w, &rep), 0);
		for (int i = 0; i < 4; i++)
			ck_assert_msg(fabs(w[i] - qc[i]) < cases[k].tol, "%s: w%d = %.12g",
				      fit_optimizer_name(cases[k].opt), i, w[i]);
		if (cases[k].opt == FIT_OPT_NEWTON) /* exact steps once the region has grown */
			ck_assert_uint_le(rep.epochs, 6);
	}
}
END_TEST

START_TEST(test_rosenbrock)
{
	static const struct {
		enum fit_optimizer opt;
		double lr;
		unsigned epochs;
		double tol;
	} cases[] = {
		{ FIT_OPT_LBFGS, 0, 500, 1e-6 },
		{ FIT_OPT_NEWTON, 0, 500, 1e-6 },
		{ FIT_OPT_ADAM, 0.02, 20000, 2e-2 },
		{ FIT_OPT_MOMENTUM, 1e-4, 60000, 2e-2 },
	};
	struct fit__objective o = { 2, 0, 1, 0, 0, rosen_grad, rosen_hv, rosen_accept, NULL };

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fit_params p = opt_params(cases[k].opt, cases[k].lr, cases[k].epochs);
		struct fit_report rep;
		double w[2] = { -1.2, 1.0 };

		ck_assert_int_eq(run(&o, &p, w, &rep), 0);
		ck_assert_msg(fabs(w[0] - 1) < cases[k].tol && fabs(w[1] - 1) < cases[k].tol,
			      "%s: (%.10g, %.10g) after %u", fit_optimizer_name(cases[k].opt), w[0],
			      w[1], rep.epochs);
		if (cases[k].opt == FIT_OPT_LBFGS || cases[k].opt == FIT_OPT_NEWTON)
			ck_assert_int_eq(rep.converged, 1);
	}
}
END_TEST

START_TEST(test_adam_first_step)
{
	struct fit__objective o = { 4, 0, 1, 0, 0, quad_grad, NULL, NULL, NULL };
	struct fit_params p = opt_params(FIT_OPT_ADAM, 0.1, 1);
	struct fit_report rep;
	double w[4] = { 0 };

	/* With bias correction, step 1 is lr * m / sqrt(v) = lr * sign(g) (up to epsilon). */
	ck_assert_int_eq(run(&o, &p, w, &rep), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(fabs(w[i] - 0.1 * (qc[i] > 0 ? 1 : -1)) < 1e-6, "w%d = %.12g", i,
			      w[i]);
}
END_TEST

START_TEST(test_proximal_l1)
{
	/* min sum a_i (w_i - c_i)^2 / 2 + l1 |w|_1: w_i = soft(c_i, l1 / a_i). */
	struct fit__objective o = { 4, 4, 1, 0.9, 0, quad_grad, NULL, NULL, NULL };
	struct fit_params p = opt_params(FIT_OPT_GD, 0.019, 5000);
	struct fit_report rep;
	double w[4] = { 0 };

	ck_assert_int_eq(run(&o, &p, w, &rep), 0);
	for (int i = 0; i < 4; i++) {
		double t = 0.9 / qa[i], want = qc[i] > t ? qc[i] - t : qc[i] < -t ? qc[i] + t : 0.0;

		ck_assert_msg(fabs(w[i] - want) < 1e-9, "w%d = %.12g want %.12g", i, w[i], want);
	}
	o.l1 = 1.2; /* now w_0 (c = 1, a = 1) must be exactly zero */
	memset(w, 0, sizeof(w));
	ck_assert_int_eq(run(&o, &p, w, &rep), 0);
	ck_assert(w[0] == 0.0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_optim");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_quadratic);
	tcase_add_test(tc, test_rosenbrock);
	tcase_add_test(tc, test_adam_first_step);
	tcase_add_test(tc, test_proximal_l1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_svm_dcd.c - the svm's dual coordinate descent (worker/fit/dcd.c) on
 * small generated problems. It reaches the optimum of its objective (the
 * duality gap closes, the dual's KKT conditions hold, no small step lowers
 * the primal, an exact Newton solver written here finds the same weights);
 * the core's newton and lbfgs agree on the same objective (mirrored data,
 * where the best intercept is 0 with or without its penalty); several
 * classes are the binary one-vs-rest problems side by side in the layout of
 * every linear model; the result is the same bit for bit for any number of
 * threads; C and the penalty are one strength; a fit can be cancelled, each
 * iteration is reported, and the memory plan counts its buffers.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/internal.h"

#define MAXD 8 /* features of a generated problem, at most */

/* A generated problem: n rows of d Gaussian features (float rows of ld) and labels. */
struct prob {
	struct fit__data data;
	size_t k; /* outputs: 1 for two classes, else the classes */
};

/*
 * Labels from a random linear model plus noise; with mirror (two classes)
 * every odd row is the row before it negated with the other label, so the
 * best intercept is 0.
 */
static void gen(struct prob *pr, size_t n, size_t d, size_t classes, uint64_t seed, int mirror)
{
	struct fit_rng rng;
	double wt[MAXD * MAXD], bt[MAXD];
	size_t ld = fit__pad(d);

	ck_assert_uint_le(d, MAXD);
	ck_assert_uint_le(classes, MAXD);
	fit_rng_seed(&rng, seed, 99);
	pr->data = (struct fit__data){ .n = n,
				       .d = d,
				       .ld = ld,
				       .xld = ld,
				       .x = calloc(n * ld, sizeof(float)),
				       .label = malloc(n * sizeof(int32_t)) };
	pr->k = classes > 2 ? classes : 1;
	for (size_t c = 0; c < classes; c++) {
		bt[c] = mirror ? 0.0 : fit_rng_normal(&rng);
		for (size_t j = 0; j < d; j++)
			wt[c * d + j] = fit_rng_normal(&rng);
	}
	for (size_t i = 0; i < n; i++) {
		float *x = pr->data.x + i * ld;
		double best = -INFINITY;

		if (mirror && i % 2 == 1) {
			const float *prev = x - ld;

			for (size_t j = 0; j < d; j++)
				x[j] = -prev[j];
			pr->data.label[i] = 1 - pr->data.label[i - 1];
			continue;
		}
		for (size_t j = 0; j < d; j++)
			x[j] = (float)fit_rng_normal(&rng);
		for (size_t c = 0; c < (classes > 2 ? classes : 1); c++) {
			double z = bt[c] + 0.7 * fit_rng_normal(&rng);

			for (size_t j = 0; j < d; j++)
				z += wt[c * d + j] * x[j];
			if (classes == 2)
				pr->data.label[i] = z > 0;
			else if (z > best) {
				best = z;
				pr->data.label[i] = (int32_t)c;
			}
		}
	}
}

static void prob_free(struct prob *pr)
{
	free(pr->data.x);
	free(pr->data.label);
}

/* What fit__dcd_run() left: weights [W (k x ld), b (k)], then the duals (k x n), the report. */
struct sol {
	double *w;
	double *alpha;
	struct fit_report rep;
	int rc;
};

/* Runs dcd on pr with the core's own planning: a counting layout, then the real one. */
static void solve(const struct prob *pr, enum fit_loss loss, double C, double tol, int threads,
		  struct sol *out)
{
	struct fit_params p;
	struct fit__arena a = { 0 };
	struct fit__poll poll = { 0 };
	struct fitd_error err = { 0 };
	struct fit__run run = { &p, NULL, &poll, &out->rep, &err, NULL, NULL, NAN };
	struct fit__dcd dcd = { &pr->data, pr->k, loss, C, threads, &poll };
	size_t n = pr->data.n, k = pr->k;
	void *ws, *mem;

	fit_params_init(&p);
	p.model = FIT_MODEL_SVM;
	p.optimizer = FIT_OPT_DCD;
	p.loss = loss;
	p.tol = tol;
	p.epochs = 100000;
	p.threads = threads;
	memset(&out->rep, 0, sizeof(out->rep));
	fit__dcd_layout(&a, n, k);
	ck_assert(!a.overflow);
	mem = fit__alloc(a.used);
	ck_assert_ptr_nonnull(mem);
	a = (struct fit__arena){ .base = mem, .size = a.used };
	ws = fit__dcd_layout(&a, n, k);
	ck_assert(!a.overflow);
	out->w = malloc((k * pr->data.ld + k + k * n) * sizeof(double));
	out->alpha = out->w + k * pr->data.ld + k;
	out->rc = fit__dcd_run(&dcd, &run, out->w, ws);
	for (size_t c = 0; c < k; c++)
		memcpy(out->alpha + c * n, fit__dcd_dual(ws, c), n * sizeof(double));
	free(mem);
}

/* ---- the objective, in double, written out here ---- */

static double sign_of(const struct prob *pr, size_t i, size_t c)
{
	int32_t l = pr->data.label[i];

	return (pr->k == 1 ? l == 1 : l == (int32_t)c) ? 1.0 : -1.0;
}

/* v . [x_i, 1] for v = (d weights, then the intercept). */
static double zrow(const struct prob *pr, const double *v, size_t i)
{
	const float *x = pr->data.x + i * pr->data.ld;
	double z = v[pr->data.d];

	for (size_t j = 0; j < pr->data.d; j++)
		z += (double)x[j] * v[j];
	return z;
}

/* Output c of the solution as v = (d weights, intercept). */
static void take_v(const struct prob *pr, const double *w, size_t c, double *v)
{
	size_t ld = pr->data.ld;

	memcpy(v, w + c * ld, pr->data.d * sizeof(double));
	v[pr->data.d] = w[pr->k * ld + c];
}

static double primal(const struct prob *pr, const double *v, size_t c, enum fit_loss loss, double C)
{
	double sq = 0.0, sum = 0.0;

	for (size_t j = 0; j <= pr->data.d; j++)
		sq += v[j] * v[j];
	for (size_t i = 0; i < pr->data.n; i++) {
		double m = fmax(0.0, 1.0 - sign_of(pr, i, c) * zrow(pr, v, i));

		sum += loss == FIT_LOSS_HINGE ? m : m * m;
	}
	return 0.5 * sq + C * sum;
}

/* The dual at alpha; va gets w(alpha) = sum alpha_i y_i [x_i, 1]. */
static double dual(const struct prob *pr, const double *alpha, size_t c, enum fit_loss loss,
		   double C, double *va)
{
	double diag = loss == FIT_LOSS_HINGE ? 0.0 : 0.5 / C, sum = 0.0, sq = 0.0;
	size_t d = pr->data.d;

	memset(va, 0, (d + 1) * sizeof(double));
	for (size_t i = 0; i < pr->data.n; i++) {
		const float *x = pr->data.x + i * pr->data.ld;
		double a = alpha[i] * sign_of(pr, i, c);

		for (size_t j = 0; j < d; j++)
			va[j] += a * (double)x[j];
		va[d] += a;
		sum += alpha[i] - 0.5 * diag * alpha[i] * alpha[i];
	}
	for (size_t j = 0; j <= d; j++)
		sq += va[j] * va[j];
	return sum - 0.5 * sq;
}

/* max |a - b| over n values; b NULL: max |a|. */
static double max_abs_diff(const double *a, const double *b, size_t n)
{
	double m = 0.0;

	for (size_t j = 0; j < n; j++)
		m = fmax(m, fabs(a[j] - (b != NULL ? b[j] : 0.0)));
	return m;
}

/* ---- the optimum ---- */

static const struct {
	enum fit_loss loss;
	double C;
} optima[] = {
	{ FIT_LOSS_HINGE, 0.1 },
	{ FIT_LOSS_HINGE, 10.0 },
	{ FIT_LOSS_SQUARED_HINGE, 0.1 },
	{ FIT_LOSS_SQUARED_HINGE, 10.0 },
};

/*
 * The duality gap closes, the weights are w(alpha), the dual's KKT
 * conditions hold, no step lowers the primal, and the reported loss is the
 * primal in the core's units.
 */
START_TEST(test_optimum)
{
	enum fit_loss loss = optima[_i].loss;
	double C = optima[_i].C, upper = loss == FIT_LOSS_HINGE ? C : INFINITY;
	double diag = loss == FIT_LOSS_HINGE ? 0.0 : 0.5 / C;
	struct prob pr;
	struct sol s;
	struct fit_rng rng;
	double v[MAXD + 1], va[MAXD + 1], u[MAXD + 1], p, dl;
	size_t d = 5, n = 50;

	gen(&pr, n, d, 2, 7 + (uint64_t)_i, 0);
	solve(&pr, loss, C, 1e-10, 1, &s);
	ck_assert_int_eq(s.rc, FITD_OK);
	ck_assert(s.rep.converged);
	take_v(&pr, s.w, 0, v);
	p = primal(&pr, v, 0, loss, C);
	dl = dual(&pr, s.alpha, 0, loss, C, va);
	ck_assert_msg(p - dl >= -1e-12 * p && p - dl <= 1e-9 * p, "gap %g of %g", p - dl, p);
	ck_assert_double_le(max_abs_diff(v, va, d + 1),
			    1e-9 * (1.0 + max_abs_diff(v, NULL, d + 1)));
	for (size_t i = 0; i < n; i++) {
		double a = s.alpha[i], g = sign_of(&pr, i, 0) * zrow(&pr, va, i) - 1.0 + diag * a;

		ck_assert(a >= 0.0 && a <= upper);
		if (a == 0.0)
			ck_assert_msg(g >= -1e-8, "row %zu: alpha 0, gradient %g", i, g);
		else if (a == upper)
			ck_assert_msg(g <= 1e-8, "row %zu: alpha C, gradient %g", i, g);
		else
			ck_assert_msg(fabs(g) <= 1e-8, "row %zu: alpha %g, gradient %g", i, a, g);
	}
	fit_rng_seed(&rng, 5, 5);
	for (int t = 0; t < 200; t++) {
		double step = t % 2 ? 1e-3 : 1e-6, norm = 0.0;

		for (size_t j = 0; j <= d; j++) {
			u[j] = fit_rng_normal(&rng);
			norm += u[j] * u[j];
		}
		for (size_t j = 0; j <= d; j++)
			u[j] = v[j] + step * u[j] / sqrt(norm);
		ck_assert_double_ge(primal(&pr, u, 0, loss, C), p * (1.0 - 1e-12));
	}
	/* The core's units: the mean loss plus penalty / 2 |v|^2 with penalty 1 / (C n). */
	ck_assert_double_eq_tol(s.rep.train_loss, p / (C * (double)n), 1e-12 * p / (C * n));
	free(s.w);
	prob_free(&pr);
}
END_TEST

/* Solves the p x p system h s = r (h symmetric positive definite) by Cholesky, in place. */
static void cholesky_solve(double *h, size_t p, double *r)
{
	for (size_t j = 0; j < p; j++) {
		for (size_t k = 0; k < j; k++)
			h[j * p + j] -= h[j * p + k] * h[j * p + k];
		h[j * p + j] = sqrt(h[j * p + j]);
		for (size_t i = j + 1; i < p; i++) {
			for (size_t k = 0; k < j; k++)
				h[i * p + j] -= h[i * p + k] * h[j * p + k];
			h[i * p + j] /= h[j * p + j];
		}
	}
	for (size_t i = 0; i < p; i++) {
		for (size_t k = 0; k < i; k++)
			r[i] -= h[i * p + k] * r[k];
		r[i] /= h[i * p + i];
	}
	for (size_t i = p; i-- > 0;) {
		for (size_t k = i + 1; k < p; k++)
			r[i] -= h[k * p + i] * r[k];
		r[i] /= h[i * p + i];
	}
}

/*
 * The exact optimum of |v|^2 / 2 + C sum max(0, 1 - y v.[x, 1])^2: Newton's
 * method with the generalized Hessian and backtracking. The objective is
 * piecewise quadratic, so it ends once the set of rows inside the margin
 * stops changing, to rounding.
 */
static void newton_reference(const struct prob *pr, double C, double *v)
{
	size_t d = pr->data.d, p = d + 1;

	memset(v, 0, p * sizeof(double));
	for (int it = 0; it < 200; it++) {
		double g[MAXD + 1], h[(MAXD + 1) * (MAXD + 1)], s[MAXD + 1], x[MAXD + 1], gn = 0.0;
		double f = primal(pr, v, 0, FIT_LOSS_SQUARED_HINGE, C), gs = 0.0, t = 1.0;

		memcpy(g, v, p * sizeof(double));
		memset(h, 0, sizeof(h));
		for (size_t j = 0; j < p; j++)
			h[j * p + j] = 1.0;
		for (size_t i = 0; i < pr->data.n; i++) {
			double y = sign_of(pr, i, 0), m = 1.0 - y * zrow(pr, v, i);

			if (m <= 0.0)
				continue;
			for (size_t j = 0; j < d; j++)
				x[j] = (double)pr->data.x[i * pr->data.ld + j];
			x[d] = 1.0;
			for (size_t j = 0; j < p; j++) {
				g[j] -= 2.0 * C * y * m * x[j];
				for (size_t l = 0; l < p; l++)
					h[j * p + l] += 2.0 * C * x[j] * x[l];
			}
		}
		for (size_t j = 0; j < p; j++) {
			gn += g[j] * g[j];
			s[j] = -g[j];
		}
		if (sqrt(gn) <= 1e-13 * (1.0 + C * (double)pr->data.n))
			break;
		cholesky_solve(h, p, s);
		for (size_t j = 0; j < p; j++)
			gs += g[j] * s[j];
		for (int ls = 0; ls < 60; ls++, t *= 0.5) {
			double trial[MAXD + 1];

			for (size_t j = 0; j < p; j++)
				trial[j] = v[j] + t * s[j];
			if (primal(pr, trial, 0, FIT_LOSS_SQUARED_HINGE, C) <= f + 1e-4 * t * gs)
				break;
		}
		for (size_t j = 0; j < p; j++)
			v[j] += t * s[j];
	}
}

/* Squared hinge on general data (an intercept far from 0): dcd finds Newton's weights. */
START_TEST(test_newton_reference)
{
	static const double cs[] = { 0.05, 1.0, 20.0 };
	struct prob pr;
	struct sol s;
	double v[MAXD + 1], ref[MAXD + 1];
	size_t d = 6;

	gen(&pr, 48, d, 2, 11 + (uint64_t)_i, 0);
	solve(&pr, FIT_LOSS_SQUARED_HINGE, cs[_i], 1e-12, 1, &s);
	ck_assert_int_eq(s.rc, FITD_OK);
	take_v(&pr, s.w, 0, v);
	newton_reference(&pr, cs[_i], ref);
	ck_assert_double_gt(fabs(ref[d]), 0.05); /* a real intercept */
	ck_assert_msg(max_abs_diff(v, ref, d + 1) <= 1e-8 * max_abs_diff(ref, NULL, d + 1),
		      "C %g: differ by %g", cs[_i], max_abs_diff(v, ref, d + 1));
	free(s.w);
	prob_free(&pr);
}
END_TEST

/* ---- through fit_model_train ---- */

/* A frame of pr's features (x0, x1, ...) and its label as a numeric column y. */
static struct fit_frame *frame_of(const struct prob *pr)
{
	static const char *const names[] = { "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "y" };
	size_t n = pr->data.n, d = pr->data.d;
	double *col = malloc(n * (d + 1) * sizeof(double));
	const char *nm[MAXD + 1];
	struct fit_frame *f;

	for (size_t j = 0; j < d; j++) {
		nm[j] = names[j];
		for (size_t i = 0; i < n; i++)
			col[j * n + i] = pr->data.x[i * pr->data.ld + j];
	}
	nm[d] = names[MAXD];
	for (size_t i = 0; i < n; i++)
		col[d * n + i] = pr->data.label[i];
	f = th_frame_num(n, d + 1, nm, col);
	free(col);
	return f;
}

static struct fit_params svm_params(enum fit_optimizer opt, enum fit_loss loss)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_SVM;
	p.optimizer = opt;
	p.loss = loss;
	p.reg = FIT_REG_L2;
	p.svm_c = 1.0;
	return p;
}

/* The first layer's weights then its bias, as one vector of (nin + 1) * nout. */
static void layer_vector(const struct fit_model *m, double *out)
{
	const struct fit_layer_desc *l = &fit_model_desc(m)->layers[0];

	memcpy(out, l->weights, l->nin * l->nout * sizeof(double));
	memcpy(out + l->nin * l->nout, l->bias, l->nout * sizeof(double));
}

/* A generated problem as a frame for fit_model_train(): ntrain rows train, the rest score. */
struct table {
	struct prob pr;
	struct fit_frame *f;
	size_t *rows, *feat;
	struct fit_problem prob;
};

static void table_new(struct table *t, size_t n, size_t d, size_t classes, uint64_t seed,
		      int mirror, size_t ntrain)
{
	gen(&t->pr, n, d, classes, seed, mirror);
	t->f = frame_of(&t->pr);
	t->rows = th_rows(n);
	t->prob = th_problem(t->f, "y", FIT_TASK_CLASSIFICATION, t->rows, ntrain, t->rows + ntrain,
			     n - ntrain, &t->feat);
}

static void table_free(struct table *t)
{
	free(t->rows);
	free(t->feat);
	fit_frame_free(t->f);
	prob_free(&t->pr);
}

/*
 * The core's newton and lbfgs minimize the same squared hinge with the
 * intercept unpenalized; on mirrored data the best intercept is 0 either
 * way, so all three must land on the same weights.
 */
START_TEST(test_core_optimizers_agree)
{
	static const enum fit_optimizer opts[] = { FIT_OPT_DCD, FIT_OPT_NEWTON, FIT_OPT_LBFGS };
	struct table t;
	size_t d = 5;
	double w[3][MAXD + 1], scale;

	table_new(&t, 200, d, 2, 21, 1, 200);
	for (int o = 0; o < 3; o++) {
		struct fit_params p = svm_params(opts[o], FIT_LOSS_SQUARED_HINGE);
		struct fit_model *m;

		p.tol = opts[o] == FIT_OPT_DCD ? 1e-10 : 1e-12;
		p.epochs = 10000;
		m = th_train(&t.prob, &p);
		ck_assert_uint_eq(fit_model_desc(m)->layers[0].nout, 1);
		layer_vector(m, w[o]);
		fit_model_free(m);
	}
	scale = max_abs_diff(w[1], NULL, d);
	ck_assert_double_le(fabs(w[0][d]), 1e-6 * scale);
	ck_assert_double_le(fabs(w[1][d]), 1e-6 * scale);
	ck_assert_msg(max_abs_diff(w[0], w[1], d + 1) <= 1e-6 * scale, "dcd vs newton: %g",
		      max_abs_diff(w[0], w[1], d + 1));
	ck_assert_msg(max_abs_diff(w[2], w[1], d + 1) <= 1e-5 * scale, "lbfgs vs newton: %g",
		      max_abs_diff(w[2], w[1], d + 1));
	table_free(&t);
}
END_TEST

/* Three classes: output c is the binary problem of class c against the rest. */
START_TEST(test_one_vs_rest)
{
	enum fit_loss loss = _i ? FIT_LOSS_SQUARED_HINGE : FIT_LOSS_HINGE;
	struct prob pr, bin;
	struct sol all, one;
	size_t n = 90, d = 4, ld;

	gen(&pr, n, d, 3, 31, 0);
	ld = pr.data.ld;
	solve(&pr, loss, 1.0, 1e-11, 1, &all);
	ck_assert_int_eq(all.rc, FITD_OK);
	bin = pr;
	bin.k = 1;
	bin.data.label = malloc(n * sizeof(int32_t));
	for (size_t c = 0; c < 3; c++) {
		double v[MAXD + 1], vb[MAXD + 1];

		for (size_t i = 0; i < n; i++)
			bin.data.label[i] = pr.data.label[i] == (int32_t)c;
		solve(&bin, loss, 1.0, 1e-11, 1, &one);
		ck_assert_int_eq(one.rc, FITD_OK);
		take_v(&pr, all.w, c, v);
		take_v(&bin, one.w, 0, vb);
		ck_assert_msg(max_abs_diff(v, vb, d + 1) <= 1e-7 * max_abs_diff(vb, NULL, d + 1),
			      "class %zu differs by %g", c, max_abs_diff(v, vb, d + 1));
		for (size_t j = d; j < ld; j++)
			ck_assert_double_eq(all.w[c * ld + j], 0.0); /* padding stays zero */
		free(one.w);
	}
	free(bin.data.label);
	free(all.w);
	prob_free(&pr);
}
END_TEST

/*
 * Iris through fit_model_train(): one layer of 3 outputs, the predicted
 * class is the largest decision value of the layer as stored, and a model
 * rebuilt from its description predicts the same.
 */
START_TEST(test_model_layout)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t n = f->nrows, *rows = th_rows(n), *feat, hits = 0;
	struct fit_problem prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, rows, n, NULL,
					     0, &feat);
	struct fit_params p = svm_params(FIT_OPT_DCD, _i ? FIT_LOSS_HINGE : FIT_LOSS_SQUARED_HINGE);
	struct fit_model *m, *again = NULL;
	const struct fit_model_desc *d;
	const struct fit_layer_desc *l;
	double *v1 = malloc(n * 3 * sizeof(double)), *v2 = malloc(n * 3 * sizeof(double));
	int32_t *lab = malloc(n * sizeof(int32_t));
	struct fitd_error err = { 0 };
	size_t target = th_col(f, "species");

	p.epochs = 1000; /* liblinear's cap: the hinge needs some 700 iterations at tol 1e-4 */
	m = th_train(&prob, &p);
	d = fit_model_desc(m);
	l = &d->layers[0];
	ck_assert_uint_eq(d->nlayers, 1);
	ck_assert_uint_eq(l->nin, 4);
	ck_assert_uint_eq(l->nout, 3);
	ck_assert_int_eq(d->params.optimizer, FIT_OPT_DCD);
	ck_assert(d->report.converged);
	ck_assert_int_eq(fit_model_predict(m, f, NULL, n, 1, v1, lab, &err), FITD_OK);
	for (size_t i = 0; i < n; i++) {
		double best = -INFINITY;
		int32_t arg = -1;

		for (size_t c = 0; c < 3; c++) {
			double z = l->bias[c];

			for (size_t j = 0, col = 0; j < 4; j++, col++) {
				col += col == target;
				z += l->weights[c * 4 + j] *
				     (f->cols[col].num[i] - d->columns[j].center) /
				     d->columns[j].scale;
			}
			if (z > best) {
				best = z;
				arg = (int32_t)c;
			}
		}
		ck_assert_int_eq(lab[i], arg);
		hits += lab[i] == f->cols[target].cat[i];
	}
	ck_assert_uint_ge(hits, 135); /* 90% of the rows it learned from */
	ck_assert_int_eq(fit_model_rebuild(d, &again, &err), FITD_OK);
	ck_assert_int_eq(fit_model_predict(again, f, NULL, n, 1, v2, NULL, &err), FITD_OK);
	ck_assert_mem_eq(v1, v2, n * 3 * sizeof(double));
	fit_model_free(again);
	fit_model_free(m);
	free(v1);
	free(v2);
	free(lab);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/* A fit of t with threads threads, seed 3. */
static struct fit_model *fit_threads(const struct table *t, enum fit_loss loss, int threads)
{
	struct fit_params p = svm_params(FIT_OPT_DCD, loss);

	p.threads = threads;
	p.seed = 3;
	return th_train(&t->prob, &p);
}

/* The same weights and report, bit for bit, with 1, 2 and 3 threads (several row blocks). */
START_TEST(test_threads_bitwise)
{
	size_t classes = _i ? 2 : 4;
	enum fit_loss loss = _i ? FIT_LOSS_SQUARED_HINGE : FIT_LOSS_HINGE;
	struct table tb;
	struct fit_model *m[3];
	size_t dim;
	double *w[3];

	table_new(&tb, 6000, 6, classes, 41, 0, 4800);
	for (int t = 0; t < 3; t++) {
		const struct fit_layer_desc *l;

		m[t] = fit_threads(&tb, loss, t + 1);
		l = &fit_model_desc(m[t])->layers[0];
		dim = (l->nin + 1) * l->nout;
		w[t] = malloc(dim * sizeof(double));
		layer_vector(m[t], w[t]);
	}
	for (int t = 1; t < 3; t++) {
		const struct fit_report *a = &fit_model_desc(m[0])->report;
		const struct fit_report *b = &fit_model_desc(m[t])->report;

		ck_assert_mem_eq(w[0], w[t], dim * sizeof(double));
		ck_assert_uint_eq(a->epochs, b->epochs);
		ck_assert_mem_eq(&a->train_loss, &b->train_loss, sizeof(double));
		ck_assert_mem_eq(&a->valid_score, &b->valid_score, sizeof(double));
		ck_assert_uint_eq(a->passes, b->passes);
	}
	ck_assert(isfinite(fit_model_desc(m[0])->report.valid_score));
	for (int t = 0; t < 3; t++) {
		fit_model_free(m[t]);
		free(w[t]);
	}
	table_free(&tb);
}
END_TEST

/* C and the penalty 1 / (C n) are one strength. */
START_TEST(test_c_is_the_penalty)
{
	struct table t;
	struct fit_params p = svm_params(FIT_OPT_DCD, FIT_LOSS_HINGE);
	struct fit_model *a, *b;
	double wa[MAXD + 1], wb[MAXD + 1];

	table_new(&t, 300, 5, 2, 51, 0, 300);
	p.svm_c = 2.5;
	p.tol = 1e-9;
	p.epochs = 10000;
	a = th_train(&t.prob, &p);
	p.svm_c = 0.0;
	p.penalty = 1.0 / (2.5 * 300.0);
	b = th_train(&t.prob, &p);
	layer_vector(a, wa);
	layer_vector(b, wb);
	ck_assert_double_le(max_abs_diff(wa, wb, 6), 1e-9 * max_abs_diff(wa, NULL, 6));
	fit_model_free(a);
	fit_model_free(b);
	table_free(&t);
}
END_TEST

struct watch {
	unsigned polls, stop_at; /* abort from poll stop_at on (0: never) */
	unsigned calls, last_epoch;
	double last_loss;
	int bad;
};

static int on_abort(void *data)
{
	struct watch *w = data;

	return w->stop_at > 0 && ++w->polls >= w->stop_at;
}

static void on_progress(void *data, const struct fit_progress *pr)
{
	struct watch *w = data;

	w->bad |= pr->epoch != w->last_epoch + 1 || !isfinite(pr->train_loss) ||
		  !isfinite(pr->valid_score);
	w->last_epoch = pr->epoch;
	w->last_loss = pr->train_loss;
	w->calls++;
}

/* A fit of 4 classes cancelled at its first poll and later: FITD_ECANCELLED, no model. */
START_TEST(test_cancel)
{
	static const unsigned at[] = { 1, 7, 40 };
	struct table t;
	struct fit_params p = svm_params(FIT_OPT_DCD, FIT_LOSS_HINGE);
	struct watch w = { 0 };
	struct fit_callbacks cb = { on_abort, on_progress, &w };
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };

	table_new(&t, 5000, 6, 4, 61, 0, 5000);
	p.threads = 1 + _i % 2;
	p.tol = 0.0; /* never done by itself */
	w.stop_at = at[_i / 2];
	ck_assert_int_eq(fit_model_train(&t.prob, &p, &cb, &m, &err), FITD_ECANCELLED);
	ck_assert_ptr_null(m);
	ck_assert_str_ne(err.message, "");
	ck_assert_uint_eq(w.polls, w.stop_at); /* stopped at the poll that said so */
	table_free(&t);
}
END_TEST

/*
 * One progress call per iteration, 1, 2, 3 ..., with the train loss and the
 * validation score; epochs caps the iterations; a loose tol converges early.
 */
START_TEST(test_progress)
{
	struct table t;
	struct fit_params p = svm_params(FIT_OPT_DCD, FIT_LOSS_SQUARED_HINGE);
	struct watch w = { 0 };
	struct fit_callbacks cb = { on_abort, on_progress, &w };
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };
	const struct fit_report *rep;

	table_new(&t, 400, 5, 3, 71, 0, 300);
	p.tol = 0.0;
	p.epochs = 5;
	ck_assert_int_eq(fit_model_train(&t.prob, &p, &cb, &m, &err), FITD_OK);
	rep = &fit_model_desc(m)->report;
	ck_assert(!w.bad);
	ck_assert_uint_eq(w.calls, 5);
	ck_assert_uint_eq(rep->epochs, 5);
	ck_assert_uint_eq(rep->best_epoch, 5);
	ck_assert(!rep->converged);
	ck_assert_double_eq(rep->train_loss, w.last_loss);
	ck_assert_uint_ge(rep->passes, 5);
	fit_model_free(m);
	memset(&w, 0, sizeof(w));
	p.tol = 0.1; /* liblinear's own default */
	p.epochs = 1000;
	ck_assert_int_eq(fit_model_train(&t.prob, &p, &cb, &m, &err), FITD_OK);
	rep = &fit_model_desc(m)->report;
	ck_assert(rep->converged);
	ck_assert_uint_lt(rep->epochs, 1000);
	ck_assert_uint_eq(w.calls, rep->epochs);
	fit_model_free(m);
	table_free(&t);
}
END_TEST

/*
 * The memory plan: dcd lays out its duals, row orders and Q's diagonal (16
 * bytes per row and class and 8 per row), and the estimate covers a fit
 * with every row training: the design matrix and that layout.
 */
START_TEST(test_memory_plan)
{
	struct fit_params p = svm_params(FIT_OPT_DCD, FIT_LOSS_HINGE);
	struct fit__arena a = { 0 };
	size_t n = 100000, k = 10, bytes;

	fit__dcd_layout(&a, n, k);
	ck_assert(!a.overflow);
	ck_assert_uint_ge(a.used, n * k * 16 + n * 8);
	ck_assert_int_eq(fit_memory_estimate(n, 10, k, &p, &bytes), FITD_OK);
	ck_assert_uint_ge(bytes, n * 16 * sizeof(float) + a.used);
	a = (struct fit__arena){ 0 };
	fit__dcd_layout(&a, SIZE_MAX / 4, k);
	ck_assert(a.overflow);
	ck_assert_int_eq(fit_memory_estimate(SIZE_MAX / 4, 10, k, &p, &bytes), FITD_ETOOBIG);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_svm_dcd");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_optimum, 0, sizeof(optima) / sizeof(optima[0]));
	tcase_add_loop_test(tc, test_newton_reference, 0, 3);
	tcase_add_test(tc, test_core_optimizers_agree);
	tcase_add_loop_test(tc, test_one_vs_rest, 0, 2);
	tcase_add_loop_test(tc, test_model_layout, 0, 2);
	tcase_add_loop_test(tc, test_threads_bitwise, 0, 2);
	tcase_add_test(tc, test_c_is_the_penalty);
	tcase_add_loop_test(tc, test_cancel, 0, 6);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_memory_plan);
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

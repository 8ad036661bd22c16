/*
 * test_linear.c - linear regression end to end: the closed-form OLS solution,
 * the seed example, robust losses, exact L1 zeros, divergence, a target too
 * large to square, cancellation, early stopping, progress, thread-count
 * determinism, rebuilding a model, the memory estimate and the big working
 * buffers kept between fits.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/explain.h"
#include "worker/fit/internal.h"
#include "worker/fit/model.h"

static uint64_t rng_state;

static double urand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double nrand(void)
{
	double u = urand() + 1e-300, v = urand();

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* n rows of d features x_j ~ N(j, 1 + j) and y = 3 + sum beta_j x_j + noise. */
static struct fit_frame *make_regression(size_t n, size_t d, const double *beta, double noise,
					 uint64_t seed)
{
	static const char *names[] = { "x0", "x1", "x2", "x3", "x4", "x5",
				       "x6", "x7", "x8", "x9", "y" };
	double *data = calloc(n * (d + 1), sizeof(double));
	struct fit_frame *f;

	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		double y = 3.0;

		for (size_t j = 0; j < d; j++) {
			double x = (double)j + (1.0 + (double)j) * nrand();

			data[j * n + i] = x;
			y += beta[j] * x;
		}
		data[d * n + i] = y + noise * nrand();
	}
	names[d] = "y";
	f = th_frame_num(n, d + 1, names, data);
	free(data);
	return f;
}

/* Solves the normal equations of [1 X] b = y by Gaussian elimination. */
static void ols(const struct fit_frame *f, size_t d, double *b)
{
	double a[12][13] = { { 0 } };
	size_t n = f->nrows, m = d + 1;

	for (size_t i = 0; i < n; i++) {
		double row[12];

		row[0] = 1.0;
		for (size_t j = 0; j < d; j++)
			row[j + 1] = f->cols[j].num[i];
		for (size_t r = 0; r < m; r++) {
			for (size_t c = 0; c < m; c++)
				a[r][c] += row[r] * row[c];
			a[r][m] += row[r] * f->cols[d].num[i];
		}
	}
	for (size_t p = 0; p < m; p++)
		for (size_t r = p + 1; r < m; r++) {
			double q = a[r][p] / a[p][p];

			for (size_t c = p; c <= m; c++)
				a[r][c] -= q * a[p][c];
		}
	for (size_t r = m; r-- > 0;) {
		double s = a[r][m];

		for (size_t c = r + 1; c < m; c++)
			s -= a[r][c] * b[c];
		b[r] = s / a[r][r];
	}
}

static struct fit_params linear_params(enum fit_optimizer opt)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_LINEAR;
	p.optimizer = opt;
	p.reg = FIT_REG_NONE;
	p.tol = 1e-10;
	return p;
}

/* Coefficients in original units: b[0] intercept, b[1..d] slopes. */
static void coefs(const struct fit_model *m, double *b)
{
	struct fit_coefs *c = NULL;

	ck_assert_int_eq(fit_explain_coefficients(m, &c, NULL), 0);
	b[0] = c->intercept[0];
	for (size_t i = 0; i < c->n; i++)
		b[1 + i] = c->coef[i].original;
	fit_coefs_free(c);
}

START_TEST(test_ols_closed_form)
{
	static const double beta[5] = { 1.5, -2.0, 0.25, 0.0, 3.0 };
	static const enum fit_optimizer opts[] = { FIT_OPT_NEWTON, FIT_OPT_LBFGS, FIT_OPT_GD };
	struct fit_frame *f = make_regression(300, 5, beta, 0.5, 1);
	size_t *rows = th_rows(300), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 300, NULL, 0,
					     &feat);
	double want[6], got[6];

	ols(f, 5, want);
	for (size_t k = 0; k < 3; k++) {
		struct fit_params p = linear_params(opts[k]);
		struct fit_model *m;

		p.learning_rate = 0.5;
		p.epochs = opts[k] == FIT_OPT_GD ? 3000 : 200;
		m = th_train(&prob, &p);
		coefs(m, got);
		for (size_t j = 0; j < 6; j++)
			ck_assert_msg(fabs(got[j] - want[j]) < 1e-5 * (1.0 + fabs(want[j])),
				      "%s coef %zu: %.10g vs %.10g", fit_optimizer_name(opts[k]), j,
				      got[j], want[j]);
		fit_model_free(m);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_seed_example)
{
	struct fit_frame *f = th_csv("seed_linear.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, f->nrows, NULL, 0,
					     &feat);
	struct fit_params p = linear_params(FIT_OPT_SGD);
	struct fit_model *m;
	double b[2];

	p.learning_rate = 0.01;
	p.batch_size = 32;
	p.epochs = 1000;
	m = th_train(&prob, &p);
	coefs(m, b);
	/* numpy.polyfit on the file gives slope 1.98693, intercept 0.99925 */
	ck_assert_msg(fabs(b[1] - 2.0) < 0.05 && fabs(b[1] - 1.98693) < 0.01, "slope %g", b[1]);
	ck_assert_msg(fabs(b[0] - 1.0) < 0.05 && fabs(b[0] - 0.99925) < 0.01, "intercept %g", b[0]);
	ck_assert_uint_eq(fit_model_desc(m)->report.epochs, 1000);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_robust_losses)
{
	static const double beta[1] = { 2.0 };
	struct fit_frame *f = make_regression(400, 1, beta, 0.1, 7);
	size_t *rows = th_rows(400), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 400, NULL, 0,
					     &feat);
	double *y = (double *)f->cols[1].num, slope[3];
	static const enum fit_loss losses[] = { FIT_LOSS_SQUARED, FIT_LOSS_HUBER,
						FIT_LOSS_ABSOLUTE };

	for (size_t i = 0; i < 400; i += 10)
		y[i] += 60.0; /* outliers on one side */
	for (size_t k = 0; k < 3; k++) {
		struct fit_params p = linear_params(FIT_OPT_ADAM);
		struct fit_model *m;
		double b[2];

		p.loss = losses[k];
		p.learning_rate = 0.01;
		p.epochs = 300;
		p.lr_decay = 0.05;
		p.huber_delta = 0.05;
		m = th_train(&prob, &p);
		coefs(m, b);
		slope[k] = b[1];
		fit_model_free(m);
	}
	ck_assert_msg(fabs(slope[1] - 2.0) < 0.1 && fabs(slope[2] - 2.0) < 0.1,
		      "huber %g absolute %g", slope[1], slope[2]);
	ck_assert_msg(fabs(slope[1] - 2.0) < fabs(slope[0] - 2.0), "squared %g", slope[0]);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_l1_exact_zeros)
{
	static const double beta[8] = { 2.0, 0.0, 0.0, -1.5, 0.0, 0.0, 0.0, 0.0 };
	static const enum fit_optimizer opts[] = { FIT_OPT_GD, FIT_OPT_SGD, FIT_OPT_MOMENTUM,
						   FIT_OPT_ADAM };
	struct fit_frame *f = make_regression(500, 8, beta, 1.0, 3);
	size_t *rows = th_rows(500), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 500, NULL, 0,
					     &feat);

	for (size_t k = 0; k < 4; k++) {
		for (int en = 0; en < 2; en++) {
			struct fit_params p = linear_params(opts[k]);
			const struct fit_layer_desc *L;
			struct fit_model *m;
			size_t zeros = 0;

			p.reg = en ? FIT_REG_ELASTICNET : FIT_REG_L1;
			p.l1_ratio = 0.9;
			p.penalty = 0.05;
			p.learning_rate = opts[k] == FIT_OPT_ADAM ? 0.01 : 0.05;
			p.epochs = 200;
			m = th_train(&prob, &p);
			L = &fit_model_desc(m)->layers[0];
			for (size_t j = 0; j < 8; j++)
				zeros += L->weights[j] == 0.0;
			ck_assert_msg(L->weights[0] != 0.0 && L->weights[3] != 0.0,
				      "%s: a real feature was zeroed", fit_optimizer_name(opts[k]));
			ck_assert_msg(zeros == 6, "%s %s: %zu exact zeros, want 6",
				      fit_optimizer_name(opts[k]), en ? "elasticnet" : "l1", zeros);
			ck_assert(L->bias[0] != 0.0); /* the intercept is not penalized */
			fit_model_free(m);
		}
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_divergence_reported)
{
	static const double beta[3] = { 1.0, 2.0, 3.0 };
	struct fit_frame *f = make_regression(200, 3, beta, 0.1, 11);
	size_t *rows = th_rows(200), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 200, NULL, 0,
					     &feat);
	static const enum fit_optimizer opts[] = { FIT_OPT_GD, FIT_OPT_SGD, FIT_OPT_MOMENTUM };

	for (size_t k = 0; k < 3; k++) {
		struct fit_params p = linear_params(opts[k]);
		struct fitd_error err = { 0 };
		struct fit_model *m = (struct fit_model *)&err;

		p.learning_rate = 1e3;
		p.epochs = 500;
		ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EDIVERGED);
		ck_assert_ptr_null(m);
		ck_assert_str_eq(err.code, "diverged");
		ck_assert_msg(strstr(err.message, "learning rate") != NULL, "%s", err.message);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/*
 * A target whose squared deviations pass the largest double is refused by
 * name; its scale was taken as 1 and every fit diverged on it.
 */
START_TEST(test_huge_target_refused)
{
	static const char *names[] = { "x", "y" };
	double data[2 * 50];
	size_t *rows = th_rows(50), feat = 0;
	struct fit_params p = linear_params(FIT_OPT_LBFGS);
	struct fit_problem prob = { NULL, 1, &feat, 1, rows, 50, NULL, 0, FIT_TASK_REGRESSION };
	struct fitd_error err = { 0 };
	struct fit_model *m = NULL;
	struct fit_frame *f;

	for (size_t i = 0; i < 50; i++) {
		data[i] = (double)i;
		data[50 + i] = 1e160 * (double)i;
	}
	f = th_frame_num(50, 2, names, data);
	prob.frame = f;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EUNPROCESSABLE);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err.code, "bad_target");
	ck_assert_msg(strstr(err.message, "too large") != NULL, "%s", err.message);
	fit_frame_free(f);
	for (size_t i = 0; i < 50; i++)
		data[50 + i] = 1e150 * (double)i; /* large, but it squares */
	f = th_frame_num(50, 2, names, data);
	prob.frame = f;
	m = th_train(&prob, &p);
	fit_model_free(m);
	fit_frame_free(f);
	free(rows);
}
END_TEST

struct counter {
	unsigned polls, stop_after, progress, last_epoch;
};

static int count_abort(void *data)
{
	struct counter *c = data;

	return ++c->polls > c->stop_after;
}

static void count_progress(void *data, const struct fit_progress *p)
{
	struct counter *c = data;

	ck_assert_uint_eq(p->epoch, c->last_epoch + 1);
	c->last_epoch = p->epoch;
	c->progress++;
}

START_TEST(test_cancel_and_progress)
{
	static const double beta[2] = { 1.0, -1.0 };
	struct fit_frame *f = make_regression(10000, 2, beta, 0.1, 5);
	size_t *rows = th_rows(10000), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 10000, NULL, 0,
					     &feat);
	static const enum fit_optimizer opts[] = { FIT_OPT_GD, FIT_OPT_SGD, FIT_OPT_LBFGS,
						   FIT_OPT_NEWTON };

	for (size_t k = 0; k < 4; k++) {
		struct fit_params p = linear_params(opts[k]);
		struct counter c = { 0, 1000000, 0, 0 };
		struct fit_callbacks cb = { count_abort, count_progress, &c };
		struct fitd_error err = { 0 };
		struct fit_model *m = NULL;

		p.epochs = 20;
		p.tol = 0.0;
		p.learning_rate = 0.001;
		p.threads = 2;
		ck_assert_int_eq(fit_model_train(&prob, &p, &cb, &m, &err), 0);
		ck_assert_uint_ge(c.polls, c.progress); /* at least once per epoch */
		if (opts[k] == FIT_OPT_SGD) /* 10000 rows per epoch: every 4096 rows too */
			ck_assert_uint_ge(c.polls, 2 * c.progress);
		ck_assert_uint_eq(c.progress, fit_model_desc(m)->report.epochs);
		fit_model_free(m);
		/* Now stop partway through. */
		c = (struct counter){ 0, 3, 0, 0 };
		ck_assert_int_eq(fit_model_train(&prob, &p, &cb, &m, &err), FITD_ECANCELLED);
		ck_assert_ptr_null(m);
		ck_assert_str_eq(err.code, "cancelled");
		ck_assert_uint_le(c.polls, 5);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_early_stopping)
{
	static const double beta[6] = { 1.0, 0.5, 0.0, 0.0, 0.0, 0.0 };
	struct fit_frame *f = make_regression(60, 6, beta, 3.0, 9);
	size_t train[30], valid[30], *feat;
	struct fit_problem prob;
	struct fit_params p = linear_params(FIT_OPT_ADAM);
	struct fit_model *m;
	const struct fit_report *r;
	double score;

	for (size_t i = 0; i < 30; i++) {
		train[i] = 2 * i;
		valid[i] = 2 * i + 1;
	}
	prob = th_problem(f, "y", FIT_TASK_REGRESSION, train, 30, valid, 30, &feat);
	p.learning_rate = 0.05;
	p.epochs = 2000;
	p.patience = 10;
	p.batch_size = 4;
	m = th_train(&prob, &p);
	r = &fit_model_desc(m)->report;
	ck_assert_int_eq(r->stopped_early, 1);
	ck_assert_uint_lt(r->epochs, 2000);
	ck_assert_uint_eq(r->best_epoch + 10, r->epochs);
	/* The model kept is the best epoch's: scoring it again gives that score exactly. */
	ck_assert_int_eq(fit_model_score(m, f, valid, 30, FIT_METRIC_RMSE, 1, &score, NULL), 0);
	ck_assert_msg(score == r->valid_score, "%.17g vs %.17g", score, r->valid_score);
	fit_model_free(m);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_threads_bit_identical)
{
	static const double beta[10] = { 1, -2, 3, 0.5, 0, 0, 1, 1, -1, 0.1 };
	static const enum fit_optimizer opts[] = { FIT_OPT_GD,	 FIT_OPT_SGD,	FIT_OPT_MOMENTUM,
						   FIT_OPT_ADAM, FIT_OPT_LBFGS, FIT_OPT_NEWTON };
	struct fit_frame *f = make_regression(9000, 10, beta, 1.0, 13);
	size_t *rows = th_rows(9000), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 8000, rows + 8000,
					     1000, &feat);

	for (size_t k = 0; k < 6; k++) {
		double w[3][11];

		for (int t = 0; t < 3; t++) {
			struct fit_params p = linear_params(opts[k]);
			const struct fit_layer_desc *L;
			struct fit_model *m;

			p.threads = 1 << t;
			p.epochs = 5;
			p.batch_size = opts[k] == FIT_OPT_SGD ? 5000 : 64;
			p.reg = FIT_REG_L2;
			p.penalty = 1e-3;
			p.learning_rate = 0.01;
			m = th_train(&prob, &p);
			L = &fit_model_desc(m)->layers[0];
			memcpy(w[t], L->weights, 10 * sizeof(double));
			w[t][10] = L->bias[0];
			fit_model_free(m);
		}
		ck_assert_msg(memcmp(w[0], w[1], sizeof(w[0])) == 0 &&
				  memcmp(w[0], w[2], sizeof(w[0])) == 0,
			      "%s differs across 1, 2, 4 threads", fit_optimizer_name(opts[k]));
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_rebuild_predicts_identically)
{
	static const double beta[4] = { 1, 2, 3, 4 };
	struct fit_frame *f = make_regression(500, 4, beta, 1.0, 17);
	size_t *rows = th_rows(500), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 400, rows + 400,
					     100, &feat);
	struct fit_params p = linear_params(FIT_OPT_ADAM);
	struct fit_model *m, *again = NULL;
	double a[500], b[500];

	p.epochs = 20;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_model_rebuild(fit_model_desc(m), &again, NULL), 0);
	ck_assert_int_eq(fit_model_predict(m, f, NULL, 500, 1, a, NULL, NULL), 0);
	ck_assert_int_eq(fit_model_predict(again, f, NULL, 500, 2, b, NULL, NULL), 0);
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	ck_assert_str_eq(fit_model_desc(again)->target, "y");
	/* A single row predicts as it does among others. */
	ck_assert_int_eq(fit_model_predict(again, f, rows + 123, 1, 1, b, NULL, NULL), 0);
	ck_assert(memcmp(&a[123], &b[0], sizeof(double)) == 0);
	fit_model_free(m);
	fit_model_free(again);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_rebuild_rejects_bad_desc)
{
	static const double beta[2] = { 1, 2 };
	struct fit_frame *f = make_regression(100, 2, beta, 1.0, 19);
	size_t *rows = th_rows(100), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 100, NULL, 0,
					     &feat);
	struct fit_params p = linear_params(FIT_OPT_NEWTON);
	struct fit_model *m = th_train(&prob, &p), *again = NULL;
	struct fit_model_desc d = *fit_model_desc(m);
	struct fit_layer_desc layer = d.layers[0];
	struct fit_prep_column cols[2];
	double w[2] = { NAN, 1.0 };
	struct fitd_error err = { 0 };

	layer.nin = 3;
	d.layers = &layer;
	ck_assert_int_eq(fit_model_rebuild(&d, &again, &err), FITD_EFORMAT);
	layer.nin = 2;
	layer.weights = w;
	ck_assert_int_eq(fit_model_rebuild(&d, &again, &err), FITD_EFORMAT);
	d = *fit_model_desc(m);
	memcpy(cols, d.columns, sizeof(cols));
	cols[1].scale = 0.0;
	d.columns = cols;
	ck_assert_int_eq(fit_model_rebuild(&d, &again, &err), FITD_EFORMAT);
	ck_assert_ptr_null(again);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_memory_estimate)
{
	struct fit_params p;
	size_t a, b, c;

	fit_params_init(&p);
	ck_assert_int_eq(fit_memory_estimate(1000, 10, 2, &p, &a), 0);
	ck_assert_int_eq(fit_memory_estimate(100000, 10, 2, &p, &b), 0);
	ck_assert_uint_gt(b, a);
	ck_assert_uint_ge(b, 100000 * 16 * 4); /* at least the float32 design matrix */
	p.model = FIT_MODEL_MLP;
	p.hidden_units[0] = 256;
	ck_assert_int_eq(fit_memory_estimate(100000, 10, 2, &p, &c), 0);
	ck_assert_uint_gt(c, b);
	ck_assert_int_eq(fit_memory_estimate(SIZE_MAX / 2, 1000, 2, &p, &c), FITD_ETOOBIG);
	ck_assert_int_eq(fit_memory_estimate(1000, SIZE_MAX / 8, 2, &p, &c), FITD_ETOOBIG);
}
END_TEST

/*
 * A big buffer freed with fit__free() is kept for the next allocation of
 * its size (in 2 MiB steps) and handed out again; another size gives the
 * kept ones back first; at most four are kept, small ones never; a fit
 * keeps its working memory, and fit_buffers_trim() gives everything back.
 */
START_TEST(test_kept_buffers)
{
	static const double beta[10] = { 1.0 };
	size_t n = ((size_t)10 << 20) - 4096, one, *rows = th_rows(250000), *feat;
	struct fit_frame *f;
	struct fit_problem prob;
	struct fit_params p = linear_params(FIT_OPT_NEWTON);
	void *a, *b[6], *s;

	fit_buffers_trim();
	ck_assert_uint_eq(fit_buffers_kept(), 0);
	a = fit__alloc(n);
	memset(a, 1, n);
	fit__free(a, n);
	one = fit_buffers_kept();
	ck_assert_uint_ge(one, n);
	ck_assert_uint_le(one, n + ((size_t)2 << 20));
	s = fit__alloc(n - 100000);
	ck_assert_ptr_eq(s, a);
	ck_assert_uint_eq(fit_buffers_kept(), 0);
	fit__free(s, n - 100000);
	a = fit__alloc(3 * n);
	ck_assert_uint_eq(fit_buffers_kept(), 0);
	fit__free(a, 3 * n);
	ck_assert_uint_ge(fit_buffers_kept(), 3 * n);
	for (size_t i = 0; i < 6; i++)
		b[i] = fit__alloc(n);
	ck_assert_uint_eq(fit_buffers_kept(), 0);
	for (size_t i = 0; i < 6; i++)
		fit__free(b[i], n);
	ck_assert_uint_eq(fit_buffers_kept(), 4 * one);
	s = fit__alloc(1000);
	fit__free(s, 1000);
	ck_assert_uint_eq(fit_buffers_kept(), 4 * one);
	fit_buffers_trim();
	ck_assert_uint_eq(fit_buffers_kept(), 0);

	/* 250,000 x 10 floats: the fit's working memory is over 8 MiB. */
	f = make_regression(250000, 10, beta, 0.5, 3);
	prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 250000, NULL, 0, &feat);
	fit_model_free(th_train(&prob, &p));
	ck_assert_uint_ge(fit_buffers_kept(), (size_t)250000 * 10 * sizeof(float));
	fit_buffers_trim();
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_linear");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_ols_closed_form);
	tcase_add_test(tc, test_seed_example);
	tcase_add_test(tc, test_robust_losses);
	tcase_add_test(tc, test_l1_exact_zeros);
	tcase_add_test(tc, test_divergence_reported);
	tcase_add_test(tc, test_huge_target_refused);
	tcase_add_test(tc, test_cancel_and_progress);
	tcase_add_test(tc, test_early_stopping);
	tcase_add_test(tc, test_threads_bit_identical);
	tcase_add_test(tc, test_rebuild_predicts_identically);
	tcase_add_test(tc, test_rebuild_rejects_bad_desc);
	tcase_add_test(tc, test_memory_estimate);
	tcase_add_test(tc, test_kept_buffers);
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

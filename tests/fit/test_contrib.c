/*
 * test_contrib.c - per-row contributions (fit_model_contributions()) of
 * every family: they sum to the margin to 1e-9 (linear, logistic, svm,
 * mlp, gbdt; regression in target units); a linear model's equal the
 * closed form coefficient * (value - training mean), a categorical
 * column's the sum over its levels; a network's are exact Shapley values on
 * four columns or fewer, give 0 to a column the network ignores and equal
 * shares (to float32 rounding) to two columns it treats alike; and results repeat exactly,
 * whatever the threads.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/explain.h"

static struct fit_params params_for(enum fit_model_kind kind)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = kind;
	p.optimizer = kind == FIT_MODEL_MLP ? FIT_OPT_ADAM : FIT_OPT_LBFGS;
	p.epochs = kind == FIT_MODEL_MLP ? 30 : 100;
	p.hidden_units[0] = 16;
	p.gbdt.trees = 40;
	p.gbdt.max_leaves = 8;
	p.gbdt.min_leaf_rows = 5;
	return p;
}

/* Contributions of every row of f, checked to sum to the margins; the caller frees them. */
static double *sums_to_margins(const struct fit_model *m, const struct fit_frame *f)
{
	size_t n = f->nrows, k = fit_model_nmargins(m), w = fit_model_desc(m)->ncolumns + 1;
	double *c = malloc(n * k * w * sizeof(double)), *z = malloc(n * k * sizeof(double));
	struct fitd_error err = { 0 };

	ck_assert_msg(fit_model_contributions(m, f, NULL, n, 1, c, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_int_eq(fit_model_margins(m, f, NULL, n, 1, z, NULL), 0);
	for (size_t i = 0; i < n * k; i++) {
		double s = 0;

		for (size_t j = 0; j < w; j++)
			s += c[i * w + j];
		ck_assert_msg(fabs(s - z[i]) < 1e-9, "row %zu output %zu: %.17g vs %.17g", i / k,
			      i % k, s, z[i]);
	}
	free(z);
	return c;
}

/* Every family on every task it does sums to its margins; threads change nothing. */
START_TEST(test_sums_every_family)
{
	static const struct {
		enum fit_model_kind kind;
		const char *file, *target;
		enum fit_task task;
	} cases[] = {
		{ FIT_MODEL_LINEAR, "diabetes.csv", "progression", FIT_TASK_REGRESSION },
		{ FIT_MODEL_LOGISTIC, "iris.csv", "species", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_LOGISTIC, "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_SVM, "wine.csv", "cultivar", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_MLP, "iris.csv", "species", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_MLP, "diabetes.csv", "progression", FIT_TASK_REGRESSION },
		{ FIT_MODEL_GBDT, "iris.csv", "species", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_GBDT, "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION },
		{ FIT_MODEL_GBDT, "diabetes.csv", "progression", FIT_TASK_REGRESSION },
	};
	struct fit_frame *f = th_csv(cases[_i].file);
	size_t *rows = th_rows(f->nrows), *feat, n = f->nrows;
	struct fit_problem prob = th_problem(f, cases[_i].target, cases[_i].task, rows, n, NULL, 0,
					     &feat);
	struct fit_params p = params_for(cases[_i].kind);
	struct fit_model *m = th_train(&prob, &p);
	size_t total = n * fit_model_nmargins(m) * (fit_model_desc(m)->ncolumns + 1);
	double *c = sums_to_margins(m, f), *again = malloc(total * sizeof(double));

	ck_assert_int_eq(fit_model_contributions(m, f, NULL, n, 3, again, NULL), 0);
	ck_assert_int_eq(memcmp(c, again, total * sizeof(double)), 0);
	free(again);
	free(c);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/*
 * A linear regression on two numeric columns and a categorical one: the
 * contributions are the closed form, coefficient in original units times
 * the distance from the training mean, and for the categorical column the
 * sum over its levels of coefficient times (indicator - share of training
 * rows with the level); the bias the prediction at the means.
 */
START_TEST(test_linear_closed_form)
{
	enum {
		N = 120
	};
	static const char *const lv[] = { "a", "b", "c" };
	struct fit_frame_builder *b = NULL;
	struct fit_frame *f = NULL;
	size_t *rows = th_rows(N), feat[3] = { 0, 1, 2 };
	struct fit_problem prob = { NULL, 3, feat, 3, rows, N, NULL, 0, FIT_TASK_REGRESSION };
	struct fit_params p = params_for(FIT_MODEL_LINEAR);
	struct fit_coefs *coefs = NULL;
	double share[3] = { 0 }, mean[2] = { 0 }, *c;
	struct fit_model *m;

	ck_assert_int_eq(fit_frame_builder_new(N, 4, &b), 0);
	fit_frame_builder_column(b, 0, "u", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 1, "v", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "g", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 3, "y", FIT_COL_NUMERIC);
	for (size_t i = 0; i < N; i++) {
		double u = (double)(i % 13), v = (double)((i * 7) % 11) / 3.0;
		size_t g = i % 6 == 0 ? 0 : i % 6 < 3 ? 1 : 2; /* shares 1/6, 1/3, 1/2 */

		fit_frame_builder_set_num(b, 0, i, u);
		fit_frame_builder_set_num(b, 1, i, v);
		fit_frame_builder_set_cat(b, 2, i, lv[g], 1);
		fit_frame_builder_set_num(b, 3, i, 2 * u - v + 3.0 * (double)g + 0.1 * (i % 4));
		mean[0] += u / N;
		mean[1] += v / N;
		share[g] += 1.0 / N;
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	prob.frame = f;
	p.reg = FIT_REG_NONE;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_explain_coefficients(m, &coefs, NULL), 0);
	ck_assert_uint_eq(coefs->n, 2 + 3); /* u, v, levels a b c (no other) */
	c = sums_to_margins(m, f);
	for (size_t i = 0; i < N; i++) {
		const double *ci = c + i * 4;
		double want_g = 0.0, bias = coefs->intercept[0];

		for (size_t l = 0; l < 3; l++) {
			double on = strcmp(f->cols[2].levels[f->cols[2].cat[i]], lv[l]) == 0;

			want_g += coefs->coef[2 + l].original * (on - share[l]);
			bias += coefs->coef[2 + l].original * share[l];
		}
		for (size_t j = 0; j < 2; j++) {
			double want = coefs->coef[j].original * (f->cols[j].num[i] - mean[j]);

			/* the model's features are float32: the closed form holds to their rounding */
			ck_assert_msg(fabs(ci[j] - want) < 1e-6 * (1 + fabs(want)),
				      "row %zu column %zu: %.17g vs %.17g", i, j, ci[j], want);
			bias += coefs->coef[j].original * mean[j];
		}
		ck_assert_msg(fabs(ci[2] - want_g) < 1e-6 * (1 + fabs(want_g)),
			      "row %zu: %.17g vs %.17g", i, ci[2], want_g);
		ck_assert_msg(fabs(ci[3] - bias) < 1e-6 * (1 + fabs(bias)), "bias %.17g vs %.17g",
			      ci[3], bias);
	}
	free(c);
	fit_coefs_free(coefs);
	fit_model_free(m);
	free(rows);
	fit_frame_free(f);
}
END_TEST

/*
 * A network on three columns: a and b identical (same values, same
 * weights once set so), d ignored (its weights set to zero). With three
 * columns every order is walked: exact Shapley values, so a and b get the
 * same share and d exactly 0.
 */
START_TEST(test_mlp_dummy_and_symmetry)
{
	enum {
		N = 60
	};
	static const char *const names[] = { "a", "b", "d", "y" };
	double cols[4 * N];
	struct fit_frame *f;
	size_t *rows = th_rows(N), *feat;
	struct fit_problem prob;
	struct fit_params p = params_for(FIT_MODEL_MLP);
	struct fit_model *m, *edited = NULL;
	struct fit_model_desc d;
	struct fit_layer_desc layers[FIT_MAX_HIDDEN + 1];
	double *w0, *c;

	for (size_t i = 0; i < N; i++) {
		double a = (double)(i % 9) / 9.0;

		cols[i] = a;
		cols[N + i] = a;
		cols[2 * N + i] = (double)((i * 13) % 7);
		cols[3 * N + i] = sin(3 * a) + 0.1 * cols[2 * N + i];
	}
	f = th_frame_num(N, 4, names, cols);
	prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, N, NULL, 0, &feat);
	m = th_train(&prob, &p);
	d = *fit_model_desc(m);
	memcpy(layers, d.layers, d.nlayers * sizeof(layers[0]));
	w0 = malloc(layers[0].nin * layers[0].nout * sizeof(double));
	memcpy(w0, layers[0].weights, layers[0].nin * layers[0].nout * sizeof(double));
	/* Features: a, b, d (no missing values: no indicators). */
	ck_assert_uint_eq(layers[0].nin, 3);
	for (size_t o = 0; o < layers[0].nout; o++) {
		w0[o * 3 + 1] = w0[o * 3 + 0];
		w0[o * 3 + 2] = 0.0;
	}
	layers[0].weights = w0;
	d.layers = layers;
	ck_assert_int_eq(fit_model_rebuild(&d, &edited, NULL), 0);
	c = sums_to_margins(edited, f);
	for (size_t i = 0; i < N; i++) {
		ck_assert_msg(c[i * 4 + 2] == 0.0, "row %zu: d gets %g", i, c[i * 4 + 2]);
		/* equal to the network's float32 rounding: a and b sit at other sums' places */
		ck_assert_msg(fabs(c[i * 4 + 0] - c[i * 4 + 1]) < 1e-6, "row %zu: %.17g vs %.17g",
			      i, c[i * 4 + 0], c[i * 4 + 1]);
	}
	free(c);
	free(w0);
	fit_model_free(edited);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/* The cost of a row: one pass, or orders x columns + 1 network passes. */
START_TEST(test_cost)
{
	struct fit_frame *f = th_csv("breast_cancer.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "diagnosis", FIT_TASK_CLASSIFICATION, rows,
					     f->nrows, NULL, 0, &feat);
	struct fit_params p = params_for(FIT_MODEL_MLP);
	struct fit_model *m;

	p.epochs = 2;
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_explain_cost(m), FIT_EXPLAIN_ORDERS * 30 + 1);
	fit_model_free(m);
	p = params_for(FIT_MODEL_GBDT);
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_explain_cost(m), 1);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("contrib");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_sums_every_family, 0, 9);
	tcase_add_test(tc, test_linear_closed_form);
	tcase_add_test(tc, test_mlp_dummy_and_symmetry);
	tcase_add_test(tc, test_cost);
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
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

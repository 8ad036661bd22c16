/*
 * test_explain.c - coefficients in original units (the seed example's slope
 * and intercept, and per-unit slopes of standardized columns), their layout
 * for classifiers and categorical columns, refusal for networks, and
 * permutation importance: the informative column ranks first, a noise column
 * stays near zero, and results repeat exactly, also across thread counts;
 * a linear model's importance equals scoring the shuffled rows in full.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/explain.h"
#include "worker/fit/rng.h"

static struct fit_params params(enum fit_model_kind kind, enum fit_optimizer opt)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = kind;
	p.optimizer = opt;
	p.reg = FIT_REG_NONE;
	p.tol = 1e-10;
	return p;
}

START_TEST(test_seed_coefficients)
{
	struct fit_frame *f = th_csv("seed_linear.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, f->nrows, NULL, 0,
					     &feat);
	struct fit_params p = params(FIT_MODEL_LINEAR, FIT_OPT_NEWTON);
	struct fit_model *m = th_train(&prob, &p);
	struct fit_coefs *c = NULL;

	ck_assert_int_eq(fit_explain_coefficients(m, &c, NULL), 0);
	ck_assert_uint_eq(c->noutputs, 1);
	ck_assert_uint_eq(c->n, 1);
	ck_assert_int_eq(c->coef[0].kind, FIT_COEF_VALUE);
	ck_assert_ptr_null(c->coef[0].level);
	/* numpy.polyfit(x, y, 1) on the file: 1.98692732, 0.99925413 */
	ck_assert_msg(fabs(c->coef[0].original - 1.98692732) < 1e-5, "%.9g", c->coef[0].original);
	ck_assert_msg(fabs(c->intercept[0] - 0.99925413) < 1e-5, "%.9g", c->intercept[0]);
	ck_assert(fabs(c->coef[0].standardized * fit_model_desc(m)->y_scale /
			   fit_model_desc(m)->columns[0].scale -
		       c->coef[0].original) < 1e-12);
	fit_coefs_free(c);
	fit_coefs_free(NULL);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_classifier_coefficients)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t *rows = th_rows(150), *feat;
	struct fit_problem prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, rows, 150, NULL,
					     0, &feat);
	struct fit_params p = params(FIT_MODEL_LOGISTIC, FIT_OPT_LBFGS);
	struct fit_model *m;
	struct fit_coefs *c = NULL;
	struct fitd_error err = { 0 };

	p.reg = FIT_REG_L2;
	p.penalty = 0.01;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_explain_coefficients(m, &c, NULL), 0);
	ck_assert_uint_eq(c->noutputs, 3);
	ck_assert_uint_eq(c->n, 12);
	for (size_t i = 0; i < 12; i++) {
		ck_assert_uint_eq(c->coef[i].output, i / 4);
		ck_assert_uint_eq(c->coef[i].column, i % 4);
		ck_assert(fabs(c->coef[i].original -
			       c->coef[i].standardized / fit_model_desc(m)->columns[i % 4].scale) <
			  1e-12);
	}
	fit_coefs_free(c);
	fit_model_free(m);
	p = params(FIT_MODEL_MLP, FIT_OPT_ADAM);
	p.epochs = 2;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_explain_coefficients(m, &c, &err), FITD_EINVAL);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_permutation_importance)
{
	static const char *names[] = { "noise", "signal", "y" };
	size_t n = 400, *rows = th_rows(n), *feat;
	double *data = malloc(3 * n * sizeof(double)), imp[2][2], sd[2];
	uint64_t s = 9;
	struct fit_frame *f;
	struct fit_problem prob;
	static const enum fit_model_kind kinds[] = { FIT_MODEL_LINEAR, FIT_MODEL_MLP };

	for (size_t i = 0; i < 2 * n; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		data[i] = (double)(s >> 11) * 0x1.0p-53;
	}
	for (size_t i = 0; i < n; i++)
		data[2 * n + i] = 3.0 * data[n + i] + 0.05 * data[i];
	f = th_frame_num(n, 3, names, data);
	prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, 300, rows + 300, 100, &feat);
	for (int k = 0; k < 2; k++) {
		struct fit_params p = params(kinds[k], kinds[k] == FIT_MODEL_MLP ? FIT_OPT_ADAM
										 : FIT_OPT_NEWTON);
		struct fit_model *m;

		p.epochs = kinds[k] == FIT_MODEL_MLP ? 100 : 50;
		m = th_train(&prob, &p);
		for (int t = 0; t < 2; t++)
			ck_assert_int_eq(fit_explain_permutation(m, f, rows + 300, 100,
								 FIT_METRIC_RMSE, 5, 42, t + 1,
								 imp[t], sd, NULL),
					 0);
		ck_assert(memcmp(imp[0], imp[1], sizeof(imp[0])) == 0);
		ck_assert_msg(imp[0][1] > 0.5, "signal %g", imp[0][1]);
		ck_assert_msg(fabs(imp[0][0]) < 0.1 * imp[0][1], "noise %g", imp[0][0]);
		ck_assert(sd[0] >= 0 && sd[1] >= 0);
		ck_assert_int_eq(fit_explain_permutation(m, f, rows + 300, 100, FIT_METRIC_R2, 3, 1,
							 1, imp[0], NULL, NULL),
				 0);
		ck_assert_msg(imp[0][1] > 0.5, "r2 drop %g", imp[0][1]); /* same sign convention */
		ck_assert_int_eq(fit_explain_permutation(m, f, rows, 10, FIT_METRIC_AUC, 3, 1, 1,
							 imp[0], NULL, NULL),
				 FITD_EINVAL);
		fit_model_free(m);
	}
	free(data);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_permutation_classifier)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t *train, *test, ntrain, ntest, *feat;
	struct fit_problem prob;
	struct fit_params p = params(FIT_MODEL_LOGISTIC, FIT_OPT_LBFGS);
	struct fit_model *m;
	double imp[4];

	th_split(f->nrows, &train, &ntrain, &test, &ntest);
	prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, train, ntrain, NULL, 0, &feat);
	p.reg = FIT_REG_L2;
	p.penalty = 0.01;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_explain_permutation(m, f, test, ntest, FIT_METRIC_LOG_LOSS, 5, 7, 2,
						 imp, NULL, NULL),
			 0);
	/* the petal measurements carry iris */
	ck_assert_msg(imp[2] + imp[3] > imp[0] + imp[1], "%g %g %g %g", imp[0], imp[1], imp[2],
		      imp[3]);
	fit_model_free(m);
	free(train);
	free(test);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/*
 * A linear model's importance comes from margins updated for the one
 * shuffled column; it must equal scoring the shuffled rows in full: the
 * same permutation (seed ^ hash(column), stream 4 + repeat) applied to a
 * copy of the frame, scored by fit_model_score(). Numeric columns with
 * missing values (their indicator moves with them) and a categorical one.
 */
START_TEST(test_permutation_linear_equals_rescoring)
{
	enum {
		N = 300,
		TEST0 = 200
	};
	struct fit_frame_builder *b;
	struct fit_frame *f;
	static const char *lv[] = { "a", "b", "c", "d" };
	uint64_t s = 5;
	size_t *rows = th_rows(N), *feat;
	struct fit_problem prob;
	struct fit_params p = params(FIT_MODEL_LOGISTIC, FIT_OPT_LBFGS);
	struct fit_model *m;
	double imp[3], base;

	ck_assert_int_eq(fit_frame_builder_new(N, 4, &b), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "z", FIT_COL_NUMERIC), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 2, "g", FIT_COL_CATEGORICAL), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 3, "y", FIT_COL_CATEGORICAL), 0);
	for (size_t i = 0; i < N; i++) {
		double u[3];

		for (int k = 0; k < 3; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			u[k] = (double)(s >> 11) * 0x1.0p-53;
		}
		if (i % 7 != 0)
			ck_assert_int_eq(fit_frame_builder_set_num(b, 0, i, u[0]), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 1, i, u[1]), 0);
		if (i % 11 != 0)
			ck_assert_int_eq(fit_frame_builder_set_cat(b, 2, i, lv[i % 4], 1), 0);
		const char *y = u[0] + 0.3 * (double)(i % 4) + 0.2 * u[2] > 0.9 ? "hi" : "lo";
		ck_assert_int_eq(fit_frame_builder_set_cat(b, 3, i, y, 2), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	prob = th_problem(f, "y", FIT_TASK_CLASSIFICATION, rows, TEST0, NULL, 0, &feat);
	p.reg = FIT_REG_L2;
	p.penalty = 0.01;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_explain_permutation(m, f, rows + TEST0, N - TEST0, FIT_METRIC_LOG_LOSS,
						 2, 13, 2, imp, NULL, NULL),
			 0);
	ck_assert_int_eq(
	    fit_model_score(m, f, rows + TEST0, N - TEST0, FIT_METRIC_LOG_LOSS, 1, &base, NULL), 0);
	for (size_t j = 0; j < 3; j++) {
		struct fit_column cols[4];
		struct fit_frame view = { N, 4, cols, NULL };
		double num[N], sum = 0;
		int32_t cat[N];

		memcpy(cols, f->cols, sizeof(cols));
		for (unsigned r = 0; r < 2; r++) {
			struct fit_rng rng;
			size_t order[N - TEST0];
			double sc;

			fit_rng_seed(&rng, 13 ^ fit_hash64(j), 4 + r);
			for (size_t i = 0; i < N - TEST0; i++)
				order[i] = i;
			fit_rng_shuffle(&rng, order, N - TEST0);
			for (size_t i = 0; i < N; i++) {
				size_t from = i < TEST0 ? i : TEST0 + order[i - TEST0];

				if (f->cols[j].type == FIT_COL_NUMERIC)
					num[i] = f->cols[j].num[from];
				else
					cat[i] = f->cols[j].cat[from];
			}
			cols[j].num = f->cols[j].type == FIT_COL_NUMERIC ? num : NULL;
			cols[j].cat = f->cols[j].type == FIT_COL_NUMERIC ? NULL : cat;
			ck_assert_int_eq(fit_model_score(m, &view, rows + TEST0, N - TEST0,
							 FIT_METRIC_LOG_LOSS, 1, &sc, NULL),
					 0);
			sum += sc - base; /* log loss: lower is better */
		}
		ck_assert_msg(fabs(imp[j] - sum / 2) < 1e-9, "column %zu: %.17g, rescored %.17g", j,
			      imp[j], sum / 2);
	}
	ck_assert(imp[0] > imp[1]); /* x drives y, z does not */
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_explain");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_seed_coefficients);
	tcase_add_test(tc, test_classifier_coefficients);
	tcase_add_test(tc, test_permutation_importance);
	tcase_add_test(tc, test_permutation_classifier);
	tcase_add_test(tc, test_permutation_linear_equals_rescoring);
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

/*
 * test_metric.c - every metric against scikit-learn 1.2.1's value on the same
 * small inputs (the expected numbers were printed by sklearn.metrics:
 * accuracy_score, balanced_accuracy_score, f1_score(average="macro"),
 * log_loss, roc_auc_score(multi_class="ovr"), mean_squared_error,
 * mean_absolute_error, r2_score), the direction flags, ties in AUC, unknown
 * classes and bad arguments.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "worker/fit/metric.h"

static const int32_t y3[10] = { 0, 1, 2, 2, 1, 0, 2, 1, 1, 0 };
static const double p3[10 * 3] = {
	.7, .2, .1, .1, .6, .3, .2, .2,	 .6,  .1, .5, .4, .3, .4, .3,
	.5, .4, .1, .0, .1, .9, .4, .35, .25, .2, .7, .1, .3, .3, .4,
};

static double cls(enum fit_metric m, size_t n, size_t k, const int32_t *y, const double *p)
{
	double v = NAN;

	ck_assert_int_eq(fit_metric_classification(m, n, k, y, p, &v, NULL), 0);
	return v;
}

START_TEST(test_multiclass_values)
{
	ck_assert(fabs(cls(FIT_METRIC_ACCURACY, 10, 3, y3, p3) - 0.7) < 1e-15);
	ck_assert(fabs(cls(FIT_METRIC_BALANCED_ACCURACY, 10, 3, y3, p3) - 0.69444444444444431) <
		  1e-15);
	ck_assert(fabs(cls(FIT_METRIC_F1, 10, 3, y3, p3) - 0.69444444444444431) < 1e-15);
	ck_assert(fabs(cls(FIT_METRIC_LOG_LOSS, 10, 3, y3, p3) - 0.66198852242001416) < 1e-14);
	ck_assert(fabs(cls(FIT_METRIC_AUC, 10, 3, y3, p3) - 0.91964285714285721) < 1e-15);
}
END_TEST

START_TEST(test_binary_values)
{
	static const int32_t y[8] = { 0, 1, 1, 0, 1, 0, 1, 1 };
	static const double s[8] = { .1, .8, .8, .3, .6, .8, .2, .9 }; /* ties at .8 */
	double p[16];

	for (int i = 0; i < 8; i++) {
		p[2 * i] = 1 - s[i];
		p[2 * i + 1] = s[i];
	}
	ck_assert(fabs(cls(FIT_METRIC_AUC, 8, 2, y, p) - 0.73333333333333339) < 1e-15);
	ck_assert(fabs(cls(FIT_METRIC_LOG_LOSS, 8, 2, y, p) - 0.59292306581462451) < 1e-14);
}
END_TEST

START_TEST(test_regression_values)
{
	static const double t[5] = { 3, -1, 2.5, 7, 0 }, q[5] = { 2.5, 0, 2, 8, -0.5 };
	double v;

	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_RMSE, 5, t, q, &v, NULL), 0);
	ck_assert(fabs(v - 0.74161984870956632) < 1e-15);
	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_MAE, 5, t, q, &v, NULL), 0);
	ck_assert(fabs(v - 0.7) < 1e-15);
	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_R2, 5, t, q, &v, NULL), 0);
	ck_assert(fabs(v - 0.92912371134020622) < 1e-15);
	/* a constant truth predicted exactly: r2 is 1, as scikit-learn says */
	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_R2, 1, t, t, &v, NULL), 0);
	ck_assert(v == 1.0);
}
END_TEST

START_TEST(test_directions)
{
	static const struct {
		enum fit_metric m;
		int higher, cls;
	} table[] = {
		{ FIT_METRIC_ACCURACY, 1, 1 }, { FIT_METRIC_BALANCED_ACCURACY, 1, 1 },
		{ FIT_METRIC_F1, 1, 1 },       { FIT_METRIC_LOG_LOSS, 0, 1 },
		{ FIT_METRIC_AUC, 1, 1 },      { FIT_METRIC_RMSE, 0, 0 },
		{ FIT_METRIC_MAE, 0, 0 },      { FIT_METRIC_R2, 1, 0 },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		ck_assert_int_eq(fit_metric_higher_is_better(table[i].m), table[i].higher);
		ck_assert_int_eq(fit_metric_is_classification(table[i].m), table[i].cls);
	}
}
END_TEST

START_TEST(test_unknown_class_and_errors)
{
	int32_t y[10];
	struct fitd_error err = { 0 };
	double v;

	for (int i = 0; i < 10; i++)
		y[i] = y3[i];
	y[0] = -1; /* a class the model does not know: a miss */
	ck_assert(fabs(cls(FIT_METRIC_ACCURACY, 10, 3, y, p3) - 0.6) < 1e-15);
	ck_assert(cls(FIT_METRIC_LOG_LOSS, 10, 3, y, p3) > 3.0);
	y[0] = 3;
	ck_assert_int_eq(fit_metric_classification(FIT_METRIC_ACCURACY, 10, 3, y, p3, &v, &err),
			 FITD_EINVAL);
	ck_assert_int_eq(fit_metric_classification(FIT_METRIC_RMSE, 10, 3, y3, p3, &v, &err),
			 FITD_EINVAL);
	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_AUC, 3, p3, p3, &v, &err), FITD_EINVAL);
	ck_assert_int_eq(fit_metric_regression(FIT_METRIC_RMSE, 0, p3, p3, &v, &err), FITD_EINVAL);
	for (int i = 0; i < 10; i++)
		y[i] = 1;
	ck_assert_int_eq(fit_metric_classification(FIT_METRIC_AUC, 10, 2, y, p3, &v, &err),
			 FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.code, "undefined_metric");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_metric");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_multiclass_values);
	tcase_add_test(tc, test_binary_values);
	tcase_add_test(tc, test_regression_values);
	tcase_add_test(tc, test_directions);
	tcase_add_test(tc, test_unknown_class_and_errors);
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

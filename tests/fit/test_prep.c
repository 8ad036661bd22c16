/*
 * test_prep.c - the preprocessing a model carries, seen through the public
 * model description and predictions: median imputation with a missing
 * indicator, standardization, one-hot levels with rare ones folded into
 * "other", statistics from the training rows only, unseen and missing levels
 * at prediction, and prediction frames with absent or mistyped columns.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/model.h"

#define N 80

static const char *const levels[] = { "a", "b", "c", "rare" };

/* x numeric with gaps, color categorical, y = 2x + level effect; rows >= 60 are odd. */
static struct fit_frame *make_frame(double valid_x_shift, const char *unseen)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;

	ck_assert_int_eq(fit_frame_builder_new(N, 3, &b), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "color", FIT_COL_CATEGORICAL), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 2, "y", FIT_COL_NUMERIC), 0);
	for (size_t i = 0; i < N; i++) {
		double x = (double)(i % 17) + (i >= 60 ? valid_x_shift : 0.0);
		const char *lv = i == 7 ? levels[3] : levels[i % 3];
		double y = 2.0 * x + (double)(i % 3);

		if (i % 9 == 4)
			x = NAN;
		if (i == 70 && unseen != NULL)
			lv = unseen;
		ck_assert_int_eq(fit_frame_builder_set_num(b, 0, i, x), 0);
		if (i != 11)
			ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, i, lv, strlen(lv)), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 2, i, y), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

static struct fit_model *train(const struct fit_frame *f, size_t *feat)
{
	size_t *rows = th_rows(N);
	struct fit_problem prob = { f, 2, feat, 2, rows, 60, rows + 60, 20, FIT_TASK_REGRESSION };
	struct fit_params p;
	struct fit_model *m;

	fit_params_init(&p);
	p.model = FIT_MODEL_LINEAR;
	p.optimizer = FIT_OPT_NEWTON;
	p.reg = FIT_REG_NONE;
	p.min_level_count = 2;
	m = th_train(&prob, &p);
	free(rows);
	return m;
}

START_TEST(test_numeric_column)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL);
	struct fit_model *m = train(f, feat);
	const struct fit_prep_column *c = &fit_model_desc(m)->columns[0];
	double v[60], sum = 0.0, ss = 0.0, med;
	size_t n = 0;

	for (size_t i = 0; i < 60; i++)
		if (!isnan(f->cols[0].num[i]))
			v[n++] = f->cols[0].num[i];
	/* median of the present training values, by sorting here */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	for (size_t i = 0; i < 60; i++)
		sum += isnan(f->cols[0].num[i]) ? med : f->cols[0].num[i];
	for (size_t i = 0; i < 60; i++) {
		double x = isnan(f->cols[0].num[i]) ? med : f->cols[0].num[i];

		ss += (x - sum / 60) * (x - sum / 60);
	}
	ck_assert_str_eq(c->name, "x");
	ck_assert(c->fill == med);
	ck_assert(fabs(c->center - sum / 60) < 1e-12);
	ck_assert(fabs(c->scale - sqrt(ss / 60)) < 1e-12);
	ck_assert_int_eq(c->indicator, 1);
	ck_assert_uint_eq(fit_model_desc(m)->layers[0].nin,
			  2 + 3 + 1); /* x, missing, a b c, other */
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_categorical_column)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL);
	struct fit_model *m = train(f, feat);
	const struct fit_prep_column *c = &fit_model_desc(m)->columns[1];

	ck_assert_uint_eq(c->nlevels, 3);
	ck_assert_str_eq(c->levels[0], "a");
	ck_assert_str_eq(c->levels[2], "c");
	ck_assert_int_eq(c->other, 1); /* "rare" was seen once: folded */
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_training_rows_only)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f1 = make_frame(0.0, NULL), *f2 = make_frame(1000.0, "zzz");
	struct fit_model *m1 = train(f1, feat), *m2 = train(f2, feat);
	const struct fit_model_desc *d1 = fit_model_desc(m1), *d2 = fit_model_desc(m2);

	/* Wild validation rows change nothing fitted. */
	ck_assert(d1->columns[0].fill == d2->columns[0].fill);
	ck_assert(d1->columns[0].center == d2->columns[0].center);
	ck_assert(d1->columns[0].scale == d2->columns[0].scale);
	ck_assert(d1->y_center == d2->y_center && d1->y_scale == d2->y_scale);
	ck_assert(memcmp(d1->layers[0].weights, d2->layers[0].weights, 6 * sizeof(double)) == 0);
	fit_model_free(m1);
	fit_model_free(m2);
	fit_frame_free(f1);
	fit_frame_free(f2);
}
END_TEST

START_TEST(test_prediction_levels_and_missing)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, "zzz"), *g;
	struct fit_model *m = train(f, feat);
	const struct fit_model_desc *d = fit_model_desc(m);
	const double *w = d->layers[0].weights;
	double pred[N], base;
	struct fit_frame_builder *b;
	static const char *const vals[] = { "a", "zzz", "rare", NULL };

	/* row 70 holds the unseen level "zzz": it takes the "other" weight */
	ck_assert_int_eq(fit_model_predict(m, f, NULL, N, 1, pred, NULL, NULL), 0);
	ck_assert_int_eq(fit_frame_builder_new(4, 2, &b), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "color", FIT_COL_CATEGORICAL), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "x", FIT_COL_NUMERIC), 0);
	for (size_t i = 0; i < 4; i++) {
		if (vals[i])
			ck_assert_int_eq(
			    fit_frame_builder_set_cat(b, 0, i, vals[i], strlen(vals[i])), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 1, i, i == 3 ? NAN : 5.0), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &g), 0);
	/* columns matched by name, in another order */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 4, 1, pred, NULL, NULL), 0);
	base = pred[0] - d->y_scale * w[2];			      /* x = 5 with no level on */
	ck_assert(fabs(pred[1] - (base + d->y_scale * w[5])) < 1e-5); /* unseen -> other */
	ck_assert(fabs(pred[2] - (base + d->y_scale * w[5])) < 1e-5); /* rare -> other */
	/* missing x: the median, plus the indicator's weight; missing level: none on */
	ck_assert(fabs(pred[3] - (base + d->y_scale * ((d->columns[0].fill - 5.0) /
							   d->columns[0].scale * w[0] +
						       w[1]))) < 1e-5);
	fit_frame_free(g);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_prediction_frame_errors)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL), *g;
	struct fit_model *m = train(f, feat);
	static const char *names[] = { "x", "colour" };
	static const char *names2[] = { "x", "color" };
	double data[4] = { 1, 2, 3, 4 }, out[2];
	struct fitd_error err = { 0 };
	size_t bad = 5;

	g = th_frame_num(2, 2, names, data); /* no "color" */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 2, 1, out, NULL, &err), FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.code, "missing_column");
	fit_frame_free(g);
	g = th_frame_num(2, 2, names2, data); /* "color" numeric */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 2, 1, out, NULL, &err), FITD_EUNPROCESSABLE);
	ck_assert_int_eq(fit_model_predict(m, f, &bad, 1, 1, out, NULL, &err), 0);
	bad = N;
	ck_assert_int_eq(fit_model_predict(m, f, &bad, 1, 1, out, NULL, &err), FITD_EINVAL);
	fit_frame_free(g);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Large columns take the sampled-pivot median; many ties take its fallback. */
START_TEST(test_large_median)
{
	static const char *names[] = { "x", "y" };
	size_t n = 60001, *rows = th_rows(n), feat = 0;
	double *data = malloc(2 * n * sizeof(double)), *sorted = malloc(n * sizeof(double));
	uint64_t st = 77;

	for (int ties = 0; ties < 2; ties++) {
		struct fit_problem prob = {
			NULL, 1, &feat, 1, rows, n, NULL, 0, FIT_TASK_REGRESSION
		};
		struct fit_params p;
		struct fit_frame *f;
		struct fit_model *m;
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			data[i] = ties ? (double)(st >> 62)
				       : (double)(st >> 11) * 0x1.0p-53 * 100.0;
			if (i % 10 == 3)
				data[i] = NAN;
			else
				sorted[k++] = data[i];
			data[n + i] = (double)i;
		}
		qsort(sorted, k, sizeof(double), cmp);
		f = th_frame_num(n, 2, names, data);
		prob.frame = f;
		fit_params_init(&p);
		p.model = FIT_MODEL_LINEAR;
		p.optimizer = FIT_OPT_NEWTON;
		p.epochs = 1;
		m = th_train(&prob, &p);
		ck_assert_msg(fit_model_desc(m)->columns[0].fill ==
				  (k % 2 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2),
			      "median %.17g", fit_model_desc(m)->columns[0].fill);
		fit_model_free(m);
		fit_frame_free(f);
	}
	free(data);
	free(sorted);
	free(rows);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_prep");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_numeric_column);
	tcase_add_test(tc, test_categorical_column);
	tcase_add_test(tc, test_training_rows_only);
	tcase_add_test(tc, test_prediction_levels_and_missing);
	tcase_add_test(tc, test_prediction_frame_errors);
	tcase_add_test(tc, test_large_median);
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

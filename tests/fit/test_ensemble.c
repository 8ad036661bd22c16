/*
 * test_ensemble.c - greedy ensemble selection (fit_ensemble_select()) on
 * synthetic predictions and the ensemble model (fit_model_ensemble_new()).
 *
 * Selection: it picks the better of two candidates alone, its counts sum
 * to its rounds, two complementary candidates together beat either alone,
 * ties go to the lower index, and it answers the same twice. The
 * cross-fitted check (fit_ensemble_crossfit()): one candidate scores as on
 * all rows; complementary candidates still win on rows they were not
 * chosen on; among candidates that are noise, what selection's luck makes
 * of them on its own rows is gone on the others. The model:
 * its predictions are the weighted mean of the members' (probabilities
 * for a classifier), its contributions sum to its margins, which are the
 * weighted mean of the members' margins, and its score is that of its
 * predictions.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/ensemble.h"
#include "worker/fit/explain.h"
#include "worker/fit/metric.h"

#define N 200

/* Binary probabilities (2 per row) that get right the rows where right(i) holds. */
static float *binary_preds(const int32_t *labels, int (*right)(size_t), float conf)
{
	float *p = malloc(N * 2 * sizeof(float));

	for (size_t i = 0; i < N; i++) {
		int ok = right(i);
		int32_t guess = ok ? labels[i] : 1 - labels[i];

		p[2 * i + (size_t)guess] = conf;
		p[2 * i + 1 - (size_t)guess] = 1 - conf;
	}
	return p;
}

static int all_but_tenth(size_t i)
{
	return i % 10 != 0;
}

static int first_half(size_t i)
{
	return i < N / 2;
}

static int second_half(size_t i)
{
	return i >= N / 2;
}

static int half_right(size_t i)
{
	return i % 2 == 0;
}

static void make_labels(int32_t *labels)
{
	for (size_t i = 0; i < N; i++)
		labels[i] = (int32_t)((i * 7 + 3) % 5 < 2);
}

/*
 * Three candidates on make_labels()'s rows: a is sure and right on the first
 * half, unsure and wrong on the second; b mirrors it; c is right on nine
 * rows in ten, unsure.
 */
static void complementary(int32_t *labels, float **a, float **b, float **c)
{
	make_labels(labels);
	*a = binary_preds(labels, first_half, 0.55f);
	*b = binary_preds(labels, second_half, 0.55f);
	for (size_t i = 0; i < N / 2; i++) {
		(*a)[2 * i + (size_t)labels[i]] = 0.99f;
		(*a)[2 * i + 1 - (size_t)labels[i]] = 0.01f;
	}
	for (size_t i = N / 2; i < N; i++) {
		(*b)[2 * i + (size_t)labels[i]] = 0.99f;
		(*b)[2 * i + 1 - (size_t)labels[i]] = 0.01f;
	}
	*c = binary_preds(labels, all_but_tenth, 0.6f);
}

START_TEST(test_picks_better)
{
	int32_t labels[N];
	float *a, *b;
	unsigned counts[2];
	struct fit_ensemble_choice ch = { .counts = counts };
	struct fitd_error err = { 0 };

	make_labels(labels);
	a = binary_preds(labels, half_right, 0.9f);
	b = binary_preds(labels, all_but_tenth, 0.9f);
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b }, 2, N, 2,
					     FIT_METRIC_ACCURACY, labels, NULL, 25, NULL, &ch,
					     &err),
			 FITD_OK);
	ck_assert_uint_eq(ch.best, 1);
	ck_assert_double_eq_tol(ch.best_score, 0.9, 1e-12);
	ck_assert_double_eq_tol(ch.score, 0.9, 1e-12);
	/* b alone: adding a never helps, so the kept prefix is the first round */
	ck_assert_uint_eq(counts[0], 0);
	ck_assert_uint_eq(counts[1], ch.rounds);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_complementary_beats_best)
{
	int32_t labels[N];
	float *a, *b, *c;
	unsigned counts[3];
	struct fit_ensemble_choice ch = { .counts = counts };

	complementary(labels, &a, &b, &c);
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b, c }, 3, N, 2,
					     FIT_METRIC_LOG_LOSS, labels, NULL, 25, NULL, &ch,
					     NULL),
			 FITD_OK);
	ck_assert_msg(ch.score < ch.best_score - 0.05, "ensemble %g vs best single %g", ch.score,
		      ch.best_score);
	ck_assert_uint_gt(counts[0], 0);
	ck_assert_uint_gt(counts[1], 0);
	ck_assert_uint_eq(counts[0] + counts[1] + counts[2], ch.rounds);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_limit_keeps_members_within_budget)
{
	int32_t labels[N];
	float *a, *b, *c;
	unsigned counts[3];
	struct fit_ensemble_choice ch = { .counts = counts };
	double cost[3] = { 5, 1, 2 };
	struct fit_ensemble_limit limit = { .cost = cost, .budget = 3 };
	double ens, single, ens_free, single_free;

	complementary(labels, &a, &b, &c); /* b is the best alone */
	const float *const preds[] = { a, b, c };

	/* a costs more than what is left beside b: it never joins */
	ck_assert_int_eq(fit_ensemble_select(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL, 25,
					     &limit, &ch, NULL),
			 FITD_OK);
	ck_assert_uint_eq(ch.best, 1);
	ck_assert(ch.limited);
	ck_assert_uint_eq(counts[0], 0);
	ck_assert_uint_gt(counts[1], 0);
	ck_assert_uint_eq(counts[1] + counts[2], ch.rounds);
	/* the first pick joins whatever it costs, and then nothing else fits */
	cost[1] = 10;
	ck_assert_int_eq(fit_ensemble_select(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL, 25,
					     &limit, &ch, NULL),
			 FITD_OK);
	ck_assert(ch.limited);
	ck_assert_uint_eq(ch.best, 1);
	ck_assert_uint_eq(counts[1], ch.rounds);
	ck_assert_double_eq(ch.score, ch.best_score);
	/* a budget for everything changes nothing: a joins as without a limit */
	limit.budget = 100;
	ck_assert_int_eq(fit_ensemble_select(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL, 25,
					     &limit, &ch, NULL),
			 FITD_OK);
	ck_assert(!ch.limited);
	ck_assert_uint_gt(counts[0], 0);
	ck_assert_uint_gt(counts[1], 0);
	ck_assert_int_eq(fit_ensemble_crossfit(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL,
					       25, &limit, &ens, &single, NULL),
			 FITD_OK);
	ck_assert_int_eq(fit_ensemble_crossfit(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL,
					       25, NULL, &ens_free, &single_free, NULL),
			 FITD_OK);
	ck_assert_double_eq(ens, ens_free);
	ck_assert_double_eq(single, single_free);
	/* the check's selections keep to the limit: with no room, each half keeps its best alone */
	limit.budget = 0;
	ck_assert_int_eq(fit_ensemble_crossfit(preds, 3, N, 2, FIT_METRIC_LOG_LOSS, labels, NULL,
					       25, &limit, &ens, &single, NULL),
			 FITD_OK);
	ck_assert_double_eq(ens, single);
	ck_assert_double_lt(ens_free, single_free);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_crossfit_one_candidate)
{
	int32_t labels[N];
	float *b;
	double ens, single;

	make_labels(labels);
	b = binary_preds(labels, all_but_tenth, 0.9f);
	ck_assert_int_eq(fit_ensemble_crossfit((const float *const[]){ b }, 1, N, 2,
					       FIT_METRIC_ACCURACY, labels, NULL, 25, NULL, &ens,
					       &single, NULL),
			 FITD_OK);
	/* the halves' accuracies weighted by their rows: the accuracy on all rows */
	ck_assert_double_eq_tol(ens, 0.9, 1e-12);
	ck_assert_double_eq_tol(single, 0.9, 1e-12);
	ck_assert_int_eq(fit_ensemble_crossfit((const float *const[]){ b }, 1, 1, 2,
					       FIT_METRIC_ACCURACY, labels, NULL, 25, NULL, &ens,
					       &single, NULL),
			 FITD_EINVAL);
	free(b);
}
END_TEST

START_TEST(test_crossfit_complementary)
{
	int32_t labels[N];
	float *a, *b;
	double ens, single;

	make_labels(labels);
	a = binary_preds(labels, first_half, 0.55f);
	b = binary_preds(labels, second_half, 0.55f);
	for (size_t i = 0; i < N; i++) {
		float *p = i < N / 2 ? a : b;

		p[2 * i + (size_t)labels[i]] = 0.99f;
		p[2 * i + 1 - (size_t)labels[i]] = 0.01f;
	}
	ck_assert_int_eq(fit_ensemble_crossfit((const float *const[]){ a, b }, 2, N, 2,
					       FIT_METRIC_LOG_LOSS, labels, NULL, 25, NULL, &ens,
					       &single, NULL),
			 FITD_OK);
	ck_assert_msg(ens < single - 0.05, "ensemble %g vs single %g", ens, single);
	free(a);
	free(b);
}
END_TEST

/* 30 candidates of coin flips for labels that are coin flips too. */
START_TEST(test_crossfit_noise)
{
	enum {
		NC = 30
	};
	int32_t labels[N];
	float *c[NC];
	unsigned counts[NC];
	struct fit_ensemble_choice ch = { .counts = counts };
	double ens, single;
	uint64_t x = 42;

	for (size_t i = 0; i < N; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		labels[i] = (int32_t)(x >> 63);
	}
	for (size_t k = 0; k < NC; k++) {
		c[k] = malloc(N * 2 * sizeof(float));
		for (size_t i = 0; i < N; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			c[k][2 * i] = (float)(x >> 40) / (float)(1 << 24);
			c[k][2 * i + 1] = 1 - c[k][2 * i];
		}
	}
	ck_assert_int_eq(fit_ensemble_select((const float *const *)c, NC, N, 2, FIT_METRIC_ACCURACY,
					     labels, NULL, 25, NULL, &ch, NULL),
			 FITD_OK);
	ck_assert_int_eq(fit_ensemble_crossfit((const float *const *)c, NC, N, 2,
					       FIT_METRIC_ACCURACY, labels, NULL, 25, NULL, &ens,
					       &single, NULL),
			 FITD_OK);
	/* chosen and scored on the same rows, noise looks like skill */
	ck_assert_msg(ch.score > 0.6, "selection's own score %g", ch.score);
	ck_assert_msg(ens < ch.score - 0.08 && fabs(ens - 0.5) < 0.08,
		      "cross-fitted %g, selection's own %g", ens, ch.score);
	ck_assert_msg(fabs(single - 0.5) < 0.08, "cross-fitted single %g", single);
	for (size_t k = 0; k < NC; k++)
		free(c[k]);
}
END_TEST

START_TEST(test_ties_and_repeats)
{
	int32_t labels[N];
	float *a, *b;
	unsigned c1[3], c2[3];
	struct fit_ensemble_choice x = { .counts = c1 }, y = { .counts = c2 };

	make_labels(labels);
	a = binary_preds(labels, all_but_tenth, 0.8f);
	b = binary_preds(labels, half_right, 0.7f);
	/* candidates 0 and 2 are the same: the lower index wins every tie */
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b, a }, 3, N, 2,
					     FIT_METRIC_AUC, labels, NULL, 30, NULL, &x, NULL),
			 FITD_OK);
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b, a }, 3, N, 2,
					     FIT_METRIC_AUC, labels, NULL, 30, NULL, &y, NULL),
			 FITD_OK);
	ck_assert_uint_eq(x.best, 0);
	ck_assert_uint_eq(c1[2], 0);
	ck_assert_mem_eq(c1, c2, sizeof(c1));
	ck_assert_uint_eq(x.rounds, y.rounds);
	ck_assert(x.score == y.score);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_regression_mean)
{
	double truth[N];
	float a[N], b[N];
	unsigned counts[2];
	struct fit_ensemble_choice ch = { .counts = counts };

	/* a overshoots by 1, b undershoots by 1: their mean is exact */
	for (size_t i = 0; i < N; i++) {
		truth[i] = (double)i / 10;
		a[i] = (float)(truth[i] + 1);
		b[i] = (float)(truth[i] - 1);
	}
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b }, 2, N, 1,
					     FIT_METRIC_RMSE, NULL, truth, 25, NULL, &ch, NULL),
			 FITD_OK);
	ck_assert_double_eq_tol(ch.best_score, 1.0, 1e-5);
	ck_assert_double_lt(ch.score, 1e-5);
	ck_assert_uint_eq(counts[0], counts[1]);
	/* the wrong task's truth is refused */
	ck_assert_int_eq(fit_ensemble_select((const float *const[]){ a, b }, 2, N, 1,
					     FIT_METRIC_ACCURACY, NULL, truth, 25, NULL, &ch, NULL),
			 FITD_EINVAL);
}
END_TEST

static struct fit_model *train_kind(const struct fit_frame *f, const char *target,
				    enum fit_task task, enum fit_model_kind kind)
{
	size_t *rows = th_rows(f->nrows), *feat = NULL;
	struct fit_problem prob = th_problem(f, target, task, rows, f->nrows, NULL, 0, &feat);
	struct fit_params p;
	struct fit_model *m;

	fit_params_init(&p);
	p.model = kind;
	p.optimizer = kind == FIT_MODEL_MLP ? FIT_OPT_ADAM : FIT_OPT_LBFGS;
	p.epochs = kind == FIT_MODEL_MLP ? 20 : 100;
	p.hidden_units[0] = 8;
	p.gbdt.trees = 20;
	p.gbdt.max_leaves = 8;
	p.gbdt.min_leaf_rows = 5;
	m = th_train(&prob, &p);
	free(rows);
	free(feat);
	return m;
}

/* An ensemble of two families on f: predictions, margins, contributions, score. */
static void check_model(const char *file, const char *target, enum fit_task task,
			enum fit_model_kind k1, enum fit_model_kind k2, enum fit_metric metric)
{
	struct fit_frame *f = th_csv(file);
	struct fit_model *a = train_kind(f, target, task, k1), *b = train_kind(f, target, task, k2);
	struct fit_model *again[2] = { train_kind(f, target, task, k1),
				       train_kind(f, target, task, k2) };
	struct fit_model *e = NULL;
	size_t n = f->nrows, nout, k, w;
	double *pa, *pb, *pe, *za, *zb, *ze, *c, sa = 0, se = 0;
	int32_t *lab;
	struct fitd_error err = { 0 };

	ck_assert_msg(fit_model_ensemble_new(again, (double[]){ 3, 1 }, 2, &e, &err) == FITD_OK,
		      "%s", err.message);
	ck_assert_uint_eq(fit_model_desc(e)->nmembers, 2);
	ck_assert_double_eq_tol(fit_model_desc(e)->weights[0], 0.75, 1e-15);
	nout = fit_model_noutputs(e);
	k = fit_model_nmargins(e);
	w = fit_model_desc(e)->ncolumns + 1;
	ck_assert_uint_eq(fit_model_desc(e)->ncolumns, fit_model_desc(a)->ncolumns);
	pa = malloc(n * nout * sizeof(double));
	pb = malloc(n * nout * sizeof(double));
	pe = malloc(n * nout * sizeof(double));
	za = malloc(n * k * sizeof(double));
	zb = malloc(n * k * sizeof(double));
	ze = malloc(n * k * sizeof(double));
	c = malloc(n * k * w * sizeof(double));
	lab = malloc(n * sizeof(int32_t));
	ck_assert_int_eq(fit_model_predict(a, f, NULL, n, 1, pa, NULL, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_predict(b, f, NULL, n, 1, pb, NULL, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_predict(e, f, NULL, n, 2, pe, lab, NULL), FITD_OK);
	for (size_t i = 0; i < n * nout; i++)
		ck_assert_double_eq_tol(pe[i], 0.75 * pa[i] + 0.25 * pb[i], 1e-12);
	for (size_t r = 0; task == FIT_TASK_CLASSIFICATION && r < n; r++)
		for (size_t j = 0; j < nout; j++)
			ck_assert(pe[r * nout + j] <= pe[r * nout + (size_t)lab[r]]);
	ck_assert_int_eq(fit_model_margins(a, f, NULL, n, 1, za, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_margins(b, f, NULL, n, 1, zb, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_margins(e, f, NULL, n, 1, ze, NULL), FITD_OK);
	ck_assert_msg(fit_model_contributions(e, f, NULL, n, 1, c, &err) == FITD_OK, "%s",
		      err.message);
	for (size_t i = 0; i < n * k; i++) {
		double s = 0;

		ck_assert_double_eq_tol(ze[i], 0.75 * za[i] + 0.25 * zb[i], 1e-9);
		for (size_t j = 0; j < w; j++)
			s += c[i * w + j];
		ck_assert_msg(fabs(s - ze[i]) < 1e-8, "row %zu: %.17g vs %.17g", i, s, ze[i]);
	}
	ck_assert_int_eq(fit_model_score(e, f, NULL, n, metric, 1, &se, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_score(a, f, NULL, n, metric, 1, &sa, NULL), FITD_OK);
	ck_assert(isfinite(se) && isfinite(sa));
	ck_assert_uint_ge(fit_model_explain_cost(e), 2);
	free(pa);
	free(pb);
	free(pe);
	free(za);
	free(zb);
	free(ze);
	free(c);
	free(lab);
	fit_model_free(a);
	fit_model_free(b);
	fit_model_free(e);
	fit_frame_free(f);
}

START_TEST(test_model_classification)
{
	check_model("iris.csv", "species", FIT_TASK_CLASSIFICATION, FIT_MODEL_LOGISTIC,
		    FIT_MODEL_GBDT, FIT_METRIC_LOG_LOSS);
}
END_TEST

START_TEST(test_model_regression)
{
	check_model("diabetes.csv", "progression", FIT_TASK_REGRESSION, FIT_MODEL_LINEAR,
		    FIT_MODEL_MLP, FIT_METRIC_RMSE);
}
END_TEST

START_TEST(test_model_refuses)
{
	struct fit_frame *f = th_csv("iris.csv"), *g = th_csv("diabetes.csv");
	struct fit_model *two[2] = {
		train_kind(f, "species", FIT_TASK_CLASSIFICATION, FIT_MODEL_LOGISTIC),
		train_kind(g, "progression", FIT_TASK_REGRESSION, FIT_MODEL_LINEAR),
	};
	struct fit_model *one[1] = { train_kind(f, "species", FIT_TASK_CLASSIFICATION,
						FIT_MODEL_LOGISTIC) };
	struct fit_model *e = NULL;

	/* members of other targets are refused, and freed */
	ck_assert_int_eq(fit_model_ensemble_new(two, (double[]){ 1, 1 }, 2, &e, NULL),
			 FITD_EFORMAT);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(fit_model_ensemble_new(one, (double[]){ 0 }, 1, &e, NULL), FITD_EINVAL);
	ck_assert_int_eq(fit_model_ensemble_new(one, (double[]){ 1 }, 0, &e, NULL), FITD_EINVAL);
	fit_frame_free(f);
	fit_frame_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ensemble");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_picks_better);
	tcase_add_test(tc, test_complementary_beats_best);
	tcase_add_test(tc, test_limit_keeps_members_within_budget);
	tcase_add_test(tc, test_ties_and_repeats);
	tcase_add_test(tc, test_crossfit_one_candidate);
	tcase_add_test(tc, test_crossfit_complementary);
	tcase_add_test(tc, test_crossfit_noise);
	tcase_add_test(tc, test_regression_mean);
	tcase_add_test(tc, test_model_classification);
	tcase_add_test(tc, test_model_regression);
	tcase_add_test(tc, test_model_refuses);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_model_gbdt.c - gradient-boosted trees as a model family, through the
 * calls every family shares (fit_model_train, predict, margins, score,
 * desc, rebuild, memory): the three tasks on real tables, raw columns with
 * missing values and categories, the standardized regression target, the
 * progress in the metric's units, cancellation, and the memory estimate.
 * The tree engine's own tests are test_gbdt*.c.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/explain.h"
#include "worker/fit/gbdt.h"

static struct fit_params gbdt_params(void)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_GBDT;
	p.learning_rate = 0.1;
	p.reg = FIT_REG_L2;
	p.penalty = 1.0;
	p.gbdt.trees = 60;
	p.gbdt.max_leaves = 8;
	p.gbdt.min_leaf_rows = 5;
	return p;
}

/* A table of tests/data, its problem on all rows, and a model of p. */
struct fitted {
	struct fit_frame *f;
	size_t *rows, *feat;
	struct fit_problem prob;
	struct fit_model *m;
};

static void fit_table(struct fitted *t, const char *file, const char *target, enum fit_task task,
		      const struct fit_params *p)
{
	t->f = th_csv(file);
	t->rows = th_rows(t->f->nrows);
	t->prob = th_problem(t->f, target, task, t->rows, t->f->nrows, NULL, 0, &t->feat);
	t->m = th_train(&t->prob, p);
}

static void fitted_free(struct fitted *t)
{
	fit_model_free(t->m);
	free(t->rows);
	free(t->feat);
	fit_frame_free(t->f);
}

/* Each task learns its table, and the model says it is a gbdt of raw columns. */
START_TEST(test_tasks)
{
	static const struct {
		const char *file, *target;
		enum fit_task task;
		enum fit_metric metric;
		double at_least;
	} cases[] = {
		{ "iris.csv", "species", FIT_TASK_CLASSIFICATION, FIT_METRIC_ACCURACY, 0.97 },
		{ "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION, FIT_METRIC_AUC, 0.99 },
		{ "diabetes.csv", "progression", FIT_TASK_REGRESSION, FIT_METRIC_R2, 0.6 },
	};
	struct fit_params p = gbdt_params();
	const struct fit_model_desc *d;
	struct fitted t;
	double score;

	fit_table(&t, cases[_i].file, cases[_i].target, cases[_i].task, &p);
	d = fit_model_desc(t.m);
	ck_assert_int_eq(d->params.model, FIT_MODEL_GBDT);
	ck_assert_ptr_nonnull(d->gbdt);
	ck_assert_uint_eq(d->nlayers, 0);
	ck_assert_ptr_null(d->feature_means);
	ck_assert_uint_eq(d->ncolumns, t.prob.nfeatures);
	ck_assert_uint_eq(d->gbdt->ntrees, 60 * d->gbdt->noutputs);
	ck_assert_uint_eq(d->report.epochs, 60);
	for (size_t j = 0; j < d->ncolumns; j++) {
		ck_assert_str_eq(d->columns[j].name, d->gbdt->columns[j].name);
		ck_assert(d->columns[j].scale == 1.0 && d->columns[j].center == 0.0);
	}
	ck_assert_int_eq(
	    fit_model_score(t.m, t.f, NULL, t.f->nrows, cases[_i].metric, 1, &score, NULL), 0);
	ck_assert_msg(score >= cases[_i].at_least, "%s: %g", cases[_i].file, score);
	fitted_free(&t);
}
END_TEST

/* Margins through the link are the predictions; a rebuilt model predicts bit-identically. */
START_TEST(test_margins_and_rebuild)
{
	static const char *const files[] = { "iris.csv", "breast_cancer.csv", "diabetes.csv" };
	static const char *const targets[] = { "species", "diagnosis", "progression" };
	struct fit_params p = gbdt_params();
	struct fitted t;
	struct fit_model *again = NULL;
	size_t n, k, no;
	double *v, *v2, *z;

	fit_table(&t, files[_i], targets[_i],
		  _i == 2 ? FIT_TASK_REGRESSION : FIT_TASK_CLASSIFICATION, &p);
	n = t.f->nrows;
	k = fit_model_nmargins(t.m);
	no = fit_model_noutputs(t.m);
	ck_assert_uint_eq(k, _i == 0 ? 3 : 1);
	v = malloc(n * no * sizeof(double));
	v2 = malloc(n * no * sizeof(double));
	z = malloc(n * k * sizeof(double));
	ck_assert_int_eq(fit_model_predict(t.m, t.f, NULL, n, 2, v, NULL, NULL), 0);
	ck_assert_int_eq(fit_model_margins(t.m, t.f, NULL, n, 1, z, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		if (_i == 2) {
			ck_assert(v[i] == z[i]);
		} else if (_i == 1) {
			ck_assert(fabs(v[i * 2 + 1] - 1.0 / (1.0 + exp(-z[i]))) < 1e-12);
		} else {
			double s = 0;

			for (size_t c = 0; c < 3; c++)
				s += exp(z[i * 3 + c]);
			for (size_t c = 0; c < 3; c++)
				ck_assert(fabs(v[i * 3 + c] - exp(z[i * 3 + c]) / s) < 1e-12);
		}
	}
	ck_assert_int_eq(fit_model_rebuild(fit_model_desc(t.m), &again, NULL), 0);
	ck_assert_int_eq(fit_model_predict(again, t.f, NULL, n, 1, v2, NULL, NULL), 0);
	ck_assert_int_eq(memcmp(v, v2, n * no * sizeof(double)), 0);
	fit_model_free(again);
	free(v);
	free(v2);
	free(z);
	fitted_free(&t);
}
END_TEST

/*
 * Trees fit a standardized target: the same table with the target in other
 * units (times 1000, plus 5000) gives the same model in those units, with
 * the huber loss whose delta is in target deviations.
 */
START_TEST(test_target_units)
{
	static const char *const names[] = { "x1", "x2", "y" };
	enum {
		N = 300
	};
	double *cols = malloc(3 * N * sizeof(double));
	struct fit_params p = gbdt_params();
	struct fit_frame *f[2];
	struct fit_model *m[2];
	size_t *rows = th_rows(N), *feat[2];
	double pred[2][N];

	p.loss = FIT_LOSS_HUBER;
	p.huber_delta = 1.0;
	for (int u = 0; u < 2; u++) {
		struct fit_problem prob;

		for (size_t i = 0; i < N; i++) {
			double x1 = (double)(i % 17) / 17.0, x2 = (double)(i % 23) / 23.0;
			double y = sin(6 * x1) + x2 * x2 + 0.1 * (double)(i % 5);

			cols[i] = x1;
			cols[N + i] = i % 11 == 0 ? NAN : x2; /* missing values, as they are */
			cols[2 * N + i] = u == 0 ? y : 5000 + 1000 * y;
		}
		f[u] = th_frame_num(N, 3, names, cols);
		prob = th_problem(f[u], "y", FIT_TASK_REGRESSION, rows, N, NULL, 0, &feat[u]);
		m[u] = th_train(&prob, &p);
		ck_assert_int_eq(fit_model_predict(m[u], f[u], NULL, N, 1, pred[u], NULL, NULL), 0);
	}
	for (size_t i = 0; i < N; i++)
		ck_assert_msg(fabs(pred[1][i] - (5000 + 1000 * pred[0][i])) < 1e-6,
			      "row %zu: %.17g vs %.17g", i, pred[1][i], 5000 + 1000 * pred[0][i]);
	ck_assert(fabs(fit_model_desc(m[1])->y_scale / fit_model_desc(m[0])->y_scale - 1000) <
		  1e-9);
	for (int u = 0; u < 2; u++) {
		fit_model_free(m[u]);
		fit_frame_free(f[u]);
		free(feat[u]);
	}
	free(rows);
	free(cols);
}
END_TEST

struct seen {
	unsigned rounds, last;
	double last_score;
	int calls, stop_after;
};

static void on_progress(void *data, const struct fit_progress *p)
{
	struct seen *s = data;

	ck_assert_uint_eq(p->epoch, s->last + 1);
	ck_assert_ptr_null(p->valid_margins); /* the family's progress, not the engine's */
	s->last = p->epoch;
	s->last_score = p->valid_score;
	s->rounds++;
}

static int on_abort(void *data)
{
	struct seen *s = data;

	return s->stop_after > 0 && ++s->calls > s->stop_after;
}

/*
 * Progress comes once per round with the job's metric on the validation
 * rows (not the engine's loss): the last round's score is the model's.
 */
START_TEST(test_progress_in_metric_units)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t *train, *valid, nt, nv, *feat;
	struct fit_problem prob;
	struct fit_params p = gbdt_params();
	struct seen s = { 0 };
	struct fit_callbacks cb = { on_abort, on_progress, &s };
	struct fit_model *m = NULL;
	double score;

	th_split(f->nrows, &train, &nt, &valid, &nv);
	prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, train, nt, valid, nv, &feat);
	p.metric = FIT_METRIC_BALANCED_ACCURACY;
	p.gbdt.trees = 25;
	ck_assert_int_eq(fit_model_train(&prob, &p, &cb, &m, NULL), 0);
	ck_assert_uint_eq(s.rounds, 25);
	ck_assert_int_eq(
	    fit_model_score(m, f, valid, nv, FIT_METRIC_BALANCED_ACCURACY, 1, &score, NULL), 0);
	ck_assert_msg(s.last_score == score, "%.17g vs %.17g", s.last_score, score);
	ck_assert(fit_model_desc(m)->report.valid_score == score);
	fit_model_free(m);
	/* Regression: the metric in target units, exactly as scoring gives it. */
	{
		struct fit_frame *g = th_csv("diabetes.csv");
		size_t *gt, *gv, ngt, ngv, *gf;
		struct fit_problem gp;

		th_split(g->nrows, &gt, &ngt, &gv, &ngv);
		gp = th_problem(g, "progression", FIT_TASK_REGRESSION, gt, ngt, gv, ngv, &gf);
		p.metric = FIT_METRIC_MAE;
		s = (struct seen){ 0 };
		ck_assert_int_eq(fit_model_train(&gp, &p, &cb, &m, NULL), 0);
		ck_assert_int_eq(fit_model_score(m, g, gv, ngv, FIT_METRIC_MAE, 1, &score, NULL),
				 0);
		ck_assert_msg(s.last_score == score, "%.17g vs %.17g", s.last_score, score);
		fit_model_free(m);
		free(gt);
		free(gv);
		free(gf);
		fit_frame_free(g);
	}
	p.metric = FIT_METRIC_BALANCED_ACCURACY;
	/* Cancelled between rounds: the abort callback reaches the engine. */
	s = (struct seen){ .stop_after = 40 };
	p.gbdt.trees = 1000;
	ck_assert_int_eq(fit_model_train(&prob, &p, &cb, &m, NULL), FITD_ECANCELLED);
	ck_assert_ptr_null(m);
	free(train);
	free(valid);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/* Categorical columns go to the trees as they are; unseen levels predict. */
START_TEST(test_categorical_columns)
{
	struct fit_frame_builder *b = NULL;
	struct fit_frame *f = NULL, *g = NULL;
	struct fit_params p = gbdt_params();
	size_t *rows = th_rows(200), *feat;
	struct fit_problem prob;
	struct fit_model *m;
	static const char *const colors[] = { "red", "green", "blue", "black" };
	double v[3 * 200];
	double acc;

	ck_assert_int_eq(fit_frame_builder_new(200, 3, &b), 0);
	fit_frame_builder_column(b, 0, "color", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 1, "x", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "y", FIT_COL_CATEGORICAL);
	for (size_t i = 0; i < 200; i++) {
		const char *c = colors[i % 4];
		int hot = i % 4 == 0 || i % 4 == 2; /* red or blue */

		fit_frame_builder_set_cat(b, 0, i, i % 13 == 0 ? NULL : c, strlen(c));
		fit_frame_builder_set_num(b, 1, i, (double)(i % 7));
		fit_frame_builder_set_cat(b, 2, i, hot ? "yes" : "no", hot ? 3 : 2);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	prob = th_problem(f, "y", FIT_TASK_CLASSIFICATION, rows, 200, NULL, 0, &feat);
	p.gbdt.min_leaf_rows = 1;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_model_desc(m)->columns[0].type, FIT_COL_CATEGORICAL);
	ck_assert_uint_eq(fit_model_desc(m)->columns[0].nlevels, 4);
	ck_assert_int_eq(fit_model_score(m, f, NULL, 200, FIT_METRIC_ACCURACY, 1, &acc, NULL), 0);
	ck_assert_msg(acc > 0.9, "%g", acc);
	/* A frame with a level training never saw, and the columns in another order. */
	ck_assert_int_eq(fit_frame_builder_new(1, 2, &b), 0);
	fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 1, "color", FIT_COL_CATEGORICAL);
	fit_frame_builder_set_num(b, 0, 0, 3.0);
	fit_frame_builder_set_cat(b, 1, 0, "purple", 6);
	ck_assert_int_eq(fit_frame_builder_finish(b, &g), 0);
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 1, 1, v, NULL, NULL), 0);
	ck_assert(fabs(v[0] + v[1] - 1.0) < 1e-12);
	fit_model_free(m);
	fit_frame_free(f);
	fit_frame_free(g);
	free(rows);
	free(feat);
}
END_TEST

/*
 * Permutation importance reads a gbdt's raw columns: the column the target
 * follows ranks first, the noise column near zero; repeatable; and a gbdt
 * has no coefficients.
 */
START_TEST(test_permutation_importance)
{
	static const char *const names[] = { "noise", "signal", "y" };
	enum {
		N = 300
	};
	double cols[3 * N], imp[2], again[2], sd[2];
	struct fit_params p = gbdt_params();
	struct fit_frame *f;
	size_t *rows = th_rows(N), *feat;
	struct fit_problem prob;
	struct fit_model *m;
	struct fit_coefs *c = NULL;

	for (size_t i = 0; i < N; i++) {
		cols[i] = (double)((i * 7919) % 101);
		cols[N + i] = (double)(i % 29);
		cols[2 * N + i] = i % 5 == 0 ? NAN : cols[N + i] * cols[N + i];
	}
	f = th_frame_num(N, 3, names, cols);
	prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, N, NULL, 0, &feat);
	m = th_train(&prob, &p);
	ck_assert_int_eq(
	    fit_explain_permutation(m, f, rows, N, FIT_METRIC_RMSE, 3, 7, 1, imp, sd, NULL), 0);
	ck_assert_int_eq(
	    fit_explain_permutation(m, f, rows, N, FIT_METRIC_RMSE, 3, 7, 2, again, NULL, NULL), 0);
	ck_assert_msg(imp[1] > 100 * fabs(imp[0]) && imp[1] > 10, "%g %g", imp[0], imp[1]);
	ck_assert(imp[0] == again[0] && imp[1] == again[1]);
	ck_assert_int_eq(fit_explain_coefficients(m, &c, NULL), FITD_EINVAL);
	fit_model_free(m);
	fit_frame_free(f);
	free(rows);
	free(feat);
}
END_TEST

/* The admission estimate covers what the engine allocated, and grows with the trees. */
START_TEST(test_memory)
{
	struct fit_params p = gbdt_params();
	struct fitted t;
	struct fit_shape sh;
	size_t bytes = 0, more = 0;

	fit_table(&t, "iris.csv", "species", FIT_TASK_CLASSIFICATION, &p);
	sh = (struct fit_shape){ t.f->nrows, t.prob.nfeatures, 2 * t.prob.nfeatures, 0, 3 };
	ck_assert_int_eq(fit_model_memory(&sh, &p, &bytes), 0);
	ck_assert_uint_ge(bytes, fit_model_desc(t.m)->gbdt->report.work_bytes);
	p.gbdt.trees = 1000;
	ck_assert_int_eq(fit_model_memory(&sh, &p, &more), 0);
	ck_assert_uint_gt(more, bytes);
	p.gbdt.max_bins = 1;
	ck_assert_int_eq(fit_model_memory(&sh, &p, &more), FITD_EINVAL);
	fitted_free(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("model_gbdt");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_tasks, 0, 3);
	tcase_add_loop_test(tc, test_margins_and_rebuild, 0, 3);
	tcase_add_test(tc, test_target_units);
	tcase_add_test(tc, test_progress_in_metric_units);
	tcase_add_test(tc, test_categorical_columns);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_permutation_importance);
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

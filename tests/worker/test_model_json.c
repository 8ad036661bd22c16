/*
 * test_model_json.c - the model document (worker/model_json.c): every
 * family written and read back predicts bit-identically, keeps its
 * features' training means (linear, mlp) or trees (gbdt), a document
 * written before the means were kept still loads, damaged trees are
 * refused naming the field, and a 1,000-tree model's load time is printed
 * (measured here, asserted nowhere: speed belongs to tests/bench/).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/worker/model_fixture.h"
#include "worker/fit/ensemble.h"
#include "worker/fit/explain.h"
#include "worker/fit/gbdt.h"
#include "worker/model_json.h"

enum {
	N = 400
};

/* y = sin(3 x1) + x2 > 0.5 (classification: its sign), a categorical c and missing x2. */
static struct fit_frame *table(int classes)
{
	static const char *const levels[] = { "a", "b", "c" };
	struct fit_frame_builder *b = NULL;
	struct fit_frame *f = NULL;

	ck_assert_int_eq(fit_frame_builder_new(N, 4, &b), 0);
	fit_frame_builder_column(b, 0, "x1", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 1, "x2", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "c", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 3, "y", classes ? FIT_COL_CATEGORICAL : FIT_COL_NUMERIC);
	for (size_t i = 0; i < N; i++) {
		double x1 = (double)(i % 37) / 37.0, x2 = (double)((i * 7) % 41) / 41.0;
		double y = sin(3 * x1) + x2 + (i % 3 == 1 ? 0.3 : 0.0);
		const char *k = y > 1.2 ? "hi" : y > 0.7 ? "mid" : "lo";

		fit_frame_builder_set_num(b, 0, i, x1);
		fit_frame_builder_set_num(b, 1, i, i % 9 == 0 ? NAN : x2);
		fit_frame_builder_set_cat(b, 2, i, levels[i % 3], 1);
		if (classes)
			fit_frame_builder_set_cat(b, 3, i, k, strlen(k));
		else
			fit_frame_builder_set_num(b, 3, i, y);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

static struct fit_model *train(const struct fit_frame *f, const struct fit_params *p, int classes)
{
	size_t rows[N], feat[3] = { 0, 1, 2 };
	struct fit_problem prob = {
		f,    3,    feat,
		3,    rows, N,
		NULL, 0,    classes ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION
	};
	struct fitd_error err = { 0 };
	struct fit_model *m = NULL;

	for (size_t i = 0; i < N; i++)
		rows[i] = i;
	ck_assert_msg(fit_model_train(&prob, p, NULL, &m, &err) == FITD_OK, "%s", err.message);
	return m;
}

/* The document as text and back: what a model file goes through. */
static json_t *through_text(const struct fit_model *m)
{
	json_t *doc = worker_model_to_json(m), *back;
	char *text;

	ck_assert_ptr_nonnull(doc);
	text = json_dumps(doc, JSON_COMPACT);
	back = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(back);
	free(text);
	json_decref(doc);
	return back;
}

static void same_predictions(const struct fit_model *a, const struct fit_model *b,
			     const struct fit_frame *f)
{
	size_t k = fit_model_noutputs(a);
	double *va = malloc(N * k * sizeof(double)), *vb = malloc(N * k * sizeof(double));

	ck_assert_int_eq(fit_model_predict(a, f, NULL, N, 1, va, NULL, NULL), 0);
	ck_assert_int_eq(fit_model_predict(b, f, NULL, N, 1, vb, NULL, NULL), 0);
	ck_assert_int_eq(memcmp(va, vb, N * k * sizeof(double)), 0);
	free(va);
	free(vb);
}

static struct fit_params params_of(int family)
{
	struct fit_params p;

	fit_params_init(&p);
	p.optimizer = FIT_OPT_LBFGS;
	p.epochs = 50;
	if (family == 0) {
		p.model = FIT_MODEL_LOGISTIC; /* replaced by linear for regression */
	} else if (family == 1) {
		p.model = FIT_MODEL_MLP;
		p.optimizer = FIT_OPT_ADAM;
		p.hidden_units[0] = 8;
		p.epochs = 5;
	} else {
		p.model = FIT_MODEL_GBDT;
		p.gbdt.trees = 30;
		p.gbdt.max_leaves = 6;
		p.gbdt.min_leaf_rows = 3;
	}
	return p;
}

/* Each family and task: written, read, predicting the same to the bit. */
START_TEST(test_round_trip)
{
	int family = _i % 3, classes = _i / 3;
	struct fit_frame *f = table(classes);
	struct fit_params p = params_of(family);
	struct fit_model *m, *back = NULL;
	struct fitd_error err = { 0 };
	const struct fit_model_desc *d, *e;
	json_t *doc;

	if (family == 0 && !classes)
		p.model = FIT_MODEL_LINEAR;
	m = train(f, &p, classes);
	doc = through_text(m);
	ck_assert_msg(worker_model_from_json(doc, &back, &err) == FITD_OK, "%s", err.message);
	same_predictions(m, back, f);
	d = fit_model_desc(m);
	e = fit_model_desc(back);
	if (family == 2) {
		ck_assert_ptr_nonnull(json_object_get(doc, "trees"));
		ck_assert_ptr_nonnull(json_object_get(json_object_get(doc, "params"), "gbdt"));
		ck_assert_ptr_null(
		    json_object_get(json_array_get(json_object_get(doc, "columns"), 0), "center"));
		ck_assert_uint_eq(e->gbdt->ntrees, d->gbdt->ntrees);
		ck_assert_uint_eq(e->params.gbdt.max_leaves, 6);
		ck_assert_uint_eq(e->columns[2].nlevels, 3);
	} else {
		ck_assert_ptr_null(json_object_get(doc, "trees"));
		ck_assert_ptr_nonnull(d->feature_means);
		ck_assert_ptr_nonnull(e->feature_means);
		ck_assert_int_eq(
		    memcmp(d->feature_means, e->feature_means, d->layers[0].nin * sizeof(double)),
		    0);
	}
	json_decref(doc);
	fit_model_free(back);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

/* A document from before the means were kept loads, with unknown means. */
START_TEST(test_without_means)
{
	struct fit_frame *f = table(1);
	struct fit_params p = params_of(0);
	struct fit_model *m = train(f, &p, 1), *back = NULL;
	json_t *doc = through_text(m), *col;
	size_t i;

	json_array_foreach(json_object_get(doc, "columns"), i, col) json_object_del(col, "means");
	ck_assert_int_eq(worker_model_from_json(doc, &back, NULL), FITD_OK);
	ck_assert_ptr_null(fit_model_desc(back)->feature_means);
	same_predictions(m, back, f);
	json_decref(doc);
	fit_model_free(back);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

/* Damaged trees are refused, naming what is wrong. */
/*
 * Documents written by fitd before categorical columns were read as codes
 * (commit b2d2635, which multiplied through a dense one-hot block) load and
 * predict what they predicted then: bit for bit but the order of a few
 * sums (1e-12 for the logistic model's double weights, 1e-6 for the float
 * network).
 */
START_TEST(test_documents_of_the_dense_one_hot_era)
{
	static const char *const names[] = { "model_logistic_b2d2635.json",
					     "model_mlp_b2d2635.json" };
	static const double tol[] = { 1e-12, 1e-6 };
	const char *dir = getenv("FITD_TEST_DATA");
	struct fit_frame *f = fixture_table();
	char path[4096];
	json_t *file, *want;
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };
	double *got;
	size_t k;

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(f);
	snprintf(path, sizeof(path), "%s/%s", dir, names[_i]);
	file = json_load_file(path, 0, NULL);
	ck_assert_ptr_nonnull(file);
	ck_assert_msg(worker_model_from_json(json_object_get(file, "model"), &m, &err) == FITD_OK,
		      "%s", err.message);
	ck_assert_uint_eq(fit_model_desc(m)->columns[2].nlevels, 11); /* and "other" */
	ck_assert_uint_eq(fit_model_desc(m)->layers[0].nin, 18);
	k = fit_model_noutputs(m);
	want = json_object_get(file, "predictions");
	ck_assert_uint_eq(json_array_size(want), FIX_N * k);
	got = malloc(FIX_N * k * sizeof(double));
	ck_assert_int_eq(fit_model_predict(m, f, NULL, FIX_N, 2, got, NULL, &err), FITD_OK);
	for (size_t i = 0; i < FIX_N * k; i++) {
		double w = json_real_value(json_array_get(want, i));

		ck_assert_msg(fabs(got[i] - w) <= tol[_i] * (1 + fabs(w)),
			      "%s value %zu: %.17g, was %.17g", names[_i], i, got[i], w);
	}
	free(got);
	fit_model_free(m);
	json_decref(file);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_damaged_trees)
{
	static const struct {
		const char *what; /* a key of the first tree, or of "trees" */
		json_t *(*value)(void);
		const char *says;
	} cases[] = {
		{ "column", json_null, "trees.list.column" },
		{ "left", json_array, "trees.list.left" },
		{ "cover", json_array, "trees.list.cover" },
		{ "base", json_array, "trees.base" },
		{ "cat_bits", json_null, "trees" },
		{ "list", json_null, "trees" },
	};
	struct fit_frame *f = table(1);
	struct fit_params p = params_of(2);
	struct fit_model *m = train(f, &p, 1), *back = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *doc = through_text(m), *trees = json_object_get(doc, "trees");
		json_t *tree = json_array_get(json_object_get(trees, "list"), 0);
		struct fitd_error err = { 0 };

		json_object_set_new(json_object_get(tree, cases[i].what) ? tree : trees,
				    cases[i].what, cases[i].value());
		ck_assert_int_eq(worker_model_from_json(doc, &back, &err), FITD_EFORMAT);
		ck_assert_msg(strstr(err.message, cases[i].says) != NULL, "%s: %s", cases[i].what,
			      err.message);
		ck_assert_ptr_null(back);
		json_decref(doc);
	}
	/* A right child out of the tree: the engine's validation has the last word. */
	{
		json_t *doc = through_text(m);
		json_t *tree = json_array_get(
		    json_object_get(json_object_get(doc, "trees"), "list"), 0);

		json_array_set_new(json_object_get(tree, "right"), 0, json_integer(100000));
		ck_assert_int_eq(worker_model_from_json(doc, &back, NULL), FITD_EFORMAT);
		json_decref(doc);
	}
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

/*
 * An ensemble of the three families, each task: written and read back, it
 * predicts and explains the same to the bit, with its members' weights;
 * a damaged member or a nested ensemble is refused.
 */
START_TEST(test_ensemble_round_trip)
{
	int classes = _i;
	struct fit_frame *f = table(classes);
	struct fit_model *members[3], *m = NULL, *back = NULL;
	struct fitd_error err = { 0 };
	json_t *doc, *bad;
	size_t w, k;
	double *ca, *cb;

	for (int family = 0; family < 3; family++) {
		struct fit_params p = params_of(family);

		if (family == 0 && !classes)
			p.model = FIT_MODEL_LINEAR;
		members[family] = train(f, &p, classes);
	}
	ck_assert_int_eq(fit_model_ensemble_new(members, (double[]){ 0.5, 0.2, 0.3 }, 3, &m, &err),
			 FITD_OK);
	doc = through_text(m);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "ensemble");
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "members")), 3);
	ck_assert_msg(worker_model_from_json(doc, &back, &err) == FITD_OK, "%s", err.message);
	ck_assert_uint_eq(fit_model_desc(back)->nmembers, 3);
	ck_assert(fit_model_desc(back)->weights[1] == fit_model_desc(m)->weights[1]);
	same_predictions(m, back, f);
	w = fit_model_desc(m)->ncolumns + 1;
	k = fit_model_nmargins(m);
	ca = malloc(N * k * w * sizeof(double));
	cb = malloc(N * k * w * sizeof(double));
	ck_assert_int_eq(fit_model_contributions(m, f, NULL, N, 1, ca, NULL), FITD_OK);
	ck_assert_int_eq(fit_model_contributions(back, f, NULL, N, 2, cb, NULL), FITD_OK);
	ck_assert_int_eq(memcmp(ca, cb, N * k * w * sizeof(double)), 0);
	fit_model_free(back);
	back = NULL;
	/* a member whose own document is damaged fails the whole */
	bad = json_deep_copy(doc);
	json_object_del(
	    json_object_get(json_array_get(json_object_get(bad, "members"), 1), "model"), "params");
	ck_assert_int_eq(worker_model_from_json(bad, &back, &err), FITD_EFORMAT);
	ck_assert_ptr_null(back);
	json_decref(bad);
	/* an ensemble inside an ensemble is refused */
	bad = json_deep_copy(doc);
	json_object_set(json_array_get(json_object_get(bad, "members"), 0), "model", doc);
	ck_assert_int_eq(worker_model_from_json(bad, &back, &err), FITD_EFORMAT);
	json_decref(bad);
	free(ca);
	free(cb);
	json_decref(doc);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A 1,000-tree model of 31 leaves: parsed and rebuilt; the time is printed. */
START_TEST(test_thousand_trees)
{
	struct fit_frame *f = table(0);
	struct fit_params p = params_of(2);
	struct fit_model *m, *back = NULL;
	json_t *doc, *again;
	char *text;
	double t0, t1;

	p.gbdt.trees = 1000;
	p.gbdt.max_leaves = 31;
	p.gbdt.min_leaf_rows = 1;
	p.learning_rate = 0.01;
	m = train(f, &p, 0);
	ck_assert_uint_eq(fit_model_desc(m)->gbdt->ntrees, 1000);
	doc = worker_model_to_json(m);
	text = json_dumps(doc, JSON_COMPACT);
	t0 = seconds();
	again = json_loads(text, 0, NULL);
	ck_assert_int_eq(worker_model_from_json(again, &back, NULL), FITD_OK);
	t1 = seconds();
	printf("model_json: a 1000-tree model of %zu bytes loads in %.3f s\n", strlen(text),
	       t1 - t0);
	same_predictions(m, back, f);
	free(text);
	json_decref(doc);
	json_decref(again);
	fit_model_free(back);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("model_json");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_round_trip, 0, 6);
	tcase_add_test(tc, test_without_means);
	tcase_add_loop_test(tc, test_documents_of_the_dense_one_hot_era, 0, 2);
	tcase_add_loop_test(tc, test_ensemble_round_trip, 0, 2);
	tcase_add_test(tc, test_damaged_trees);
	tcase_add_test(tc, test_thousand_trees);
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

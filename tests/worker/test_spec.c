/*
 * test_spec.c - the job spec: every default filled in, the normalized form
 * read back into an identical object, each kind of error with its status,
 * code and field path (one table row per case), task inference, budgets
 * and the column facts helper.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/worker/search_check.h"
#include "worker/search/space.h"

static int parse(const char *text, size_t nrows, struct worker_spec **spec, struct fitd_error *err)
{
	json_error_t jerr;
	json_t *body = json_loads(text, JSON_DECODE_ANY, &jerr);
	int rc;

	ck_assert_msg(body != NULL, "bad JSON in test: %s: %s", text, jerr.text);
	rc = worker_spec_parse(body, check_cols, check_ncols, nrows, spec, err);
	json_decref(body);
	return rc;
}

static void assert_json(const json_t *got, const char *expected)
{
	json_t *want = json_loads(expected, 0, NULL);
	char *a = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);

	ck_assert_msg(want != NULL, "bad expected JSON");
	ck_assert_msg(json_equal(got, want), "got %s", a);
	free(a);
	json_decref(want);
}

START_TEST(test_defaults_classification)
{
	struct worker_spec *spec = check_spec("{\"dataset\":\"ds_1\",\"target\":\"species\"}", 150);
	json_t *j = worker_spec_to_json(spec);

	assert_json(j,
		    "{\"dataset\":\"ds_1\",\"target\":\"species\",\"task\":\"classification\","
		    "\"exclude_columns\":[],\"metric\":\"accuracy\","
		    "\"validation\":{\"method\":\"cv\",\"folds\":5,\"repeats\":3},"
		    "\"early_stopping\":{\"patience\":10,\"gbdt_min_rows\":10000},"
		    "\"space\":{\"models\":[\"logistic\",\"svm\",\"mlp\",\"gbdt\"],"
		    "\"optimizer\":[\"sgd\",\"momentum\",\"adam\",\"lbfgs\",\"newton\",\"dcd\"],"
		    "\"learning_rate\":{\"min\":0.0001,\"max\":1.0,\"log\":true},"
		    "\"batch_size\":{\"min\":16,\"max\":512,\"log\":true},\"epochs\":200,"
		    "\"regularization\":[\"none\",\"l1\",\"l2\",\"elasticnet\",\"dropout\"],"
		    "\"penalty\":{\"min\":1e-6,\"max\":10.0,\"log\":true},"
		    "\"l1_ratio\":{\"min\":0.05,\"max\":0.95,\"log\":false},"
		    "\"loss\":[\"log\",\"hinge\",\"squared_hinge\"],"
		    "\"svm\":{\"C\":{\"min\":0.001,\"max\":100.0,\"log\":true}},"
		    "\"mlp\":{\"hidden_layers\":[1,2],\"units\":{\"min\":16,\"max\":256,"
		    "\"log\":true},\"activation\":[\"relu\",\"tanh\"],"
		    "\"dropout\":{\"min\":0.05,\"max\":0.5,\"log\":false}},"
		    "\"gbdt\":{\"learning_rate\":{\"min\":0.01,\"max\":0.3,\"log\":true},"
		    "\"trees\":{\"min\":16,\"max\":2000,\"log\":true},"
		    "\"max_leaves\":{\"min\":4,\"max\":256,\"log\":true},\"max_depth\":0,"
		    "\"min_child_weight\":0.001,"
		    "\"min_leaf_rows\":{\"min\":2,\"max\":100,\"log\":true},"
		    "\"min_split_gain\":0.0,\"subsample\":{\"min\":0.5,\"max\":1.0,\"log\":false},"
		    "\"colsample\":{\"min\":0.5,\"max\":1.0,\"log\":false},\"max_bins\":255}},"
		    "\"search\":{\"algorithm\":\"auto\",\"max_trials\":50,\"max_seconds\":600,"
		    "\"parallel_trials\":\"auto\",\"threads_per_trial\":\"auto\",\"seed\":0,"
		    "\"patience\":null,\"goal\":null,\"max_attempts\":3,\"ensemble\":\"auto\","
		    "\"refit\":true}}");
	ck_assert_int_eq(worker_spec_task(spec), FIT_TASK_CLASSIFICATION);
	ck_assert(worker_spec_higher_is_better(spec));
	ck_assert_uint_eq(worker_spec_early_patience(spec), 10);
	ck_assert_uint_eq(worker_spec_search(spec)->max_trials, 50);
	json_decref(j);
	worker_spec_free(spec);
}
END_TEST

START_TEST(test_defaults_regression)
{
	struct worker_spec *spec = check_spec("{\"dataset\":\"ds_1\",\"target\":\"y\"}", 20000);
	json_t *j = worker_spec_to_json(spec);
	json_t *space = json_object_get(j, "space");
	unsigned folds = 9, repeats = 9;
	double fraction = 0;

	ck_assert_str_eq(json_string_value(json_object_get(j, "task")), "regression");
	ck_assert_str_eq(json_string_value(json_object_get(j, "metric")), "rmse");
	assert_json(json_object_get(j, "validation"), "{\"method\":\"holdout\",\"fraction\":0.2}");
	assert_json(json_object_get(space, "models"), "[\"linear\",\"mlp\",\"gbdt\"]");
	assert_json(json_object_get(space, "loss"), "[\"squared\",\"huber\",\"absolute\"]");
	assert_json(json_object_get(space, "huber_delta"),
		    "{\"min\":0.5,\"max\":3.0,\"log\":false}");
	ck_assert_ptr_null(json_object_get(space, "svm"));
	ck_assert(!worker_spec_higher_is_better(spec));
	ck_assert_int_eq(worker_spec_validation(spec, &folds, &repeats, &fraction),
			 WORKER_VALIDATION_HOLDOUT);
	ck_assert_uint_eq(folds, 0);
	ck_assert_uint_eq(repeats, 0);
	ck_assert(fraction == 0.2);
	json_decref(j);
	worker_spec_free(spec);
}
END_TEST

/* ---- round trip ---- */

static const char *const round_trips[] = {
	"{\"dataset\":\"d\",\"target\":\"species\"}",
	"{\"dataset\":\"d\",\"target\":\"y\"}",
	"{\"dataset\":\"d\",\"target\":\"y\",\"space\":{\"models\":[\"linear\"],\"optimizer\":"
	"\"sgd\",\"learning_rate\":0.01,\"epochs\":1000,\"batch_size\":32,\"regularization\":"
	"\"none\",\"loss\":\"squared\"}}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"grid\"},\"space\":"
	"{\"learning_rate\":[0.1,0.01],\"mlp\":{\"units\":[8,16]}}}",
	"{\"dataset\":\"d\",\"target\":\"label\",\"task\":\"classification\",\"exclude_columns\":"
	"[\"x2\"],\"metric\":\"auc\",\"validation\":{\"method\":\"holdout\",\"fraction\":0.25},"
	"\"early_stopping\":false,\"search\":{\"algorithm\":\"tpe\",\"max_trials\":20,\"seed\":"
	"42,\"parallel_trials\":2,\"threads_per_trial\":1,\"patience\":5,\"goal\":0.99,"
	"\"max_attempts\":1}}",
	"{\"dataset\":\"d\",\"target\":\"y\",\"metric\":\"mae\",\"search\":{\"max_seconds\":60},"
	"\"space\":{\"models\":[\"mlp\"],\"regularization\":[\"dropout\",\"l2\"],\"mlp\":{"
	"\"hidden_layers\":{\"min\":1,\"max\":3},\"units\":[32,64],\"activation\":\"tanh\","
	"\"dropout\":[0.1,0.2]},\"loss\":[\"huber\"],\"huber_delta\":[1,2]}}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"early_stopping\":{\"patience\":3,"
	"\"gbdt_min_rows\":0},\"search\":"
	"{\"max_trials\":null,\"max_seconds\":30,\"algorithm\":\"asha\"},\"space\":{\"models\":"
	"[\"svm\"],\"svm\":{\"C\":[0.1,1,10]},\"optimizer\":[\"lbfgs\",\"adam\"]}}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"optimizer\":[\"lbfgs\"]},"
	"\"search\":{\"max_trials\":7}}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"max_seconds\":2.5}}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"max_seconds\":0.1e2,"
	"\"max_trials\":3e1}}",
};

START_TEST(test_round_trip)
{
	struct worker_spec *spec = check_spec(round_trips[_i], 150), *again = NULL;
	struct fitd_error err = { 0 };
	json_t *first = worker_spec_to_json(spec), *second;
	char *text = json_dumps(first, JSON_SORT_KEYS | JSON_COMPACT);
	json_t *stored = json_loads(text, 0, NULL);

	/* Through text, as the store keeps it. */
	ck_assert_msg(worker_spec_from_json(stored, &again, &err) == FITD_OK, "%s: %s", text,
		      err.message);
	second = worker_spec_to_json(again);
	ck_assert_msg(json_equal(first, second), "%s", text);
	ck_assert_uint_eq(search_space_size(worker_spec_space(spec)),
			  search_space_size(worker_spec_space(again)));
	ck_assert_uint_eq(worker_spec_search(spec)->seed, worker_spec_search(again)->seed);
	free(text);
	json_decref(first);
	json_decref(second);
	json_decref(stored);
	worker_spec_free(spec);
	worker_spec_free(again);
}
END_TEST

START_TEST(test_from_json_needs_resolved)
{
	static const char *const bad[] = {
		"{\"dataset\":\"d\",\"target\":\"y\",\"task\":\"auto\",\"validation\":{\"method\":"
		"\"cv\"}}",
		"{\"dataset\":\"d\",\"target\":\"y\",\"task\":\"regression\"}",
	};

	for (size_t i = 0; i < 2; i++) {
		struct worker_spec *spec = NULL;
		struct fitd_error err = { 0 };
		json_t *j = json_loads(bad[i], 0, NULL);

		ck_assert_int_eq(worker_spec_from_json(j, &spec, &err), FITD_EUNPROCESSABLE);
		ck_assert_str_eq(err.code, "missing_field");
		ck_assert_ptr_null(spec);
		json_decref(j);
	}
}
END_TEST

/* ---- errors: one row per case ---- */

struct bad_case {
	const char *body;
	int status;
	const char *code;
	const char *path; /* the message starts with it */
};

#define D  "\"dataset\":\"d\","
#define DT "\"dataset\":\"d\",\"target\":\"species\","
#define DR "\"dataset\":\"d\",\"target\":\"y\","
#define F  FITD_EFORMAT
#define U  FITD_EUNPROCESSABLE

static const struct bad_case bad_cases[] = {
	/* shape and unknown keys, at every level */
	{ "[]", F, "wrong_type", "spec:" },
	{ "{" DT "\"colour\":1}", F, "unknown_field", "colour:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"k\":3}}", F, "unknown_field",
	  "validation.k:" },
	{ "{" DT "\"early_stopping\":{\"wait\":3}}", F, "unknown_field", "early_stopping.wait:" },
	{ "{" DT "\"search\":{\"budget\":3}}", F, "unknown_field", "search.budget:" },
	{ "{" DT "\"space\":{\"momentum\":0.9}}", F, "unknown_field", "space.momentum:" },
	{ "{" DT "\"space\":{\"mlp\":{\"unit\":3}}}", F, "unknown_field", "space.mlp.unit:" },
	{ "{" DT "\"space\":{\"svm\":{\"c\":3}}}", F, "unknown_field", "space.svm.c:" },
	{ "{" DT "\"space\":{\"learning_rate\":{\"min\":0.1,\"max\":1,\"step\":2}}}", F,
	  "unknown_field", "space.learning_rate.step:" },
	/* required fields and wrong types */
	{ "{\"target\":\"species\"}", U, "missing_field", "dataset:" },
	{ "{" D "\"task\":\"auto\"}", U, "missing_field", "target:" },
	{ "{\"dataset\":7,\"target\":\"species\"}", F, "wrong_type", "dataset:" },
	{ "{" D "\"target\":[\"species\"]}", F, "wrong_type", "target:" },
	{ "{" DT "\"task\":1}", F, "wrong_type", "task:" },
	{ "{" DT "\"exclude_columns\":\"x1\"}", F, "wrong_type", "exclude_columns:" },
	{ "{" DT "\"exclude_columns\":[1]}", F, "wrong_type", "exclude_columns[0]:" },
	{ "{" DT "\"metric\":true}", F, "wrong_type", "metric:" },
	{ "{" DT "\"validation\":\"cv\"}", F, "wrong_type", "validation:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":\"5\"}}", F, "wrong_type",
	  "validation.folds:" },
	{ "{" DT "\"early_stopping\":\"yes\"}", F, "wrong_type",
	  "early_stopping: expected true, false or an object" },
	{ "{" DT "\"search\":[]}", F, "wrong_type", "search:" },
	{ "{" DT "\"search\":{\"max_trials\":\"5\"}}", F, "wrong_type", "search.max_trials:" },
	{ "{" DT "\"search\":{\"seed\":1.5}}", F, "wrong_type", "search.seed:" },
	{ "{" DT "\"search\":{\"parallel_trials\":1.5}}", F, "wrong_type",
	  "search.parallel_trials:" },
	{ "{" DT "\"search\":{\"goal\":\"high\"}}", F, "wrong_type", "search.goal:" },
	{ "{" DT "\"space\":[]}", F, "wrong_type", "space:" },
	{ "{" DT "\"space\":{\"mlp\":3}}", F, "wrong_type", "space.mlp:" },
	{ "{" DT "\"space\":{\"models\":3}}", F, "wrong_type", "space.models:" },
	{ "{" DT "\"space\":{\"batch_size\":3.5}}", F, "wrong_type", "space.batch_size:" },
	{ "{" DT "\"space\":{\"batch_size\":{\"min\":16.5,\"max\":64}}}", F, "wrong_type",
	  "space.batch_size.min:" },
	/* a real with a fraction, or beyond 2^53, is not an integer */
	{ "{" DT "\"search\":{\"max_trials\":30.5}}", F, "wrong_type", "search.max_trials:" },
	{ "{" DT "\"search\":{\"max_trials\":1e16}}", F, "wrong_type", "search.max_trials:" },
	{ "{" DT "\"search\":{\"seed\":1e300}}", F, "wrong_type", "search.seed:" },
	{ "{" DT "\"search\":{\"max_attempts\":2.5}}", F, "wrong_type", "search.max_attempts:" },
	{ "{" DT "\"search\":{\"ensemble\":1}}", F, "wrong_type", "search.ensemble:" },
	{ "{" DT "\"search\":{\"refit\":\"no\"}}", F, "wrong_type", "search.refit:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":4.5}}", F, "wrong_type",
	  "validation.folds:" },
	{ "{" DT "\"early_stopping\":{\"patience\":0.5}}", F, "wrong_type",
	  "early_stopping.patience:" },
	{ "{" DT "\"early_stopping\":{\"gbdt_min_rows\":\"all\"}}", F, "wrong_type",
	  "early_stopping.gbdt_min_rows:" },
	{ "{" DT "\"space\":{\"mlp\":{\"units\":[16,-1e300]}}}", F, "wrong_type",
	  "space.mlp.units[1]:" },
	{ "{" DT "\"space\":{\"epochs\":1e20}}", F, "wrong_type", "space.epochs:" },
	{ "{" DT "\"space\":{\"learning_rate\":\"fast\"}}", F, "wrong_type",
	  "space.learning_rate:" },
	{ "{" DT "\"space\":{\"learning_rate\":{\"min\":0.1,\"max\":1,\"log\":1}}}", F,
	  "wrong_type", "space.learning_rate.log:" },
	{ "{" DT "\"space\":{\"optimizer\":[\"adam\",3]}}", F, "wrong_type",
	  "space.optimizer[1]:" },
	/* columns */
	{ "{" D "\"target\":\"colour\"}", U, "unknown_column", "target:" },
	{ "{" DT "\"exclude_columns\":[\"x1\",\"nope\"]}", U, "unknown_column",
	  "exclude_columns[1]:" },
	{ "{" DT "\"exclude_columns\":[\"species\"]}", U, "invalid_combination",
	  "exclude_columns[0]:" },
	{ "{" DT "\"exclude_columns\":[\"x1\",\"x1\"]}", U, "duplicate_value",
	  "exclude_columns[1]:" },
	{ "{" DT "\"exclude_columns\":[\"x1\",\"x2\",\"y\",\"label\"]}", U, "invalid_combination",
	  "exclude_columns:" },
	/* task and metric */
	{ "{" DT "\"task\":\"clustering\"}", U, "unknown_value", "task:" },
	{ "{" DT "\"task\":\"regression\"}", U, "invalid_combination", "task:" },
	{ "{" DR "\"task\":\"classification\"}", U, "invalid_combination", "task:" },
	{ "{" DR "\"metric\":\"accuracy\"}", U, "invalid_combination", "metric:" },
	{ "{" DT "\"metric\":\"rmse\"}", U, "invalid_combination", "metric:" },
	{ "{" DT "\"metric\":\"precision\"}", U, "unknown_value", "metric:" },
	/* validation, early stopping */
	{ "{" DT "\"validation\":{\"folds\":5}}", U, "missing_field", "validation.method:" },
	{ "{" DT "\"validation\":{\"method\":\"bootstrap\"}}", U, "unknown_value",
	  "validation.method:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":1}}", U, "out_of_range",
	  "validation.folds:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":21}}", U, "out_of_range",
	  "validation.folds:" },
	{ "{" DT "\"validation\":{\"method\":\"holdout\",\"fraction\":0.9}}", U, "out_of_range",
	  "validation.fraction:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"repeats\":0}}", U, "out_of_range",
	  "validation.repeats:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":5,\"repeats\":5}}", U, "out_of_range",
	  "validation.repeats:" },
	{ "{" DT "\"validation\":{\"method\":\"holdout\",\"repeats\":2}}", U, "invalid_combination",
	  "validation.repeats:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"repeats\":\"2\"}}", F, "wrong_type",
	  "validation.repeats:" },
	{ "{" DT "\"validation\":{\"method\":\"holdout\",\"folds\":3}}", U, "invalid_combination",
	  "validation.folds:" },
	{ "{" DT "\"validation\":{\"method\":\"cv\",\"fraction\":0.2}}", U, "invalid_combination",
	  "validation.fraction:" },
	{ "{" DT "\"early_stopping\":{\"patience\":0}}", U, "out_of_range",
	  "early_stopping.patience:" },
	{ "{" DT "\"early_stopping\":{\"gbdt_min_rows\":-1}}", U, "out_of_range",
	  "early_stopping.gbdt_min_rows:" },
	/* search */
	{ "{" DT "\"search\":{\"algorithm\":\"bayes\"}}", U, "unknown_value", "search.algorithm:" },
	{ "{" DT "\"search\":{\"max_trials\":0}}", U, "out_of_range", "search.max_trials:" },
	{ "{" DT "\"search\":{\"max_trials\":10001}}", U, "out_of_range", "search.max_trials:" },
	{ "{" DT "\"search\":{\"max_seconds\":604801}}", U, "out_of_range", "search.max_seconds:" },
	{ "{" DT "\"search\":{\"max_seconds\":604800.5}}", U, "out_of_range",
	  "search.max_seconds:" },
	{ "{" DT "\"search\":{\"max_seconds\":0.5}}", U, "out_of_range", "search.max_seconds:" },
	{ "{" DT "\"search\":{\"max_trials\":10001.0}}", U, "out_of_range", "search.max_trials:" },
	{ "{" DT "\"search\":{\"parallel_trials\":0.0}}", U, "out_of_range",
	  "search.parallel_trials:" },
	{ "{" DT "\"search\":{\"max_trials\":null,\"max_seconds\":null}}", U, "invalid_combination",
	  "search:" },
	{ "{" DT "\"search\":{\"parallel_trials\":0}}", U, "out_of_range",
	  "search.parallel_trials:" },
	{ "{" DT "\"search\":{\"threads_per_trial\":\"many\"}}", U, "unknown_value",
	  "search.threads_per_trial:" },
	{ "{" DT "\"search\":{\"seed\":-1}}", U, "out_of_range", "search.seed:" },
	{ "{" DT "\"search\":{\"patience\":0}}", U, "out_of_range", "search.patience:" },
	{ "{" DT "\"search\":{\"goal\":1.5}}", U, "out_of_range", "search.goal:" },
	{ "{" DR "\"search\":{\"goal\":-1}}", U, "out_of_range", "search.goal:" },
	{ "{" DT "\"search\":{\"max_attempts\":11}}", U, "out_of_range", "search.max_attempts:" },
	{ "{" DT "\"search\":{\"ensemble\":\"always\"}}", U, "unknown_value", "search.ensemble:" },
	{ "{" DT "\"search\":{\"refit\":false,\"ensemble\":true}}", U, "invalid_combination",
	  "search.refit:" },
	/* values of the space */
	{ "{" DT "\"space\":{\"models\":[\"forest\"]}}", U, "unknown_value", "space.models[0]:" },
	{ "{" DT "\"space\":{\"models\":[]}}", U, "out_of_range", "space.models:" },
	{ "{" DT "\"space\":{\"models\":[\"mlp\",\"mlp\"]}}", U, "duplicate_value",
	  "space.models[1]:" },
	{ "{" DT "\"space\":{\"learning_rate\":[0.1,0.1]}}", U, "duplicate_value",
	  "space.learning_rate[1]:" },
	{ "{" DT "\"space\":{\"learning_rate\":{\"min\":1,\"max\":0.1}}}", U, "out_of_range",
	  "space.learning_rate:" },
	{ "{" DT "\"space\":{\"learning_rate\":{\"min\":0,\"max\":1}}}", U, "out_of_range",
	  "space.learning_rate.min:" },
	{ "{" DT "\"space\":{\"learning_rate\":{\"min\":0.1}}}", U, "missing_field",
	  "space.learning_rate.max:" },
	{ "{" DT "\"space\":{\"penalty\":{\"min\":0,\"max\":1,\"log\":true}}}", U, "out_of_range",
	  "space.penalty:" },
	{ "{" DT "\"space\":{\"epochs\":0}}", U, "out_of_range", "space.epochs:" },
	{ "{" DT "\"space\":{\"mlp\":{\"hidden_layers\":4}}}", U, "out_of_range",
	  "space.mlp.hidden_layers:" },
	{ "{" DT "\"space\":{\"mlp\":{\"dropout\":[0.5,0.95]}}}", U, "out_of_range",
	  "space.mlp.dropout[1]:" },
	{ "{" DT "\"space\":{\"batch_size\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	  "22,23,24,25,26,27,28,29,30,31,32,33]}}",
	  U, "out_of_range", "space.batch_size:" },
	/* combinations */
	{ "{" DT "\"space\":{\"models\":[\"linear\"]}}", U, "invalid_combination",
	  "space.models:" },
	{ "{" DR "\"space\":{\"models\":[\"svm\"]}}", U, "invalid_combination", "space.models:" },
	{ "{" DR "\"space\":{\"models\":[\"linear\"],\"loss\":[\"hinge\"]}}", U,
	  "invalid_combination", "space.loss:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\"],\"loss\":[\"log\",\"hinge\"]}}", U,
	  "invalid_combination", "space.loss:" },
	{ "{" DT "\"space\":{\"models\":[\"mlp\"],\"optimizer\":[\"lbfgs\"]}}", U,
	  "invalid_combination", "space.optimizer:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\"],\"regularization\":[\"dropout\"]}}", U,
	  "invalid_combination", "space.regularization:" },
	{ "{" DT "\"space\":{\"models\":[\"svm\"],\"regularization\":\"none\"}}", U,
	  "invalid_combination", "space.regularization:" },
	{ "{" DR "\"space\":{\"models\":[\"linear\"],\"optimizer\":\"lbfgs\",\"loss\":"
	  "\"absolute\"}}",
	  U, "invalid_combination", "space:" },
	{ "{" DR "\"space\":{\"models\":[\"linear\"],\"optimizer\":[\"lbfgs\",\"adam\"],\"loss\":"
	  "\"absolute\"}}",
	  U, "invalid_combination", "space.optimizer:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\",\"svm\",\"mlp\"],\"optimizer\":[\"lbfgs\"],"
	  "\"regularization\":[\"l1\"]}}",
	  U, "invalid_combination", "space: model logistic" },
	/* gbdt takes l1 and no optimizer: the optimizer list is what no model left uses */
	{ "{" DT "\"space\":{\"optimizer\":[\"lbfgs\"],\"regularization\":[\"l1\"]}}", U,
	  "invalid_combination", "space.optimizer:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\"],\"optimizer\":[\"lbfgs\"],"
	  "\"learning_rate\":0.1}}",
	  U, "invalid_combination", "space.learning_rate:" },
	{ "{" DT "\"space\":{\"optimizer\":[\"gd\"],\"batch_size\":32}}", U, "invalid_combination",
	  "space.batch_size:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\"],\"mlp\":{\"units\":32}}}", U,
	  "invalid_combination", "space.mlp.units:" },
	{ "{" DT "\"space\":{\"models\":[\"logistic\"],\"svm\":{\"C\":1}}}", U,
	  "invalid_combination", "space.svm.C:" },
	{ "{" DT "\"space\":{\"models\":[\"svm\"],\"penalty\":0.1}}", U, "invalid_combination",
	  "space.penalty:" },
	{ "{" DT "\"space\":{\"huber_delta\":1}}", U, "invalid_combination", "space.huber_delta:" },
	{ "{" DT "\"space\":{\"regularization\":\"l2\",\"l1_ratio\":0.5}}", U,
	  "invalid_combination", "space.l1_ratio:" },
	{ "{" DT "\"space\":{\"regularization\":\"l2\",\"mlp\":{\"dropout\":0.2}}}", U,
	  "invalid_combination", "space.mlp.dropout:" },
	{ "{" DT "\"search\":{\"algorithm\":\"grid\"},\"space\":{\"learning_rate\":{\"min\":0.1,"
	  "\"max\":1}}}",
	  U, "invalid_combination", "space.learning_rate:" },
	{ "{" DT "\"search\":{\"algorithm\":\"grid\",\"max_trials\":5},\"space\":{"
	  "\"learning_rate\":[0.1,0.01]}}",
	  U, "grid_too_large", "search.max_trials:" },
	{ "{" DT "\"search\":{\"algorithm\":\"grid\"},\"space\":{\"learning_rate\":[1,2,3,4,5,6,"
	  "7,8,9,10],\"batch_size\":[1,2,3,4,5,6,7,8,9,10],\"penalty\":[1,2,3,4,5,6,7,8,9,10],"
	  "\"epochs\":[1,2,3,4,5,6,7,8,9,10]}}",
	  U, "grid_too_large", "search.max_trials:" },
};

START_TEST(test_errors)
{
	const struct bad_case *c = &bad_cases[_i];
	struct worker_spec *spec = (struct worker_spec *)&spec; /* must become NULL */
	struct fitd_error err = { 0 };
	int rc = parse(c->body, 150, &spec, &err);

	ck_assert_msg(rc == c->status, "%s: status %d (%s: %s), expected %d", c->body, rc, err.code,
		      err.message, c->status);
	ck_assert_msg(strcmp(err.code, c->code) == 0, "%s: code %s, expected %s (%s)", c->body,
		      err.code, c->code, err.message);
	ck_assert_msg(strncmp(err.message, c->path, strlen(c->path)) == 0,
		      "%s: message '%s' does not start with %s", c->body, err.message, c->path);
	ck_assert_ptr_null(spec);
}
END_TEST

START_TEST(test_error_names_cut_whole)
{
	/* The message quotes 64 bytes of the name: a character across the cut is left out. */
	static const char body[] =
	    "{\"dataset\":\"d\",\"target\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\"}";
	struct worker_spec *spec = NULL;
	struct fitd_error err = { 0 };

	ck_assert_int_eq(parse(body, 150, &spec, &err), FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.message,
			 "target: no column named "
			 "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'");
}
END_TEST

/* ---- task inference ---- */

struct task_case {
	struct worker_column_info target;
	size_t rows;
	const char *task; /* given */
	int expect;	  /* a FIT_TASK_*, or -1 with code */
	const char *code;
	const char *message; /* text the error's message holds, or NULL */
};

static const struct task_case task_cases[] = {
	{ { "t", false, 3, 0, false, 0 }, 150, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", false, 1, 0, false, 0 }, 150, "auto", -1, "too_few_classes" },
	{ { "t", false, 2000, 0, false, 0 }, 5000, "auto", -1, "out_of_range" },
	{ { "t", true, 0, 0, false, 140 }, 150, "auto", FIT_TASK_REGRESSION, NULL },
	{ { "t", true, 0, 0, true, 2 }, 40, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", true, 0, 0, true, 3 }, 150, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", true, 0, 0, true, 10 }, 150, "auto", FIT_TASK_REGRESSION, NULL },
	{ { "t", true, 0, 0, true, 10 }, 1000, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", true, 0, 0, true, 20 }, 1000, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", true, 0, 0, true, 21 }, 100000, "auto", FIT_TASK_REGRESSION, NULL },
	{ { "t", true, 0, 100, true, 3 }, 150, "auto", FIT_TASK_REGRESSION, NULL }, /* 50 rows */
	{ { "t", true, 0, 0, true, 1 }, 150, "auto", -1, "too_few_classes" },
	{ { "t", true, 0, 0, false, 1 }, 150, "regression", -1, "too_few_classes" },
	{ { "t", true, 0, 0, true, 50 }, 150, "classification", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", true, 0, 0, true, 3 }, 150, "regression", FIT_TASK_REGRESSION, NULL },
	{ { "t", true, 0, 0, false, 50 }, 150, "classification", -1, "invalid_combination" },
	{ { "t", false, 3, 0, false, 0 }, 150, "regression", -1, "invalid_combination" },
	{ { "t", true, 0, 149, false, 140 }, 150, "auto", -1, "out_of_range" }, /* one row */
	/* levels nearly one per row (a numeric column with a stray text value) */
	{ { "t", false, 300, 0, false, 0 },
	  300,
	  "auto",
	  -1,
	  "out_of_range",
	  "give task classification" },
	{ { "t", false, 300, 0, false, 0 }, 300, "classification", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", false, 21, 0, false, 0 }, 44, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", false, 20, 0, false, 0 }, 20, "auto", FIT_TASK_CLASSIFICATION, NULL },
	{ { "t", false, 300, 0, false, 0 }, 300, "regression", -1, "invalid_combination", "levels" },
	/* every value missing: said so, not "fewer than 2 distinct values" */
	{ { "t", true, 0, 150, false, 0 }, 150, "auto", -1, "too_few_classes", "'t' has no value" },
	{ { "t", true, 0, 150, false, 0 }, 150, "regression", -1, "too_few_classes", "every row" },
};

START_TEST(test_task_inference)
{
	const struct task_case *c = &task_cases[_i];
	struct worker_column_info cols[2] = { { "x", true, 0, 0, false, 100 }, c->target };
	struct worker_spec *spec = NULL;
	struct fitd_error err = { 0 };
	char text[128];
	json_t *body;
	int rc;

	snprintf(text, sizeof(text), "{\"dataset\":\"d\",\"target\":\"t\",\"task\":\"%s\"}",
		 c->task);
	body = json_loads(text, 0, NULL);
	rc = worker_spec_parse(body, cols, 2, c->rows, &spec, &err);
	if (c->expect < 0) {
		ck_assert_int_eq(rc, FITD_EUNPROCESSABLE);
		ck_assert_str_eq(err.code, c->code);
		ck_assert_msg(c->message == NULL || strstr(err.message, c->message) != NULL, "%s",
			      err.message);
	} else {
		ck_assert_msg(rc == FITD_OK, "%s", err.message);
		ck_assert_int_eq(worker_spec_task(spec), c->expect);
	}
	worker_spec_free(spec);
	json_decref(body);
}
END_TEST

/*
 * A name that differs from a column only in case or in the blanks around it
 * (a header written "x, y") is answered with the column's name.
 */
START_TEST(test_unknown_column_names_a_near_one)
{
	static const struct {
		const char *body, *message;
	} cases[] = {
		{ "{\"dataset\":\"d\",\"target\":\"y\"}",
		  "target: no column named 'y'; the table has ' y'" },
		{ "{\"dataset\":\"d\",\"target\":\" y\",\"exclude_columns\":[\"species\"]}",
		  "exclude_columns[0]: no column named 'species'; the table has 'Species'" },
		{ "{\"dataset\":\"d\",\"target\":\"zzz\"}", "target: no column named 'zzz'" },
	};
	struct worker_column_info cols[3] = { { "x", true, 0, 0, false, 100 },
					      { " y", true, 0, 0, false, 140 },
					      { "Species", false, 3, 0, false, 0 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct worker_spec *spec = NULL;
		struct fitd_error err = { 0 };
		json_t *body = json_loads(cases[i].body, 0, NULL);

		ck_assert_int_eq(worker_spec_parse(body, cols, 3, 150, &spec, &err),
				 FITD_EUNPROCESSABLE);
		ck_assert_str_eq(err.code, "unknown_column");
		ck_assert_str_eq(err.message, cases[i].message);
		worker_spec_free(spec);
		json_decref(body);
	}
}
END_TEST

/* ---- budgets and the rest of the search object ---- */

START_TEST(test_budgets)
{
	static const struct {
		const char *search;
		const char *trials, *seconds; /* as JSON */
	} cases[] = {
		{ "{}", "50", "600" },
		{ "{\"max_trials\":10}", "10", "null" },
		{ "{\"max_seconds\":30}", "null", "30" },
		{ "{\"max_trials\":null}", "null", "600" },
		{ "{\"max_seconds\":null}", "50", "null" },
		{ "{\"max_trials\":5,\"max_seconds\":9}", "5", "9" },
		{ "{\"algorithm\":\"grid\"}", "4", "600" }, /* the grid's size */
		{ "{\"algorithm\":\"grid\",\"max_trials\":null}", "null", "600" },
		{ "{\"algorithm\":\"grid\",\"max_seconds\":60}", "4", "60" },
		/* numbers as clients send them: whole reals, fractional seconds as given */
		{ "{\"max_trials\":30.0,\"max_seconds\":30.0}", "30", "30" },
		{ "{\"max_seconds\":2.5}", "null", "2.5" },
		{ "{\"max_seconds\":1.25,\"max_trials\":1e1}", "10", "1.25" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct worker_spec *spec;
		json_t *j, *s;
		char *t, *sec;

		snprintf(text, sizeof(text), "{" DT "\"search\":%s}", cases[i].search);
		spec = check_spec(text, 150);
		j = worker_spec_to_json(spec);
		s = json_object_get(j, "search");
		t = json_dumps(json_object_get(s, "max_trials"), JSON_ENCODE_ANY);
		sec = json_dumps(json_object_get(s, "max_seconds"), JSON_ENCODE_ANY);
		ck_assert_msg(strcmp(t, cases[i].trials) == 0, "%s: max_trials %s", text, t);
		ck_assert_msg(strcmp(sec, cases[i].seconds) == 0, "%s: max_seconds %s", text, sec);
		free(t);
		free(sec);
		json_decref(j);
		worker_spec_free(spec);
	}
}
END_TEST

/*
 * Every integer field of a spec takes a whole number written as a real
 * (30.0, 3e1), as many JSON clients send them; the normalized spec is the
 * one the integers give. A duration keeps its fraction.
 */
START_TEST(test_whole_reals_are_integers)
{
	static const char ints[] =
	    "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":4,\"repeats\":2},"
	    "\"early_stopping\":{\"patience\":7},\"search\":{\"max_trials\":30,\"max_seconds\":"
	    "90,\"parallel_trials\":2,\"threads_per_trial\":1,\"seed\":9007199254740992,"
	    "\"patience\":9,\"max_attempts\":4},\"space\":{\"models\":[\"mlp\"],\"optimizer\":"
	    "[\"adam\"],\"batch_size\":[32,64],\"epochs\":100,\"mlp\":{\"hidden_layers\":{\"min\":"
	    "1,\"max\":2},\"units\":{\"min\":16,\"max\":64,\"log\":true}}}}";
	static const char reals[] =
	    "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":4.0,\"repeats\":2.0},"
	    "\"early_stopping\":{\"patience\":7.0},\"search\":{\"max_trials\":3e1,"
	    "\"max_seconds\":90.0,\"parallel_trials\":2.0,\"threads_per_trial\":1.0,\"seed\":"
	    "9007199254740992.0,\"patience\":9.0,\"max_attempts\":4.0},\"space\":{\"models\":"
	    "[\"mlp\"],\"optimizer\":[\"adam\"],\"batch_size\":[32.0,6.4e1],\"epochs\":100.0,"
	    "\"mlp\":{\"hidden_layers\":{\"min\":1.0,\"max\":2.0},\"units\":{\"min\":16.0,"
	    "\"max\":64.0,\"log\":true}}}}";
	struct worker_spec *a = check_spec(ints, 150), *b = check_spec(reals, 150);
	struct worker_spec *c = check_spec("{" DT "\"search\":{\"max_seconds\":2.5}}", 150);
	json_t *ja = worker_spec_to_json(a), *jb = worker_spec_to_json(b);
	char *ta = json_dumps(ja, JSON_SORT_KEYS | JSON_COMPACT);
	char *tb = json_dumps(jb, JSON_SORT_KEYS | JSON_COMPACT);

	ck_assert_str_eq(tb, ta);
	ck_assert_uint_eq(worker_spec_search(b)->max_trials, 30);
	ck_assert_uint_eq(worker_spec_search(b)->seed, 9007199254740992ull);
	ck_assert(worker_spec_search(b)->max_seconds == 90);
	ck_assert(worker_spec_search(c)->max_seconds == 2.5);
	free(ta);
	free(tb);
	json_decref(ja);
	json_decref(jb);
	worker_spec_free(a);
	worker_spec_free(b);
	worker_spec_free(c);
}
END_TEST

START_TEST(test_search_options)
{
	struct worker_spec *spec = check_spec(
	    "{" DT "\"exclude_columns\":[\"x2\",\"y\"],\"early_stopping\":false,\"validation\":"
	    "{\"method\":\"cv\",\"folds\":3},\"search\":{\"algorithm\":\"tpe\",\"seed\":"
	    "9007199254740993,\"parallel_trials\":\"auto\",\"threads_per_trial\":2,\"patience\":"
	    "7,\"goal\":0.9,\"max_attempts\":10,\"ensemble\":false}}",
	    150);
	const struct worker_search_options *o = worker_spec_search(spec);
	unsigned folds = 0, repeats = 0;
	double fraction = 1;

	ck_assert_uint_eq(worker_spec_exclude_count(spec), 2);
	ck_assert_str_eq(worker_spec_exclude(spec, 1), "y");
	ck_assert_ptr_null(worker_spec_exclude(spec, 2));
	ck_assert_str_eq(worker_spec_dataset(spec), "d");
	ck_assert_str_eq(worker_spec_target(spec), "species");
	ck_assert_uint_eq(worker_spec_early_patience(spec), 0);
	ck_assert_int_eq(worker_spec_validation(spec, &folds, &repeats, &fraction),
			 WORKER_VALIDATION_CV);
	ck_assert_uint_eq(folds, 3);
	ck_assert_uint_eq(repeats, 1); /* cv given without repeats: once */
	ck_assert(fraction == 0);
	ck_assert_int_eq(o->algorithm, WORKER_ALGORITHM_TPE);
	ck_assert_uint_eq(o->seed, 9007199254740993ull);
	ck_assert_uint_eq(o->parallel_trials, 0);
	ck_assert_uint_eq(o->threads_per_trial, 2);
	ck_assert_uint_eq(o->patience, 7);
	ck_assert(o->has_goal && o->goal == 0.9);
	ck_assert_uint_eq(o->max_attempts, 10);
	ck_assert(!o->ensemble);
	ck_assert(!o->ensemble_always);
	ck_assert_str_eq(worker_algorithm_name(o->algorithm), "tpe");
	worker_spec_free(spec);
}
END_TEST

/* search.refit: true by default; false keeps the trial's model, and turns "auto" ensembles off. */
START_TEST(test_search_refit)
{
	struct worker_spec *spec = check_spec("{" DT "\"search\":{\"refit\":false}}", 150);
	const struct worker_search_options *o = worker_spec_search(spec);
	json_t *j = worker_spec_to_json(spec), *search = json_object_get(j, "search");

	ck_assert(!o->refit);
	ck_assert(!o->ensemble);
	ck_assert(json_is_false(json_object_get(search, "refit")));
	ck_assert(json_is_false(json_object_get(search, "ensemble")));
	json_decref(j);
	worker_spec_free(spec);
	spec = check_spec("{" DT "\"search\":{\"refit\":true}}", 150);
	ck_assert(worker_spec_search(spec)->refit);
	ck_assert(worker_spec_search(spec)->ensemble);
	worker_spec_free(spec);
}
END_TEST

/* search.ensemble: "auto" decides, true always (and stays true when normalized). */
START_TEST(test_search_ensemble_modes)
{
	static const char *const in[] = { "\"auto\"", "true" };

	for (size_t i = 0; i < 2; i++) {
		char text[128];
		struct worker_spec *spec;
		json_t *j, *want;

		snprintf(text, sizeof(text), "{" DT "\"search\":{\"ensemble\":%s}}", in[i]);
		spec = check_spec(text, 150);
		ck_assert(worker_spec_search(spec)->ensemble);
		ck_assert(worker_spec_search(spec)->ensemble_always == (i == 1));
		j = worker_spec_to_json(spec);
		want = i == 1 ? json_true() : json_string("auto");
		ck_assert(
		    json_equal(json_object_get(json_object_get(j, "search"), "ensemble"), want));
		json_decref(want);
		json_decref(j);
		worker_spec_free(spec);
	}
}
END_TEST

/*
 * Tiny tables get fewer folds, small ones repeated folds, large ones holdout;
 * early_stopping true is the default.
 */
START_TEST(test_validation_defaults)
{
	struct worker_spec *tiny = check_spec("{" DT "\"early_stopping\":true}", 3);
	struct worker_spec *small = check_spec("{" DT "\"space\":{}}", 999);
	struct worker_spec *edge = check_spec("{" DT "\"space\":{}}", 10000);
	struct worker_spec *given = check_spec(
	    "{" DT "\"validation\":{\"method\":\"cv\",\"folds\":4,\"repeats\":5}}", 100);
	unsigned folds = 0, repeats = 0;

	ck_assert_int_eq(worker_spec_validation(tiny, &folds, &repeats, NULL),
			 WORKER_VALIDATION_CV);
	ck_assert_uint_eq(folds, 3);
	ck_assert_uint_eq(repeats, 1);
	ck_assert_uint_eq(worker_spec_early_patience(tiny), 10);
	ck_assert_int_eq(worker_spec_validation(small, &folds, &repeats, NULL),
			 WORKER_VALIDATION_CV);
	ck_assert_uint_eq(folds, 5);
	ck_assert_uint_eq(repeats, 3);
	ck_assert_int_eq(worker_spec_validation(edge, &folds, &repeats, NULL),
			 WORKER_VALIDATION_CV);
	ck_assert_uint_eq(folds, 5);
	ck_assert_uint_eq(repeats, 1);
	ck_assert_int_eq(worker_spec_validation(given, &folds, &repeats, NULL),
			 WORKER_VALIDATION_CV);
	ck_assert_uint_eq(folds, 4);
	ck_assert_uint_eq(repeats, 5);
	worker_spec_free(tiny);
	worker_spec_free(small);
	worker_spec_free(edge);
	worker_spec_free(given);
}
END_TEST

START_TEST(test_column_facts)
{
	const double ints[] = { 1, 2, NAN, 2, 3, 1, -4 };
	const double reals[] = { 1, 2.5, 2 };
	const double zeros[] = { 0.0, -0.0, NAN, NAN };
	double *many = malloc(5000 * sizeof(*many));
	struct worker_column_info info = { 0 };

	ck_assert_int_eq(worker_column_numeric_facts(ints, 7, &info), FITD_OK);
	ck_assert(info.integer_valued);
	ck_assert_uint_eq(info.distinct, 4);
	ck_assert_int_eq(worker_column_numeric_facts(reals, 3, &info), FITD_OK);
	ck_assert(!info.integer_valued);
	ck_assert_uint_eq(info.distinct, 3);
	ck_assert_int_eq(worker_column_numeric_facts(zeros, 4, &info), FITD_OK);
	ck_assert(info.integer_valued);
	ck_assert_uint_eq(info.distinct, 1);
	for (size_t i = 0; i < 5000; i++)
		many[i] = (double)i;
	ck_assert_int_eq(worker_column_numeric_facts(many, 5000, &info), FITD_OK);
	ck_assert(info.integer_valued);
	ck_assert_uint_eq(info.distinct, WORKER_DISTINCT_CAP);
	/* A fraction after the cap is reached still makes the column fractional. */
	many[4999] = 0.5;
	ck_assert_int_eq(worker_column_numeric_facts(many, 5000, &info), FITD_OK);
	ck_assert(!info.integer_valued);
	ck_assert_uint_eq(info.distinct, WORKER_DISTINCT_CAP);
	many[4999] = 0x1p53; /* whole, but past what a double counts exactly */
	ck_assert_int_eq(worker_column_numeric_facts(many, 5000, &info), FITD_OK);
	ck_assert(!info.integer_valued);
	ck_assert_int_eq(worker_column_numeric_facts(NULL, 0, &info), FITD_OK);
	ck_assert_uint_eq(info.distinct, 0);
	free(many);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The facts as a sort of the column gives them: the reference. */
static void reference_facts(const double *v, size_t n, bool *integer, size_t *distinct)
{
	double *s = malloc((n ? n : 1) * sizeof(*s));
	size_t m = 0;

	*integer = true;
	*distinct = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		*integer = *integer && v[i] == floor(v[i]) && fabs(v[i]) < 0x1p53;
		s[m++] = v[i];
	}
	qsort(s, m, sizeof(*s), cmp_double);
	for (size_t i = 0; i < m; i++)
		*distinct += i == 0 || s[i] != s[i - 1];
	if (*distinct > WORKER_DISTINCT_CAP)
		*distinct = WORKER_DISTINCT_CAP;
	free(s);
}

/* Random columns of every kind: few or many values, integers or not, missing ones, zeros. */
START_TEST(test_column_facts_match_a_sort)
{
	static const size_t sizes[] = { 1, 7, 100, 1000, 1001, 1002, 3000, 20000 };
	uint64_t state = 42;
	double *v = malloc(20000 * sizeof(*v));

	for (int round = 0; round < 200; round++) {
		size_t n = sizes[round % 8], levels = 1 + (size_t)(round * 37 % 1500);
		bool fractional = round % 3 == 0, integer;
		struct worker_column_info info = { 0 };
		size_t distinct;

		for (size_t i = 0; i < n; i++) {
			state = state * 6364136223846793005ULL + 1442695040888963407ULL;
			v[i] = (double)((state >> 33) % levels) - (double)levels / 2;
			if (fractional && (state >> 20) % 5 == 0)
				v[i] += 0.25;
			if ((state >> 12) % 11 == 0)
				v[i] = NAN;
			if (v[i] == 0 && (state >> 8) % 2)
				v[i] = -0.0;
		}
		reference_facts(v, n, &integer, &distinct);
		ck_assert_int_eq(worker_column_numeric_facts(v, n, &info), FITD_OK);
		ck_assert_msg(info.integer_valued == integer && info.distinct == distinct,
			      "round %d: n %zu levels %zu: got %d %zu, expected %d %zu", round, n,
			      levels, info.integer_valued, info.distinct, integer, distinct);
	}
	free(v);
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("spec");

	tcase_add_test(tc, test_defaults_classification);
	tcase_add_test(tc, test_defaults_regression);
	tcase_add_loop_test(tc, test_round_trip, 0,
			    (int)(sizeof(round_trips) / sizeof(round_trips[0])));
	tcase_add_test(tc, test_from_json_needs_resolved);
	tcase_add_test(tc, test_error_names_cut_whole);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_loop_test(tc, test_task_inference, 0,
			    (int)(sizeof(task_cases) / sizeof(task_cases[0])));
	tcase_add_test(tc, test_unknown_column_names_a_near_one);
	tcase_add_test(tc, test_budgets);
	tcase_add_test(tc, test_whole_reals_are_integers);
	tcase_add_test(tc, test_search_options);
	tcase_add_test(tc, test_search_ensemble_modes);
	tcase_add_test(tc, test_search_refit);
	tcase_add_test(tc, test_validation_defaults);
	tcase_add_test(tc, test_column_facts);
	tcase_add_test(tc, test_column_facts_match_a_sort);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_predict.c - prediction input for a model (worker/predict.c): the
 * columns it may name (the model's inputs and its target), the text that
 * lists the inputs in messages, and a CSV header with a column the model
 * does not know refused by name, while a missing input is left for the
 * core to name, and text in a numeric input named with its row.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/csv.h"
#include "worker/predict.h"

static struct fit_model *model;

/* A logistic model of y on x (numeric) and c (categorical), trained on a tiny table. */
static void setup(void)
{
	static const char csv[] = "x,c,y\n1,a,p\n2,b,p\n3,a,q\n4,b,q\n5,a,q\n0,b,p\n";
	static const size_t features[] = { 0, 1 }, rows[] = { 0, 1, 2, 3, 4, 5 };
	struct fitd_error err = { 0 };
	struct fit_frame *f = NULL;
	struct fit_params p;
	struct fit_problem prob = { .target = 2,
				    .features = features,
				    .nfeatures = 2,
				    .train = rows,
				    .ntrain = 6,
				    .task = FIT_TASK_CLASSIFICATION };

	ck_assert_int_eq(store_csv_parse(csv, sizeof(csv) - 1, NULL, &f, &err), FITD_OK);
	prob.frame = f;
	fit_params_init(&p);
	p.epochs = 5;
	p.threads = 1;
	fit_params_resolve(&p, FIT_TASK_CLASSIFICATION);
	ck_assert_msg(fit_model_train(&prob, &p, NULL, &model, &err) == FITD_OK, "%s", err.message);
	fit_frame_free(f);
}

static void teardown(void)
{
	fit_model_free(model);
}

/* Parses csv for the model (and excluded columns); the status, with the error into err. */
static int frame_with(const json_t *excluded, const char *csv, struct fitd_error *err)
{
	struct store_csv_options opt = { 0 };
	struct fit_frame *f = (struct fit_frame *)1;
	int rc = worker_predict_frame_csv(model, excluded, csv, strlen(csv), &opt, &f, err);

	ck_assert((rc == FITD_OK) == (f != NULL));
	fit_frame_free(f);
	return rc;
}

static int frame_of(const char *csv, struct fitd_error *err)
{
	return frame_with(NULL, csv, err);
}

START_TEST(known_columns_are_inputs_and_target)
{
	const struct fit_model_desc *d = fit_model_desc(model);
	char text[64];

	json_t *excluded = json_pack("[ss]", "id", "notes");

	ck_assert(worker_predict_column_known(d, NULL, "x"));
	ck_assert(worker_predict_column_known(d, NULL, "c"));
	ck_assert(worker_predict_column_known(d, NULL, "y"));
	ck_assert(!worker_predict_column_known(d, NULL, "z"));
	ck_assert(!worker_predict_column_known(d, NULL, "X"));
	ck_assert(!worker_predict_column_known(d, NULL, ""));
	ck_assert(!worker_predict_column_known(d, NULL, "id"));
	ck_assert(worker_predict_column_known(d, excluded, "id"));
	ck_assert(worker_predict_column_known(d, excluded, "notes"));
	ck_assert(worker_predict_column_known(d, excluded, "x"));
	ck_assert(!worker_predict_column_known(d, excluded, "z"));
	json_decref(excluded);
	worker_predict_inputs_text(d, text, sizeof(text));
	ck_assert_str_eq(text, "x, c");
	worker_predict_inputs_text(d, text, 8);
	ck_assert_str_eq(text, "x, \xe2\x80\xa6");
	worker_predict_inputs_text(d, text, 4);
	ck_assert_str_eq(text, "\xe2\x80\xa6");
}
END_TEST

START_TEST(csv_header_names_only_known_columns)
{
	struct fitd_error err = { 0 };

	ck_assert_int_eq(frame_of("x,c\n1,a\n", &err), FITD_OK);
	ck_assert_int_eq(frame_of("y,c,x\np,a,1\n", &err), FITD_OK); /* the target, any order */
	ck_assert_int_eq(frame_of("x,c,id\n1,a,7\n", &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "unknown_column");
	ck_assert_msg(strstr(err.message, "header column 3 ('id')") != NULL &&
			  strstr(err.message, "x, c") != NULL && strstr(err.message, "'y'") != NULL,
		      "%s", err.message);
	/* An input missing too: the core names it, so this one is let through. */
	ck_assert_int_eq(frame_of("x,id\n1,7\n", &err), FITD_OK);
}
END_TEST

/* A row of the training table, with the columns the job excluded, is accepted. */
START_TEST(csv_header_may_name_excluded_columns)
{
	struct fitd_error err = { 0 };
	json_t *excluded = json_pack("[s]", "id");

	ck_assert_int_eq(frame_with(excluded, "id,x,c,y\n7,1,a,p\n", &err), FITD_OK);
	ck_assert_int_eq(frame_with(excluded, "id,x,c,zz\n7,1,a,p\n", &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "unknown_column");
	ck_assert_msg(strstr(err.message, "'zz'") != NULL, "%s", err.message);
	json_decref(excluded);
}
END_TEST

/*
 * Text in a numeric input is named with its row; the core saw only a
 * categorical column there and said the data had no numeric column x.
 */
START_TEST(csv_text_in_a_numeric_input_is_named)
{
	struct fitd_error err = { 0 };

	ck_assert_int_eq(frame_of("x,c\n1,a\nNA,b\n 2.5 ,a\n1e400,b\n", &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "wrong_type");
	ck_assert_msg(strstr(err.message, "row 4, column 'x': '1e400' is not a number") != NULL,
		      "%s", err.message);
	ck_assert_int_eq(frame_of("x,c\n1,a\n\"1,5\",b\n", &err), FITD_EFORMAT);
	ck_assert_msg(strstr(err.message, "row 2, column 'x': '1,5'") != NULL, "%s", err.message);
	/* A missing input is said first (by the core), as before. */
	ck_assert_int_eq(frame_of("x\nabc\n", &err), FITD_OK);
	/* A categorical input takes numbers as levels. */
	ck_assert_int_eq(frame_of("x,c\n1,7\n2,8\n", &err), FITD_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker_predict");
	TCase *tc = tcase_create("input");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, known_columns_are_inputs_and_target);
	tcase_add_test(tc, csv_header_names_only_known_columns);
	tcase_add_test(tc, csv_header_may_name_excluded_columns);
	tcase_add_test(tc, csv_text_in_a_numeric_input_is_named);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

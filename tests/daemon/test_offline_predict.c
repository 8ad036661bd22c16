/*
 * test_offline_predict.c - the CSV that `fitd predict` prints, offline or
 * from the daemon's answer: a header, one line per row, numbers with 17
 * significant digits, and class names quoted when CSV needs it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/offline_predict.h"

static char *csv_of(const char *answer)
{
	json_t *res = json_loads(answer, 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(res);
	ck_assert_ptr_nonnull(f);
	offline_predict_write_csv(f, res);
	ck_assert_int_eq(fclose(f), 0);
	json_decref(res);
	return text;
}

START_TEST(regression_is_one_column)
{
	char *text = csv_of("{\"predictions\":[0.1,2,-3.5]}");

	ck_assert_str_eq(text, "prediction\n0.10000000000000001\n2\n-3.5\n");
	free(text);
}
END_TEST

START_TEST(classes_get_probability_columns_quoted_as_needed)
{
	char *text = csv_of("{\"predictions\":[\"a,b\",\"plain\"],"
			    "\"classes\":[\"a,b\",\"say \\\"hi\\\"\",\"plain\"],"
			    "\"probabilities\":[[0.5,0.25,0.25],[0,0,1]]}");

	ck_assert_str_eq(text, "prediction,\"p_a,b\",\"p_say \"\"hi\"\"\",p_plain\n"
			       "\"a,b\",0.5,0.25,0.25\n"
			       "plain,0,0,1\n");
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon_offline_predict");
	TCase *tc = tcase_create("csv");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, regression_is_one_column);
	tcase_add_test(tc, classes_get_probability_columns_quoted_as_needed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

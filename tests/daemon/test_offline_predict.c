/*
 * test_offline_predict.c - the CSV that `fitd predict` prints, offline or
 * from the daemon's answer: a header, one line per row, numbers with 17
 * significant digits, and class names quoted when CSV needs it; with
 * contributions, c_<column> and c_bias per output after the probabilities.
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

START_TEST(contributions_follow_per_output)
{
	char *one = csv_of("{\"predictions\":[1.5],\"contributions\":{\"columns\":[\"x\",\"y,z\"],"
			   "\"outputs\":[\"t\"],\"link\":\"identity\",\"values\":[[[0.5,-1,2]]],"
			   "\"margins\":[[1.5]]}}");
	char *two = csv_of(
	    "{\"predictions\":[\"b\"],\"classes\":[\"a\",\"b\",\"c\"],"
	    "\"probabilities\":[[0.25,0.5,0.25]],\"contributions\":{\"columns\":[\"x\"],"
	    "\"outputs\":[\"a\",\"b\",\"c\"],\"link\":\"softmax\","
	    "\"values\":[[[1,2],[3,4],[5,6]]],\"margins\":[[3,7,11]]}}");

	ck_assert_str_eq(one, "prediction,c_x,\"c_y,z\",c_bias\n1.5,0.5,-1,2\n");
	ck_assert_str_eq(two,
			 "prediction,p_a,p_b,p_c,c_a_x,c_a_bias,c_b_x,c_b_bias,c_c_x,c_c_bias\n"
			 "b,0.25,0.5,0.25,1,2,3,4,5,6\n");
	free(one);
	free(two);
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
	tcase_add_test(tc, contributions_follow_per_output);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

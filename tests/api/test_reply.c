/*
 * test_reply.c - the one table from fitd statuses to HTTP statuses: every
 * status of FITD_STATUS_MAP has a row, and it is a 4xx or 5xx that HTTP
 * names; a value outside the map answers 500, never HTTP 0; error replies
 * take their HTTP status from it.
 */
#include <check.h>
#include <limits.h>
#include <stdlib.h>

#include "api/internal.h"

/* One status of the map: a row, a 4xx or 5xx with a reason phrase, used as is. */
static void check_row(int status, const char *name)
{
	unsigned row = api__http_status_row(status);

	ck_assert_msg(row != 0, "FITD_%s has no row in the HTTP status table (api/reply.c)", name);
	ck_assert_msg(row >= 400 && row <= 599, "FITD_%s maps to HTTP %u, not a 4xx or 5xx", name,
		      row);
	ck_assert_msg(MHD_get_reason_phrase_len_for(row) > 0,
		      "FITD_%s maps to HTTP %u, not a known status", name, row);
	ck_assert_uint_eq(api__http_status(status), row);
}

START_TEST(every_status_has_an_error_row)
{
	int walked = 0;

#define CHECK_ROW(name, code, msg)             \
	do {                                   \
		check_row(FITD_##name, #name); \
		walked++;                      \
	} while (0);
	FITD_STATUS_MAP(CHECK_ROW)
#undef CHECK_ROW
	/* The walk saw every index of the table but FITD_OK's. */
	ck_assert_int_eq(walked, FITD__IDX_COUNT - 1);
}
END_TEST

START_TEST(ok_is_200)
{
	ck_assert_uint_eq(api__http_status(FITD_OK), 200);
}
END_TEST

START_TEST(unknown_values_are_500)
{
	static const int unknown[] = {
		1, 42, INT_MAX, -FITD__IDX_COUNT, -FITD__IDX_COUNT - 1, -1000, INT_MIN
	};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ck_assert_msg(api__http_status_row(unknown[i]) == 0, "%d has a row", unknown[i]);
		ck_assert_msg(api__http_status(unknown[i]) == 500, "%d maps to HTTP %u", unknown[i],
			      api__http_status(unknown[i]));
	}
}
END_TEST

/* An error reply of err's status; its HTTP status, with the response checked and freed. */
static unsigned reply_status(int status)
{
	struct api__request req = { 0 };
	struct fitd_error err = { 0 };
	unsigned http;

	fitd_error_set(&err, status, NULL, "a test failure");
	api__reply_error(&req, &err);
	ck_assert_ptr_nonnull(req.response);
	http = req.status;
	MHD_destroy_response(req.response);
	return http;
}

START_TEST(error_replies_use_the_table)
{
	ck_assert_uint_eq(reply_status(FITD_ENOTFOUND), 404);
	ck_assert_uint_eq(reply_status(FITD_ECONFLICT), 409);
	ck_assert_uint_eq(reply_status(FITD_ETOOBIG), 413);
	ck_assert_uint_eq(reply_status(FITD_ELIMIT), 429);
	ck_assert_uint_eq(reply_status(FITD_ENOSPC), 507);
	ck_assert_uint_eq(reply_status(7), 500);
	ck_assert_uint_eq(reply_status(-FITD__IDX_COUNT), 500);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_reply");
	TCase *tc = tcase_create("status_table");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_status_has_an_error_row);
	tcase_add_test(tc, ok_is_200);
	tcase_add_test(tc, unknown_values_are_500);
	tcase_add_test(tc, error_replies_use_the_table);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_buf.c - the capped growable buffer: growth keeps every byte, the cap
 * and an allocation failure stick, take hands the memory over.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "daemon/base/status.h"

START_TEST(test_grows_and_keeps_bytes)
{
	struct fitd_buf b;

	fitd_buf_init(&b, 1 << 20);
	ck_assert_ptr_null(b.data);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(fitd_buf_printf(&b, "%d,", i % 10), FITD_OK);
	ck_assert_uint_eq(b.len, 20000);
	for (size_t i = 0; i < b.len; i += 2)
		ck_assert_int_eq(b.data[i], '0' + (int)(i / 2 % 10));
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_uint_gt(b.cap, b.len);
	fitd_buf_release(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.max, 1 << 20);
}
END_TEST

START_TEST(test_cap_sticks)
{
	struct fitd_buf b;

	fitd_buf_init(&b, 10);
	ck_assert_int_eq(fitd_buf_add(&b, "0123456789", 10), FITD_OK);
	ck_assert_int_eq(fitd_buf_add(&b, "x", 1), FITD_ETOOBIG);
	/* Sticky: a later small write fails the same way and changes nothing. */
	ck_assert_int_eq(fitd_buf_add(&b, "", 0), FITD_ETOOBIG);
	ck_assert_int_eq(fitd_buf_printf(&b, "%s", ""), FITD_ETOOBIG);
	ck_assert_ptr_null(fitd_buf_grow(&b, 0));
	ck_assert_int_eq(fitd_buf_status(&b), FITD_ETOOBIG);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(b.data, "0123456789", 10);
	/* take refuses a failed buffer's contents (and frees them). */
	ck_assert_ptr_null(fitd_buf_take(&b));
	ck_assert_int_eq(fitd_buf_status(&b), FITD_OK);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_huge_request_is_refused_not_wrapped)
{
	struct fitd_buf b;

	fitd_buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(fitd_buf_add(&b, "ab", 2), FITD_OK);
	/* len + n would wrap around: the buffer must fail, not write. */
	ck_assert_ptr_null(fitd_buf_grow(&b, SIZE_MAX - 1));
	ck_assert_int_ne(fitd_buf_status(&b), FITD_OK);
	ck_assert_uint_eq(b.len, 2);
	fitd_buf_release(&b);
}
END_TEST

struct rec {
	double x;
	int id;
};

START_TEST(test_records_and_take)
{
	struct fitd_buf b;
	struct rec *r;
	char *text;

	fitd_buf_init(&b, 1000 * sizeof(struct rec));
	for (int i = 0; i < 1000; i++) {
		r = fitd_buf_grow(&b, sizeof(*r));
		ck_assert_ptr_nonnull(r);
		*r = (struct rec){ i * 0.5, i };
	}
	ck_assert_ptr_null(fitd_buf_grow(&b, sizeof(*r)));
	r = (struct rec *)b.data;
	for (int i = 0; i < 1000; i++)
		ck_assert(r[i].id == i && r[i].x == i * 0.5);
	fitd_buf_release(&b);

	fitd_buf_init(&b, 100);
	fitd_buf_add(&b, "hello", 5);
	text = fitd_buf_take(&b);
	ck_assert_str_eq(text, "hello");
	ck_assert_ptr_null(b.data);
	free(text);
	ck_assert_ptr_null(fitd_buf_take(&b));
	fitd_buf_release(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_grows_and_keeps_bytes);
	tcase_add_test(tc, test_cap_sticks);
	tcase_add_test(tc, test_huge_request_is_refused_not_wrapped);
	tcase_add_test(tc, test_records_and_take);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

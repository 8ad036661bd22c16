/*
 * test_intern.c - the intern table: codes are dense and given in order of
 * first appearance, the same bytes always get the same code (checked
 * against a plain reference over many keys, through every growth of the
 * table), keys come back NUL-terminated with their length (any bytes,
 * NUL included), the cap and its failure stick without losing the keys
 * already there, and take hands the key bytes over intact.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/intern.h"
#include "daemon/base/status.h"

static int32_t add(struct fitd_intern *t, const char *s)
{
	int32_t code = -2;

	ck_assert_int_eq(fitd_intern_add(t, s, strlen(s), &code), FITD_OK);
	return code;
}

START_TEST(codes_in_order_of_first_appearance)
{
	struct fitd_intern t;
	size_t len;

	fitd_intern_init(&t, 1 << 10);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(add(&t, "b"), 0);
	ck_assert_int_eq(add(&t, "a"), 1);
	ck_assert_int_eq(add(&t, "b"), 0);
	ck_assert_int_eq(add(&t, ""), 2);
	ck_assert_int_eq(add(&t, "ab"), 3);
	ck_assert_int_eq(add(&t, "a"), 1);
	ck_assert_int_eq(add(&t, ""), 2);
	ck_assert_uint_eq(t.n, 4);
	ck_assert_str_eq(fitd_intern_key(&t, 0, &len), "b");
	ck_assert_uint_eq(len, 1);
	ck_assert_str_eq(fitd_intern_key(&t, 2, &len), "");
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(fitd_intern_key(&t, 3, NULL), "ab");
	fitd_intern_release(&t);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_int_eq(add(&t, "again"), 0); /* usable after release, cap kept */
	fitd_intern_release(&t);
	fitd_intern_release(NULL);
}
END_TEST

START_TEST(any_bytes_by_length)
{
	static const char a[] = { 'x', '\0', 'y' }, b[] = { 'x', '\0', 'z' };
	static const char high[] = { (char)0xc3, (char)0xa9, (char)0xff };
	struct fitd_intern t;
	int32_t ca, cb, cx, ch;
	size_t len;

	fitd_intern_init(&t, 1 << 10);
	ck_assert_int_eq(fitd_intern_add(&t, a, sizeof(a), &ca), FITD_OK);
	ck_assert_int_eq(fitd_intern_add(&t, b, sizeof(b), &cb), FITD_OK);
	ck_assert_int_eq(fitd_intern_add(&t, a, 1, &cx), FITD_OK); /* "x" alone */
	ck_assert_int_eq(fitd_intern_add(&t, high, sizeof(high), &ch), FITD_OK);
	ck_assert_int_eq(ca, 0);
	ck_assert_int_eq(cb, 1);
	ck_assert_int_eq(cx, 2);
	ck_assert_int_eq(ch, 3);
	ck_assert_mem_eq(fitd_intern_key(&t, cb, &len), b, sizeof(b));
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(fitd_intern_key(&t, cb, NULL)[3], '\0');
	ck_assert_mem_eq(fitd_intern_key(&t, ch, &len), high, sizeof(high));
	fitd_intern_release(&t);
}
END_TEST

/* Key i of the reference: numbers that share long prefixes and suffixes. */
static void key_of(unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "level-%u-%s", i % 1000, i % 3 ? "x" : "common-suffix");
	if (i >= 1000)
		snprintf(buf, cap, "L%u/%u", i / 1000, i % 1000);
}

START_TEST(many_keys_against_a_reference)
{
	enum {
		N = 60000
	};
	struct fitd_intern t;
	char key[64];

	fitd_intern_init(&t, SIZE_MAX);
	/* Every key is added twice, interleaved: the second add must find the first. */
	for (unsigned i = 0; i < N; i++) {
		key_of(i, key, sizeof(key));
		ck_assert_int_eq(add(&t, key), (int32_t)i);
		if (i % 7 == 0) {
			key_of(i / 2, key, sizeof(key));
			ck_assert_int_eq(add(&t, key), (int32_t)(i / 2));
		}
	}
	ck_assert_uint_eq(t.n, N);
	ck_assert_uint_ge(t.nslots, 2 * (size_t)N);
	for (unsigned i = 0; i < N; i++) {
		size_t len;

		key_of(i, key, sizeof(key));
		ck_assert_str_eq(fitd_intern_key(&t, (int32_t)i, &len), key);
		ck_assert_uint_eq(len, strlen(key));
		ck_assert_int_eq(add(&t, key), (int32_t)i);
	}
	ck_assert_uint_eq(t.n, N);
	fitd_intern_release(&t);
}
END_TEST

START_TEST(cap_sticks_and_keeps_the_keys)
{
	struct fitd_intern t;
	int32_t code;

	fitd_intern_init(&t, 8); /* "abc\0" and "de\0" take 7 bytes */
	ck_assert_int_eq(add(&t, "abc"), 0);
	ck_assert_int_eq(add(&t, "de"), 1);
	ck_assert_int_eq(fitd_intern_add(&t, "fg", 2, &code), FITD_ETOOBIG);
	ck_assert_uint_eq(t.n, 2);
	/* A known key is still found; a new one, however short, fails the same way. */
	ck_assert_int_eq(add(&t, "abc"), 0);
	ck_assert_int_eq(add(&t, "de"), 1);
	ck_assert_int_eq(fitd_intern_add(&t, "", 0, &code), FITD_ETOOBIG);
	ck_assert_str_eq(fitd_intern_key(&t, 1, NULL), "de");
	fitd_intern_release(&t);
	ck_assert_int_eq(add(&t, "fg"), 0); /* release clears the failure */
	fitd_intern_release(&t);
}
END_TEST

START_TEST(take_hands_the_keys_over)
{
	struct fitd_intern t;
	const char *k0, *k1;
	char *keys;

	fitd_intern_init(&t, 1 << 10);
	ck_assert_ptr_null(fitd_intern_take_keys(&t));
	add(&t, "one");
	add(&t, "two");
	k0 = fitd_intern_key(&t, 0, NULL);
	k1 = fitd_intern_key(&t, 1, NULL);
	keys = fitd_intern_take_keys(&t);
	ck_assert_ptr_eq(keys, k0);
	ck_assert_str_eq(k0, "one");
	ck_assert_str_eq(k1, "two");
	ck_assert_uint_eq(t.n, 0);
	ck_assert_ptr_null(t.slots);
	ck_assert_int_eq(add(&t, "two"), 0); /* empty again */
	fitd_intern_release(&t);
	free(keys);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intern");
	TCase *tc = tcase_create("intern");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, codes_in_order_of_first_appearance);
	tcase_add_test(tc, any_bytes_by_length);
	tcase_add_test(tc, many_keys_against_a_reference);
	tcase_add_test(tc, cap_sticks_and_keeps_the_keys);
	tcase_add_test(tc, take_hands_the_keys_over);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

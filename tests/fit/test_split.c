/*
 * test_split.c - stratified and plain k-fold and holdout splits: class
 * proportions per fold, fold sizes, determinism by seed, frame-level splits
 * (disjoint, covering, ascending, rows without a target left out), the
 * same folds whether rows are counted or sorted into class order, and bad
 * arguments.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/split.h"

static int32_t labels[100];

static void make_labels(void)
{
	/* 50 of class 2, 30 of class 0, 20 of class 7, interleaved */
	for (int i = 0; i < 100; i++)
		labels[i] = i % 2 ? 2 : (i / 2) % 5 < 3 ? 0 : 7;
}

START_TEST(test_stratified_kfold)
{
	uint32_t fold[100], again[100], other[100];

	make_labels();
	ck_assert_int_eq(fit_split_kfold(labels, 100, 5, 11, fold, NULL), 0);
	for (uint32_t f = 0; f < 5; f++) {
		int c0 = 0, c2 = 0, c7 = 0;

		for (int i = 0; i < 100; i++) {
			if (fold[i] != f)
				continue;
			c0 += labels[i] == 0;
			c2 += labels[i] == 2;
			c7 += labels[i] == 7;
		}
		ck_assert_msg(c0 == 6 && c2 == 10 && c7 == 4, "fold %u: %d %d %d", f, c0, c2, c7);
	}
	ck_assert_int_eq(fit_split_kfold(labels, 100, 5, 11, again, NULL), 0);
	ck_assert(memcmp(fold, again, sizeof(fold)) == 0);
	ck_assert_int_eq(fit_split_kfold(labels, 100, 5, 12, other, NULL), 0);
	ck_assert(memcmp(fold, other, sizeof(fold)) != 0);
}
END_TEST

START_TEST(test_counted_and_sorted_order_agree)
{
	/* Labels spanning more values than rows take the sort, the same labels
	 * renumbered 0, 1, 2 the count: the same order, so the same folds. */
	int32_t wide[100], narrow[100];
	uint32_t fold[100], again[100];
	uint8_t v[100], w[100];

	make_labels();
	for (int i = 0; i < 100; i++) {
		wide[i] = labels[i] == 0 ? -2000000 : labels[i] == 2 ? 5 : 1000000;
		narrow[i] = labels[i] == 0 ? 0 : labels[i] == 2 ? 1 : 2;
	}
	ck_assert_int_eq(fit_split_kfold(wide, 100, 5, 3, fold, NULL), 0);
	ck_assert_int_eq(fit_split_kfold(narrow, 100, 5, 3, again, NULL), 0);
	ck_assert(memcmp(fold, again, sizeof(fold)) == 0);
	ck_assert_int_eq(fit_split_holdout(wide, 100, 0.3, 3, v, NULL), 0);
	ck_assert_int_eq(fit_split_holdout(narrow, 100, 0.3, 3, w, NULL), 0);
	ck_assert(memcmp(v, w, sizeof(v)) == 0);
	/* the original labels (0, 2, 7 span 8 values) count too */
	ck_assert_int_eq(fit_split_kfold(labels, 100, 5, 3, again, NULL), 0);
	ck_assert(memcmp(fold, again, sizeof(fold)) == 0);
}
END_TEST

START_TEST(test_plain_kfold_and_holdout)
{
	uint32_t fold[103];
	uint8_t v[100];
	size_t size[4] = { 0 }, n = 0, c[3] = { 0 };

	ck_assert_int_eq(fit_split_kfold(NULL, 103, 4, 1, fold, NULL), 0);
	for (int i = 0; i < 103; i++)
		size[fold[i]]++;
	for (int f = 0; f < 4; f++)
		ck_assert(size[f] == 25 || size[f] == 26);
	make_labels();
	ck_assert_int_eq(fit_split_holdout(labels, 100, 0.2, 5, v, NULL), 0);
	for (int i = 0; i < 100; i++) {
		n += v[i];
		if (v[i])
			c[labels[i] == 0 ? 0 : labels[i] == 2 ? 1 : 2]++;
	}
	ck_assert(n == 20 && c[0] == 6 && c[1] == 10 && c[2] == 4);
	ck_assert_int_eq(fit_split_holdout(NULL, 100, 0.25, 5, v, NULL), 0);
	n = 0;
	for (int i = 0; i < 100; i++)
		n += v[i];
	ck_assert_uint_eq(n, 25);
	ck_assert_int_eq(fit_split_holdout(NULL, 2, 0.01, 5, v, NULL), 0); /* one each side */
	ck_assert_uint_eq(v[0] + v[1], 1);
}
END_TEST

START_TEST(test_bad_arguments)
{
	uint32_t fold[10];
	uint8_t v[10];
	struct fitd_error err = { 0 };

	ck_assert_int_eq(fit_split_kfold(NULL, 10, 1, 0, fold, &err), FITD_EINVAL);
	ck_assert_int_eq(fit_split_kfold(NULL, 10, 11, 0, fold, &err), FITD_EINVAL);
	ck_assert_int_eq(fit_split_holdout(NULL, 10, 1.0, 0, v, &err), FITD_EINVAL);
	ck_assert_int_eq(fit_split_holdout(NULL, 10, 0.0, 0, v, &err), FITD_EINVAL);
}
END_TEST

START_TEST(test_frame_split)
{
	struct fit_frame *f = th_csv("iris.csv");
	struct fit_split *s = NULL;
	size_t t = th_col(f, "species");
	int seen[150] = { 0 };

	ck_assert_int_eq(fit_split_new(f, t, FIT_TASK_CLASSIFICATION, 5, 1, 0, 3, &s, NULL), 0);
	ck_assert_uint_eq(fit_split_count(s), 5);
	for (unsigned i = 0; i < 5; i++) {
		const size_t *tr, *va;
		size_t ntr, nva;
		int mark[150] = { 0 };

		fit_split_get(s, i, &tr, &ntr, &va, &nva);
		ck_assert_uint_eq(ntr + nva, 150);
		ck_assert_uint_eq(nva, 30);
		for (size_t j = 0; j < nva; j++) {
			ck_assert(j == 0 || va[j] > va[j - 1]);
			mark[va[j]] = 1;
			seen[va[j]]++;
		}
		for (size_t j = 0; j < ntr; j++) {
			ck_assert(j == 0 || tr[j] > tr[j - 1]);
			ck_assert_int_eq(mark[tr[j]], 0);
		}
	}
	for (int i = 0; i < 150; i++)
		ck_assert_int_eq(seen[i], 1);
	fit_split_free(s);
	fit_frame_free(f);
}
END_TEST

/* Repeats: each repeat is a whole k-fold split, repeat 0 is the plain split, the others differ. */
START_TEST(test_frame_repeated_split)
{
	struct fit_frame *f = th_csv("iris.csv");
	struct fit_split *once = NULL, *rep = NULL;
	size_t t = th_col(f, "species");
	int differ = 0;

	ck_assert_int_eq(fit_split_new(f, t, FIT_TASK_CLASSIFICATION, 5, 1, 0, 3, &once, NULL), 0);
	ck_assert_int_eq(fit_split_new(f, t, FIT_TASK_CLASSIFICATION, 5, 3, 0, 3, &rep, NULL), 0);
	ck_assert_uint_eq(fit_split_count(rep), 15);
	for (unsigned r = 0; r < 3; r++) {
		int seen[150] = { 0 };

		for (unsigned k = 0; k < 5; k++) {
			const size_t *tr, *va, *tr1, *va1;
			size_t ntr, nva, ntr1, nva1;

			fit_split_get(rep, r * 5 + k, &tr, &ntr, &va, &nva);
			fit_split_get(once, k, &tr1, &ntr1, &va1, &nva1);
			ck_assert_uint_eq(ntr + nva, 150);
			ck_assert_uint_eq(nva, 30);
			for (size_t j = 0; j < nva; j++)
				seen[va[j]]++;
			if (r == 0)
				ck_assert_mem_eq(va, va1, nva * sizeof(*va));
			else if (memcmp(va, va1, nva * sizeof(*va)) != 0)
				differ++;
		}
		for (int i = 0; i < 150; i++)
			ck_assert_int_eq(seen[i], 1);
	}
	ck_assert_int_eq(differ, 10);
	fit_split_free(once);
	fit_split_free(rep);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_frame_holdout_skips_missing)
{
	static const char *names[] = { "x", "y" };
	double data[40];
	struct fit_frame *f;
	struct fit_split *s = NULL;
	const size_t *tr, *va;
	size_t ntr, nva;

	for (int i = 0; i < 20; i++) {
		data[i] = i;
		data[20 + i] = i % 4 == 0 ? NAN : i * 0.5;
	}
	f = th_frame_num(20, 2, names, data);
	ck_assert_int_eq(fit_split_new(f, 1, FIT_TASK_REGRESSION, 0, 1, 0.3, 3, &s, NULL), 0);
	ck_assert_uint_eq(fit_split_count(s), 1);
	fit_split_get(s, 0, &tr, &ntr, &va, &nva);
	ck_assert_uint_eq(ntr + nva, 15);
	ck_assert_uint_eq(nva, 5);
	for (size_t j = 0; j < ntr; j++)
		ck_assert(tr[j] % 4 != 0);
	fit_split_free(s);
	fit_split_free(NULL);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_split");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_stratified_kfold);
	tcase_add_test(tc, test_counted_and_sorted_order_agree);
	tcase_add_test(tc, test_plain_kfold_and_holdout);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_frame_split);
	tcase_add_test(tc, test_frame_repeated_split);
	tcase_add_test(tc, test_frame_holdout_skips_missing);
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
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_csv_tables.c - the CSV parser on whole tables: the real tables of
 * tests/data, numbers bit-identical to strtod(), random tables with every
 * kind of quoting and each delimiter parsed back exactly, and the same frame
 * or the same error for any number of threads.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/store/csv_check.h"

/* ---- the real tables ---- */

static struct fit_frame *load_data(const char *name)
{
	const char *dir = getenv("FITD_TEST_DATA");
	struct store_csv_options o = { .threads = 2 };
	struct fitd_error err = { 0 };
	struct fit_frame *f = NULL;
	char path[1024];

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(store_csv_parse_file(path, &o, &f, &err) == FITD_OK, "%s: %s", name,
		      err.message);
	return f;
}

static size_t count_numeric(const struct fit_frame *f)
{
	size_t n = 0;

	for (size_t j = 0; j < f->ncols; j++)
		n += f->cols[j].type == FIT_COL_NUMERIC && f->cols[j].missing == 0;
	return n;
}

START_TEST(real_tables)
{
	static const struct {
		const char *file;
		size_t rows, cols, numeric;
		const char *cat;
		size_t nlevels;
	} t[] = {
		{ "iris.csv", 150, 5, 4, "species", 3 },
		{ "wine.csv", 178, 14, 13, "cultivar", 3 },
		{ "breast_cancer.csv", 569, 31, 30, "diagnosis", 2 },
		{ "digits.csv", 1797, 65, 65, NULL, 0 },
		{ "diabetes.csv", 442, 11, 11, NULL, 0 },
		{ "seed_linear.csv", 100, 2, 2, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct fit_frame *f = load_data(t[i].file);

		ck_assert_uint_eq(f->nrows, t[i].rows);
		ck_assert_uint_eq(f->ncols, t[i].cols);
		ck_assert_uint_eq(count_numeric(f), t[i].numeric);
		if (t[i].cat != NULL) {
			ck_assert_int_eq(col(f, t[i].cat)->type, FIT_COL_CATEGORICAL);
			ck_assert_uint_eq(col(f, t[i].cat)->nlevels, t[i].nlevels);
			ck_assert_uint_eq(col(f, t[i].cat)->missing, 0);
		}
		fit_frame_free(f);
	}
}
END_TEST

START_TEST(iris_values)
{
	struct fit_frame *f = load_data("iris.csv");
	static const char *const lv[] = { "setosa", "versicolor", "virginica" };
	const struct fit_column *sp = col(f, "species");

	assert_levels(sp, lv, 3);
	ck_assert(col(f, "sepal_length")->num[0] == 5.1);
	ck_assert(col(f, "sepal_width")->num[0] == 3.5);
	ck_assert(col(f, "petal_width")->num[149] == 1.8);
	ck_assert_str_eq(cat_at(sp, 0), "setosa");
	ck_assert_str_eq(cat_at(sp, 149), "virginica");
	fit_frame_free(f);
}
END_TEST

/* ---- numbers equal strtod() ---- */

/* A random decimal numeral in one of several shapes. */
static void random_numeral(uint64_t *s, char *buf, size_t cap)
{
	uint64_t r = rng_next(s);
	double d;

	switch (r % 6) {
	case 0: /* any finite double, shortest exact form and beyond */
		do {
			uint64_t bits = rng_next(s);

			memcpy(&d, &bits, sizeof(d));
		} while (!isfinite(d));
		snprintf(buf, cap, "%.17g", d);
		break;
	case 1:
		snprintf(buf, cap, "%.6f", ((double)(int64_t)rng_next(s)) / 1e15);
		break;
	case 2: { /* random digits, random point, random exponent */
		size_t n = 1 + rng_next(s) % 24, dot = rng_next(s) % (n + 1), k = 0;

		if (rng_next(s) & 1)
			buf[k++] = '-';
		for (size_t i = 0; i < n; i++) {
			if (i == dot)
				buf[k++] = '.';
			buf[k++] = (char)('0' + rng_next(s) % 10);
		}
		snprintf(buf + k, cap - k, "e%d", (int)(rng_next(s) % 60) - 30);
		break;
	}
	case 3:
		snprintf(buf, cap, "%.*e", (int)(rng_next(s) % 20), (double)rng_next(s) / 3.0);
		break;
	case 4:
		snprintf(buf, cap, "%lld", (long long)(rng_next(s) >> (rng_next(s) % 64)));
		break;
	default:
		snprintf(buf, cap, "%.*g", 1 + (int)(rng_next(s) % 17),
			 ((double)rng_next(s) - 9.2e18) * 1e-300 * (double)(rng_next(s) % 2));
		break;
	}
}

START_TEST(numbers_match_strtod)
{
	enum {
		N = 40000
	};
	struct store_csv_options o = { .threads = 2 };
	struct text t = { 0 };
	char(*nums)[64] = malloc(N * sizeof(*nums));
	uint64_t s = 42;
	struct fit_frame *f;

	ck_assert_ptr_nonnull(nums);
	puts_(&t, "v\n");
	for (size_t i = 0; i < N; i++) {
		random_numeral(&s, nums[i], sizeof(nums[i]));
		puts_(&t, nums[i]);
		puts_(&t, "\n");
	}
	f = parse_ok(t.p, t.len, &o);
	ck_assert_int_eq(f->cols[0].type, FIT_COL_NUMERIC);
	for (size_t i = 0; i < N; i++) {
		double want = strtod(nums[i], NULL);

		ck_assert_msg(memcmp(&want, &f->cols[0].num[i], sizeof(want)) == 0,
			      "%s: %.17g != %.17g", nums[i], f->cols[0].num[i], want);
	}
	fit_frame_free(f);
	free(nums);
	free(t.p);
}
END_TEST

/* ---- random tables, threads ---- */

/* A random value of a categorical cell: quotes, commas, newlines, UTF-8, or a plain word. */
static void random_level(uint64_t *s, char *buf, size_t cap)
{
	static const char *const parts[] = { "a",    "b", "\"",	      ",",  "\n",
					     "\r\n", " ", "\xc3\xa9", "x1", "\xf0\x9f\x98\x80",
					     "NAx",  "0", ";",	      "\t", "|" };
	size_t n = 1 + rng_next(s) % 4, k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *p = parts[rng_next(s) % (sizeof(parts) / sizeof(parts[0]))];

		k += (size_t)snprintf(buf + k, cap - k, "%s", p);
	}
	if (strspn(buf, " \t") == k) /* blanks only would read as missing */
		snprintf(buf + k, cap - k, "b");
}

static void put_quoted(struct text *t, const char *v)
{
	puts_(t, "\"");
	for (; *v; v++)
		put(t, *v == '"' ? "\"\"" : v, 1 + (*v == '"'));
	puts_(t, "\"");
}

struct table {
	size_t rows, cols;
	double *num; /* rows * cols, column-major; NAN missing; numeric columns are even */
	char **cat;  /* rows * cols, NULL missing; categorical columns are odd */
	struct text csv;
};

/*
 * A random table and its CSV, fields separated by delim; brk (if not NULL)
 * is inserted as a line before row brk_row.
 */
static void make_table_sep(struct table *tb, size_t rows, size_t cols, uint64_t seed, bool crlf,
			   size_t brk_row, const char *brk, char delim)
{
	char name[32], cell[64], sep[2] = { delim, '\0' };

	memset(tb, 0, sizeof(*tb));
	tb->rows = rows;
	tb->cols = cols;
	tb->num = calloc(rows * cols, sizeof(double));
	tb->cat = calloc(rows * cols, sizeof(char *));
	for (size_t j = 0; j < cols; j++) {
		snprintf(name, sizeof(name), "%sc%zu", j == 0 ? "" : sep, j);
		puts_(&tb->csv, name);
	}
	puts_(&tb->csv, crlf ? "\r\n" : "\n");
	for (size_t r = 0; r < rows; r++) {
		if (brk != NULL && r == brk_row)
			puts_(&tb->csv, brk);
		for (size_t j = 0; j < cols; j++) {
			bool missing = rng_next(&seed) % 10 == 0;

			if (j > 0)
				puts_(&tb->csv, sep);
			if (j % 2 == 0) {
				double v = ((double)(int64_t)rng_next(&seed)) *
					   pow(10.0, (double)(rng_next(&seed) % 40) - 30);

				tb->num[j * rows + r] = missing ? NAN : v;
				snprintf(cell, sizeof(cell), "%.17g", v);
				puts_(&tb->csv, missing ? "NA" : cell);
			} else if (!missing) {
				random_level(&seed, cell, sizeof(cell));
				tb->cat[j * rows + r] = strdup(cell);
				put_quoted(&tb->csv, cell);
			}
		}
		puts_(&tb->csv, crlf ? "\r\n" : "\n");
	}
}

static void make_table(struct table *tb, size_t rows, size_t cols, uint64_t seed, bool crlf,
		       size_t brk_row, const char *brk)
{
	make_table_sep(tb, rows, cols, seed, crlf, brk_row, brk, ',');
}

static void free_table(struct table *tb)
{
	for (size_t i = 0; i < tb->rows * tb->cols; i++)
		free(tb->cat[i]);
	free(tb->cat);
	free(tb->num);
	free(tb->csv.p);
}

static void assert_matches_table(const struct fit_frame *f, const struct table *tb)
{
	ck_assert_uint_eq(f->nrows, tb->rows);
	ck_assert_uint_eq(f->ncols, tb->cols);
	for (size_t j = 0; j < tb->cols; j++) {
		const struct fit_column *c = &f->cols[j];

		for (size_t r = 0; r < tb->rows; r++) {
			if (j % 2 == 0) {
				const double *want = &tb->num[j * tb->rows + r];

				ck_assert_int_eq(c->type, FIT_COL_NUMERIC);
				ck_assert(memcmp(want, &c->num[r], sizeof(double)) == 0 ||
					  (isnan(*want) && isnan(c->num[r])));
			} else if (tb->cat[j * tb->rows + r] == NULL) {
				ck_assert_int_eq(c->cat[r], -1);
			} else {
				ck_assert_str_eq(cat_at(c, r), tb->cat[j * tb->rows + r]);
			}
		}
		for (size_t l = 1; l < c->nlevels; l++)
			ck_assert_int_lt(strcmp(c->levels[l - 1], c->levels[l]), 0);
	}
}

START_TEST(random_table_any_threads)
{
	struct table tb;
	struct fit_frame *one;

	make_table(&tb, 4000, 7, 7, _i == 1, 0, NULL);
	ck_assert_uint_gt(tb.csv.len, 4 * 64 * 1024); /* enough for several chunks */
	one = parse_ok(tb.csv.p, tb.csv.len, NULL);
	assert_matches_table(one, &tb);
	for (int threads = 2; threads <= 5; threads++) {
		struct store_csv_options o = { .threads = threads };
		struct fit_frame *f = parse_ok(tb.csv.p, tb.csv.len, &o);

		assert_same_frame(one, f);
		fit_frame_free(f);
	}
	fit_frame_free(one);
	free_table(&tb);
}
END_TEST

START_TEST(random_table_each_delimiter)
{
	static const char delims[] = { ';', '\t', '|' };
	struct table tb;

	for (size_t i = 0; i < sizeof(delims); i++) {
		struct store_csv_options o = { .delimiter = delims[i] };
		struct fit_frame *one;

		make_table_sep(&tb, 3000, 7, 21 + i, i == 1, 0, NULL, delims[i]);
		ck_assert_uint_gt(tb.csv.len, 3 * 64 * 1024); /* enough for several chunks */
		one = parse_ok(tb.csv.p, tb.csv.len, &o);
		assert_matches_table(one, &tb);
		for (int threads = 2; threads <= 4; threads++) {
			struct fit_frame *f;

			o.threads = threads;
			f = parse_ok(tb.csv.p, tb.csv.len, &o);
			assert_same_frame(one, f);
			fit_frame_free(f);
		}
		fit_frame_free(one);
		free_table(&tb);
	}
}
END_TEST

START_TEST(multibyte_text_any_threads)
{
	struct text t = { 0 };
	struct fit_frame *one;

	/* every byte of the body but the newlines belongs to a 4-byte character */
	puts_(&t, "e\n");
	for (size_t r = 0; r < 60000; r++)
		puts_(&t, r % 3 ? "\xf0\x9f\x98\x80\n" : "\xf0\x9f\x98\x81\xf0\x9f\x98\x80\n");
	one = parse_ok(t.p, t.len, NULL);
	ck_assert_uint_eq(one->nrows, 60000);
	ck_assert_uint_eq(one->cols[0].nlevels, 2);
	for (int threads = 2; threads <= 8; threads++) {
		struct store_csv_options o = { .threads = threads };
		struct fit_frame *f = parse_ok(t.p, t.len, &o);

		assert_same_frame(one, f);
		fit_frame_free(f);
	}
	fit_frame_free(one);
	free(t.p);
}
END_TEST

START_TEST(errors_any_threads)
{
	static const char *const breakers[] = { "1,2\n", "\"open\n", "x\xff,1,a,1\n",
						"\"a\"b,1,2,3\n", "1,~,2,3\n" };

	for (size_t k = 0; k < sizeof(breakers) / sizeof(breakers[0]); k++) {
		struct fitd_error want = { 0 }, got = { 0 };
		struct fit_frame *f = NULL;
		struct table tb;

		make_table(&tb, 3000, 4, 11 + k, false, 600 * (k + 1) - 1, breakers[k]);
		if (strchr(tb.csv.p, '~') != NULL) /* '~' stands for a NUL byte */
			*strchr(tb.csv.p, '~') = '\0';
		ck_assert_int_ne(store_csv_parse(tb.csv.p, tb.csv.len, NULL, &f, &want), FITD_OK);
		for (int threads = 2; threads <= 4; threads++) {
			struct store_csv_options o = { .threads = threads };

			ck_assert_int_eq(store_csv_parse(tb.csv.p, tb.csv.len, &o, &f, &got),
					 want.status);
			ck_assert_ptr_null(f);
			ck_assert_str_eq(got.code, want.code);
			ck_assert_str_eq(got.message, want.message);
		}
		free_table(&tb);
	}
}
END_TEST

START_TEST(too_many_rows_any_threads)
{
	struct table tb;

	make_table(&tb, 3000, 4, 5, false, 0, NULL);
	for (int threads = 1; threads <= 3; threads++) {
		struct store_csv_options o = { .threads = threads, .max_rows = 2500 };

		expect_error_opt(tb.csv.p, tb.csv.len, &o, FITD_EUNPROCESSABLE, "too_many_rows",
				 NEEDLES("row 2501"));
		o.max_rows = 3000;
		fit_frame_free(parse_ok(tb.csv.p, tb.csv.len, &o));
	}
	free_table(&tb);
}
END_TEST

static Suite *tables_suite(void)
{
	Suite *s = suite_create("csv_tables");
	TCase *data = tcase_create("data");

	tcase_add_test(data, real_tables);
	tcase_add_test(data, iris_values);
	tcase_add_test(data, numbers_match_strtod);
	tcase_add_loop_test(data, random_table_any_threads, 0, 2);
	tcase_add_test(data, random_table_each_delimiter);
	tcase_add_test(data, multibyte_text_any_threads);
	tcase_add_test(data, errors_any_threads);
	tcase_add_test(data, too_many_rows_any_threads);
	suite_add_tcase(s, data);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tables_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

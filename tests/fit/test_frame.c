/*
 * test_frame.c - the frame builder and the dataset file: builder
 * semantics and refusals, write/load round trips that keep every bit,
 * zero-copy aligned mappings, and truncated or damaged files refused with
 * FITD_EFORMAT (including damage that keeps the metadata checksum right).
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/fit/frame.h"

/* ---- helpers ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static char *temp_path(void)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/fitd-frame-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

static void write_frame(const struct fit_frame *f, const char *path)
{
	struct fitd_error err = { 0 };
	int fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(fit_frame_write(f, fd, &err) == FITD_OK, "%s", err.message);
	close(fd);
}

static unsigned char *read_all(const char *path, size_t *len)
{
	struct stat sb;
	unsigned char *buf;
	FILE *fp = fopen(path, "rb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fstat(fileno(fp), &sb), 0);
	*len = (size_t)sb.st_size;
	buf = malloc(*len ? *len : 1);
	ck_assert_uint_eq(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

static void write_bytes(const char *path, const unsigned char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

static int load_status(const char *path)
{
	struct fitd_error err = { 0 };
	struct fit_frame *f = (struct fit_frame *)1;
	int rc = fit_frame_load(path, &f, &err);

	if (rc == FITD_OK)
		fit_frame_free(f);
	else
		ck_assert_ptr_null(f);
	if (rc == FITD_EFORMAT)
		ck_assert_str_eq(err.code, "bad_dataset_file");
	return rc;
}

static void assert_same_frame(const struct fit_frame *a, const struct fit_frame *b)
{
	ck_assert_uint_eq(a->nrows, b->nrows);
	ck_assert_uint_eq(a->ncols, b->ncols);
	for (size_t j = 0; j < a->ncols; j++) {
		const struct fit_column *x = &a->cols[j], *y = &b->cols[j];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_int_eq(x->type, y->type);
		ck_assert_uint_eq(x->missing, y->missing);
		ck_assert_uint_eq(x->nlevels, y->nlevels);
		for (size_t l = 0; l < x->nlevels; l++)
			ck_assert_str_eq(x->levels[l], y->levels[l]);
		if (x->type == FIT_COL_NUMERIC)
			ck_assert(a->nrows == 0 ||
				  memcmp(x->num, y->num, a->nrows * sizeof(double)) == 0);
		else
			ck_assert(a->nrows == 0 ||
				  memcmp(x->cat, y->cat, a->nrows * sizeof(int32_t)) == 0);
	}
}

/* A random frame: even columns numeric (10% NAN, any finite bits), odd categorical. */
static struct fit_frame *random_frame(size_t rows, size_t cols, size_t nlev, uint64_t seed)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;
	char name[32], level[48];

	ck_assert_int_eq(fit_frame_builder_new(rows, cols, &b), FITD_OK);
	for (size_t j = 0; j < cols; j++) {
		snprintf(name, sizeof(name), "col %zu \xc3\xa9", j);
		ck_assert_int_eq(fit_frame_builder_column(
				     b, j, name, j % 2 ? FIT_COL_CATEGORICAL : FIT_COL_NUMERIC),
				 FITD_OK);
		for (size_t r = 0; r < rows; r++) {
			uint64_t x = rng_next(&seed);
			double v;

			if (x % 10 == 0)
				continue; /* missing */
			if (j % 2 == 0) {
				memcpy(&v, &x, sizeof(v));
				if (!isfinite(v))
					v = (double)x;
				ck_assert_int_eq(fit_frame_builder_set_num(b, j, r, v), FITD_OK);
			} else {
				int n = snprintf(level, sizeof(level), "lv%llu,\"q\"\n",
						 (unsigned long long)(x >> 8) % nlev);

				ck_assert_int_eq(
				    fit_frame_builder_set_cat(b, j, r, level, (size_t)n), FITD_OK);
			}
		}
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_OK);
	return f;
}

/* ---- the builder ---- */

START_TEST(builder_basics)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;
	const struct fit_column *c;

	ck_assert_int_eq(fit_frame_builder_new(4, 2, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "label", FIT_COL_CATEGORICAL), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 0, 1.5), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 1, NAN), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 3, -0.0), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 0, "zeta", 4), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 1, "alpha!", 5), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 2, "zeta", 4), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 3, "Zeta", 4), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 3, NULL, 0),
			 FITD_OK); /* back to missing */
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_OK);

	ck_assert_uint_eq(f->nrows, 4);
	ck_assert_uint_eq(f->ncols, 2);
	c = &f->cols[0];
	ck_assert_str_eq(c->name, "x");
	ck_assert(c->num[0] == 1.5 && isnan(c->num[1]) && isnan(c->num[2]));
	ck_assert(c->num[3] == 0.0 && signbit(c->num[3]));
	ck_assert_uint_eq(c->missing, 2);
	c = &f->cols[1];
	/* levels in byte order, interned once each, even the unused "Zeta" */
	ck_assert_uint_eq(c->nlevels, 3);
	ck_assert_str_eq(c->levels[0], "Zeta");
	ck_assert_str_eq(c->levels[1], "alpha");
	ck_assert_str_eq(c->levels[2], "zeta");
	ck_assert_int_eq(c->cat[0], 2);
	ck_assert_int_eq(c->cat[1], 1);
	ck_assert_int_eq(c->cat[2], 2);
	ck_assert_int_eq(c->cat[3], -1);
	ck_assert_uint_eq(c->missing, 1);
	ck_assert_int_eq(fit_frame_find(f, "label"), 1);
	ck_assert_int_eq(fit_frame_find(f, "lab"), -1);
	ck_assert_int_eq(fit_frame_find(f, NULL), -1);
	fit_frame_free(f);
	fit_frame_free(NULL);
	fit_frame_builder_free(NULL);
}
END_TEST

START_TEST(builder_refusals)
{
	struct fit_frame_builder *b;
	struct fit_frame *f = (struct fit_frame *)1;
	int32_t code;

	ck_assert_int_eq(fit_frame_builder_new(2, 3, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 3, "x", FIT_COL_NUMERIC), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "", FIT_COL_NUMERIC), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, NULL, FIT_COL_NUMERIC), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", (enum fit_col_type)5), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "y", FIT_COL_NUMERIC), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "c", FIT_COL_CATEGORICAL), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 2, 1.0), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 0, INFINITY), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 0, 0, -INFINITY), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 1, 0, 1.0), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_num(b, 2, 0, 1.0), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 0, 0, "a", 1), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 2, "a", 1), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, 0, "a\0b", 3), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_builder_level(b, 0, "a", 1, &code), FITD_EINVAL);
	ck_assert_ptr_null(fit_frame_builder_codes(b, 0));
	ck_assert_ptr_nonnull(fit_frame_builder_codes(b, 1));
	/* column 2 never declared */
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_EINVAL);
	ck_assert_ptr_null(f);

	ck_assert_int_eq(fit_frame_builder_new(1, 2, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "same", FIT_COL_NUMERIC), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "same", FIT_COL_CATEGORICAL), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_EINVAL);

	ck_assert_int_eq(fit_frame_builder_new(SIZE_MAX / 2, 1, &b), FITD_ETOOBIG);
	ck_assert_ptr_null(b);

	/* an unfinished builder with values frees cleanly (checked by the ASan build) */
	ck_assert_int_eq(fit_frame_builder_new(3, 1, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "c", FIT_COL_CATEGORICAL), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, 0, 0, "v", 1), FITD_OK);
	fit_frame_builder_free(b);
}
END_TEST

START_TEST(builder_bulk)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;
	double *block = malloc(3 * sizeof(double));
	int32_t a, z, again, *codes;

	block[0] = 3;
	block[1] = NAN;
	block[2] = -1;
	ck_assert_int_eq(fit_frame_builder_new(3, 2, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_own(b, block), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_adopt_num(b, 0, "v", block), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "k", FIT_COL_CATEGORICAL), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_level(b, 1, "zz", 2, &z), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_level(b, 1, "aa", 2, &a), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_level(b, 1, "zz", 2, &again), FITD_OK);
	ck_assert_int_eq(z, again);
	ck_assert_int_ne(z, a);
	codes = fit_frame_builder_codes(b, 1);
	codes[0] = z;
	codes[2] = a;
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_OK);
	ck_assert_ptr_eq(f->cols[0].num, block);
	ck_assert_uint_eq(f->cols[0].missing, 1);
	ck_assert_str_eq(f->cols[1].levels[0], "aa");
	ck_assert_int_eq(f->cols[1].cat[0], 1);
	ck_assert_int_eq(f->cols[1].cat[1], -1);
	ck_assert_int_eq(f->cols[1].cat[2], 0);
	fit_frame_free(f);
}
END_TEST

START_TEST(builder_many_levels)
{
	enum {
		N = 50000
	};
	struct fit_frame_builder *b;
	struct fit_frame *f;
	char s[32];

	ck_assert_int_eq(fit_frame_builder_new(N, 1, &b), FITD_OK);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "id", FIT_COL_CATEGORICAL), FITD_OK);
	for (size_t r = 0; r < N; r++) {
		int n = snprintf(s, sizeof(s), "id-%zu", (N - 1 - r) / 2);

		ck_assert_int_eq(fit_frame_builder_set_cat(b, 0, r, s, (size_t)n), FITD_OK);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), FITD_OK);
	ck_assert_uint_eq(f->cols[0].nlevels, N / 2);
	for (size_t l = 1; l < N / 2; l++)
		ck_assert_int_lt(strcmp(f->cols[0].levels[l - 1], f->cols[0].levels[l]), 0);
	for (size_t r = 0; r < N; r++) {
		snprintf(s, sizeof(s), "id-%zu", (N - 1 - r) / 2);
		ck_assert_str_eq(f->cols[0].levels[f->cols[0].cat[r]], s);
	}
	fit_frame_free(f);
}
END_TEST

/* ---- the dataset file ---- */

START_TEST(round_trip)
{
	static const size_t shapes[][3] = {
		{ 1000, 6, 40 }, { 0, 3, 1 }, { 1, 1, 1 }, { 37, 2, 5000 }, { 5, 0, 1 }
	};
	const size_t *sh = shapes[_i];
	struct fit_frame *f = random_frame(sh[0], sh[1], sh[2], 99 + (uint64_t)_i), *g = NULL;
	struct fitd_error err = { 0 };
	char *path = temp_path();

	write_frame(f, path);
	ck_assert_msg(fit_frame_load(path, &g, &err) == FITD_OK, "%s", err.message);
	assert_same_frame(f, g);
	for (size_t j = 0; j < g->ncols; j++) {
		const void *p = g->cols[j].type == FIT_COL_NUMERIC ? (const void *)g->cols[j].num
								   : (const void *)g->cols[j].cat;

		ck_assert_uint_eq((uintptr_t)p % 64, 0); /* zero copy: aligned into the mapping */
	}
	fit_frame_free(g);
	fit_frame_free(f);
	unlink(path);
}
END_TEST

START_TEST(load_missing_file)
{
	struct fitd_error err = { 0 };
	struct fit_frame *f = (struct fit_frame *)1;

	ck_assert_int_eq(fit_frame_load("/nonexistent/fitd/dataset", &f, &err), FITD_ENOTFOUND);
	ck_assert_ptr_null(f);
}
END_TEST

START_TEST(truncated_files)
{
	struct fit_frame *f = random_frame(50, 4, 7, 5);
	char *path = temp_path(), *cut = strdup(temp_path());
	unsigned char *buf;
	size_t len;

	write_frame(f, path);
	buf = read_all(path, &len);
	for (size_t n = 0; n < len; n += n < 512 ? 1 : 61) {
		write_bytes(cut, buf, n);
		ck_assert_msg(load_status(cut) == FITD_EFORMAT, "truncated to %zu of %zu", n, len);
	}
	/* a longer file is refused too */
	buf = realloc(buf, len + 64);
	memset(buf + len, 0, 64);
	write_bytes(cut, buf, len + 64);
	ck_assert_int_eq(load_status(cut), FITD_EFORMAT);
	free(buf);
	fit_frame_free(f);
	unlink(path);
	unlink(cut);
	free(cut);
}
END_TEST

START_TEST(corrupted_metadata)
{
	struct fit_frame *f = random_frame(20, 4, 3, 8);
	char *path = temp_path(), *bad = strdup(temp_path());
	unsigned char *buf;
	size_t len, meta;

	write_frame(f, path);
	buf = read_all(path, &len);
	memcpy(&meta, buf + 32, sizeof(meta));
	ck_assert_uint_lt(meta, len);
	for (size_t i = 0; i < meta; i++) {
		buf[i] ^= 0x20;
		write_bytes(bad, buf, len);
		ck_assert_msg(load_status(bad) == FITD_EFORMAT, "byte %zu flipped", i);
		buf[i] ^= 0x20;
	}
	write_bytes(bad, buf, len);
	ck_assert_int_eq(load_status(bad), FITD_OK);
	free(buf);
	fit_frame_free(f);
	unlink(path);
	unlink(bad);
	free(bad);
}
END_TEST

/* The format's checksum: FNV-1a 64 of bytes [0, 56) and [64, meta). */
static void fix_checksum(unsigned char *buf)
{
	uint64_t h = 0xcbf29ce484222325ULL, meta;

	memcpy(&meta, buf + 32, 8);
	for (size_t i = 0; i < meta; i++) {
		if (i >= 56 && i < 64)
			continue;
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	memcpy(buf + 56, &h, 8);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

START_TEST(damage_with_valid_checksum)
{
	/* column 0 numeric, column 1 categorical with 3 levels; 20 rows */
	struct fit_frame *f = random_frame(20, 2, 3, 3);
	char *path = temp_path(), *bad = strdup(temp_path());
	unsigned char *buf, *d0, *d1;
	size_t len;
	uint64_t lev, data1;

	ck_assert_uint_eq(f->cols[1].nlevels, 3);
	write_frame(f, path);
	buf = read_all(path, &len);
	d0 = buf + 64;
	d1 = buf + 128;
	lev = get64(d1 + 48);
	data1 = get64(d1 + 32);
	const struct damage {
		const char *what;
		uint64_t at, value, at2, value2; /* at2 0: one change only */
	} cases[] = {
		{ "more columns", 24, 3, 0, 0 },
		{ "more rows than the data holds", 16, 1000, 0, 0 },
		{ "data past the end", 64 + 32, len, 0, 0 },
		{ "misaligned data", 64 + 32, get64(d0 + 32) + 8, 0, 0 },
		{ "too many levels", 128 + 40, 1000000, 0, 0 },
		{ "name outside the string table", 128 + 8, 1u << 30, 0, 0 },
		{ "empty name", 128 + 16, 0, 0, 0 },
		{ "levels out of order", lev + 16, get64(buf + lev), 0, 0 },
		{ "codes beyond the levels", data1, 0x0000000700000007ULL, 0, 0 },
		{ "wrong missing count", 128 + 24, get64(d1 + 24) + 1, 0, 0 },
		{ "two columns with one name", 64 + 8, get64(d1 + 8), 64 + 16, get64(d1 + 16) },
		{ "unknown type", 64, 2, 0, 0 },
		{ "non-zero reserved field", 128 + 56, 1, 0, 0 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		unsigned char *copy = malloc(len);

		memcpy(copy, buf, len);
		put64(copy + cases[k].at, cases[k].value);
		if (cases[k].at2 != 0)
			put64(copy + cases[k].at2, cases[k].value2);
		fix_checksum(copy);
		write_bytes(bad, copy, len);
		ck_assert_msg(load_status(bad) == FITD_EFORMAT, "%s", cases[k].what);
		free(copy);
	}
	free(buf);
	fit_frame_free(f);
	unlink(path);
	unlink(bad);
	free(bad);
}
END_TEST

START_TEST(write_errors)
{
	struct fit_frame *f = random_frame(100, 2, 3, 1);
	struct fitd_error err = { 0 };
	int fd = open("/dev/full", O_WRONLY);

	if (fd >= 0) {
		ck_assert_int_eq(fit_frame_write(f, fd, &err), FITD_ENOSPC);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(fit_frame_write(f, fd, &err), FITD_EIO);
	close(fd);
	ck_assert_int_eq(fit_frame_write(f, -1, &err), FITD_EINVAL);
	ck_assert_int_eq(fit_frame_write(NULL, 1, &err), FITD_EINVAL);
	fit_frame_free(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *bld = tcase_create("builder"), *file = tcase_create("file");
	SRunner *sr;
	int failed;

	tcase_add_test(bld, builder_basics);
	tcase_add_test(bld, builder_refusals);
	tcase_add_test(bld, builder_bulk);
	tcase_add_test(bld, builder_many_levels);
	tcase_add_loop_test(file, round_trip, 0, 5);
	tcase_add_test(file, load_missing_file);
	tcase_add_test(file, truncated_files);
	tcase_add_test(file, corrupted_metadata);
	tcase_add_test(file, damage_with_valid_checksum);
	tcase_add_test(file, write_errors);
	suite_add_tcase(s, bld);
	suite_add_tcase(s, file);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

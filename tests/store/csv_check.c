/*
 * csv_check.c - the helpers of csv_check.h.
 */
#include "tests/store/csv_check.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fit_frame *parse_ok(const char *csv, size_t len, const struct store_csv_options *o)
{
	struct fitd_error err = { 0 };
	struct fit_frame *f = NULL;
	int rc = store_csv_parse(csv, len, o, &f, &err);

	ck_assert_msg(rc == FITD_OK, "parse failed: %s: %s", err.code, err.message);
	ck_assert_ptr_nonnull(f);
	return f;
}

struct fit_frame *parse_str(const char *csv)
{
	return parse_ok(csv, strlen(csv), NULL);
}

/* Parses csv expecting failure with status and code; the message must hold each of needles. */
void expect_error_opt(const char *csv, size_t len, const struct store_csv_options *o, int status,
		      const char *code, const char *const *needles)
{
	struct fitd_error err = { 0 };
	struct fit_frame *f = (struct fit_frame *)1;
	int rc = store_csv_parse(csv, len, o, &f, &err);

	ck_assert_int_eq(rc, status);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(err.status, status);
	ck_assert_str_eq(err.code, code);
	for (; needles && *needles; needles++)
		ck_assert_msg(strstr(err.message, *needles) != NULL, "'%s' not in '%s'", *needles,
			      err.message);
}

void expect_error(const char *csv, int status, const char *code, const char *const *needles)
{
	expect_error_opt(csv, strlen(csv), NULL, status, code, needles);
}

const struct fit_column *col(const struct fit_frame *f, const char *name)
{
	long i = fit_frame_find(f, name);

	ck_assert_msg(i >= 0, "no column %s", name);
	return &f->cols[i];
}

void assert_levels(const struct fit_column *c, const char *const *levels, size_t n)
{
	ck_assert_int_eq(c->type, FIT_COL_CATEGORICAL);
	ck_assert_uint_eq(c->nlevels, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(c->levels[i], levels[i]);
}

/* The level name of row r of categorical column c, or NULL when missing. */
const char *cat_at(const struct fit_column *c, size_t r)
{
	return c->cat[r] < 0 ? NULL : c->levels[c->cat[r]];
}

/* Two frames are identical: names, types, missing counts, levels, bits of every value. */
void assert_same_frame(const struct fit_frame *a, const struct fit_frame *b)
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
			ck_assert(memcmp(x->num, y->num, a->nrows * sizeof(double)) == 0);
		else
			ck_assert(memcmp(x->cat, y->cat, a->nrows * sizeof(int32_t)) == 0);
	}
}

uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

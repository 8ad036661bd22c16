/*
 * csv_check.h - helpers shared by the CSV parser's tests: parse and assert
 * success or a precise error, look columns up, compare frames bit for bit,
 * a deterministic random source and a growable string.
 */
#ifndef TESTS_STORE_CSV_CHECK_H
#define TESTS_STORE_CSV_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "store/csv.h"

/* A NULL-terminated list of strings a message must contain. */
#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Parses len bytes of csv, failing the test unless it succeeds. */
struct fit_frame *parse_ok(const char *csv, size_t len, const struct store_csv_options *o);
struct fit_frame *parse_str(const char *csv);

/* Parses expecting failure with status and code; the message must hold each of needles. */
void expect_error_opt(const char *csv, size_t len, const struct store_csv_options *o, int status,
		      const char *code, const char *const *needles);
void expect_error(const char *csv, int status, const char *code, const char *const *needles);

/* The column named name; fails the test when there is none. */
const struct fit_column *col(const struct fit_frame *f, const char *name);

/* c is categorical with exactly these levels, in this order. */
void assert_levels(const struct fit_column *c, const char *const *levels, size_t n);

/* The level name of row r of categorical column c, or NULL when missing. */
const char *cat_at(const struct fit_column *c, size_t r);

/* Two frames are identical: names, types, missing counts, levels, bits of every value. */
void assert_same_frame(const struct fit_frame *a, const struct fit_frame *b);

/* splitmix64: the next value of the sequence seeded by *s. */
uint64_t rng_next(uint64_t *s);

/* A growable NUL-terminated string for building CSV text; free(p) when done. */
struct text {
	char *p;
	size_t len;
	size_t cap;
};

void put(struct text *t, const char *s, size_t n);
void puts_(struct text *t, const char *s);

#endif

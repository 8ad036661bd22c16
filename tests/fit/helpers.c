/*
 * helpers.c - see helpers.h. The CSV reader handles the plain files of
 * tests/data (a header row, commas, no quoting) and builds frames with the
 * frame builder, so levels are sorted as in any other frame.
 */
#include "tests/fit/helpers.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 256

const char *th_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("FITD_TEST_DATA");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	return path;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Splits line (modified in place) at commas into at most MAX_COLS fields. */
static size_t fields(char *line, char **out)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		char *c = strchr(p, ',');

		ck_assert_uint_lt(n, MAX_COLS);
		out[n++] = p;
		if (c == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

static int is_number(const char *s, double *v)
{
	char *end;

	if (*s == '\0')
		return 1;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

/* Non-empty lines of the text, cut in place at '\r' and '\n'. */
static size_t lines(char *text, char ***out)
{
	size_t n = 0, cap = 1024;
	char **v = malloc(cap * sizeof(*v)), *p = text;

	while (*p != '\0') {
		char *e = p + strcspn(p, "\r\n");
		int last = *e == '\0';

		*e = '\0';
		if (e > p) {
			if (n == cap)
				v = realloc(v, (cap *= 2) * sizeof(*v));
			v[n++] = p;
		}
		if (last)
			break;
		p = e + 1;
	}
	*out = v;
	return n;
}

struct fit_frame *th_csv(const char *name)
{
	size_t len, nl, ncols, nrows;
	char *text = slurp(th_path(name), &len), **ln, *head[MAX_COLS], *f[MAX_COLS];
	int numeric[MAX_COLS];
	struct fit_frame_builder *b;
	struct fit_frame *frame;
	double v;

	nl = lines(text, &ln);
	ck_assert_uint_ge(nl, 2);
	nrows = nl - 1;
	ncols = fields(ln[0], head);
	for (size_t j = 0; j < ncols; j++)
		numeric[j] = 1;
	/* First pass: types. Fields are cut in place, so re-split per pass on copies. */
	for (size_t i = 1; i < nl; i++) {
		char *copy = strdup(ln[i]);

		ck_assert_uint_eq(fields(copy, f), ncols);
		for (size_t j = 0; j < ncols; j++)
			numeric[j] &= is_number(f[j], &v);
		free(copy);
	}
	ck_assert_int_eq(fit_frame_builder_new(nrows, ncols, &b), 0);
	for (size_t j = 0; j < ncols; j++)
		ck_assert_int_eq(
		    fit_frame_builder_column(b, j, head[j],
					     numeric[j] ? FIT_COL_NUMERIC : FIT_COL_CATEGORICAL),
		    0);
	for (size_t i = 1; i < nl; i++) {
		fields(ln[i], f);
		for (size_t j = 0; j < ncols; j++) {
			if (f[j][0] == '\0')
				continue;
			if (numeric[j])
				ck_assert_int_eq(
				    fit_frame_builder_set_num(b, j, i - 1, strtod(f[j], NULL)), 0);
			else
				ck_assert_int_eq(
				    fit_frame_builder_set_cat(b, j, i - 1, f[j], strlen(f[j])), 0);
		}
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &frame), 0);
	free(ln);
	free(text);
	return frame;
}

struct fit_frame *th_frame_num(size_t nrows, size_t ncols, const char *const *names,
			       const double *colmajor)
{
	struct fit_frame_builder *b;
	struct fit_frame *frame;

	ck_assert_int_eq(fit_frame_builder_new(nrows, ncols, &b), 0);
	for (size_t j = 0; j < ncols; j++) {
		ck_assert_int_eq(fit_frame_builder_column(b, j, names[j], FIT_COL_NUMERIC), 0);
		for (size_t i = 0; i < nrows; i++)
			ck_assert_int_eq(
			    fit_frame_builder_set_num(b, j, i, colmajor[j * nrows + i]), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &frame), 0);
	return frame;
}

size_t th_col(const struct fit_frame *f, const char *name)
{
	for (size_t j = 0; j < f->ncols; j++)
		if (strcmp(f->cols[j].name, name) == 0)
			return j;
	ck_abort_msg("no column %s", name);
	return 0;
}

size_t *th_rows(size_t n)
{
	size_t *r = malloc((n ? n : 1) * sizeof(*r));

	for (size_t i = 0; i < n; i++)
		r[i] = i;
	return r;
}

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void th_split(size_t n, size_t **train, size_t *ntrain, size_t **test, size_t *ntest)
{
	*train = malloc(n * sizeof(size_t));
	*test = malloc(n * sizeof(size_t));
	*ntrain = *ntest = 0;
	for (size_t i = 0; i < n; i++) {
		if (splitmix64(i + TH_SPLIT_SEED) % 4 == 0)
			(*test)[(*ntest)++] = i;
		else
			(*train)[(*ntrain)++] = i;
	}
}

struct fit_problem th_problem(const struct fit_frame *f, const char *target, enum fit_task task,
			      const size_t *train, size_t ntrain, const size_t *valid,
			      size_t nvalid, size_t **feat)
{
	size_t t = th_col(f, target), n = 0;
	struct fit_problem p;

	*feat = malloc(f->ncols * sizeof(size_t));
	for (size_t j = 0; j < f->ncols; j++)
		if (j != t)
			(*feat)[n++] = j;
	p = (struct fit_problem){ f, t, *feat, n, train, ntrain, valid, nvalid, task };
	return p;
}

struct fit_model *th_train(const struct fit_problem *prob, const struct fit_params *p)
{
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };
	int rc = fit_model_train(prob, p, NULL, &m, &err);

	ck_assert_msg(rc == 0, "train failed: %s (%s)", err.message, err.code);
	return m;
}

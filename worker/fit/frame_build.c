/*
 * frame_build.c - the frame builder: assembles a heap frame in memory.
 *
 * Each column gets its storage when it is declared, filled with "missing".
 * A categorical column interns its strings in an intern table
 * (daemon/base/intern.h), which keeps them back to back in one buffer, so
 * a column of a million distinct strings costs a few dozen allocations.
 * Codes are handed out in order of first appearance; finish sorts the
 * levels in byte order and renumbers the codes, so a frame's codes do not
 * depend on the order rows were set in. finish then moves every block
 * (names, values, level strings, blocks handed over with _own()) into the
 * frame, which frees them in fit_frame_free(). Columns adopted with
 * _adopt_num() point into such a block and are not freed on their own.
 */
#include "worker/fit/frame_priv.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/intern.h"

struct build_col {
	char *name; /* NULL until declared */
	enum fit_col_type type;
	double *num;		   /* numeric: nrows values */
	bool own_num;		   /* num was allocated here (not adopted) */
	int32_t *cat;		   /* categorical: nrows codes */
	struct fitd_intern levels; /* categorical: the level strings, by code */
};

struct fit_frame_builder {
	size_t nrows;
	size_t ncols;
	struct build_col *cols;
	struct fitd_buf owned; /* void * per block handed over by _own(), at most ncols + 1 */
};

int fit_frame_builder_new(size_t nrows, size_t ncols, struct fit_frame_builder **out)
{
	struct fit_frame_builder *b;

	*out = NULL;
	if (ncols > SIZE_MAX / sizeof(struct build_col) || nrows > SIZE_MAX / sizeof(double))
		return FITD_ETOOBIG;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return FITD_ENOMEM;
	b->cols = calloc(ncols ? ncols : 1, sizeof(*b->cols));
	if (b->cols == NULL) {
		free(b);
		return FITD_ENOMEM;
	}
	b->nrows = nrows;
	b->ncols = ncols;
	fitd_buf_init(&b->owned, (ncols + 1) * sizeof(void *));
	*out = b;
	return FITD_OK;
}

static void col_release(struct build_col *c)
{
	free(c->name);
	if (c->own_num)
		free(c->num);
	free(c->cat);
	fitd_intern_release(&c->levels);
}

/* The blocks handed over by _own(), as an array of n. */
static void **owned_blocks(const struct fit_frame_builder *b, size_t *n)
{
	*n = b->owned.len / sizeof(void *);
	return (void **)b->owned.data;
}

void fit_frame_builder_free(struct fit_frame_builder *b)
{
	size_t nowned;
	void **owned;

	if (b == NULL)
		return;
	owned = owned_blocks(b, &nowned);
	for (size_t i = 0; i < b->ncols; i++)
		col_release(&b->cols[i]);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	fitd_buf_release(&b->owned);
	free(b->cols);
	free(b);
}

/* The declared column col of the given type, or NULL. */
static struct build_col *typed_col(struct fit_frame_builder *b, size_t col, enum fit_col_type t)
{
	if (b == NULL || col >= b->ncols || b->cols[col].name == NULL || b->cols[col].type != t)
		return NULL;
	return &b->cols[col];
}

static int declare(struct fit_frame_builder *b, size_t col, const char *name,
		   enum fit_col_type type)
{
	struct build_col *c;

	if (b == NULL || col >= b->ncols || b->cols[col].name != NULL || name == NULL ||
	    name[0] == '\0' || (type != FIT_COL_NUMERIC && type != FIT_COL_CATEGORICAL))
		return FITD_EINVAL;
	c = &b->cols[col];
	c->name = strdup(name);
	if (c->name == NULL)
		return FITD_ENOMEM;
	c->type = type;
	return FITD_OK;
}

static int alloc_storage(struct fit_frame_builder *b, struct build_col *c)
{
	size_t n = b->nrows ? b->nrows : 1;

	if (c->type == FIT_COL_NUMERIC) {
		c->num = malloc(n * sizeof(double));
		if (c->num == NULL)
			return FITD_ENOMEM;
		c->own_num = true;
		for (size_t r = 0; r < b->nrows; r++)
			c->num[r] = NAN;
		return FITD_OK;
	}
	c->cat = malloc(n * sizeof(int32_t));
	if (c->cat == NULL)
		return FITD_ENOMEM;
	/* No cap of its own: the strings come from an input its caller capped (an upload, a body). */
	fitd_intern_init(&c->levels, SIZE_MAX);
	memset(c->cat, 0xff, n * sizeof(int32_t));
	return FITD_OK;
}

int fit_frame_builder_column(struct fit_frame_builder *b, size_t col, const char *name,
			     enum fit_col_type type)
{
	int rc = declare(b, col, name, type);

	if (rc == FITD_OK)
		rc = alloc_storage(b, &b->cols[col]);
	if (rc != FITD_OK && rc != FITD_EINVAL) {
		col_release(&b->cols[col]);
		memset(&b->cols[col], 0, sizeof(b->cols[col]));
	}
	return rc;
}

int fit_frame_builder_adopt_num(struct fit_frame_builder *b, size_t col, const char *name,
				const double *values)
{
	int rc = values == NULL ? FITD_EINVAL : declare(b, col, name, FIT_COL_NUMERIC);

	if (rc == FITD_OK)
		b->cols[col].num = (double *)values; /* never written: finish only reads it */
	return rc;
}

int fit_frame_builder_set_num(struct fit_frame_builder *b, size_t col, size_t row, double v)
{
	struct build_col *c = typed_col(b, col, FIT_COL_NUMERIC);

	if (c == NULL || row >= b->nrows || isinf(v))
		return FITD_EINVAL;
	c->num[row] = v;
	return FITD_OK;
}

/* ---- levels and blocks ---- */

int fit_frame_builder_own(struct fit_frame_builder *b, void *block)
{
	int rc = b == NULL || block == NULL ? FITD_EINVAL
					    : fitd_buf_add(&b->owned, &block, sizeof(block));

	if (rc != FITD_OK)
		free(block);
	return rc;
}

int fit_frame_builder_level(struct fit_frame_builder *b, size_t col, const char *s, size_t len,
			    int32_t *code)
{
	struct build_col *c = typed_col(b, col, FIT_COL_CATEGORICAL);

	if (c == NULL || s == NULL || memchr(s, '\0', len) != NULL)
		return FITD_EINVAL;
	return fitd_intern_add(&c->levels, s, len, code);
}

int fit_frame_builder_set_cat(struct fit_frame_builder *b, size_t col, size_t row, const char *s,
			      size_t len)
{
	struct build_col *c = typed_col(b, col, FIT_COL_CATEGORICAL);
	int32_t code = -1;
	int rc;

	if (c == NULL || row >= b->nrows)
		return FITD_EINVAL;
	if (s != NULL) {
		rc = fit_frame_builder_level(b, col, s, len, &code);
		if (rc != FITD_OK)
			return rc;
	}
	c->cat[row] = code;
	return FITD_OK;
}

int32_t *fit_frame_builder_codes(struct fit_frame_builder *b, size_t col)
{
	struct build_col *c = typed_col(b, col, FIT_COL_CATEGORICAL);

	return c ? c->cat : NULL;
}

/* ---- finishing ---- */

struct sort_level {
	const char *s;
	size_t len;
	int32_t old;
};

static int level_cmp(const void *pa, const void *pb)
{
	const struct sort_level *a = pa, *b = pb;
	int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/*
 * Sorts the levels of c into a new array of names (pointing into the intern
 * table's keys) and renumbers its codes.
 */
static int finish_levels(struct fit_frame_builder *b, struct build_col *c, const char ***out)
{
	size_t nlevels = c->levels.n, n = nlevels ? nlevels : 1;
	struct sort_level *sorted = malloc(n * sizeof(*sorted));
	int32_t *remap = malloc(n * sizeof(*remap));
	const char **names = malloc(n * sizeof(*names));
	int rc = FITD_ENOMEM;

	if (sorted == NULL || remap == NULL || names == NULL)
		goto out;
	for (size_t i = 0; i < nlevels; i++) {
		sorted[i].s = fitd_intern_key(&c->levels, (int32_t)i, &sorted[i].len);
		sorted[i].old = (int32_t)i;
	}
	qsort(sorted, nlevels, sizeof(*sorted), level_cmp);
	for (size_t i = 0; i < nlevels; i++) {
		remap[sorted[i].old] = (int32_t)i;
		names[i] = sorted[i].s;
	}
	for (size_t r = 0; r < b->nrows; r++)
		if (c->cat[r] >= 0)
			c->cat[r] = remap[c->cat[r]];
	*out = names;
	names = NULL;
	rc = FITD_OK;
out:
	free(sorted);
	free(remap);
	free(names);
	return rc;
}

static int finish_col(struct fit_frame_builder *b, struct build_col *c, struct fit_frame *f,
		      struct fit_column *dst)
{
	const char **levels = NULL;
	size_t missing = 0;
	int rc;

	dst->type = c->type;
	if (c->type == FIT_COL_NUMERIC) {
		for (size_t r = 0; r < b->nrows; r++) {
			if (isinf(c->num[r]))
				return FITD_EINVAL;
			missing += isnan(c->num[r]) != 0;
		}
		dst->num = c->num;
		if (c->own_num)
			fit__frame_own(f, c->num);
		c->num = NULL;
	} else {
		rc = finish_levels(b, c, &levels);
		if (rc != FITD_OK)
			return rc;
		for (size_t r = 0; r < b->nrows; r++)
			missing += c->cat[r] < 0;
		dst->cat = c->cat;
		dst->levels = levels;
		dst->nlevels = c->levels.n;
		fit__frame_own(f, c->cat);
		fit__frame_own(f, levels);
		fit__frame_own(f, fitd_intern_take_keys(&c->levels)); /* what levels point into */
		c->cat = NULL;
	}
	dst->missing = missing;
	dst->name = c->name;
	fit__frame_own(f, c->name);
	c->name = NULL;
	return FITD_OK;
}

static int name_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_columns(const struct fit_frame_builder *b)
{
	char **names;
	int rc = FITD_OK;

	for (size_t i = 0; i < b->ncols; i++)
		if (b->cols[i].name == NULL)
			return FITD_EINVAL;
	names = malloc((b->ncols ? b->ncols : 1) * sizeof(*names));
	if (names == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < b->ncols; i++)
		names[i] = b->cols[i].name;
	qsort(names, b->ncols, sizeof(*names), name_ptr_cmp);
	for (size_t i = 1; i < b->ncols && rc == FITD_OK; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = FITD_EINVAL;
	free(names);
	return rc;
}

int fit_frame_builder_finish(struct fit_frame_builder *b, struct fit_frame **out)
{
	struct fit_frame *f = NULL;
	size_t nowned;
	void **owned;
	int rc;

	*out = NULL;
	if (b == NULL)
		return FITD_EINVAL;
	rc = check_columns(b);
	owned = owned_blocks(b, &nowned);
	/* Per column its name, and its values or its codes, level names and level strings. */
	if (rc == FITD_OK)
		rc = fit__frame_alloc(b->nrows, b->ncols, 4 * b->ncols + nowned, &f);
	for (size_t i = 0; rc == FITD_OK && i < b->ncols; i++)
		rc = finish_col(b, &b->cols[i], f, fit__frame_col(f, i));
	if (rc == FITD_OK) {
		for (size_t i = 0; i < nowned; i++)
			fit__frame_own(f, owned[i]);
		fitd_buf_release(&b->owned);
		*out = f;
		f = NULL;
	}
	fit_frame_free(f);
	fit_frame_builder_free(b);
	return rc;
}

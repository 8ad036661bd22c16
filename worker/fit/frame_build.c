/*
 * frame_build.c - the frame builder: assembles a heap frame in memory.
 *
 * Each column gets its storage when it is declared, filled with "missing".
 * A categorical column interns its strings in an open-addressing hash table
 * whose keys live in the builder's string arena (blocks of at least
 * 64 KiB), so a column of a million distinct strings costs a handful of
 * allocations. Codes are handed out in order of first appearance; finish
 * sorts the levels in byte order and renumbers the codes, so a frame's codes
 * do not depend on the order rows were set in. finish then moves every block
 * (names, values, arena, blocks handed over with _own()) into the frame,
 * which frees them in fit_frame_free(). Columns adopted with _adopt_num()
 * point into such a block and are not freed on their own.
 */
#include "worker/fit/frame_priv.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)
#define FIRST_SLOTS 16

struct build_level {
	const char *s; /* in the arena, NUL-terminated */
	size_t len;
};

struct build_col {
	char *name; /* NULL until declared */
	enum fit_col_type type;
	double *num;		    /* numeric: nrows values */
	bool own_num;		    /* num was allocated here (not adopted) */
	int32_t *cat;		    /* categorical: nrows codes */
	struct build_level *levels; /* categorical: by code */
	size_t nlevels;
	size_t lcap;
	uint32_t *slots; /* hash table of code + 1; 0 is empty */
	size_t nslots;	 /* a power of two, > 2 * nlevels */
};

struct fit_frame_builder {
	size_t nrows;
	size_t ncols;
	struct build_col *cols;
	char **arena; /* string blocks, and blocks handed over by _own() */
	size_t narena;
	size_t arena_cap;
	char *arena_cur; /* free space in the newest block */
	size_t arena_left;
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
	*out = b;
	return FITD_OK;
}

static void col_release(struct build_col *c)
{
	free(c->name);
	if (c->own_num)
		free(c->num);
	free(c->cat);
	free(c->levels);
	free(c->slots);
}

void fit_frame_builder_free(struct fit_frame_builder *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->ncols; i++)
		col_release(&b->cols[i]);
	for (size_t i = 0; i < b->narena; i++)
		free(b->arena[i]);
	free(b->arena);
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
	c->slots = calloc(FIRST_SLOTS, sizeof(*c->slots));
	if (c->cat == NULL || c->slots == NULL)
		return FITD_ENOMEM;
	c->nslots = FIRST_SLOTS;
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

/* ---- interning ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* Adds block to the list freed with the builder or the frame; false when memory runs out. */
static bool keep_block(struct fit_frame_builder *b, void *block)
{
	if (b->narena == b->arena_cap) {
		size_t cap = b->arena_cap ? 2 * b->arena_cap : 8;
		char **grown = realloc(b->arena, cap * sizeof(*grown));

		if (grown == NULL)
			return false;
		b->arena = grown;
		b->arena_cap = cap;
	}
	b->arena[b->narena++] = block;
	return true;
}

int fit_frame_builder_own(struct fit_frame_builder *b, void *block)
{
	if (b == NULL || block == NULL || !keep_block(b, block)) {
		free(block);
		return b == NULL || block == NULL ? FITD_EINVAL : FITD_ENOMEM;
	}
	return FITD_OK;
}

/* A copy of s in the arena, NUL-terminated; NULL when memory runs out. */
static const char *arena_copy(struct fit_frame_builder *b, const char *s, size_t len)
{
	char *dst;

	if (len >= b->arena_left) {
		size_t size = len >= ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
		char *blk = malloc(size);

		if (blk == NULL || !keep_block(b, blk)) {
			free(blk);
			return NULL;
		}
		b->arena_cur = blk;
		b->arena_left = size;
	}
	dst = b->arena_cur;
	memcpy(dst, s, len);
	dst[len] = '\0';
	b->arena_cur += len + 1;
	b->arena_left -= len + 1;
	return dst;
}

static int grow_slots(struct build_col *c)
{
	size_t n = c->nslots * 2;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return FITD_ENOMEM;
	for (size_t code = 0; code < c->nlevels; code++) {
		size_t i = hash_bytes(c->levels[code].s, c->levels[code].len) & (n - 1);

		while (slots[i] != 0)
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)code + 1;
	}
	free(c->slots);
	c->slots = slots;
	c->nslots = n;
	return FITD_OK;
}

static int add_level(struct fit_frame_builder *b, struct build_col *c, const char *s, size_t len)
{
	const char *copy;

	if (c->nlevels >= INT32_MAX)
		return FITD_ETOOBIG;
	if (c->nlevels == c->lcap) {
		size_t cap = c->lcap ? 2 * c->lcap : 16;
		struct build_level *grown = realloc(c->levels, cap * sizeof(*grown));

		if (grown == NULL)
			return FITD_ENOMEM;
		c->levels = grown;
		c->lcap = cap;
	}
	copy = arena_copy(b, s, len);
	if (copy == NULL)
		return FITD_ENOMEM;
	c->levels[c->nlevels].s = copy;
	c->levels[c->nlevels].len = len;
	c->nlevels++;
	return FITD_OK;
}

static int intern(struct fit_frame_builder *b, struct build_col *c, const char *s, size_t len,
		  int32_t *code)
{
	size_t mask = c->nslots - 1, i = hash_bytes(s, len) & mask;
	int rc;

	for (; c->slots[i] != 0; i = (i + 1) & mask) {
		const struct build_level *l = &c->levels[c->slots[i] - 1];

		if (l->len == len && memcmp(l->s, s, len) == 0) {
			*code = (int32_t)(c->slots[i] - 1);
			return FITD_OK;
		}
	}
	if (2 * (c->nlevels + 1) > c->nslots) {
		rc = grow_slots(c);
		if (rc != FITD_OK)
			return rc;
		mask = c->nslots - 1;
		for (i = hash_bytes(s, len) & mask; c->slots[i] != 0; i = (i + 1) & mask)
			;
	}
	rc = add_level(b, c, s, len);
	if (rc != FITD_OK)
		return rc;
	c->slots[i] = (uint32_t)c->nlevels;
	*code = (int32_t)(c->nlevels - 1);
	return FITD_OK;
}

int fit_frame_builder_level(struct fit_frame_builder *b, size_t col, const char *s, size_t len,
			    int32_t *code)
{
	struct build_col *c = typed_col(b, col, FIT_COL_CATEGORICAL);

	if (c == NULL || s == NULL || memchr(s, '\0', len) != NULL)
		return FITD_EINVAL;
	return intern(b, c, s, len, code);
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

/* Sorts the levels of c into a new array of names and renumbers its codes. */
static int finish_levels(struct fit_frame_builder *b, struct build_col *c, const char ***out)
{
	size_t n = c->nlevels ? c->nlevels : 1;
	struct sort_level *sorted = malloc(n * sizeof(*sorted));
	int32_t *remap = malloc(n * sizeof(*remap));
	const char **names = malloc(n * sizeof(*names));
	int rc = FITD_ENOMEM;

	if (sorted == NULL || remap == NULL || names == NULL)
		goto out;
	for (size_t i = 0; i < c->nlevels; i++)
		sorted[i] = (struct sort_level){ c->levels[i].s, c->levels[i].len, (int32_t)i };
	qsort(sorted, c->nlevels, sizeof(*sorted), level_cmp);
	for (size_t i = 0; i < c->nlevels; i++) {
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
		dst->nlevels = c->nlevels;
		fit__frame_own(f, c->cat);
		fit__frame_own(f, levels);
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
	int rc;

	*out = NULL;
	if (b == NULL)
		return FITD_EINVAL;
	rc = check_columns(b);
	if (rc == FITD_OK)
		rc = fit__frame_alloc(b->nrows, b->ncols, 3 * b->ncols + b->narena, &f);
	for (size_t i = 0; rc == FITD_OK && i < b->ncols; i++)
		rc = finish_col(b, &b->cols[i], f, fit__frame_col(f, i));
	if (rc == FITD_OK) {
		for (size_t i = 0; i < b->narena; i++)
			fit__frame_own(f, b->arena[i]);
		b->narena = 0;
		*out = f;
		f = NULL;
	}
	fit_frame_free(f);
	fit_frame_builder_free(b);
	return rc;
}

/*
 * csv_frame.c - turns the chunks of a parsed CSV into a frame.
 *
 * Numbers go straight into one block of doubles, column k at k * total_cap,
 * each chunk's rows from its slot on; the slots leave room for the most
 * rows a chunk can hold (its newlines, and one row per ncols bytes), so the
 * rows are closed up when quoted newlines or blank lines made that guess
 * too large. The block, backed by huge pages where the kernel allows, goes
 * to a fit_frame_builder, which adopts the numeric columns in place.
 * Categorical columns are read again in pass 2, each chunk interning its
 * values with local codes written straight into the builder's code arrays;
 * the chunks' levels are then merged through the builder, which sorts them.
 */
#include "store/csv_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void pass2_task(struct store__csv_parse *ps, size_t i)
{
	size_t base = 0;

	for (size_t j = 0; j < i; j++)
		base += ps->chunks[j].nrows;
	store__csv_pass2(&ps->x, &ps->chunks[i], ps->catcols, ps->ncat, ps->codes, base);
}

/*
 * A malloc() block for bytes, backed by huge pages where the kernel allows:
 * filling hundreds of megabytes 4 KiB page by page costs more than parsing
 * them, most of all under virtualisation.
 */
static void *alloc_huge(size_t bytes)
{
	const uintptr_t huge = 2u << 20;
	void *p = malloc(bytes);
	uintptr_t from, to;

	if (p == NULL || bytes < 2 * huge)
		return p;
	from = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	to = ((uintptr_t)p + bytes) & ~(huge - 1);
	if (to > from)
		madvise((void *)from, to - from, MADV_HUGEPAGE);
	return p;
}

/* One block for all numeric candidates, column k at k * total_cap. */
int store__csv_alloc_columns(struct store__csv_parse *ps)
{
	size_t cap = ps->total_cap ? ps->total_cap : 1, nnum = 0, k = 0;

	for (size_t col = 0; col < ps->x.ncols; col++)
		nnum += !ps->forced[col];
	ps->num = calloc(ps->x.ncols, sizeof(*ps->num));
	if (ps->num == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV columns");
	if (nnum == 0)
		return FITD_OK;
	if (cap > SIZE_MAX / sizeof(double) / nnum)
		return fitd_error_set(ps->err, FITD_ETOOBIG, NULL, "the table is too large");
	ps->block = alloc_huge(cap * nnum * sizeof(double));
	if (ps->block == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "%zu rows of %zu columns",
				      ps->total_cap, nnum);
	for (size_t col = 0; col < ps->x.ncols; col++)
		if (!ps->forced[col])
			ps->num[col] = ps->block + cap * k++;
	return FITD_OK;
}

/* Moves each chunk's rows of v next to the previous chunk's. */
static void close_up(const struct store__csv_parse *ps, double *v)
{
	size_t base = 0;

	for (size_t i = 0; i < ps->nchunks; i++) {
		const struct store__csv_chunk *c = &ps->chunks[i];

		if (c->slot != base)
			memmove(v + base, v + c->slot, c->nrows * sizeof(double));
		base += c->nrows;
	}
}

static bool is_categorical(const struct store__csv_parse *ps, size_t col)
{
	for (size_t i = 0; i < ps->nchunks; i++)
		if (ps->chunks[i].cat[col])
			return true;
	return false;
}

/* Declares every column in the builder: numbers adopted, categorical ones left for pass 2. */
static int build_columns(struct store__csv_parse *ps)
{
	int rc = fit_frame_builder_new(ps->nrows, ps->x.ncols, &ps->b);

	if (rc != FITD_OK)
		free(ps->block);
	else if (ps->block != NULL)
		rc = fit_frame_builder_own(ps->b, ps->block);
	ps->block = NULL; /* the builder's now, or freed */
	ps->catcols = malloc(ps->x.ncols * sizeof(*ps->catcols));
	ps->codes = calloc(ps->x.ncols, sizeof(*ps->codes));
	if (rc == FITD_OK && (ps->catcols == NULL || ps->codes == NULL))
		rc = FITD_ENOMEM;
	for (size_t col = 0; rc == FITD_OK && col < ps->x.ncols; col++) {
		if (is_categorical(ps, col)) {
			rc = fit_frame_builder_column(ps->b, col, ps->names[col],
						      FIT_COL_CATEGORICAL);
			ps->codes[ps->ncat] = fit_frame_builder_codes(ps->b, col);
			ps->catcols[ps->ncat++] = col;
		} else {
			close_up(ps, ps->num[col]);
			rc = fit_frame_builder_adopt_num(ps->b, col, ps->names[col], ps->num[col]);
		}
	}
	if (rc != FITD_OK)
		return fitd_error_set(ps->err, rc, NULL, "building the table of %zu rows",
				      ps->nrows);
	return FITD_OK;
}

/* Maps chunk i's local codes of categorical column k to the builder's codes. */
static int merge_chunk(struct store__csv_parse *ps, size_t k, size_t i, size_t base)
{
	const struct fitd_intern *t = &ps->chunks[i].interns[k];
	int32_t *map = malloc((t->n ? t->n : 1) * sizeof(*map)), *codes = ps->codes[k];
	size_t end = base + ps->chunks[i].nrows, len;
	int rc = map ? FITD_OK : FITD_ENOMEM;

	for (size_t l = 0; rc == FITD_OK && l < t->n; l++) {
		const char *level = fitd_intern_key(t, (int32_t)l, &len);

		rc = fit_frame_builder_level(ps->b, ps->catcols[k], level, len, &map[l]);
	}
	for (size_t r = base; rc == FITD_OK && r < end; r++)
		if (codes[r] >= 0)
			codes[r] = map[codes[r]];
	free(map);
	return rc;
}

static int categorical_pass(struct store__csv_parse *ps)
{
	int rc = FITD_OK;

	for (size_t i = 0; i < ps->nchunks; i++) {
		struct store__csv_chunk *c = &ps->chunks[i];

		c->interns = calloc(ps->ncat, sizeof(*c->interns));
		if (c->interns == NULL)
			return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV levels");
		/* A chunk's distinct values, each with a NUL, fit in its bytes plus one. */
		for (size_t k = 0; k < ps->ncat; k++)
			fitd_intern_init(&c->interns[k], (size_t)(c->end - c->begin) + 1);
	}
	store__csv_run(ps, ps->nchunks, pass2_task);
	for (size_t i = 0; i < ps->nchunks; i++)
		if (ps->chunks[i].fault.kind != STORE__CSV_OK)
			return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV levels");
	for (size_t k = 0; rc == FITD_OK && k < ps->ncat; k++)
		for (size_t i = 0, base = 0; rc == FITD_OK && i < ps->nchunks; i++) {
			rc = merge_chunk(ps, k, i, base);
			base += ps->chunks[i].nrows;
		}
	if (rc != FITD_OK)
		return fitd_error_set(ps->err, rc, NULL, "merging the levels of the table");
	return FITD_OK;
}

int store__csv_assemble(struct store__csv_parse *ps, struct fit_frame **out)
{
	int rc = build_columns(ps);

	if (rc == FITD_OK && ps->ncat > 0)
		rc = categorical_pass(ps);
	if (rc != FITD_OK)
		return rc;
	rc = fit_frame_builder_finish(ps->b, out);
	ps->b = NULL;
	if (rc != FITD_OK)
		return fitd_error_set(ps->err, rc, NULL, "building the table");
	return FITD_OK;
}

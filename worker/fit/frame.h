/*
 * frame.h - the table the numeric core reads: named numeric and categorical
 * columns with missing values, as parsed from an uploaded CSV.
 *
 * A frame is column-major. A numeric column holds doubles with NAN where a
 * value is missing; a categorical column holds int32 level codes, -1 where
 * missing, and its level names sorted in byte order (so codes do not depend
 * on row order). Every pointer in a frame stays valid until fit_frame_free().
 *
 * On disk a frame is the dataset file: a compact binary columnar format
 * (described in frame.c) that fit_frame_load() maps read-only, so loading a
 * dataset for a trial copies nothing. Frames are immutable once built and
 * safe to read from many threads at once.
 */
#ifndef FIT_FRAME_H
#define FIT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/base/status.h"

enum fit_col_type {
	FIT_COL_NUMERIC = 0,
	FIT_COL_CATEGORICAL = 1,
};

struct fit_column {
	const char *name; /* UTF-8, non-empty, unique in the frame */
	enum fit_col_type type;
	size_t missing;		   /* number of rows without a value */
	const double *num;	   /* numeric: nrows values, NAN = missing; else NULL */
	const int32_t *cat;	   /* categorical: nrows codes, -1 = missing; else NULL */
	size_t nlevels;		   /* categorical: number of levels; else 0 */
	const char *const *levels; /* categorical: nlevels names in byte order; else NULL */
};

struct fit_frame {
	size_t nrows;
	size_t ncols;
	const struct fit_column *cols;
	void *priv; /* backing storage (heap or file mapping); owned by the frame */
};

/*
 * Maps the dataset file at path and returns a frame whose columns point into
 * the mapping. Validates the header, sizes and offsets so a truncated or
 * damaged file fails with FITD_EFORMAT instead of reading out of bounds.
 * On success *out owns the mapping; on error *out is NULL.
 */
int fit_frame_load(const char *path, struct fit_frame **out, struct fitd_error *err);

/*
 * Writes the frame in the dataset file format to fd from its current offset.
 * Does not fsync, rename or close: durability is the caller's (store/) job.
 * Returns FITD_EIO / FITD_ENOSPC when a write fails.
 */
int fit_frame_write(const struct fit_frame *frame, int fd, struct fitd_error *err);

/* Index of the column named name, or -1. */
long fit_frame_find(const struct fit_frame *frame, const char *name);

/*
 * The distinct values of v[0..m), ascending, into v[0..*k): how a numeric
 * class target's classes are found. Linear in m for a few values.
 */
void fit_distinct_values(double *v, size_t m, size_t *k);

/* The index of x among the k ascending distinct values vals, or k if absent (NaN is). */
size_t fit_distinct_find(const double *vals, size_t k, double x);

/* Releases the frame and everything it points at; NULL is allowed. */
void fit_frame_free(struct fit_frame *frame);

/*
 * The frame builder assembles a heap frame in memory: declare every column,
 * set values, then finish. Used by tests, by the JSON-rows prediction path
 * and by the CSV parser. A builder is not thread-safe.
 *
 *   fit_frame_builder_new(nrows, ncols, &b);
 *   fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC);
 *   fit_frame_builder_column(b, 1, "label", FIT_COL_CATEGORICAL);
 *   fit_frame_builder_set_num(b, 0, row, 1.5);
 *   fit_frame_builder_set_cat(b, 1, row, "yes", 3);
 *   fit_frame_builder_finish(b, &frame);   (b is gone, whatever the result)
 *
 * Every value starts missing. Functions return FITD_EINVAL for a column or
 * row out of range, a column of the other type or set twice, a value that is
 * neither finite nor NAN, or a level with a NUL byte; FITD_ENOMEM when memory
 * runs out; FITD_ETOOBIG when nrows * ncols or a column's levels overflow.
 */
struct fit_frame_builder;

/* On error *out is NULL. nrows and ncols may be 0. */
int fit_frame_builder_new(size_t nrows, size_t ncols, struct fit_frame_builder **out);

/* Declares column col once; name is copied and must be non-empty. */
int fit_frame_builder_column(struct fit_frame_builder *b, size_t col, const char *name,
			     enum fit_col_type type);

/* Sets a numeric value; NAN marks it missing. */
int fit_frame_builder_set_num(struct fit_frame_builder *b, size_t col, size_t row, double v);

/* Sets a categorical value from len bytes at s (copied); s NULL marks it missing. */
int fit_frame_builder_set_cat(struct fit_frame_builder *b, size_t col, size_t row, const char *s,
			      size_t len);

/*
 * Bulk loading, for parsers that fill whole columns.
 * own hands the builder a malloc() block to free with the frame (or with
 * the builder, if it is never finished), at most ncols + 1 of them
 * (FITD_ETOOBIG beyond); when own fails it frees block.
 * adopt_num declares col numeric with the nrows values at values, which the
 * caller keeps valid for the frame's life: memory inside a block given to
 * own. level interns a level of categorical column col and gives its code;
 * codes returns that column's nrows codes (all -1 at first) for the caller
 * to fill with -1 or codes from fit_frame_builder_level().
 */
int fit_frame_builder_own(struct fit_frame_builder *b, void *block);
int fit_frame_builder_adopt_num(struct fit_frame_builder *b, size_t col, const char *name,
				const double *values);
int fit_frame_builder_level(struct fit_frame_builder *b, size_t col, const char *s, size_t len,
			    int32_t *code);
int32_t *fit_frame_builder_codes(struct fit_frame_builder *b, size_t col);

/*
 * Sorts each categorical column's levels in byte order, renumbers its codes,
 * counts missing values and returns the frame. Consumes b on success and on
 * error. FITD_EINVAL when a column was never declared or two share a name.
 */
int fit_frame_builder_finish(struct fit_frame_builder *b, struct fit_frame **out);

/* Frees an unfinished builder; NULL is allowed. */
void fit_frame_builder_free(struct fit_frame_builder *b);

#endif

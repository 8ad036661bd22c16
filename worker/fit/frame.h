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

#include "worker/fit/status.h"

enum fit_col_type {
	FIT_COL_NUMERIC = 0,
	FIT_COL_CATEGORICAL = 1,
};

struct fit_column {
	const char *name;          /* UTF-8, non-empty, unique in the frame */
	enum fit_col_type type;
	size_t missing;            /* number of rows without a value */
	const double *num;         /* numeric: nrows values, NAN = missing; else NULL */
	const int32_t *cat;        /* categorical: nrows codes, -1 = missing; else NULL */
	size_t nlevels;            /* categorical: number of levels; else 0 */
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

/* Releases the frame and everything it points at; NULL is allowed. */
void fit_frame_free(struct fit_frame *frame);

#endif

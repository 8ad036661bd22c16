/*
 * helpers.h - shared pieces of the worker/fit unit tests: frames from the CSV
 * files in $FITD_TEST_DATA or from arrays, row lists, and the fixed
 * train/test split the parity fixtures were made with.
 *
 * Helpers abort the test (ck_abort_msg) on failure rather than returning
 * errors; frames they return are freed with fit_frame_free().
 */
#ifndef TESTS_FIT_HELPERS_H
#define TESTS_FIT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/frame.h"
#include "worker/fit/model.h"

/* The named file of tests/data as a frame: a column is numeric when every
 * non-empty field reads as a number, else categorical; empty fields are missing. */
struct fit_frame *th_csv(const char *name);

/* A frame of numeric columns from column-major data (NAN = missing). */
struct fit_frame *th_frame_num(size_t nrows, size_t ncols, const char *const *names,
			       const double *colmajor);

/* Index of a column, aborting when absent. */
size_t th_col(const struct fit_frame *f, const char *name);

/* Rows 0..n-1 (malloc'd). */
size_t *th_rows(size_t n);

/*
 * The fixed split of tests/bench/fit_parity.py: row i is a test row when
 * splitmix64(i + TH_SPLIT_SEED) % 4 == 0. Fills malloc'd train and test lists.
 */
#define TH_SPLIT_SEED 20240601u
void th_split(size_t n, size_t **train, size_t *ntrain, size_t **test, size_t *ntest);

/* A problem over all columns but the target. features is malloc'd into *feat. */
struct fit_problem th_problem(const struct fit_frame *f, const char *target, enum fit_task task,
			      const size_t *train, size_t ntrain, const size_t *valid,
			      size_t nvalid, size_t **feat);

/* Trains, aborting with the error message on failure. */
struct fit_model *th_train(const struct fit_problem *prob, const struct fit_params *p);

/* A frame's path in $FITD_TEST_DATA (static buffer). */
const char *th_path(const char *name);

#endif

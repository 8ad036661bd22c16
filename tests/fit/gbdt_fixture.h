/*
 * gbdt_fixture.h - generated tables for the tree tests (test_gbdt*.c):
 * numeric inputs "x<j>" uniform in [-1, 1] and categorical inputs "c<j>"
 * whose levels are named "L00000", "L00001", ... so that a level's code in
 * the frame is its number. Values are drawn from a seed; a share of cells
 * is missing. Helpers abort the test on failure.
 */
#ifndef TESTS_FIT_GBDT_FIXTURE_H
#define TESTS_FIT_GBDT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/gbdt.h"

#define GX_MAX_COLS 16

struct gx {
	struct fit_frame *frame;
	size_t n, nnum, ncat;
	double *num;  /* nnum x n, column-major, NAN = missing */
	int32_t *cat; /* ncat x n level numbers, -1 = missing */
	size_t feat[GX_MAX_COLS];
	size_t nfeat;
	size_t *rows; /* 0..n-1 */
	double *y;    /* n, for the test to fill */
	int32_t *label;
};

/* A uniform double in [0, 1) from *state (splitmix64). */
double gx_uniform(uint64_t *state);

/* Fills g with n rows of nnum numeric and ncat categorical inputs (levels[j] levels each). */
void gx_make(struct gx *g, size_t n, size_t nnum, size_t ncat, const size_t *levels, double miss,
	     uint64_t seed);

/* A frame with g's columns holding only the rows given, with one level renamed "ZZ" (unseen)
 * in categorical column rename (or none when rename >= ncat) wherever level code appears. */
struct fit_frame *gx_frame_with_unseen(const struct gx *g, size_t rename, int32_t code);

void gx_free(struct gx *g);

/* Training rows 0..ntrain-1, validation rows ntrain..ntrain+nvalid-1 of g, every input. */
struct fit_gbdt_problem gx_problem(const struct gx *g, size_t ntrain, size_t nvalid,
				   size_t nclasses);

/* Trains, aborting with the error message on failure. */
struct fit_gbdt_model *gx_train(const struct fit_gbdt_problem *prob,
				const struct fit_gbdt_params *p);

/* Raw margins of rows 0..n-1 of frame (malloc'd, n x noutputs). */
double *gx_predict(const struct fit_gbdt_model *m, const struct fit_frame *frame, size_t n,
		   int threads);

/*
 * Every field of a description as bytes (a stand-in for the JSON another
 * layer writes), for comparing models byte for byte. With portable set,
 * what legitimately varies with the thread count (params.threads,
 * report.work_bytes) is left out. *out is malloc'd; returns its length.
 */
size_t gx_serialize(const struct fit_gbdt_desc *d, int portable, unsigned char **out);

/* A deep copy of a description that owns (and may damage) its arrays. */
struct gx_copy {
	struct fit_gbdt_desc d;
	struct fit_gbdt_column *columns;
	struct fit_gbdt_tree *trees;
	double *base;
	uint32_t *cat_bits;
	int32_t **column, **left, **right;
	uint8_t **default_left;
	double **value, **cover, **gain;
	uint32_t **cat;
	char **names;	/* column names */
	char ***levels; /* per column, NULL-terminated */
	size_t nt, nc;	/* the counts copied, whatever d says later */
};

struct gx_copy *gx_copy_new(const struct fit_gbdt_desc *d);
void gx_copy_free(struct gx_copy *c);

#endif

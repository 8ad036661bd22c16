/*
 * split.h - which rows train and which validate: stratified k-fold and
 * holdout splits for classification, plain ones for regression, from a seed.
 *
 * The same labels (or row count), settings and seed give the same split on
 * every machine: the shuffles use the core's own xoshiro256** generator,
 * never rand(). Stratified splits shuffle each class on its own and deal its
 * rows round the folds, continuing where the previous class stopped, so every
 * fold gets each class in proportion (within one row) and folds differ in size
 * by at most one row.
 */
#ifndef FIT_SPLIT_H
#define FIT_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/frame.h"
#include "worker/fit/params.h"
#include "daemon/base/status.h"

/*
 * Writes the fold (0..k-1) of each of n rows to fold. labels (class per row,
 * >= 0) makes it stratified; NULL makes it a plain shuffled k-fold.
 * FITD_EINVAL unless 2 <= k <= n; FITD_ENOMEM.
 */
int fit_split_kfold(const int32_t *labels, size_t n, unsigned k, uint64_t seed, uint32_t *fold,
		    struct fitd_error *err);

/*
 * Marks about fraction * n of n rows for validation (is_valid[i] = 1, else 0),
 * at least one row on each side; per class when labels is not NULL.
 * FITD_EINVAL unless 0 < fraction < 1 and n >= 2; FITD_ENOMEM.
 */
int fit_split_holdout(const int32_t *labels, size_t n, double fraction, uint64_t seed,
		      uint8_t *is_valid, struct fitd_error *err);

/* The folds of a frame, ready to hand to struct fit_problem. */
struct fit_split;

/*
 * Splits the rows of frame whose target column has a value (rows with a
 * missing target are in no fold) into folds >= 2 stratified (classification)
 * or plain (regression) folds, or, with folds = 0, into one holdout of
 * fraction. With repeats > 1 the k-fold split is made that many times, each
 * from its own shuffle (repeat 0 is the split of repeats = 1), and pair
 * r * folds + f is fold f of repeat r. A classification target is its level
 * (categorical) or its value (numeric). On success *out is freed with
 * fit_split_free().
 */
int fit_split_new(const struct fit_frame *frame, size_t target, enum fit_task task, unsigned folds,
		  unsigned repeats, double fraction, uint64_t seed, struct fit_split **out,
		  struct fitd_error *err);

/* Number of train/validation pairs: folds * repeats, or 1 for a holdout. */
unsigned fit_split_count(const struct fit_split *s);

/* Rows of pair i (< fit_split_count()), ascending; pointers valid until fit_split_free(). */
void fit_split_get(const struct fit_split *s, unsigned i, const size_t **train, size_t *ntrain,
		   const size_t **valid, size_t *nvalid);

/* Releases the split; NULL is allowed. */
void fit_split_free(struct fit_split *s);

#endif

/*
 * explain.h - why a model predicts what it does: the coefficients of a linear
 * model mapped back to the original columns, and permutation importance on
 * held-out rows for any model.
 *
 * Both read an immutable model and are safe to call from many threads.
 */
#ifndef FIT_EXPLAIN_H
#define FIT_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/model.h"

enum fit_coef_kind {
	FIT_COEF_VALUE = 0,   /* a numeric column's value */
	FIT_COEF_MISSING = 1, /* a numeric column's missing indicator */
	FIT_COEF_LEVEL = 2,   /* a categorical level (level names it) */
	FIT_COEF_OTHER = 3,   /* a categorical column's folded and unseen levels */
};

/*
 * One coefficient of one output. standardized is the weight the model holds
 * (per standard deviation of the column; for regression in target standard
 * deviations). original is in the data's own units: for a numeric value, the
 * change of the output per unit of the column (regression: in target units;
 * classification: in log-odds or decision units); for indicators and levels,
 * the change when the feature is on.
 */
struct fit_coef {
	size_t column; /* index into the model's columns */
	enum fit_coef_kind kind;
	const char *level; /* FIT_COEF_LEVEL: the level's name; else NULL */
	size_t output;	   /* the output (class) it belongs to */
	double standardized;
	double original;
};

struct fit_coefs {
	size_t noutputs; /* 1 for regression and binary models, else nclasses */
	size_t n;	 /* entries in coef: noutputs * features, output-major */
	struct fit_coef *coef;
	/* noutputs intercepts in original units: the output at all-zero raw inputs, levels off */
	double *intercept;
};

/*
 * The coefficients of a linear, logistic or svm model. FITD_EINVAL for an mlp;
 * FITD_ENOMEM. On success *out is freed with fit_coefs_free(); its level
 * pointers point into the model and live as long as it does.
 */
int fit_explain_coefficients(const struct fit_model *m, struct fit_coefs **out,
			     struct fitd_error *err);

/* Releases coefficients; NULL is allowed. */
void fit_coefs_free(struct fit_coefs *c);

/*
 * Permutation importance of each input column on rows of frame (which holds
 * the target): the score with the column's values shuffled among the rows,
 * repeats times, compared with the unshuffled score. importance[j] is the mean
 * loss of score (positive = the column matters, whatever the metric's
 * direction) and stddev[j] (may be NULL) its standard deviation, for the
 * model's ncolumns columns. Shuffles come from seed, so the result is
 * deterministic, also across thread counts. Errors as fit_model_score().
 */
int fit_explain_permutation(const struct fit_model *m, const struct fit_frame *frame,
			    const size_t *rows, size_t nrows, enum fit_metric metric,
			    unsigned repeats, uint64_t seed, int threads, double *importance,
			    double *stddev, struct fitd_error *err);

#endif

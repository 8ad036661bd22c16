/*
 * explain.h - why a model predicts what it does: the coefficients of a linear
 * model mapped back to the original columns, permutation importance on
 * held-out rows for any model, and per-row contributions of every input
 * column to every family's raw prediction.
 *
 * All read an immutable model and are safe to call from many threads.
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

/*
 * A gbdt model's importance per column (ncolumns values each): the total
 * gain and the total cover of the splits on it over all trees
 * (fit_gbdt_importance()). FITD_EINVAL for a model without trees.
 */
int fit_explain_trees(const struct fit_model *m, double *gain, double *cover);

/*
 * Orders of the columns a network's explanation walks, at most: every
 * order when there are this many or fewer (four columns or fewer), else
 * this many seeded ones.
 */
#define FIT_EXPLAIN_ORDERS 32

/*
 * Per-row contributions of every input column to the raw prediction (one
 * shape for every family, as H2O's predict_contributions): for each row of
 * rows (NULL: rows 0..nrows-1) and each raw output (fit_model_nmargins(m):
 * the prediction for regression, the log-odds of classes[1] for two
 * classes, one margin per class for more), one value per model column
 * (fit_model_desc(m)->columns) and then the bias, which sum to the row's
 * margin as fit_model_margins() gives it, to rounding. Writes nrows *
 * nmargins * (ncolumns + 1) values to contrib, layout [row][output][column
 * ..., bias]; regression in target units.
 *
 *   linear, logistic, svm  weight * (feature - its training mean), summed
 *                          over a column's features (value and missing
 *                          indicator, one-hot levels and "other"); the bias
 *                          is the output at the training means
 *   mlp                    Shapley values against the training means: the
 *                          mean over the orders (FIT_EXPLAIN_ORDERS) of
 *                          the output's change as each column in turn takes
 *                          the row's values; bias the output at the means.
 *                          Deterministic (fixed orders); a column the
 *                          network ignores gets 0
 *   gbdt                   exact TreeSHAP (fit_gbdt_shap()); bias the
 *                          expected margin over the training rows
 *
 * A model document without training means explains against means of 0.
 * Uses threads OpenMP threads; the result does not depend on them. Errors
 * as fit_model_predict().
 */
int fit_model_contributions(const struct fit_model *m, const struct fit_frame *frame,
			    const size_t *rows, size_t nrows, int threads, double *contrib,
			    struct fitd_error *err);

/*
 * The work of explaining one row of m, in model evaluations: 1 for the
 * linear families and trees (a pass over the row), orders * columns + 1
 * network passes for an mlp, so a caller can bound a request's cost.
 */
size_t fit_model_explain_cost(const struct fit_model *m);

#endif

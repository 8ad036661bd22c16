/*
 * gbdt.h - histogram gradient-boosted trees: train on rows of a frame,
 * predict raw margins, explain with exact TreeSHAP, and take a model apart
 * into plain fields and back.
 *
 * This is the tree engine of the numeric core; the model table, the search
 * and the JSON model format wrap it. A fit reads like this:
 *
 *   struct fit_gbdt_problem prob = { frame, features, nfeatures, train, ntrain,
 *                                    valid, nvalid, nclasses, y, label };
 *   struct fit_gbdt_params par;  fit_gbdt_params_init(&par);  ... set fields ...
 *   const char *why = fit_gbdt_params_check(&par, prob.nclasses);   // NULL = fine
 *   rc = fit_gbdt_train(&prob, &par, &callbacks, &model, &err);
 *   rc = fit_gbdt_predict(model, frame, rows, n, threads, margins, &err);
 *   const struct fit_gbdt_desc *d = fit_gbdt_desc(model);     // serialize d
 *   rc = fit_gbdt_rebuild(&parsed_desc, &again, &err);         // predicts bit-identically
 *   fit_gbdt_free(model);
 *
 * How it learns (LightGBM's recipe, see the gbdt_*.c files): each input
 * column is cut into at most max_bins bins on the training rows, plus a bin
 * for missing values; trees grow leaf-wise (best gain first) from gradient
 * histograms; every split learns where missing values go; categorical columns
 * split into subsets of levels. Trees see raw values: no standardization,
 * no imputation.
 *
 * Thread-safety: a model is immutable after train or rebuild; predict, shap
 * and importance may run on it from many threads at once. fit_gbdt_train()
 * runs an OpenMP team of params->threads threads (never OMP_NUM_THREADS) and
 * calls the callbacks from the calling thread only. Results never depend on
 * the number of threads: the same problem, parameters and seed give a
 * bit-identical model for any thread count.
 */
#ifndef FIT_GBDT_H
#define FIT_GBDT_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/base/status.h"
#include "worker/fit/frame.h"
#include "worker/fit/model.h"
#include "worker/fit/params.h"

#define FIT_GBDT_MAX_BINS   255	     /* value bins per column, at most */
#define FIT_GBDT_MAX_LEAVES 131072   /* leaves per tree, at most */
#define FIT_GBDT_MAX_TREES  1000000  /* boosting rounds, at most */
#define FIT_GBDT_MAX_LEVELS 16777216 /* levels of a categorical input, at most */
#define FIT_GBDT_LEAF	    (-1)     /* the column of a leaf node */

/*
 * The settings of a fit, a plain value (LightGBM's defaults). The objective
 * of a tree is sum_i (g_i w + h_i w^2 / 2) + l1 |w| + l2 w^2 / 2 over its
 * leaves' weights w; a split's gain is
 *
 *   S(G_L, H_L) + S(G_R, H_R) - S(G, H),   S(G, H) = soft(G, l1)^2 / (H + l2)
 *
 * with soft(G, a) = sign(G) max(|G| - a, 0), and a leaf's value is
 * -soft(G, l1) / (H + l2) * learning_rate (absolute loss: the median of the
 * leaf's residuals times learning_rate, as scikit-learn does).
 */
struct fit_gbdt_params {
	unsigned trees; /* boosting rounds, upper bound (early stopping may end sooner): 100 */
	double learning_rate;	 /* shrinkage of every leaf value, (0, 1e3]: 0.1 */
	unsigned max_leaves;	 /* leaves per tree, 2..FIT_GBDT_MAX_LEAVES: 31 */
	unsigned max_depth;	 /* depth cap (root = 0); 0 = none: 0 */
	double min_child_weight; /* a child's hessian sum, at least: 1e-3 */
	unsigned min_leaf_rows;	 /* a child's rows, at least (0 counts as 1): 20 */
	double min_split_gain;	 /* a split's gain must exceed it, >= 0: 0 */
	double subsample;	 /* share of training rows per round, (0, 1]: 1 */
	double colsample;	 /* share of input columns per tree, (0, 1]: 1 */
	unsigned max_bins;	 /* value bins per column, 2..FIT_GBDT_MAX_BINS: 255 */
	double l1;		 /* alpha on leaf weights, >= 0: 0 */
	double l2;		 /* lambda on leaf weights, >= 0: 1 */
	unsigned patience; /* rounds without a lower validation loss before stopping; 0 = off */
	/*
	 * Regression: squared (start: the mean), huber (the median; huber_delta
	 * in target units), absolute (the median). Classification: log, a
	 * sigmoid output for two classes and one tree per class per round with
	 * softmax for more (start: the classes' log prior). AUTO picks squared
	 * or log.
	 */
	enum fit_loss loss;
	double huber_delta; /* huber: where the loss turns linear, > 0: 1 */
	uint64_t seed;	    /* row and column sampling, the binning sample */
	int threads;	    /* OpenMP team, 1..FIT_MAX_THREADS: 1 */
};

/* Fills *p with the defaults above. */
void fit_gbdt_params_init(struct fit_gbdt_params *p);

/*
 * NULL when p is usable for a problem of nclasses classes (0: regression),
 * else a static sentence naming the bad field.
 */
const char *fit_gbdt_params_check(const struct fit_gbdt_params *p, size_t nclasses);

/*
 * What to learn from: borrowed pointers, read only, valid during the call.
 * The target is encoded by the caller and indexed by frame row (y[train[i]]
 * is the target of training row i): y for regression (finite), label for
 * classification (0..nclasses-1). Rows must be in range; a row may appear in
 * both lists, and repeated rows count as often as they appear.
 */
struct fit_gbdt_problem {
	const struct fit_frame *frame;
	const size_t *features; /* column indexes of the inputs (numeric or categorical) */
	size_t nfeatures;
	const size_t *train; /* training rows, ntrain >= 1 of them */
	size_t ntrain;
	const size_t *valid; /* validation rows; may be NULL with nvalid 0 */
	size_t nvalid;
	size_t nclasses;      /* 0: regression; >= 2: classification */
	const double *y;      /* regression: per frame row; else NULL */
	const int32_t *label; /* classification: per frame row; else NULL */
};

/* How the fit went; kept with the model, not needed to predict. */
struct fit_gbdt_report {
	unsigned rounds;     /* rounds run */
	unsigned best_round; /* rounds kept (the best validation loss with early stopping) */
	double train_loss;   /* mean training loss after the kept rounds; NAN without progress cb */
	double valid_loss; /* mean validation loss after the kept rounds; NAN without valid rows */
	int stopped_early; /* nonzero when patience ended the fit */
	size_t work_bytes; /* the bytes the fit allocated, at their peak (model included) */
};

/* An input column as the model knows it. */
struct fit_gbdt_column {
	const char *name;
	enum fit_col_type type;
	/* categorical: the levels seen on training rows, in byte order; the model's level codes index
	 * them. A level not among them (or a missing value) goes where missing values go. */
	size_t nlevels;
	const char *const *levels;
};

/*
 * One tree as parallel arrays over its nnodes nodes; node 0 is the root and
 * every child's index is larger than its parent's. A split node sends a row
 * left when (numeric) its value <= value[n], (categorical) the bit of its
 * level is set in the column's bitset at cat_bits[cat[n]] (nlevels bits,
 * 32 per word, bit l of word l / 32 for level l); missing values and unseen
 * levels go left when default_left[n] is 1.
 */
struct fit_gbdt_tree {
	size_t nnodes;
	const int32_t *column; /* split: index into the model's columns; leaf: FIT_GBDT_LEAF */
	const int32_t *left;   /* split: children; leaf: 0 */
	const int32_t *right;
	const uint8_t *default_left; /* split: 0 or 1; leaf: 0 */
	const double *value;	     /* numeric split: the threshold; leaf: its output; else 0 */
	const uint32_t *cat; /* categorical split: offset of its bitset in cat_bits; else 0 */
	const double *cover; /* hessian sum of the training rows that reached the node, > 0 */
	const double *gain;  /* split: its gain (>= 0); leaf: 0 */
};

/*
 * Everything a model is, as plain fields: fit_gbdt_desc() points into a
 * model and fit_gbdt_rebuild() copies one back. A row's raw margin for output
 * k is base[k] plus the leaf value of every tree t with t % noutputs == k;
 * noutputs is 1 for regression and two classes (the margin is the log-odds
 * of class 1), else nclasses (softmax of the margins). The caller applies
 * sigmoid, softmax or identity.
 */
struct fit_gbdt_desc {
	struct fit_gbdt_params params; /* as trained, loss resolved */
	size_t nclasses;	       /* 0: regression */
	size_t noutputs;
	const double *base; /* noutputs starting margins */
	size_t ncolumns;
	const struct fit_gbdt_column *columns; /* the problem's features, in order */
	size_t ntrees;			       /* a multiple of noutputs */
	const struct fit_gbdt_tree *trees;
	size_t ncat_words;
	const uint32_t *cat_bits; /* the bitsets of categorical splits */
	struct fit_gbdt_report report;
};

struct fit_gbdt_model;

/*
 * Fits a model. Checks the problem (indexes in range, a target for every
 * training and validation row) and the parameters, plans all working memory
 * once, fits, and on success sets *out to a new model the caller frees with
 * fit_gbdt_free(). With validation rows and patience > 0, training stops
 * after patience rounds without a lower validation loss and keeps the best
 * round's trees. cb (may be NULL): abort is polled at least once per split
 * and per round (and per block of rows in long passes); progress is called
 * after every round with epoch = the round, the mean training loss, the
 * mean validation loss (NAN without validation rows) and the validation
 * rows' margins (valid_margins, output-major; NULL without validation rows).
 *
 * Errors (with *err filled and *out NULL): FITD_EINVAL for bad arguments or
 * parameters, FITD_EUNPROCESSABLE for data that cannot be fitted (a target
 * out of range or not finite), FITD_ETOOBIG when sizes overflow or exceed
 * 2^32 - 1 training rows, FITD_ENOMEM, FITD_ECANCELLED when abort returned
 * nonzero, FITD_EDIVERGED when the margins stop being finite.
 */
int fit_gbdt_train(const struct fit_gbdt_problem *prob, const struct fit_gbdt_params *params,
		   const struct fit_callbacks *cb, struct fit_gbdt_model **out,
		   struct fitd_error *err);

/* The model's fields; valid until fit_gbdt_free(m). */
const struct fit_gbdt_desc *fit_gbdt_desc(const struct fit_gbdt_model *m);

/*
 * A new model from fields (as read back from a saved model): deep-copies and
 * validates them (parameters, sizes, indexes in range, a proper tree,
 * finite numbers, positive covers, levels in strict byte order) and fails
 * with FITD_EFORMAT and a reason otherwise; FITD_ENOMEM. The rebuilt model
 * predicts bit-identically to the one described.
 */
int fit_gbdt_rebuild(const struct fit_gbdt_desc *desc, struct fit_gbdt_model **out,
		     struct fitd_error *err);

/* Releases the model; NULL is allowed. */
void fit_gbdt_free(struct fit_gbdt_model *m);

/*
 * Raw margins of rows (NULL: all rows 0..nrows-1) of frame, which must hold
 * the model's columns by name with the same types (levels are matched by
 * name; unseen ones go where missing values go). Writes nrows * noutputs
 * values to margins, row-major. Uses threads OpenMP threads; the result does
 * not depend on them. FITD_EUNPROCESSABLE when a column is absent or of the
 * wrong type, FITD_EINVAL for a row out of range, FITD_ENOMEM.
 */
int fit_gbdt_predict(const struct fit_gbdt_model *m, const struct fit_frame *frame,
		     const size_t *rows, size_t nrows, int threads, double *margins,
		     struct fitd_error *err);

/*
 * Exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, Algorithm 2,
 * with node covers): for each row and output, one contribution per model
 * column and then the bias (the expected margin), which together sum to the
 * raw margin. Writes nrows * noutputs * (ncolumns + 1) values to contrib,
 * layout [row][output][column, bias]. Rows, frame and errors as
 * fit_gbdt_predict().
 */
int fit_gbdt_shap(const struct fit_gbdt_model *m, const struct fit_frame *frame, const size_t *rows,
		  size_t nrows, int threads, double *contrib, struct fitd_error *err);

/*
 * Importance per model column: the total gain and the total cover of the
 * splits on it, over all trees (ncolumns values each; either may be NULL).
 */
void fit_gbdt_importance(const struct fit_gbdt_model *m, double *gain, double *cover);

/*
 * An upper bound of the peak bytes fit_gbdt_train() holds (its working
 * memory; then, with the binned rows and boosting buffers given back where
 * the system can, what it keeps plus the model) for a fit of
 * rows training-plus-validation rows of features input columns, nclasses
 * classes (0 for regression) and params, where the categorical inputs have
 * cat_levels levels in all in the frame (0 when there are none), so the
 * daemon can admit a trial against a memory budget. The frame itself is not
 * counted. FITD_ETOOBIG when the size overflows, FITD_EINVAL for bad params.
 */
int fit_gbdt_memory_estimate(size_t rows, size_t features, size_t nclasses, size_t cat_levels,
			     const struct fit_gbdt_params *params, size_t *bytes);

#endif

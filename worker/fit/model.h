/*
 * model.h - train a model on rows of a frame, predict with it, score it, and
 * take it apart into plain fields and back (liblinear's "problem" and "model").
 *
 * A trial reads like this:
 *
 *   struct fit_problem prob = { frame, target, features, nfeatures,
 *                               train, ntrain, valid, nvalid, task };
 *   struct fit_params par;  fit_params_init(&par);  ... set fields ...
 *   const char *why = fit_params_check(&par, prob.task);   // NULL = fine
 *   rc = fit_model_train(&prob, &par, &callbacks, &model, &err);
 *   rc = fit_model_score(model, frame, valid, nvalid, FIT_METRIC_AUC, 2, &auc, &err);
 *   const struct fit_model_desc *d = fit_model_desc(model);   // serialize d
 *   ...
 *   rc = fit_model_rebuild(&parsed_desc, &again, &err);       // predicts bit-identically
 *   fit_model_free(model);
 *
 * A model of the linear families (linear, logistic, svm) and mlp carries its
 * preprocessing, fitted on the training rows only:
 * numeric columns get missing values replaced by the training median (plus an
 * optional 0/1 "missing" feature) and are standardized with the training mean
 * and standard deviation; categorical columns are one-hot encoded, levels seen
 * on fewer than min_level_count training rows folded into one "other" feature
 * that also takes levels never seen in training; a missing categorical value
 * sets none of its features. The one-hot features are a model's public
 * view (its layers have a weight per level): inside the core a row holds one
 * code per categorical column, the index of its active feature, and the
 * kernels gather those weights, so memory grows with rows x columns, never
 * rows x levels. Columns are matched by name when predicting, so
 * any frame with those columns (of the same type) will do. A gbdt model's
 * trees see the raw values (worker/fit/gbdt.h): its columns are only named
 * and typed, categorical ones with the levels seen in training.
 *
 * Thread-safety: a model is immutable after train or rebuild; predict, score
 * and explain may run on it from many threads at once. fit_model_train() runs
 * an OpenMP team of params->threads threads and calls the callbacks from the
 * calling thread only. Results never depend on the number of threads: every
 * sum over rows is taken over fixed blocks of rows combined in a fixed order.
 */
#ifndef FIT_MODEL_H
#define FIT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/frame.h"
#include "worker/fit/params.h"
#include "daemon/base/status.h"

/* What to learn from: borrowed pointers, read only, valid during the call. */
struct fit_problem {
	const struct fit_frame *frame;
	size_t target;		/* column index of the target */
	const size_t *features; /* column indexes of the inputs, nfeatures of them */
	size_t nfeatures;
	const size_t *train; /* row indexes to fit on (preprocessing too); ntrain of them */
	size_t ntrain;
	const size_t *valid; /* row indexes for the validation score; may be NULL with nvalid 0 */
	size_t nvalid;
	enum fit_task task;
	/*
	 * May be NULL. Preprocessing fitted before on this frame, for fits of
	 * the same training rows and columns to reuse (fit_prep_cache_new).
	 */
	struct fit_prep_cache *prep_cache;
};

/*
 * The preprocessing (imputation, standardization, levels) that fits have
 * fitted, kept so that later fits of the same frame, columns and training
 * rows with the same preprocessing settings copy it instead of reading
 * every column again: the trials of a search fit each fold many times. A
 * copy is the same bit for bit as a new fit. Holds at most max_entries
 * fits (the oldest goes first), each a few values per column and level;
 * rows are matched by count and two 64-bit hashes, not kept. Safe to use
 * from several threads at once; the frames its entries name must outlive
 * it (it never reads them, only compares their addresses).
 * fit_prep_cache_new: FITD_ENOMEM when memory runs out. fit_prep_cache_free
 * accepts NULL.
 */
struct fit_prep_cache;
int fit_prep_cache_new(size_t max_entries, struct fit_prep_cache **out);
void fit_prep_cache_free(struct fit_prep_cache *c);

/* Fits that found their preprocessing in c so far. */
uint64_t fit_prep_cache_hits(struct fit_prep_cache *c);

/*
 * The big working buffers of finished fits are kept for the next fit of the
 * same size (their pages already touched): fit_buffers_trim gives them back
 * to the system, fit_buffers_kept says how many bytes are kept. Safe from
 * any thread.
 */
void fit_buffers_trim(void);
size_t fit_buffers_kept(void);

struct fit_progress {
	unsigned epoch;	    /* 1-based epoch (iteration for lbfgs, newton, dcd; round for gbdt) */
	double train_loss;  /* mean training loss plus penalty */
	double valid_score; /* params.metric on the validation rows; NAN without them */
	/*
	 * From the tree engine (fit_gbdt_train()) only, else NULL: the raw
	 * margins of the validation rows after this round, output-major
	 * (valid_margins[c * nvalid + i]), valid during the call; its
	 * valid_score is then the mean validation loss, which fit_model_train()
	 * replaces by the metric before passing progress on.
	 */
	const double *valid_margins;
};

/*
 * Both callbacks are optional and are called from the thread that called
 * fit_model_train(), never concurrently. abort is polled after every
 * mini-batch (and every chunk of rows of a full pass), so it must be cheap;
 * when it returns nonzero the fit stops and returns FITD_ECANCELLED.
 * progress is called after every epoch.
 */
struct fit_callbacks {
	int (*abort)(void *data);
	void (*progress)(void *data, const struct fit_progress *p);
	void *data;
};

/*
 * The preprocessing of one input column, as fitted on the training rows. A
 * gbdt model has none: its numeric columns have fill 0, center 0, scale 1
 * and no indicator, its categorical ones the levels seen in training and no
 * "other".
 */
struct fit_prep_column {
	const char *name;
	enum fit_col_type type;
	/* numeric: feature = ((value, or fill when missing) - center) / scale */
	double fill;   /* the training median */
	double center; /* the training mean after filling */
	double scale;  /* the training standard deviation after filling; 1 when it was 0 */
	int indicator; /* nonzero: one more feature, 1 when the value is missing */
	/* categorical: one feature per kept level, in this order, then "other" */
	size_t nlevels;
	const char *const *levels; /* byte order, unique */
	int other;		   /* nonzero: a feature for folded and unseen levels */
};

/*
 * One affine layer: out = weights * in + bias, weights row-major nout x nin.
 * The first layer's nin is the number of preprocessed features, in column
 * order (a numeric column's value then its indicator; a categorical column's
 * levels then "other"). Linear models have one layer; an mlp has its hidden
 * layers (followed by the activation) and then the output layer.
 */
struct fit_layer_desc {
	size_t nin;
	size_t nout;
	const double *weights;
	const double *bias;
};

/* How the fit went; kept with the model, not needed to predict. */
struct fit_report {
	unsigned epochs;     /* epochs (iterations) run */
	unsigned best_epoch; /* the epoch whose weights were kept */
	double train_loss;   /* of the kept weights' epoch */
	double valid_score;  /* of the kept weights; NAN without validation rows */
	uint64_t passes;     /* full passes over the training rows, counted in rows / ntrain */
	int stopped_early;   /* nonzero when patience ended the fit */
	int converged;	     /* lbfgs, newton, dcd: nonzero when tol was reached */
};

/*
 * Everything a model is, as plain fields: fit_model_desc() points into a
 * model, and fit_model_rebuild() copies one back into a new model. The output
 * layer has 1 output for regression and binary classification (the positive
 * class is classes[1]; sigmoid gives its probability) and nclasses outputs
 * otherwise (softmax). An svm's outputs are decision values: its
 * "probabilities" are their sigmoid/softmax, a monotone but uncalibrated score.
 */
struct fit_gbdt_desc;

struct fit_model_desc {
	struct fit_params params; /* as trained, loss and metric resolved */
	enum fit_task task;
	const char *target;	    /* the target column's name */
	size_t nclasses;	    /* classification: >= 2; regression: 0 */
	const char *const *classes; /* class names; numeric targets print as "%.17g" */
	double y_center, y_scale;   /* regression: prediction = y_center + y_scale * output */
	size_t ncolumns;
	const struct fit_prep_column *columns;
	size_t nlayers; /* 0 for gbdt */
	const struct fit_layer_desc *layers;
	/*
	 * linear families and mlp: the training rows' mean of each preprocessed
	 * feature (layers[0].nin of them), the baseline of explanations
	 * (fit_model_contributions()); NULL when unknown (a model document
	 * written before fitd kept them), which takes every mean as 0. NULL for
	 * gbdt.
	 */
	const double *feature_means;
	/*
	 * gbdt: the trees (worker/fit/gbdt.h), whose columns are the columns
	 * above by name and type and whose params follow from params (the
	 * mapping of struct fit_params_gbdt); else NULL. Regression trees
	 * predict the standardized target: prediction = y_center + y_scale *
	 * margin.
	 */
	const struct fit_gbdt_desc *gbdt;
	struct fit_report report;
	/*
	 * An ensemble (worker/fit/ensemble.h): its members and their weights
	 * (summing to 1); nmembers 0 for every other model. An ensemble has
	 * no layers, trees or means of its own.
	 */
	size_t nmembers;
	const struct fit_model *const *members;
	const double *weights;
};

struct fit_model;

/*
 * Fits a model. Checks the problem (indexes in range, the target not among the
 * features, a classification target with at least two classes in training,
 * rows with a missing target are skipped) and the parameters
 * (fit_params_check), plans all working memory once, fits, and on success sets
 * *out to a new model the caller frees with fit_model_free().
 *
 * Errors (with *err filled and *out NULL): FITD_EINVAL for bad arguments or
 * parameters, FITD_EUNPROCESSABLE for data that cannot be fitted (no training
 * rows, one class, a non-integer numeric class target), FITD_ETOOBIG when the
 * sizes overflow, FITD_ENOMEM, FITD_ECANCELLED when abort returned nonzero,
 * FITD_EDIVERGED when the loss or the weights stopped being finite.
 */
int fit_model_train(const struct fit_problem *prob, const struct fit_params *params,
		    const struct fit_callbacks *cb, struct fit_model **out, struct fitd_error *err);

/* The model's fields; valid until fit_model_free(m). */
const struct fit_model_desc *fit_model_desc(const struct fit_model *m);

/*
 * A new model from fields (as read back from a saved model): deep-copies and
 * validates them (sizes consistent, numbers finite, names present) and fails
 * with FITD_EFORMAT and a reason otherwise. The rebuilt model predicts
 * exactly as the model that was described.
 */
int fit_model_rebuild(const struct fit_model_desc *desc, struct fit_model **out,
		      struct fitd_error *err);

/* Values per row fit_model_predict() writes: 1 for regression, nclasses otherwise. */
size_t fit_model_noutputs(const struct fit_model *m);

/*
 * Raw outputs (margins) per row: 1 for regression and two classes (the
 * log-odds, or decision value, of classes[1]), else nclasses (softmax
 * gives the probabilities).
 */
size_t fit_model_nmargins(const struct fit_model *m);

/*
 * The raw margins of rows (as fit_model_predict()) before the link:
 * regression in target units (the prediction itself), two classes the
 * margin of classes[1], more classes one margin per class. Writes nrows *
 * fit_model_nmargins(m) values, row-major. Errors as fit_model_predict().
 */
int fit_model_margins(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		      size_t nrows, int threads, double *margins, struct fitd_error *err);

/*
 * Predicts rows (NULL: all nrows rows 0..nrows-1) of frame, which must have
 * the model's input columns by name with the same types. Writes nrows *
 * fit_model_noutputs(m) values to values (row-major; regression: the
 * prediction in target units; classification: class probabilities) and, when
 * labels is not NULL, the most probable class index of each row. Uses
 * threads OpenMP threads. FITD_EUNPROCESSABLE when a column is absent or of
 * the wrong type, FITD_EINVAL for a row out of range, FITD_ENOMEM.
 */
int fit_model_predict(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		      size_t nrows, int threads, double *values, int32_t *labels,
		      struct fitd_error *err);

/*
 * Scores the model with metric on rows of frame, which must also hold the
 * target column (rows whose target is missing are skipped; a class the model
 * never saw counts as a miss). FITD_EUNPROCESSABLE when no row is left.
 */
int fit_model_score(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		    size_t nrows, enum fit_metric metric, int threads, double *score,
		    struct fitd_error *err);

/* Releases the model; NULL is allowed. */
void fit_model_free(struct fit_model *m);

/*
 * An upper estimate of the peak bytes fit_model_train() allocates for a fit of
 * rows training-plus-validation rows, features preprocessed numeric features
 * (all held dense) and nclasses classes (0 for regression), so the daemon
 * can admit trials against a memory budget. The frame itself is not
 * counted. FITD_ETOOBIG when the size overflows. Tables with categorical
 * columns go through fit_model_memory().
 */
int fit_memory_estimate(size_t rows, size_t features, size_t nclasses,
			const struct fit_params *params, size_t *bytes);

/* The shape of the data a fit sees, for fit_model_memory(). */
struct fit_shape {
	size_t rows;	    /* training plus validation rows */
	size_t columns;	    /* input columns */
	size_t width;	    /* preprocessed features: a categorical column counts levels + 1 */
	size_t cat_levels;  /* levels of the categorical input columns in all */
	size_t nclasses;    /* 0 for regression */
	size_t cat_columns; /* categorical input columns */
};

/*
 * fit_memory_estimate() for any family: a gbdt fit is sized by the tree
 * engine (fit_gbdt_memory_estimate()) on the columns and their levels. The
 * others hold a numeric column dense and a categorical one as one code per
 * row (its one-hot features are read as indices), so their rows cost
 * memory per column whatever the levels; the levels only widen the weights
 * (and a network's first layer). FITD_ETOOBIG when the size overflows,
 * FITD_EINVAL for parameters the family cannot fit with or a shape whose
 * categorical levels exceed its width.
 */
int fit_model_memory(const struct fit_shape *shape, const struct fit_params *params, size_t *bytes);

#endif

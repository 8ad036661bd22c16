/*
 * metric.h - scores of predictions against the truth: accuracy, balanced
 * accuracy, macro F1, log loss, AUC (binary, and one-vs-rest macro for more
 * classes), RMSE, MAE and R^2.
 *
 * Classification metrics take labels in 0..nclasses-1 (or -1 for a class the
 * model does not know: a miss for accuracy, probability 0 for log loss, left
 * out of the per-class metrics) and row-major probabilities, nclasses per row.
 * Probabilities are clipped to [1e-15, 1 - 1e-15] for log loss, as
 * scikit-learn does. Pure functions: thread-safe, no state.
 */
#ifndef FIT_METRIC_H
#define FIT_METRIC_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/params.h"
#include "daemon/base/status.h"

/* 1 when a larger score is better (accuracy, auc, r2, ...), 0 for losses and errors. */
int fit_metric_higher_is_better(enum fit_metric m);

/* 1 when the metric scores classifiers, 0 for regression metrics (and AUTO). */
int fit_metric_is_classification(enum fit_metric m);

/*
 * Scores n rows of a classifier into *out. FITD_EINVAL for a regression
 * metric, n = 0, nclasses < 2 or a label out of range; FITD_EUNPROCESSABLE
 * when the metric is undefined on these rows (AUC with a single class);
 * FITD_ENOMEM (AUC sorts a copy).
 */
int fit_metric_classification(enum fit_metric m, size_t n, size_t nclasses, const int32_t *labels,
			      const double *prob, double *out, struct fitd_error *err);

/* Scores n regression predictions into *out. FITD_EINVAL for a classification metric or n = 0. */
int fit_metric_regression(enum fit_metric m, size_t n, const double *truth, const double *pred,
			  double *out, struct fitd_error *err);

#endif

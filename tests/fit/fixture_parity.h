/*
 * fixture_parity.h - scikit-learn 1.2.1's test scores on the fixed split,
 * written by tests/bench/fit_parity.py (see it for the exact estimators).
 * Do not edit; rerun the script.
 */
static const struct parity_ref {
	const char *file, *target;
	enum fit_task task;
	const char *family;
	enum fit_metric metric;
	double sklearn;
	size_t ntest;
	unsigned epochs[5]; /* mlp: per seed, the epochs scikit-learn ran (its tol
			     * rule stops it early; fitd runs as many) */
} parity_refs[] = {
	{ "iris.csv", "species", FIT_TASK_CLASSIFICATION, "logistic",
	  FIT_METRIC_ACCURACY, 0.90909090909090906, 33, { 0, 0, 0, 0, 0 } },
	{ "iris.csv", "species", FIT_TASK_CLASSIFICATION, "svm",
	  FIT_METRIC_ACCURACY, 0.87878787878787878, 33, { 0, 0, 0, 0, 0 } },
	{ "iris.csv", "species", FIT_TASK_CLASSIFICATION, "mlp",
	  FIT_METRIC_ACCURACY, 0.93939393939393945, 33, { 200, 200, 200, 200, 200 } },
	{ "wine.csv", "cultivar", FIT_TASK_CLASSIFICATION, "logistic",
	  FIT_METRIC_ACCURACY, 0.97499999999999998, 40, { 0, 0, 0, 0, 0 } },
	{ "wine.csv", "cultivar", FIT_TASK_CLASSIFICATION, "svm",
	  FIT_METRIC_ACCURACY, 0.94999999999999996, 40, { 0, 0, 0, 0, 0 } },
	{ "wine.csv", "cultivar", FIT_TASK_CLASSIFICATION, "mlp",
	  FIT_METRIC_ACCURACY, 0.98000000000000009, 40, { 154, 146, 166, 162, 154 } },
	{ "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION, "logistic",
	  FIT_METRIC_ACCURACY, 0.96078431372549022, 153, { 0, 0, 0, 0, 0 } },
	{ "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION, "svm",
	  FIT_METRIC_ACCURACY, 0.94771241830065356, 153, { 0, 0, 0, 0, 0 } },
	{ "breast_cancer.csv", "diagnosis", FIT_TASK_CLASSIFICATION, "mlp",
	  FIT_METRIC_ACCURACY, 0.95555555555555549, 153, { 179, 200, 156, 175, 167 } },
	{ "digits.csv", "digit", FIT_TASK_CLASSIFICATION, "logistic",
	  FIT_METRIC_ACCURACY, 0.97890295358649793, 474, { 0, 0, 0, 0, 0 } },
	{ "digits.csv", "digit", FIT_TASK_CLASSIFICATION, "svm",
	  FIT_METRIC_ACCURACY, 0.98101265822784811, 474, { 0, 0, 0, 0, 0 } },
	{ "digits.csv", "digit", FIT_TASK_CLASSIFICATION, "mlp",
	  FIT_METRIC_ACCURACY, 0.9831223628691983, 474, { 82, 86, 82, 84, 82 } },
	{ "diabetes.csv", "progression", FIT_TASK_REGRESSION, "linear",
	  FIT_METRIC_RMSE, 54.393341008808918, 110, { 0, 0, 0, 0, 0 } },
	{ "diabetes.csv", "progression", FIT_TASK_REGRESSION, "mlp",
	  FIT_METRIC_RMSE, 61.372920049859125, 110, { 200, 200, 200, 200, 200 } },
};

/*
 * params.h - what a trial asks the numeric core to do: the model family, its
 * loss, the optimizer and its schedule, regularization, the network shape and
 * the validation metric, in one plain struct (liblinear's "parameter").
 *
 * A struct fit_params is a value: copy it freely. fit_params_init() fills the
 * defaults; fit_params_check() says, before any work is done, whether the
 * combination makes sense for a task (NULL) or why not (a static sentence).
 * Every enum has a name table so that the daemon can write and read the
 * settings as JSON strings ("adam", "squared_hinge") without a switch of its
 * own. Everything here is pure and thread-safe.
 */
#ifndef FIT_PARAMS_H
#define FIT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define FIT_MAX_HIDDEN 3 /* hidden layers of an mlp, at most */

/* X(NAME, "json name") tables; the enum order is the table order. */
#define FIT_TASK_MAP(X)             \
	X(REGRESSION, "regression") \
	X(CLASSIFICATION, "classification")

#define FIT_MODEL_MAP(X)        \
	X(LINEAR, "linear")     \
	X(LOGISTIC, "logistic") \
	X(SVM, "svm")           \
	X(MLP, "mlp")

/* AUTO picks the family's natural loss (see fit_params_resolve()). */
#define FIT_LOSS_MAP(X)         \
	X(AUTO, "auto")         \
	X(SQUARED, "squared")   \
	X(HUBER, "huber")       \
	X(ABSOLUTE, "absolute") \
	X(LOG, "log")           \
	X(HINGE, "hinge")       \
	X(SQUARED_HINGE, "squared_hinge")

#define FIT_OPTIMIZER_MAP(X)    \
	X(GD, "gd")             \
	X(SGD, "sgd")           \
	X(MOMENTUM, "momentum") \
	X(ADAM, "adam")         \
	X(LBFGS, "lbfgs")       \
	X(NEWTON, "newton")

#define FIT_REG_MAP(X)  \
	X(NONE, "none") \
	X(L1, "l1")     \
	X(L2, "l2")     \
	X(ELASTICNET, "elasticnet")

#define FIT_ACTIVATION_MAP(X) \
	X(RELU, "relu")       \
	X(TANH, "tanh")

/* AUTO is accuracy for classification and rmse for regression. */
#define FIT_METRIC_MAP(X)                         \
	X(AUTO, "auto")                           \
	X(ACCURACY, "accuracy")                   \
	X(BALANCED_ACCURACY, "balanced_accuracy") \
	X(F1, "f1")                               \
	X(LOG_LOSS, "log_loss")                   \
	X(AUC, "auc")                             \
	X(RMSE, "rmse")                           \
	X(MAE, "mae")                             \
	X(R2, "r2")

#define FIT__ENUM_TASK(n, s)   FIT_TASK_##n,
#define FIT__ENUM_MODEL(n, s)  FIT_MODEL_##n,
#define FIT__ENUM_LOSS(n, s)   FIT_LOSS_##n,
#define FIT__ENUM_OPT(n, s)    FIT_OPT_##n,
#define FIT__ENUM_REG(n, s)    FIT_REG_##n,
#define FIT__ENUM_ACT(n, s)    FIT_ACT_##n,
#define FIT__ENUM_METRIC(n, s) FIT_METRIC_##n,
enum fit_task {
	FIT_TASK_MAP(FIT__ENUM_TASK) FIT_TASK_COUNT
};
enum fit_model_kind {
	FIT_MODEL_MAP(FIT__ENUM_MODEL) FIT_MODEL_COUNT
};
enum fit_loss {
	FIT_LOSS_MAP(FIT__ENUM_LOSS) FIT_LOSS_COUNT
};
enum fit_optimizer {
	FIT_OPTIMIZER_MAP(FIT__ENUM_OPT) FIT_OPT_COUNT
};
enum fit_reg {
	FIT_REG_MAP(FIT__ENUM_REG) FIT_REG_COUNT
};
enum fit_activation {
	FIT_ACTIVATION_MAP(FIT__ENUM_ACT) FIT_ACT_COUNT
};
enum fit_metric {
	FIT_METRIC_MAP(FIT__ENUM_METRIC) FIT_METRIC_COUNT
};
#undef FIT__ENUM_TASK
#undef FIT__ENUM_MODEL
#undef FIT__ENUM_LOSS
#undef FIT__ENUM_OPT
#undef FIT__ENUM_REG
#undef FIT__ENUM_ACT
#undef FIT__ENUM_METRIC

/*
 * The objective of every model is
 *
 *   F(w) = (1/n) sum_i loss(f(x_i; w), y_i) + penalty * R(w)
 *   R(w) = l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|_2^2   (elasticnet)
 *
 * where W is every weight but no intercept or bias; l1 is l1_ratio = 1 and l2
 * is l1_ratio = 0. For an svm or logistic model with svm_c > 0 the penalty is
 * 1 / (svm_c * n) with the regularizer chosen, which is C * sum(loss) +
 * |W|^2 / 2 divided by C * n: the same minimizer as liblinear's and
 * scikit-learn's C (scikit-learn leaves the intercept unpenalized too).
 *
 * Regression targets are standardized before fitting (and predictions mapped
 * back), so huber_delta is in standard deviations of the target and penalty
 * does not depend on the target's units.
 */
struct fit_params {
	enum fit_model_kind model;
	enum fit_loss loss;
	enum fit_optimizer optimizer;

	double learning_rate; /* gd, sgd, momentum, adam: the step size */
	double lr_decay;      /* step in epoch e is learning_rate / (1 + lr_decay * e); 0 = none */
	size_t batch_size;    /* rows per step of sgd, momentum, adam; 0 = all rows */
	unsigned epochs;      /* passes for first-order methods; iterations for lbfgs, newton */
	double momentum;      /* momentum: the velocity's decay, 0.9 */
	double beta1;	      /* adam: first-moment decay, 0.9 */
	double beta2;	      /* adam: second-moment decay, 0.999 */
	double epsilon;	      /* adam: denominator guard, 1e-8 */
	double tol;	      /* lbfgs, newton: stop when |grad| <= tol * |grad at start| */

	enum fit_reg reg;
	double penalty;	    /* the strength of R(w) above; >= 0 */
	double l1_ratio;    /* elasticnet: the L1 share in [0, 1] */
	double svm_c;	    /* svm, logistic: C; when > 0 it sets the penalty as described above */
	double huber_delta; /* huber: where the loss turns linear, in target deviations */

	double dropout;			       /* mlp: drop probability of hidden units, [0, 1) */
	unsigned hidden_layers;		       /* mlp: 1..FIT_MAX_HIDDEN */
	unsigned hidden_units[FIT_MAX_HIDDEN]; /* mlp: units of each hidden layer */
	enum fit_activation activation;	       /* mlp: of the hidden layers */

	/* early stopping: epochs without a better validation log loss (classifiers with
	 * loss log) or score (others); 0 = off */
	unsigned patience;
	enum fit_metric metric; /* the validation score for progress (and early stopping) */

	int missing_indicator;	/* nonzero: a 0/1 feature for numeric columns with missing values */
	size_t min_level_count; /* levels on fewer training rows fold into "other" */

	uint64_t seed; /* every random choice (init, shuffles, dropout) derives from it */
	int threads;   /* OpenMP team, 1..FIT_MAX_THREADS; never from the environment */
};

#define FIT_MAX_THREADS 256

/* Fills *p with the defaults: logistic, adam, lr 0.01, batch 32, 100 epochs, l2 1e-4. */
void fit_params_init(struct fit_params *p);

/*
 * Replaces the AUTO loss and metric by what they mean for the model and task:
 * loss linear -> squared, logistic -> log, svm -> squared_hinge, mlp -> log or
 * squared; metric classification -> accuracy, regression -> rmse.
 */
void fit_params_resolve(struct fit_params *p, enum fit_task task);

/*
 * NULL when p is usable for task, else a static sentence naming the problem
 * ("newton needs a twice-differentiable loss: ..."). Checks ranges, the model
 * against the task, the loss against the model and task, the optimizer against
 * the loss and regularizer, and the metric against the task.
 */
const char *fit_params_check(const struct fit_params *p, enum fit_task task);

/* Name tables: *_name() never returns NULL ("?" when out of range); *_parse()
 * returns 0 and sets *out, or FITD_EINVAL for an unknown name. */
const char *fit_task_name(enum fit_task v);
int fit_task_parse(const char *s, enum fit_task *out);
const char *fit_model_kind_name(enum fit_model_kind v);
int fit_model_kind_parse(const char *s, enum fit_model_kind *out);
const char *fit_loss_name(enum fit_loss v);
int fit_loss_parse(const char *s, enum fit_loss *out);
const char *fit_optimizer_name(enum fit_optimizer v);
int fit_optimizer_parse(const char *s, enum fit_optimizer *out);
const char *fit_reg_name(enum fit_reg v);
int fit_reg_parse(const char *s, enum fit_reg *out);
const char *fit_activation_name(enum fit_activation v);
int fit_activation_parse(const char *s, enum fit_activation *out);
const char *fit_metric_name(enum fit_metric v);
int fit_metric_parse(const char *s, enum fit_metric *out);

#endif

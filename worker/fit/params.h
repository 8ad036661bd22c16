/*
 * params.h - what a trial asks the numeric core to do: the model family, its
 * loss, the optimizer and its schedule, regularization, the network shape and
 * the validation metric, in one plain struct (liblinear's "parameter"); and
 * the rules of which of them go together, kept here once for the whole
 * daemon.
 *
 * A struct fit_params is a value: copy it freely. fit_params_init() fills the
 * defaults; fit_params_check() says, before any work is done, whether the
 * combination makes sense for a task (NULL) or why not (a static sentence).
 * Every enum has a name table so that the daemon can write and read the
 * settings as JSON strings ("adam", "squared_hinge") without a switch of its
 * own. Everything here is pure and thread-safe.
 *
 * The rules are the family table in params.c: a row per model family with
 * the tasks it does and the losses it takes for each, its natural loss (what
 * AUTO stands for), the regularizers and optimizers it takes (none at all for
 * a family that fits without an optimizer) and the settings it reads; plus a
 * row per loss, regularizer and optimizer with the settings it brings and
 * whether it is smooth (second-order), for the one rule that spans families:
 * lbfgs and newton need a smooth loss and regularization none or l2; and
 * an optimizer may take only some regularizers (dcd, the svm's dual
 * coordinate descent, takes l2 only). The
 * fit_family_*() and fit_combo_*() queries below read that table; the core's
 * fit_params_check(), the job spec's validator and the searcher
 * (worker/search/) all ask them and keep no copy of their own.
 *
 * Adding a model family:
 *   1. a row X(NAME, "name") in FIT_MODEL_MAP below (the enum and the name
 *      the job spec and the model document use);
 *   2. its row in the family table of params.c: the losses per task, the
 *      natural loss per task, the regularizers, the optimizers (0 for none),
 *      the settings it always reads (uses), those its choices bring that
 *      it does without (ignores) and its place in the order of simplicity
 *      (the one-standard-error rule's preference);
 *   3. if it reads settings of its own, a FIT_SET_* value for each below, a
 *      field in struct fit_params, its range check in fit_params_check(),
 *      its key in the trainer's reading of trial parameters
 *      (worker/params.c), and a dimension for each in the search space: a
 *      row of dims[] and defaults[] in worker/search/space.c (its group,
 *      "gbdt" for "space.gbdt.*", is the row's parent) and a slot in
 *      space_tree.c;
 *   4. its code: fit, predict, explain and serialize.
 * The searcher offers the new family by default for every task it does and
 * every combination the table allows; nothing else names the families.
 *
 * Adding a loss, a regularizer or an optimizer: a row in its X-macro map
 * below, a row in its rule table of params.c (the settings it brings, and
 * whether it is smooth or second-order; an optimizer also whether it runs
 * to convergence and which regularizers it takes), the families that take
 * it in the family table, and its code (linear.c's loss table, optim.c,
 * lbfgs.c, newton.c or dcd.c, and its dispatch in train.c).
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
	X(MLP, "mlp")           \
	X(GBDT, "gbdt")

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
	X(NEWTON, "newton")     \
	X(DCD, "dcd")

/*
 * The regularizers a family may take. All but dropout are the weight penalty
 * R(w) below. Dropout puts no penalty on the weights: the network's hidden
 * units are dropped at the rate of the dropout setting instead, so it trains
 * exactly as none does with that rate.
 */
#define FIT_REG_MAP(X)              \
	X(NONE, "none")             \
	X(L1, "l1")                 \
	X(L2, "l2")                 \
	X(ELASTICNET, "elasticnet") \
	X(DROPOUT, "dropout")

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
 * The settings a combination reads besides its family, loss, regularizer and
 * optimizer, one bit each (FIT_BIT) in the masks of the queries below. Each
 * names fields of struct fit_params and is one dimension of the search space.
 */
enum fit_setting {
	FIT_SET_EPOCHS,	       /* epochs */
	FIT_SET_LEARNING_RATE, /* learning_rate (and lr_decay) */
	FIT_SET_BATCH_SIZE,    /* batch_size */
	FIT_SET_PENALTY,       /* penalty: the strength of R(w) */
	FIT_SET_L1_RATIO,      /* l1_ratio */
	FIT_SET_HUBER_DELTA,   /* huber_delta */
	FIT_SET_C,	       /* svm_c: an svm's strength of R(w) */
	FIT_SET_HIDDEN_LAYERS, /* hidden_layers */
	FIT_SET_UNITS,	       /* hidden_units */
	FIT_SET_ACTIVATION,    /* activation */
	FIT_SET_DROPOUT,       /* dropout */
	/* gbdt: learning_rate as the shrinkage of a boosted ensemble (no optimizer brings it) */
	FIT_SET_SHRINKAGE,
	FIT_SET_TREES,		  /* gbdt.trees */
	FIT_SET_MAX_LEAVES,	  /* gbdt.max_leaves */
	FIT_SET_MAX_DEPTH,	  /* gbdt.max_depth */
	FIT_SET_MIN_CHILD_WEIGHT, /* gbdt.min_child_weight */
	FIT_SET_MIN_LEAF_ROWS,	  /* gbdt.min_leaf_rows */
	FIT_SET_MIN_SPLIT_GAIN,	  /* gbdt.min_split_gain */
	FIT_SET_SUBSAMPLE,	  /* gbdt.subsample */
	FIT_SET_COLSAMPLE,	  /* gbdt.colsample */
	FIT_SET_MAX_BINS,	  /* gbdt.max_bins */
	FIT_SET_COUNT
};

/* The bit of an enum value in a mask of the queries below. */
#define FIT_BIT(x) (1u << (x))

/*
 * A boosted tree ensemble's own settings (model gbdt), mapped one to one onto
 * struct fit_gbdt_params of worker/fit/gbdt.h, whose comments say what each
 * does; the rest of a gbdt fit comes from struct fit_params as the other
 * families have it: learning_rate is the shrinkage; regularization, penalty
 * and l1_ratio give the leaf weights' l1 (alpha) and l2 (lambda):
 *
 *   none        alpha = 0, lambda = 0
 *   l1          alpha = penalty, lambda = 0
 *   l2          alpha = 0, lambda = penalty
 *   elasticnet  alpha = penalty * l1_ratio, lambda = penalty * (1 - l1_ratio)
 *
 * and loss, huber_delta (in target deviations, as for every family), patience
 * (in boosting rounds), seed and threads.
 */
struct fit_params_gbdt {
	unsigned trees;		 /* boosting rounds, at most: 100 */
	unsigned max_leaves;	 /* leaves per tree, 2..131072: 31 */
	unsigned max_depth;	 /* depth cap, 0 = none: 0 */
	unsigned min_leaf_rows;	 /* rows per leaf, at least: 20 */
	unsigned max_bins;	 /* value bins per column, 2..255: 255 */
	double min_child_weight; /* hessian sum per leaf, at least: 1e-3 */
	double min_split_gain;	 /* a split's gain must exceed it: 0 */
	double subsample;	 /* share of training rows per round, (0, 1]: 1 */
	double colsample;	 /* share of input columns per tree, (0, 1]: 1 */
};

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
	unsigned epochs;      /* passes (first-order); iterations (lbfgs, newton, dcd) */
	double momentum;      /* momentum: the velocity's decay, 0.9 */
	double beta1;	      /* adam: first-moment decay, 0.9 */
	double beta2;	      /* adam: second-moment decay, 0.999 */
	double epsilon;	      /* adam: denominator guard, 1e-8 */
	double tol;	      /* stop: lbfgs, newton at |grad| <= tol * |start|; dcd (dcd.c) */

	enum fit_reg reg;   /* none, l1, l2, elasticnet; or dropout, R(w) = 0 */
	double penalty;	    /* the strength of R(w) above; >= 0 */
	double l1_ratio;    /* elasticnet: the L1 share in [0, 1] */
	double svm_c;	    /* svm, logistic: C; when > 0 it sets the penalty as described above */
	double huber_delta; /* huber: where the loss turns linear, in target deviations */

	double dropout;		/* mlp: drop probability of hidden units, [0, 1): dropout's rate */
	unsigned hidden_layers; /* mlp: 1..FIT_MAX_HIDDEN */
	unsigned hidden_units[FIT_MAX_HIDDEN]; /* mlp: units of each hidden layer */
	enum fit_activation activation;	       /* mlp: of the hidden layers */

	struct fit_params_gbdt gbdt; /* gbdt: the trees' settings */

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

/*
 * Fills *p with the defaults: logistic, adam, lr 0.01, batch 32, 100 epochs, l2 1e-4;
 * the gbdt settings LightGBM's (100 trees, 31 leaves, 20 rows per leaf).
 */
void fit_params_init(struct fit_params *p);

/*
 * Replaces the AUTO loss and metric by what they mean for the model and task:
 * the loss by the family's natural loss for the task (left AUTO when the
 * family does not do the task), the metric by accuracy for classification
 * and rmse for regression.
 */
void fit_params_resolve(struct fit_params *p, enum fit_task task);

/*
 * NULL when p is usable for task, else a static sentence naming the problem
 * ("lbfgs and newton need a differentiable loss ..."). Checks the combination
 * with fit_combo_check(), then the metric against the task and the ranges of
 * the settings.
 */
const char *fit_params_check(const struct fit_params *p, enum fit_task task);

/*
 * The family table. Each mask has a bit (FIT_BIT) per enum value allowed; an
 * out-of-range family or task gives 0 (FIT_LOSS_AUTO for the natural loss).
 *
 * fit_family_losses: the losses family m takes for task (never AUTO); 0 when
 *   it does not do the task.
 * fit_family_natural_loss: what loss AUTO stands for; AUTO when m does not do
 *   the task.
 * fit_family_regs, fit_family_optimizers: the regularizers and optimizers m
 *   takes; no optimizer at all (0) for a family that fits without one.
 * fit_family_uses: the settings (enum fit_setting) m reads whatever else is
 *   chosen.
 * fit_family_ignores: the settings its loss, regularizer or optimizer would
 *   bring that m does without (an svm's strength is C, not penalty).
 * fit_family_simplicity: m's place in the order of simplicity that the
 *   one-standard-error rule prefers (0 simplest): linear and logistic 0, svm
 *   1, gbdt 2, mlp 3; an out-of-range family ranks after every family.
 */
unsigned fit_family_losses(enum fit_model_kind m, enum fit_task task);
enum fit_loss fit_family_natural_loss(enum fit_model_kind m, enum fit_task task);
unsigned fit_family_regs(enum fit_model_kind m);
unsigned fit_family_optimizers(enum fit_model_kind m);
unsigned fit_family_uses(enum fit_model_kind m);
unsigned fit_family_ignores(enum fit_model_kind m);
unsigned fit_family_simplicity(enum fit_model_kind m);

/*
 * 1 for an optimizer that uses second derivatives (lbfgs, newton): it needs a
 * smooth loss and regularizer, and its epochs are iterations; else 0.
 */
int fit_optimizer_second_order(enum fit_optimizer o);

/*
 * 1 for an optimizer run to convergence (lbfgs, newton, dcd): epochs caps
 * its iterations, it stops once tol is reached and keeps its last iterate,
 * so early stopping does not apply to it and its scores on the way are no
 * learning curve to prune on; else 0 (gd, sgd, momentum, adam).
 */
int fit_optimizer_converges(enum fit_optimizer o);

/* The regularizers (a bit per enum fit_reg) optimizer o takes: every one but for dcd (l2). */
unsigned fit_optimizer_regs(enum fit_optimizer o);

/* The settings a loss, regularizer or optimizer brings to a family that takes it. */
unsigned fit_loss_settings(enum fit_loss l);
unsigned fit_reg_settings(enum fit_reg r);
unsigned fit_optimizer_settings(enum fit_optimizer o);

/*
 * NULL when family m does task with loss l (AUTO: its natural loss),
 * regularizer r and optimizer o, else a static sentence why not. The
 * optimizer of a family that takes none is not looked at. This is the whole
 * of which choices go together; the settings' values are fit_params_check()'s.
 */
const char *fit_combo_check(enum fit_task task, enum fit_model_kind m, enum fit_loss l,
			    enum fit_reg r, enum fit_optimizer o);

/*
 * The settings (bit per enum fit_setting) a combination reads: those the
 * family uses, and those its loss, regularizer and optimizer (if it takes
 * one) bring, less those the family ignores; 0 for an out-of-range family.
 * Meaningful for a combination fit_combo_check() accepts.
 */
unsigned fit_combo_settings(enum fit_model_kind m, enum fit_loss l, enum fit_reg r,
			    enum fit_optimizer o);

/*
 * Name tables: *_name() never returns NULL ("?" when out of range); *_parse()
 * returns 0 and sets *out, or FITD_EINVAL for an unknown name. The arrays
 * fit_*_names[] are the tables themselves, indexed by enum value, for a
 * caller that lists or looks up names of its own.
 */
extern const char *const fit_task_names[FIT_TASK_COUNT];
extern const char *const fit_model_kind_names[FIT_MODEL_COUNT];
extern const char *const fit_loss_names[FIT_LOSS_COUNT];
extern const char *const fit_optimizer_names[FIT_OPT_COUNT];
extern const char *const fit_reg_names[FIT_REG_COUNT];
extern const char *const fit_activation_names[FIT_ACT_COUNT];
extern const char *const fit_metric_names[FIT_METRIC_COUNT];
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

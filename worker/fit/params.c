/*
 * params.c - defaults, validation and name tables of struct fit_params, and
 * the rules of which model, loss, regularizer and optimizer go together.
 *
 * The rules are tables, not code: families[] has a row per model family,
 * losses[], regs[] and optimizers[] a row per value with the settings it
 * brings and whether it is smooth (an optimizer also whether it runs to
 * convergence and which regularizers it takes). fit_combo_check() reads them in one
 * place, and the searcher and the job spec's validator call it rather than
 * keep rules of their own (see params.h for how to add a row). Everything
 * here is pure.
 */
#include "worker/fit/params.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "daemon/base/status.h"
#include "worker/fit/gbdt.h"
#include "worker/fit/internal.h"
#include "worker/fit/metric.h"

#define L(x) FIT_BIT(FIT_LOSS_##x)
#define R(x) FIT_BIT(FIT_REG_##x)
#define O(x) FIT_BIT(FIT_OPT_##x)
#define S(x) FIT_BIT(FIT_SET_##x)

struct family {
	unsigned losses[FIT_TASK_COUNT];       /* 0: the family does not do the task */
	enum fit_loss natural[FIT_TASK_COUNT]; /* what AUTO stands for */
	unsigned regs;
	unsigned optimizers; /* 0: fits without one */
	unsigned uses;	     /* settings read whatever else is chosen */
	unsigned ignores;    /* settings its choices bring that it does without */
	unsigned simplicity; /* the one-standard-error rule's order: 0 simplest */
};

#define REGRESSION_LOSSES (L(SQUARED) | L(HUBER) | L(ABSOLUTE))
#define PENALTIES	  (R(L1) | R(L2) | R(ELASTICNET))
#define FIRST_ORDER	  (O(GD) | O(SGD) | O(MOMENTUM) | O(ADAM))
#define SECOND_ORDER	  (O(LBFGS) | O(NEWTON))
#define TREE_SETTINGS                                                                   \
	(S(SHRINKAGE) | S(TREES) | S(MAX_LEAVES) | S(MAX_DEPTH) | S(MIN_CHILD_WEIGHT) | \
	 S(MIN_LEAF_ROWS) | S(MIN_SPLIT_GAIN) | S(SUBSAMPLE) | S(COLSAMPLE) | S(MAX_BINS))

/*
 * The order of simplicity (simplicity): a linear model's coefficients are
 * read directly; an svm is as linear but fits a surrogate loss; a boosted
 * ensemble of trees is harder to read than either but cheaper and more
 * robust than a network (no scaling, no step size to get right, missing
 * values and categories as they are); a network is the least transparent.
 */
static const struct family families[FIT_MODEL_COUNT] = {
	[FIT_MODEL_LINEAR] = {
		.losses = { [FIT_TASK_REGRESSION] = REGRESSION_LOSSES },
		.natural = { [FIT_TASK_REGRESSION] = FIT_LOSS_SQUARED },
		.regs = R(NONE) | PENALTIES,
		.optimizers = FIRST_ORDER | SECOND_ORDER,
		.uses = S(EPOCHS),
		.simplicity = 0,
	},
	[FIT_MODEL_LOGISTIC] = {
		.losses = { [FIT_TASK_CLASSIFICATION] = L(LOG) },
		.natural = { [FIT_TASK_CLASSIFICATION] = FIT_LOSS_LOG },
		.regs = R(NONE) | PENALTIES,
		.optimizers = FIRST_ORDER | SECOND_ORDER,
		.uses = S(EPOCHS),
		.simplicity = 0,
	},
	/* A linear SVM: always penalized, with C as the strength; dcd is its own solver. */
	[FIT_MODEL_SVM] = {
		.losses = { [FIT_TASK_CLASSIFICATION] = L(HINGE) | L(SQUARED_HINGE) },
		.natural = { [FIT_TASK_CLASSIFICATION] = FIT_LOSS_SQUARED_HINGE },
		.regs = PENALTIES,
		.optimizers = FIRST_ORDER | SECOND_ORDER | O(DCD),
		.uses = S(EPOCHS) | S(C),
		.ignores = S(PENALTY),
		.simplicity = 1,
	},
	[FIT_MODEL_MLP] = {
		.losses = { [FIT_TASK_REGRESSION] = REGRESSION_LOSSES,
			    [FIT_TASK_CLASSIFICATION] = L(LOG) },
		.natural = { [FIT_TASK_REGRESSION] = FIT_LOSS_SQUARED,
			     [FIT_TASK_CLASSIFICATION] = FIT_LOSS_LOG },
		.regs = R(NONE) | PENALTIES | R(DROPOUT),
		.optimizers = FIRST_ORDER,
		.uses = S(EPOCHS) | S(HIDDEN_LAYERS) | S(UNITS) | S(ACTIVATION),
		.simplicity = 3,
	},
	/* Gradient-boosted trees (gbdt.h): no optimizer; the penalty is on leaf weights. */
	[FIT_MODEL_GBDT] = {
		.losses = { [FIT_TASK_REGRESSION] = REGRESSION_LOSSES,
			    [FIT_TASK_CLASSIFICATION] = L(LOG) },
		.natural = { [FIT_TASK_REGRESSION] = FIT_LOSS_SQUARED,
			     [FIT_TASK_CLASSIFICATION] = FIT_LOSS_LOG },
		.regs = R(NONE) | PENALTIES,
		.optimizers = 0,
		.uses = TREE_SETTINGS,
		.simplicity = 2,
	},
};

/*
 * A loss or regularizer: the settings it brings. smooth: it has a
 * (generalized) second derivative, for the rule that spans families.
 */
struct choice {
	unsigned settings;
	bool smooth;
};

static const struct choice losses[FIT_LOSS_COUNT] = {
	[FIT_LOSS_SQUARED] = { 0, true },   [FIT_LOSS_HUBER] = { S(HUBER_DELTA), true },
	[FIT_LOSS_ABSOLUTE] = { 0, false }, [FIT_LOSS_LOG] = { 0, true },
	[FIT_LOSS_HINGE] = { 0, false },    [FIT_LOSS_SQUARED_HINGE] = { 0, true },
};

static const struct choice regs[FIT_REG_COUNT] = {
	[FIT_REG_NONE] = { 0, true },
	[FIT_REG_L1] = { S(PENALTY), false },
	[FIT_REG_L2] = { S(PENALTY), true },
	[FIT_REG_ELASTICNET] = { S(PENALTY) | S(L1_RATIO), false },
	[FIT_REG_DROPOUT] = { S(DROPOUT), false },
};

/*
 * An optimizer: the settings it brings; smooth: it needs a smooth loss and
 * regularizer (lbfgs, newton); converges: it runs to tol (see
 * fit_optimizer_converges()); regs: the regularizers it takes, 0 for every
 * one, with the sentence that refuses the others.
 */
struct optimizer {
	unsigned settings;
	bool smooth;
	bool converges;
	unsigned regs;
	const char *regs_why;
};

static const struct optimizer optimizers[FIT_OPT_COUNT] = {
	[FIT_OPT_GD] = { S(LEARNING_RATE), false, false, 0, NULL },
	[FIT_OPT_SGD] = { S(LEARNING_RATE) | S(BATCH_SIZE), false, false, 0, NULL },
	[FIT_OPT_MOMENTUM] = { S(LEARNING_RATE) | S(BATCH_SIZE), false, false, 0, NULL },
	[FIT_OPT_ADAM] = { S(LEARNING_RATE) | S(BATCH_SIZE), false, false, 0, NULL },
	[FIT_OPT_LBFGS] = { 0, true, true, 0, NULL },
	[FIT_OPT_NEWTON] = { 0, true, true, 0, NULL },
	/* the dual of the L2-regularized hinge losses (dcd.c) */
	[FIT_OPT_DCD] = { 0, false, true, R(L2), "dcd takes regularization l2 only" },
};

/* ---- the family table's queries ---- */

static const struct family *family_of(enum fit_model_kind m)
{
	static const struct family none;

	return (unsigned)m < FIT_MODEL_COUNT ? &families[m] : &none;
}

unsigned fit_family_losses(enum fit_model_kind m, enum fit_task task)
{
	return (unsigned)task < FIT_TASK_COUNT ? family_of(m)->losses[task] : 0;
}

enum fit_loss fit_family_natural_loss(enum fit_model_kind m, enum fit_task task)
{
	return (unsigned)task < FIT_TASK_COUNT ? family_of(m)->natural[task] : FIT_LOSS_AUTO;
}

unsigned fit_family_regs(enum fit_model_kind m)
{
	return family_of(m)->regs;
}

unsigned fit_family_optimizers(enum fit_model_kind m)
{
	return family_of(m)->optimizers;
}

unsigned fit_family_uses(enum fit_model_kind m)
{
	return family_of(m)->uses;
}

unsigned fit_family_ignores(enum fit_model_kind m)
{
	return family_of(m)->ignores;
}

unsigned fit_family_simplicity(enum fit_model_kind m)
{
	return (unsigned)m < FIT_MODEL_COUNT ? families[m].simplicity : UINT_MAX;
}

int fit_optimizer_second_order(enum fit_optimizer o)
{
	return (unsigned)o < FIT_OPT_COUNT && optimizers[o].smooth;
}

int fit_optimizer_converges(enum fit_optimizer o)
{
	return (unsigned)o < FIT_OPT_COUNT && optimizers[o].converges;
}

unsigned fit_optimizer_regs(enum fit_optimizer o)
{
	if ((unsigned)o >= FIT_OPT_COUNT)
		return 0;
	return optimizers[o].regs != 0 ? optimizers[o].regs : FIT_BIT(FIT_REG_COUNT) - 1;
}

unsigned fit_loss_settings(enum fit_loss l)
{
	return (unsigned)l < FIT_LOSS_COUNT ? losses[l].settings : 0;
}

unsigned fit_reg_settings(enum fit_reg r)
{
	return (unsigned)r < FIT_REG_COUNT ? regs[r].settings : 0;
}

unsigned fit_optimizer_settings(enum fit_optimizer o)
{
	return (unsigned)o < FIT_OPT_COUNT ? optimizers[o].settings : 0;
}

const char *fit_combo_check(enum fit_task task, enum fit_model_kind m, enum fit_loss l,
			    enum fit_reg r, enum fit_optimizer o)
{
	const struct family *f = family_of(m);

	if ((unsigned)task >= FIT_TASK_COUNT)
		return "unknown task";
	if ((unsigned)m >= FIT_MODEL_COUNT)
		return "unknown model";
	if ((unsigned)l >= FIT_LOSS_COUNT)
		return "unknown loss";
	if ((unsigned)r >= FIT_REG_COUNT)
		return "unknown regularization";
	if (f->optimizers != 0 && (unsigned)o >= FIT_OPT_COUNT)
		return "unknown optimizer";
	if (l == FIT_LOSS_AUTO)
		l = f->natural[task];
	if (f->losses[task] == 0)
		return task == FIT_TASK_REGRESSION ? "this model does classification only"
						   : "this model does regression only";
	if (!(f->losses[task] & FIT_BIT(l)))
		return "this loss does not go with this model and task";
	if (!(f->regs & FIT_BIT(r)))
		return "this regularization does not go with this model";
	if (f->optimizers == 0)
		return NULL;
	if (!(f->optimizers & FIT_BIT(o)))
		return "this optimizer does not go with this model";
	if (!(fit_optimizer_regs(o) & FIT_BIT(r)))
		return optimizers[o].regs_why;
	if (optimizers[o].smooth && !losses[l].smooth)
		return "lbfgs and newton need a differentiable loss (not absolute or hinge)";
	if (optimizers[o].smooth && !regs[r].smooth)
		return "l1 and elasticnet need a first-order optimizer (gd, sgd, momentum, adam)";
	return NULL;
}

unsigned fit_combo_settings(enum fit_model_kind m, enum fit_loss l, enum fit_reg r,
			    enum fit_optimizer o)
{
	const struct family *f = family_of(m);
	unsigned brought = fit_loss_settings(l) | fit_reg_settings(r);

	if ((unsigned)m >= FIT_MODEL_COUNT)
		return 0;
	if (f->optimizers != 0)
		brought |= fit_optimizer_settings(o);
	return f->uses | (brought & ~f->ignores);
}

/* ---- struct fit_params ---- */

void fit_params_init(struct fit_params *p)
{
	memset(p, 0, sizeof(*p));
	p->model = FIT_MODEL_LOGISTIC;
	p->loss = FIT_LOSS_AUTO;
	p->optimizer = FIT_OPT_ADAM;
	p->learning_rate = 0.01;
	p->lr_decay = 0.0;
	p->batch_size = 32;
	p->epochs = 100;
	p->momentum = 0.9;
	p->beta1 = 0.9;
	p->beta2 = 0.999;
	p->epsilon = 1e-8;
	p->tol = 1e-4;
	p->reg = FIT_REG_L2;
	p->penalty = 1e-4;
	p->l1_ratio = 0.15;
	p->svm_c = 0.0;
	p->huber_delta = 1.35;
	p->dropout = 0.0;
	p->hidden_layers = 1;
	p->hidden_units[0] = 64;
	p->hidden_units[1] = 64;
	p->hidden_units[2] = 64;
	p->activation = FIT_ACT_RELU;
	p->patience = 0;
	p->metric = FIT_METRIC_AUTO;
	p->missing_indicator = 1;
	p->min_level_count = 5;
	p->seed = 0;
	p->threads = 1;
	p->gbdt = (struct fit_params_gbdt){
		.trees = 100,
		.max_leaves = 31,
		.max_depth = 0,
		.min_leaf_rows = 20,
		.max_bins = 255,
		.min_child_weight = 1e-3,
		.min_split_gain = 0.0,
		.subsample = 1.0,
		.colsample = 1.0,
	};
}

void fit_params_resolve(struct fit_params *p, enum fit_task task)
{
	if (p->loss == FIT_LOSS_AUTO)
		p->loss = fit_family_natural_loss(p->model, task);
	if (p->metric == FIT_METRIC_AUTO)
		p->metric = task == FIT_TASK_CLASSIFICATION ? FIT_METRIC_ACCURACY : FIT_METRIC_RMSE;
}

static int in_unit(double x)
{
	return x >= 0.0 && x < 1.0;
}

/* used: the settings the combination reads (fit_combo_settings()). */
static const char *check_schedule(const struct fit_params *p, unsigned used)
{
	if (p->epochs < 1 || p->epochs > 1000000)
		return "epochs must be between 1 and 1000000";
	if ((used & S(LEARNING_RATE)) && !(isfinite(p->learning_rate) && p->learning_rate > 0.0))
		return "learning_rate must be a positive number";
	if (!(isfinite(p->lr_decay) && p->lr_decay >= 0.0))
		return "lr_decay must be zero or positive";
	if (!in_unit(p->momentum))
		return "momentum must be in [0, 1)";
	if (!in_unit(p->beta1) || !in_unit(p->beta2))
		return "adam's beta1 and beta2 must be in [0, 1)";
	if (!(isfinite(p->epsilon) && p->epsilon > 0.0))
		return "adam's epsilon must be positive";
	if (!(isfinite(p->tol) && p->tol >= 0.0))
		return "tol must be zero or positive";
	return NULL;
}

static const char *check_regularization(const struct fit_params *p)
{
	if (!(isfinite(p->penalty) && p->penalty >= 0.0))
		return "penalty must be zero or positive";
	if (!(p->l1_ratio >= 0.0 && p->l1_ratio <= 1.0))
		return "l1_ratio must be in [0, 1]";
	if (!(isfinite(p->svm_c) && p->svm_c >= 0.0))
		return "svm_c must be zero or positive";
	if (!(isfinite(p->huber_delta) && p->huber_delta > 0.0))
		return "huber_delta must be positive";
	if (p->optimizer == FIT_OPT_DCD && p->svm_c == 0.0 && p->penalty == 0.0)
		return "dcd needs a positive C (or penalty): its dual has no bound without one";
	return NULL;
}

/* A dropout rate only on a family that takes regularization dropout; a network's shape. */
static const char *check_network(const struct fit_params *p)
{
	if (!(fit_family_regs(p->model) & R(DROPOUT)) && p->dropout != 0.0)
		return "dropout applies to mlp models only";
	if (!in_unit(p->dropout))
		return "dropout must be in [0, 1)";
	if (!(fit_family_uses(p->model) & S(HIDDEN_LAYERS)))
		return NULL;
	if (p->hidden_layers < 1 || p->hidden_layers > FIT_MAX_HIDDEN)
		return "hidden_layers must be 1, 2 or 3";
	for (unsigned i = 0; i < p->hidden_layers; i++)
		if (p->hidden_units[i] < 1 || p->hidden_units[i] > 65536)
			return "hidden_units must be between 1 and 65536";
	if ((unsigned)p->activation >= FIT_ACT_COUNT)
		return "unknown activation";
	return NULL;
}

const char *fit_params_check(const struct fit_params *p, enum fit_task task)
{
	struct fit_params r = *p;
	const char *msg;

	fit_params_resolve(&r, task);
	msg = fit_combo_check(task, r.model, r.loss, r.reg, r.optimizer);
	if (msg != NULL)
		return msg;
	if ((unsigned)p->metric >= FIT_METRIC_COUNT)
		return "unknown metric";
	if (p->threads < 1 || p->threads > FIT_MAX_THREADS)
		return "threads must be between 1 and 256";
	if ((task == FIT_TASK_CLASSIFICATION) != (fit_metric_is_classification(r.metric) != 0))
		return "this metric does not go with the task";
	if (r.model == FIT_MODEL_GBDT) {
		struct fit_gbdt_params g;

		fit__gbdt_params(&r, &g);
		msg = fit_gbdt_params_check(&g, task == FIT_TASK_CLASSIFICATION ? 2 : 0);
		if (msg != NULL)
			return msg;
	}
	msg = check_schedule(p, fit_combo_settings(r.model, r.loss, r.reg, r.optimizer));
	if (msg == NULL)
		msg = check_regularization(p);
	if (msg == NULL)
		msg = check_network(p);
	if (msg == NULL && p->min_level_count > ((size_t)1 << 40))
		msg = "min_level_count is too large";
	return msg;
}

/* One lookup pair per enum, over the X-macro tables of params.h. */
#define NAME_ROW(n, s) s,
#define DEFINE_NAMES(type, fn, map, count)                            \
	const char *const fn##_names[count] = { map(NAME_ROW) };      \
	const char *fn##_name(enum type v)                            \
	{                                                             \
		return (unsigned)v < (count) ? fn##_names[v] : "?";   \
	}                                                             \
	int fn##_parse(const char *s, enum type *out)                 \
	{                                                             \
		for (unsigned i = 0; s != NULL && i < (count); i++) { \
			if (strcmp(s, fn##_names[i]) == 0) {          \
				*out = (enum type)i;                  \
				return FITD_OK;                       \
			}                                             \
		}                                                     \
		return FITD_EINVAL;                                   \
	}

DEFINE_NAMES(fit_task, fit_task, FIT_TASK_MAP, FIT_TASK_COUNT)
DEFINE_NAMES(fit_model_kind, fit_model_kind, FIT_MODEL_MAP, FIT_MODEL_COUNT)
DEFINE_NAMES(fit_loss, fit_loss, FIT_LOSS_MAP, FIT_LOSS_COUNT)
DEFINE_NAMES(fit_optimizer, fit_optimizer, FIT_OPTIMIZER_MAP, FIT_OPT_COUNT)
DEFINE_NAMES(fit_reg, fit_reg, FIT_REG_MAP, FIT_REG_COUNT)
DEFINE_NAMES(fit_activation, fit_activation, FIT_ACTIVATION_MAP, FIT_ACT_COUNT)
DEFINE_NAMES(fit_metric, fit_metric, FIT_METRIC_MAP, FIT_METRIC_COUNT)

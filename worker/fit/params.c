/*
 * params.c - defaults, validation and name tables of struct fit_params.
 *
 * Which loss goes with which model and task is one table (loss_table) rather
 * than nested switches, so adding a loss is one row. Everything here is pure.
 */
#include "worker/fit/params.h"

#include <math.h>
#include <string.h>

#include "daemon/base/status.h"

#define BIT(x) (1u << (x))

/* Losses each model accepts, per task; 0 = the model does not do the task. */
static const unsigned loss_table[FIT_MODEL_COUNT][FIT_TASK_COUNT] = {
	[FIT_MODEL_LINEAR] = {
		[FIT_TASK_REGRESSION] = BIT(FIT_LOSS_SQUARED) | BIT(FIT_LOSS_HUBER) |
					BIT(FIT_LOSS_ABSOLUTE),
	},
	[FIT_MODEL_LOGISTIC] = {
		[FIT_TASK_CLASSIFICATION] = BIT(FIT_LOSS_LOG),
	},
	[FIT_MODEL_SVM] = {
		[FIT_TASK_CLASSIFICATION] = BIT(FIT_LOSS_HINGE) | BIT(FIT_LOSS_SQUARED_HINGE),
	},
	[FIT_MODEL_MLP] = {
		[FIT_TASK_REGRESSION] = BIT(FIT_LOSS_SQUARED) | BIT(FIT_LOSS_HUBER) |
					BIT(FIT_LOSS_ABSOLUTE),
		[FIT_TASK_CLASSIFICATION] = BIT(FIT_LOSS_LOG),
	},
};

/* The loss AUTO stands for, per model and task. */
static const enum fit_loss auto_loss[FIT_MODEL_COUNT][FIT_TASK_COUNT] = {
	[FIT_MODEL_LINEAR] = { FIT_LOSS_SQUARED, FIT_LOSS_SQUARED },
	[FIT_MODEL_LOGISTIC] = { FIT_LOSS_LOG, FIT_LOSS_LOG },
	[FIT_MODEL_SVM] = { FIT_LOSS_SQUARED_HINGE, FIT_LOSS_SQUARED_HINGE },
	[FIT_MODEL_MLP] = { FIT_LOSS_SQUARED, FIT_LOSS_LOG },
};

/* Losses with a (generalized) second derivative: what lbfgs and newton need. */
static const unsigned smooth_losses = BIT(FIT_LOSS_SQUARED) | BIT(FIT_LOSS_HUBER) |
				      BIT(FIT_LOSS_LOG) | BIT(FIT_LOSS_SQUARED_HINGE);

static const unsigned classification_metrics = BIT(FIT_METRIC_ACCURACY) |
					       BIT(FIT_METRIC_BALANCED_ACCURACY) |
					       BIT(FIT_METRIC_F1) | BIT(FIT_METRIC_LOG_LOSS) |
					       BIT(FIT_METRIC_AUC);

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
}

void fit_params_resolve(struct fit_params *p, enum fit_task task)
{
	if (p->loss == FIT_LOSS_AUTO && (unsigned)p->model < FIT_MODEL_COUNT &&
	    (unsigned)task < FIT_TASK_COUNT)
		p->loss = auto_loss[p->model][task];
	if (p->metric == FIT_METRIC_AUTO)
		p->metric = task == FIT_TASK_CLASSIFICATION ? FIT_METRIC_ACCURACY : FIT_METRIC_RMSE;
}

static int in_unit(double x)
{
	return x >= 0.0 && x < 1.0;
}

static const char *check_schedule(const struct fit_params *p)
{
	int second_order = p->optimizer == FIT_OPT_LBFGS || p->optimizer == FIT_OPT_NEWTON;

	if (p->epochs < 1 || p->epochs > 1000000)
		return "epochs must be between 1 and 1000000";
	if (!second_order && !(isfinite(p->learning_rate) && p->learning_rate > 0.0))
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
	if ((unsigned)p->reg >= FIT_REG_COUNT)
		return "unknown regularization";
	if (!(isfinite(p->penalty) && p->penalty >= 0.0))
		return "penalty must be zero or positive";
	if (!(p->l1_ratio >= 0.0 && p->l1_ratio <= 1.0))
		return "l1_ratio must be in [0, 1]";
	if (!(isfinite(p->svm_c) && p->svm_c >= 0.0))
		return "svm_c must be zero or positive";
	if (!(isfinite(p->huber_delta) && p->huber_delta > 0.0))
		return "huber_delta must be positive";
	if ((p->optimizer == FIT_OPT_LBFGS || p->optimizer == FIT_OPT_NEWTON) &&
	    (p->reg == FIT_REG_L1 || (p->reg == FIT_REG_ELASTICNET && p->l1_ratio > 0.0)))
		return "l1 and elasticnet need a first-order optimizer (gd, sgd, momentum, adam)";
	return NULL;
}

static const char *check_network(const struct fit_params *p)
{
	if (p->model != FIT_MODEL_MLP) {
		if (p->dropout != 0.0)
			return "dropout applies to mlp models only";
		return NULL;
	}
	if (!in_unit(p->dropout))
		return "dropout must be in [0, 1)";
	if (p->hidden_layers < 1 || p->hidden_layers > FIT_MAX_HIDDEN)
		return "hidden_layers must be 1, 2 or 3";
	for (unsigned i = 0; i < p->hidden_layers; i++)
		if (p->hidden_units[i] < 1 || p->hidden_units[i] > 65536)
			return "hidden_units must be between 1 and 65536";
	if ((unsigned)p->activation >= FIT_ACT_COUNT)
		return "unknown activation";
	if (p->optimizer == FIT_OPT_LBFGS || p->optimizer == FIT_OPT_NEWTON)
		return "mlp needs gd, sgd, momentum or adam";
	return NULL;
}

const char *fit_params_check(const struct fit_params *p, enum fit_task task)
{
	struct fit_params r = *p;
	const char *msg;
	unsigned allowed;

	if ((unsigned)task >= FIT_TASK_COUNT)
		return "unknown task";
	if ((unsigned)p->model >= FIT_MODEL_COUNT)
		return "unknown model";
	if ((unsigned)p->loss >= FIT_LOSS_COUNT)
		return "unknown loss";
	if ((unsigned)p->optimizer >= FIT_OPT_COUNT)
		return "unknown optimizer";
	if ((unsigned)p->metric >= FIT_METRIC_COUNT)
		return "unknown metric";
	if (p->threads < 1 || p->threads > FIT_MAX_THREADS)
		return "threads must be between 1 and 256";
	fit_params_resolve(&r, task);
	allowed = loss_table[r.model][task];
	if (allowed == 0)
		return task == FIT_TASK_REGRESSION ? "this model does classification only"
						   : "this model does regression only";
	if (!(allowed & BIT(r.loss)))
		return "this loss does not go with this model and task";
	if ((r.optimizer == FIT_OPT_LBFGS || r.optimizer == FIT_OPT_NEWTON) &&
	    !(smooth_losses & BIT(r.loss)))
		return "lbfgs and newton need a differentiable loss (not absolute or hinge)";
	if ((task == FIT_TASK_CLASSIFICATION) != !!(classification_metrics & BIT(r.metric)))
		return "this metric does not go with the task";
	msg = check_schedule(p);
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
	static const char *const fn##_names[] = { map(NAME_ROW) };    \
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

/*
 * test_params.c - defaults, the checks of fit_params_check() (one table row
 * per rule), the family table and its queries (which combinations go
 * together, what each reads), resolving AUTO, the name tables, and
 * fit_model_train() refusing bad parameters and bad problems before doing
 * any work. That the searcher proposes exactly what the core accepts is
 * tests/worker/test_search_rules.c.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/gbdt.h"
#include "worker/fit/internal.h"
#include "worker/fit/params.h"

START_TEST(test_defaults)
{
	struct fit_params p;

	fit_params_init(&p);
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	ck_assert_ptr_nonnull(fit_params_check(&p, FIT_TASK_REGRESSION)); /* logistic */
	p.model = FIT_MODEL_LINEAR;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
	p.model = FIT_MODEL_MLP;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	fit_params_resolve(&p, FIT_TASK_REGRESSION);
	ck_assert_int_eq(p.loss, FIT_LOSS_SQUARED);
	ck_assert_int_eq(p.metric, FIT_METRIC_RMSE);
	p.model = FIT_MODEL_SVM;
	p.loss = FIT_LOSS_AUTO;
	p.metric = FIT_METRIC_AUTO;
	fit_params_resolve(&p, FIT_TASK_CLASSIFICATION);
	ck_assert_int_eq(p.loss, FIT_LOSS_SQUARED_HINGE);
	ck_assert_int_eq(p.metric, FIT_METRIC_ACCURACY);
}
END_TEST

enum field {
	MODEL,
	LOSS,
	OPT,
	REG,
	LR,
	EPOCHS,
	THREADS,
	DROPOUT,
	LAYERS,
	UNITS,
	METRIC,
	L1R,
	PEN,
	TREES,
	LEAVES,
	BINS,
	SUBSAMPLE,
	MCW /* min_child_weight, with regularization none */
};

static const struct {
	enum fit_model_kind model;
	enum field field;
	double value;
	enum fit_task task;
	const char *says;
} bad[] = {
	{ FIT_MODEL_LINEAR, MODEL, 0, FIT_TASK_CLASSIFICATION, "regression only" },
	{ FIT_MODEL_SVM, MODEL, 0, FIT_TASK_REGRESSION, "classification only" },
	{ FIT_MODEL_LOGISTIC, LOSS, FIT_LOSS_HINGE, FIT_TASK_CLASSIFICATION, "loss" },
	{ FIT_MODEL_LINEAR, LOSS, FIT_LOSS_LOG, FIT_TASK_REGRESSION, "loss" },
	{ FIT_MODEL_MLP, LOSS, FIT_LOSS_HINGE, FIT_TASK_CLASSIFICATION, "loss" },
	{ FIT_MODEL_LINEAR, LOSS, FIT_LOSS_ABSOLUTE + 100, FIT_TASK_REGRESSION, "unknown loss" },
	{ FIT_MODEL_SVM, LOSS, FIT_LOSS_HINGE + 1000 * FIT_OPT_NEWTON, FIT_TASK_CLASSIFICATION,
	  "differentiable" },
	{ FIT_MODEL_LOGISTIC, REG, FIT_REG_L1 + 1000 * FIT_OPT_LBFGS, FIT_TASK_CLASSIFICATION,
	  "first-order" },
	{ FIT_MODEL_MLP, OPT, FIT_OPT_NEWTON, FIT_TASK_CLASSIFICATION, "optimizer does not go" },
	{ FIT_MODEL_SVM, REG, FIT_REG_NONE, FIT_TASK_CLASSIFICATION, "regularization does not go" },
	{ FIT_MODEL_LINEAR, REG, FIT_REG_DROPOUT, FIT_TASK_REGRESSION,
	  "regularization does not go" },
	{ FIT_MODEL_MLP, REG, FIT_REG_DROPOUT + 1000 * FIT_OPT_LBFGS, FIT_TASK_REGRESSION,
	  "optimizer does not go" },
	{ FIT_MODEL_LINEAR, REG, FIT_REG_ELASTICNET + 1000 * FIT_OPT_NEWTON, FIT_TASK_REGRESSION,
	  "first-order" },
	{ FIT_MODEL_LINEAR, REG, FIT_REG_COUNT, FIT_TASK_REGRESSION, "unknown regularization" },
	{ FIT_MODEL_LINEAR, LR, 0.0, FIT_TASK_REGRESSION, "learning_rate" },
	{ FIT_MODEL_LINEAR, LR, -1.0, FIT_TASK_REGRESSION, "learning_rate" },
	{ FIT_MODEL_LINEAR, EPOCHS, 0, FIT_TASK_REGRESSION, "epochs" },
	{ FIT_MODEL_LINEAR, THREADS, 0, FIT_TASK_REGRESSION, "threads" },
	{ FIT_MODEL_LINEAR, THREADS, 1000, FIT_TASK_REGRESSION, "threads" },
	{ FIT_MODEL_LINEAR, DROPOUT, 0.5, FIT_TASK_REGRESSION, "mlp models only" },
	{ FIT_MODEL_MLP, DROPOUT, 1.0, FIT_TASK_REGRESSION, "dropout" },
	{ FIT_MODEL_MLP, LAYERS, 4, FIT_TASK_REGRESSION, "hidden_layers" },
	{ FIT_MODEL_MLP, UNITS, 0, FIT_TASK_REGRESSION, "hidden_units" },
	{ FIT_MODEL_LINEAR, METRIC, FIT_METRIC_AUC, FIT_TASK_REGRESSION, "metric" },
	{ FIT_MODEL_LOGISTIC, METRIC, FIT_METRIC_R2, FIT_TASK_CLASSIFICATION, "metric" },
	{ FIT_MODEL_LINEAR, L1R, 1.5, FIT_TASK_REGRESSION, "l1_ratio" },
	{ FIT_MODEL_LINEAR, PEN, -1, FIT_TASK_REGRESSION, "penalty" },
	{ FIT_MODEL_GBDT, LOSS, FIT_LOSS_HINGE, FIT_TASK_CLASSIFICATION, "loss" },
	{ FIT_MODEL_GBDT, LOSS, FIT_LOSS_LOG, FIT_TASK_REGRESSION, "loss" },
	{ FIT_MODEL_GBDT, REG, FIT_REG_DROPOUT, FIT_TASK_REGRESSION, "regularization does not go" },
	{ FIT_MODEL_GBDT, LR, 0.0, FIT_TASK_REGRESSION, "learning_rate" },
	{ FIT_MODEL_GBDT, TREES, 0, FIT_TASK_REGRESSION, "trees" },
	{ FIT_MODEL_GBDT, LEAVES, 1, FIT_TASK_CLASSIFICATION, "max_leaves" },
	{ FIT_MODEL_GBDT, BINS, 256, FIT_TASK_REGRESSION, "max_bins" },
	{ FIT_MODEL_GBDT, SUBSAMPLE, 0, FIT_TASK_REGRESSION, "subsample" },
	{ FIT_MODEL_GBDT, MCW, 0, FIT_TASK_REGRESSION, "min_child_weight" },
	{ FIT_MODEL_GBDT, PEN, -1, FIT_TASK_REGRESSION, "" },
};

START_TEST(test_bad_params)
{
	struct fit_params p;
	const char *why;

	fit_params_init(&p);
	p.model = bad[_i].model;
	switch (bad[_i].field) {
	case MODEL:
		break;
	case LOSS:
		p.loss = (enum fit_loss)((int)bad[_i].value % 1000);
		if ((int)bad[_i].value >= 1000)
			p.optimizer = (enum fit_optimizer)((int)bad[_i].value / 1000);
		break;
	case OPT:
		p.optimizer = (enum fit_optimizer)bad[_i].value;
		break;
	case REG:
		p.reg = (enum fit_reg)((int)bad[_i].value % 1000);
		p.optimizer = (enum fit_optimizer)((int)bad[_i].value / 1000);
		break;
	case LR:
		p.learning_rate = bad[_i].value;
		break;
	case EPOCHS:
		p.epochs = (unsigned)bad[_i].value;
		break;
	case THREADS:
		p.threads = (int)bad[_i].value;
		break;
	case DROPOUT:
		p.dropout = bad[_i].value;
		break;
	case LAYERS:
		p.hidden_layers = (unsigned)bad[_i].value;
		break;
	case UNITS:
		p.hidden_units[0] = (unsigned)bad[_i].value;
		break;
	case METRIC:
		p.metric = (enum fit_metric)bad[_i].value;
		break;
	case L1R:
		p.l1_ratio = bad[_i].value;
		break;
	case PEN:
		p.penalty = bad[_i].value;
		break;
	case TREES:
		p.gbdt.trees = (unsigned)bad[_i].value;
		break;
	case LEAVES:
		p.gbdt.max_leaves = (unsigned)bad[_i].value;
		break;
	case BINS:
		p.gbdt.max_bins = (unsigned)bad[_i].value;
		break;
	case SUBSAMPLE:
		p.gbdt.subsample = bad[_i].value;
		break;
	case MCW:
		p.reg = FIT_REG_NONE;
		p.gbdt.min_child_weight = bad[_i].value;
		break;
	}
	why = fit_params_check(&p, bad[_i].task);
	ck_assert_msg(why != NULL && strstr(why, bad[_i].says) != NULL, "row %d: %s", _i,
		      why ? why : "(accepted)");
}
END_TEST

/* Rules that are not one bad value: dropout as a regularizer, elasticnet at l1_ratio 0. */
START_TEST(test_combo_rules)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_MLP;
	p.reg = FIT_REG_DROPOUT;
	p.dropout = 0.2;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
	p.reg = FIT_REG_L2; /* a rate with a penalty: still an mlp setting */
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	p.model = FIT_MODEL_LOGISTIC;
	ck_assert_ptr_nonnull(strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "mlp"));
	/* Elasticnet is never smooth, whatever its l1_ratio: lbfgs and newton refuse it. */
	fit_params_init(&p);
	p.model = FIT_MODEL_LINEAR;
	p.reg = FIT_REG_ELASTICNET;
	p.l1_ratio = 0.0;
	p.optimizer = FIT_OPT_LBFGS;
	ck_assert_ptr_nonnull(strstr(fit_params_check(&p, FIT_TASK_REGRESSION), "first-order"));
	p.optimizer = FIT_OPT_SGD;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
	/* A second-order optimizer reads no learning rate; a first-order one must have one. */
	p.learning_rate = 0.0;
	ck_assert_ptr_nonnull(fit_params_check(&p, FIT_TASK_REGRESSION));
	p.reg = FIT_REG_L2;
	p.optimizer = FIT_OPT_NEWTON;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
}
END_TEST

/* What a combination reads, from the tables: one row per case. */
static const struct {
	enum fit_model_kind m;
	enum fit_loss l;
	enum fit_reg r;
	enum fit_optimizer o;
	unsigned settings;
} reads[] = {
	{ FIT_MODEL_LINEAR, FIT_LOSS_SQUARED, FIT_REG_NONE, FIT_OPT_LBFGS,
	  FIT_BIT(FIT_SET_EPOCHS) },
	{ FIT_MODEL_LINEAR, FIT_LOSS_HUBER, FIT_REG_ELASTICNET, FIT_OPT_GD,
	  FIT_BIT(FIT_SET_EPOCHS) | FIT_BIT(FIT_SET_LEARNING_RATE) | FIT_BIT(FIT_SET_PENALTY) |
	      FIT_BIT(FIT_SET_L1_RATIO) | FIT_BIT(FIT_SET_HUBER_DELTA) },
	{ FIT_MODEL_SVM, FIT_LOSS_HINGE, FIT_REG_L2, FIT_OPT_ADAM,
	  FIT_BIT(FIT_SET_EPOCHS) | FIT_BIT(FIT_SET_LEARNING_RATE) | FIT_BIT(FIT_SET_BATCH_SIZE) |
	      FIT_BIT(FIT_SET_C) },
	{ FIT_MODEL_MLP, FIT_LOSS_LOG, FIT_REG_DROPOUT, FIT_OPT_SGD,
	  FIT_BIT(FIT_SET_EPOCHS) | FIT_BIT(FIT_SET_LEARNING_RATE) | FIT_BIT(FIT_SET_BATCH_SIZE) |
	      FIT_BIT(FIT_SET_HIDDEN_LAYERS) | FIT_BIT(FIT_SET_UNITS) |
	      FIT_BIT(FIT_SET_ACTIVATION) | FIT_BIT(FIT_SET_DROPOUT) },
	/* No optimizer: its learning rate is the shrinkage, whatever optimizer is set. */
	{ FIT_MODEL_GBDT, FIT_LOSS_HUBER, FIT_REG_ELASTICNET, FIT_OPT_ADAM,
	  FIT_BIT(FIT_SET_SHRINKAGE) | FIT_BIT(FIT_SET_TREES) | FIT_BIT(FIT_SET_MAX_LEAVES) |
	      FIT_BIT(FIT_SET_MAX_DEPTH) | FIT_BIT(FIT_SET_MIN_CHILD_WEIGHT) |
	      FIT_BIT(FIT_SET_MIN_LEAF_ROWS) | FIT_BIT(FIT_SET_MIN_SPLIT_GAIN) |
	      FIT_BIT(FIT_SET_SUBSAMPLE) | FIT_BIT(FIT_SET_COLSAMPLE) | FIT_BIT(FIT_SET_MAX_BINS) |
	      FIT_BIT(FIT_SET_PENALTY) | FIT_BIT(FIT_SET_L1_RATIO) | FIT_BIT(FIT_SET_HUBER_DELTA) },
	{ FIT_MODEL_COUNT, FIT_LOSS_LOG, FIT_REG_L2, FIT_OPT_SGD, 0 },
};

START_TEST(test_combo_settings)
{
	ck_assert_uint_eq(fit_combo_settings(reads[_i].m, reads[_i].l, reads[_i].r, reads[_i].o),
			  reads[_i].settings);
}
END_TEST

/*
 * The family table holds together: a family's natural loss is one it takes
 * for the task, AUTO is never listed, and fit_combo_check() says yes exactly
 * to what the masks list (a second-order optimizer also needing a smooth
 * loss and regularizer, and an optimizer that takes only some regularizers
 * refusing the others).
 */
START_TEST(test_family_table)
{
	for (int m = 0; m < FIT_MODEL_COUNT; m++) {
		enum fit_model_kind f = (enum fit_model_kind)m;

		for (int t = 0; t < FIT_TASK_COUNT; t++) {
			unsigned losses = fit_family_losses(f, (enum fit_task)t);

			ck_assert(!(losses & FIT_BIT(FIT_LOSS_AUTO)));
			if (losses == 0) {
				ck_assert_int_eq(fit_family_natural_loss(f, (enum fit_task)t),
						 FIT_LOSS_AUTO);
				continue;
			}
			ck_assert(losses & FIT_BIT(fit_family_natural_loss(f, (enum fit_task)t)));
			for (int l = 1; l < FIT_LOSS_COUNT; l++)
				for (int r = 0; r < FIT_REG_COUNT; r++)
					for (int o = 0; o < FIT_OPT_COUNT; o++) {
						/* a family without one ignores the optimizer */
						bool listed =
						    (losses & FIT_BIT(l)) &&
						    (fit_family_regs(f) & FIT_BIT(r)) &&
						    (fit_family_optimizers(f) == 0 ||
						     (fit_family_optimizers(f) & FIT_BIT(o)));
						bool ok = fit_combo_check(
							      (enum fit_task)t, f, (enum fit_loss)l,
							      (enum fit_reg)r,
							      (enum fit_optimizer)o) == NULL;

						if (!listed)
							ck_assert(!ok);
						else if (fit_family_optimizers(f) == 0 ||
							 (!fit_optimizer_second_order(o) &&
							  (fit_optimizer_regs(o) & FIT_BIT(r))))
							ck_assert(ok);
						else if (!(fit_optimizer_regs(o) & FIT_BIT(r)))
							ck_assert(!ok);
					}
		}
		ck_assert_uint_ne(fit_family_regs(f), 0);
		/* every family has a budget of passes: epochs, or boosting rounds */
		ck_assert(fit_family_uses(f) & (FIT_BIT(FIT_SET_EPOCHS) | FIT_BIT(FIT_SET_TREES)));
		ck_assert_uint_lt(fit_family_simplicity(f), FIT_MODEL_COUNT);
	}
	ck_assert_uint_eq(fit_family_losses(FIT_MODEL_COUNT, FIT_TASK_REGRESSION), 0);
	ck_assert_ptr_nonnull(fit_combo_check(FIT_TASK_COUNT, FIT_MODEL_LINEAR, FIT_LOSS_AUTO,
					      FIT_REG_NONE, FIT_OPT_GD));
	ck_assert_ptr_null(fit_combo_check(FIT_TASK_REGRESSION, FIT_MODEL_LINEAR, FIT_LOSS_AUTO,
					   FIT_REG_NONE, FIT_OPT_NEWTON));
}
END_TEST

/* dcd: the svm's own solver, for both hinge losses, with l2 and a positive strength only. */
START_TEST(test_dcd_rules)
{
	struct fit_params p;
	enum fit_optimizer o;

	ck_assert_int_eq(fit_optimizer_parse("dcd", &o), 0);
	fit_params_init(&p);
	p.model = FIT_MODEL_SVM;
	p.optimizer = o;
	p.reg = FIT_REG_L2;
	p.svm_c = 1.0;
	p.learning_rate = 0.0; /* dcd reads no learning rate */
	p.loss = FIT_LOSS_HINGE;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	p.loss = FIT_LOSS_SQUARED_HINGE;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	p.loss = FIT_LOSS_AUTO;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	p.reg = FIT_REG_L1;
	ck_assert_ptr_nonnull(strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "l2 only"));
	p.reg = FIT_REG_ELASTICNET;
	p.l1_ratio = 0.0;
	ck_assert_ptr_nonnull(strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "l2 only"));
	/* Its strength is C, else the penalty: one of them must be positive. */
	p.reg = FIT_REG_L2;
	p.svm_c = 0.0;
	p.penalty = 0.0;
	ck_assert_ptr_nonnull(strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "positive C"));
	p.penalty = 1e-3;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	p.model = FIT_MODEL_LOGISTIC;
	ck_assert_ptr_nonnull(
	    strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "optimizer does not go"));
	p.model = FIT_MODEL_MLP;
	ck_assert_ptr_nonnull(
	    strstr(fit_params_check(&p, FIT_TASK_CLASSIFICATION), "optimizer does not go"));
	p.model = FIT_MODEL_LINEAR;
	ck_assert_ptr_nonnull(
	    strstr(fit_params_check(&p, FIT_TASK_REGRESSION), "optimizer does not go"));
	ck_assert_uint_eq(fit_combo_settings(FIT_MODEL_SVM, FIT_LOSS_HINGE, FIT_REG_L2, o),
			  FIT_BIT(FIT_SET_EPOCHS) | FIT_BIT(FIT_SET_C));
	/* It runs to convergence like lbfgs and newton, and needs no smooth loss. */
	ck_assert(fit_optimizer_converges(o));
	ck_assert(!fit_optimizer_second_order(o));
	ck_assert_uint_eq(fit_optimizer_regs(o), FIT_BIT(FIT_REG_L2));
	ck_assert(fit_optimizer_converges(FIT_OPT_LBFGS) &&
		  fit_optimizer_converges(FIT_OPT_NEWTON));
	ck_assert(!fit_optimizer_converges(FIT_OPT_GD) && !fit_optimizer_converges(FIT_OPT_SGD));
	ck_assert(!fit_optimizer_converges(FIT_OPT_MOMENTUM) &&
		  !fit_optimizer_converges(FIT_OPT_ADAM));
	ck_assert(!fit_optimizer_converges(FIT_OPT_COUNT));
	ck_assert_uint_eq(fit_optimizer_regs(FIT_OPT_ADAM), (1u << FIT_REG_COUNT) - 1);
	ck_assert_uint_eq(fit_optimizer_regs(FIT_OPT_COUNT), 0);
}
END_TEST

/*
 * The one-standard-error rule's order: linear models first, then svm, then
 * boosted trees, then networks; an unknown family last.
 */
START_TEST(test_simplicity_order)
{
	ck_assert_uint_eq(fit_family_simplicity(FIT_MODEL_LINEAR),
			  fit_family_simplicity(FIT_MODEL_LOGISTIC));
	ck_assert_uint_lt(fit_family_simplicity(FIT_MODEL_LOGISTIC),
			  fit_family_simplicity(FIT_MODEL_SVM));
	ck_assert_uint_lt(fit_family_simplicity(FIT_MODEL_SVM),
			  fit_family_simplicity(FIT_MODEL_GBDT));
	ck_assert_uint_lt(fit_family_simplicity(FIT_MODEL_GBDT),
			  fit_family_simplicity(FIT_MODEL_MLP));
	ck_assert_uint_gt(fit_family_simplicity(FIT_MODEL_COUNT),
			  fit_family_simplicity(FIT_MODEL_MLP));
}
END_TEST

/* The vocabulary of every family mapped onto the tree engine's parameters (params.h). */
START_TEST(test_gbdt_mapping)
{
	static const struct {
		enum fit_reg reg;
		double l1, l2;
	} regs[] = {
		{ FIT_REG_NONE, 0.0, 0.0 },
		{ FIT_REG_L1, 0.5, 0.0 },
		{ FIT_REG_L2, 0.0, 0.5 },
		{ FIT_REG_ELASTICNET, 0.5 * 0.25, 0.5 * 0.75 },
	};
	struct fit_params p;
	struct fit_gbdt_params g;

	fit_params_init(&p);
	p.model = FIT_MODEL_GBDT;
	p.learning_rate = 0.07;
	p.penalty = 0.5;
	p.l1_ratio = 0.25;
	p.patience = 7;
	p.seed = 42;
	p.threads = 2;
	p.loss = FIT_LOSS_HUBER;
	p.huber_delta = 1.5;
	p.gbdt = (struct fit_params_gbdt){ 300, 15, 6, 10, 63, 0.5, 0.01, 0.8, 0.7 };
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		p.reg = regs[i].reg;
		fit__gbdt_params(&p, &g);
		ck_assert_double_eq(g.l1, regs[i].l1);
		ck_assert_double_eq(g.l2, regs[i].l2);
	}
	ck_assert_uint_eq(g.trees, 300);
	ck_assert_uint_eq(g.max_leaves, 15);
	ck_assert_uint_eq(g.max_depth, 6);
	ck_assert_uint_eq(g.min_leaf_rows, 10);
	ck_assert_uint_eq(g.max_bins, 63);
	ck_assert_double_eq(g.min_child_weight, 0.5);
	ck_assert_double_eq(g.min_split_gain, 0.01);
	ck_assert_double_eq(g.subsample, 0.8);
	ck_assert_double_eq(g.colsample, 0.7);
	ck_assert_double_eq(g.learning_rate, 0.07);
	ck_assert_uint_eq(g.patience, 7);
	ck_assert_uint_eq(g.seed, 42);
	ck_assert_int_eq(g.threads, 2);
	ck_assert_int_eq(g.loss, FIT_LOSS_HUBER);
	ck_assert_double_eq(g.huber_delta, 1.5);
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_REGRESSION));
	fit_params_init(&p);
	p.model = FIT_MODEL_GBDT;
	ck_assert_ptr_null(fit_params_check(&p, FIT_TASK_CLASSIFICATION));
	fit_params_resolve(&p, FIT_TASK_CLASSIFICATION);
	ck_assert_int_eq(p.loss, FIT_LOSS_LOG);
}
END_TEST

START_TEST(test_names)
{
	for (int i = 0; i < FIT_OPT_COUNT; i++) {
		enum fit_optimizer o;

		ck_assert_int_eq(fit_optimizer_parse(fit_optimizer_name(i), &o), 0);
		ck_assert_int_eq(o, i);
	}
	for (int i = 0; i < FIT_METRIC_COUNT; i++) {
		enum fit_metric m;

		ck_assert_int_eq(fit_metric_parse(fit_metric_name(i), &m), 0);
		ck_assert_int_eq(m, i);
	}
	for (int i = 0; i < FIT_LOSS_COUNT; i++) {
		enum fit_loss l;

		ck_assert_int_eq(fit_loss_parse(fit_loss_name(i), &l), 0);
		ck_assert_int_eq(l, i);
	}
	ck_assert_str_eq(fit_model_kind_name(FIT_MODEL_SVM), "svm");
	ck_assert_str_eq(fit_reg_name(FIT_REG_ELASTICNET), "elasticnet");
	ck_assert_str_eq(fit_activation_name(FIT_ACT_TANH), "tanh");
	ck_assert_str_eq(fit_task_name(FIT_TASK_CLASSIFICATION), "classification");
	ck_assert_str_eq(fit_optimizer_name((enum fit_optimizer)99), "?");
	{
		enum fit_reg r;
		enum fit_task t;

		ck_assert_int_eq(fit_reg_parse("l3", &r), FITD_EINVAL);
		ck_assert_int_eq(fit_reg_parse(NULL, &r), FITD_EINVAL);
		ck_assert_int_eq(fit_task_parse("regression", &t), 0);
	}
}
END_TEST

START_TEST(test_train_refuses)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t *rows = th_rows(150), *feat, bad_row = 150;
	struct fit_problem prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, rows, 150, NULL,
					     0, &feat);
	struct fit_params p;
	struct fitd_error err = { 0 };
	struct fit_model *m = NULL;

	fit_params_init(&p);
	p.epochs = 0;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EINVAL);
	ck_assert_str_eq(err.code, "bad_params");
	fit_params_init(&p);
	feat[0] = prob.target;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EINVAL);
	ck_assert_str_eq(err.code, "bad_features");
	feat[0] = 0;
	prob.train = &bad_row;
	prob.ntrain = 1;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EINVAL);
	ck_assert_str_eq(err.code, "bad_rows");
	prob.ntrain = 0;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EUNPROCESSABLE);
	ck_assert_ptr_null(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_params");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_bad_params, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_combo_rules);
	tcase_add_loop_test(tc, test_combo_settings, 0, sizeof(reads) / sizeof(reads[0]));
	tcase_add_test(tc, test_family_table);
	tcase_add_test(tc, test_dcd_rules);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_simplicity_order);
	tcase_add_test(tc, test_gbdt_mapping);
	tcase_add_test(tc, test_train_refuses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * space.h - the search space of a job: which model families, optimizers,
 * losses, regularizers and numeric settings a search may try, built from the
 * "space" object of a job spec, and the points (trials) drawn from it.
 *
 * The space is conditional (tree-structured). A trial first picks a model,
 * then a loss the model takes for the task, a regularization, an optimizer
 * that works with all three (none for a family that fits without one), and
 * then only the numeric settings that this combination reads.
 *
 * Which of them go together, and which settings a combination reads, is not
 * written here: it is the numeric core's family table (worker/fit/params.h,
 * fit_combo_check() and fit_combo_settings()), the same one the trainer's
 * fit_params_check() obeys, and the categorical values are the core's enums
 * and names (enum fit_model_kind, fit_loss, fit_reg, fit_optimizer,
 * fit_activation; a loss of "auto" is not part of the spec). The searcher
 * adds only what a search needs: the dimensions below, each tied to one core
 * setting (enum fit_setting), their ranges and their defaults. So a point's
 * categorical slots hold core enum values, and the searcher proposes exactly
 * the combinations the core accepts.
 *
 * Each dimension is given as one value, a list of values, or for numbers a
 * range {"min", "max", "log"} (integers for integer settings, written 30 or
 * 30.0: search_json_integer()). A list is
 * intersected with what each model accepts. A value the request names that
 * no chosen model can use, or a chosen model left with no usable option, is
 * refused (FITD_EUNPROCESSABLE, "invalid_combination", naming the field;
 * the message says which choices would use a setting, or the core's reason
 * a model has no usable combination). Dimensions the request leaves out
 * take the defaults below, quietly narrowed to what the chosen models can
 * use; numeric dimensions no chosen combination uses are left out of the
 * normalized space.
 *
 * The default space, for the random, tpe, asha and auto algorithms (the core
 * standardizes numeric features and regression targets, so these ranges work
 * on real tables; trees split raw values, which needs no scale):
 *
 *   models          every family that does the task (today regression
 *                   [linear, mlp, gbdt], classification [logistic, svm,
 *                   mlp, gbdt])
 *   loss            every loss those families take for the task (today
 *                   regression [squared, huber, absolute], classification
 *                   [log, hinge, squared_hinge])
 *   optimizer       [sgd, momentum, adam, lbfgs, newton, dcd] (dcd: svm only)
 *   learning_rate   1e-4 .. 1, log
 *   batch_size      16 .. 512, log
 *   epochs          200
 *   regularization  every regularizer: [none, l1, l2, elasticnet, dropout]
 *   penalty         1e-6 .. 10, log
 *   l1_ratio        0.05 .. 0.95
 *   huber_delta     0.5 .. 3 (in standard deviations of the target)
 *   svm.C           1e-3 .. 100, log
 *   mlp.hidden_layers [1, 2]
 *   mlp.units       16 .. 256, log
 *   mlp.activation  [relu, tanh]
 *   mlp.dropout     0.05 .. 0.5
 *   gbdt.learning_rate 0.01 .. 0.3, log (a boosted ensemble's shrinkage;
 *                   when the request gives learning_rate but not
 *                   gbdt.learning_rate, gbdt takes learning_rate's values)
 *   gbdt.trees      16 .. 2000, log (an upper bound: early stopping ends
 *                   sooner)
 *   gbdt.max_leaves 4 .. 256, log
 *   gbdt.max_depth  0 (no cap)
 *   gbdt.min_child_weight 1e-3
 *   gbdt.min_leaf_rows 2 .. 100, log
 *   gbdt.min_split_gain 0
 *   gbdt.subsample  0.5 .. 1
 *   gbdt.colsample  0.5 .. 1
 *   gbdt.max_bins   255
 *
 * Inside a default range (left out, or given exactly), random, tpe, asha
 * and auto draw only where good settings live (space_tree.c): learning_rate
 * 1e-4 .. 0.03 for adam, 1e-3 .. 0.3 for sgd, 1e-4 .. 0.1 for momentum,
 * 1e-2 .. 1 for gd; penalty 1e-6 .. 0.1 for linear, logistic and mlp,
 * 1e-3 .. 10 for gbdt's leaf weights; svm.C 1e-2 .. 10. A range the
 * request gives otherwise is drawn from whole.
 *
 * Grid search enumerates lists only, so an explicit range is refused there,
 * and a dimension the request leaves out takes one default value: the models
 * of the task, each with its natural loss (the family table's; today
 * squared for regression, log and squared_hinge for classification),
 * optimizer adam, learning_rate 0.01, batch_size 32, epochs 200,
 * regularization l2, penalty 1e-4, l1_ratio 0.5, huber_delta 1.35, C 1,
 * hidden_layers 1, units 64, activation relu, dropout 0.2, and for gbdt
 * LightGBM's defaults: learning_rate 0.1, trees 100, max_leaves 31,
 * max_depth 0, min_child_weight 1e-3, min_leaf_rows 20, min_split_gain 0,
 * subsample 1, colsample 1, max_bins 255. The grid spans exactly what the
 * request lists.
 *
 * A struct search_space is a plain value, read-only once built: safe to
 * share between threads. Nothing in it is heap-allocated.
 */
#ifndef WORKER_SEARCH_SPACE_H
#define WORKER_SEARCH_SPACE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/base/status.h"
#include "worker/fit/params.h"

/* Longest list a dimension accepts. */
#define SPACE_LIST_MAX 32

/* The dimensions of a space, in the order the normalized space lists them. */
enum space_dim {
	SPACE_DIM_MODELS,
	SPACE_DIM_OPTIMIZER,
	SPACE_DIM_LEARNING_RATE,
	SPACE_DIM_BATCH_SIZE,
	SPACE_DIM_EPOCHS,
	SPACE_DIM_REGULARIZATION,
	SPACE_DIM_PENALTY,
	SPACE_DIM_L1_RATIO,
	SPACE_DIM_LOSS,
	SPACE_DIM_HUBER_DELTA,
	SPACE_DIM_C,
	SPACE_DIM_HIDDEN_LAYERS,
	SPACE_DIM_UNITS,
	SPACE_DIM_ACTIVATION,
	SPACE_DIM_DROPOUT,
	SPACE_DIM_GBDT_LEARNING_RATE,
	SPACE_DIM_TREES,
	SPACE_DIM_MAX_LEAVES,
	SPACE_DIM_MAX_DEPTH,
	SPACE_DIM_MIN_CHILD_WEIGHT,
	SPACE_DIM_MIN_LEAF_ROWS,
	SPACE_DIM_MIN_SPLIT_GAIN,
	SPACE_DIM_SUBSAMPLE,
	SPACE_DIM_COLSAMPLE,
	SPACE_DIM_MAX_BINS,
	SPACE_DIM_COUNT
};

/*
 * The coordinates of one trial, in the order a trial picks them. Each mlp
 * layer has its own units slot, all drawn from the units dimension.
 */
enum space_slot {
	SPACE_SLOT_MODEL,
	SPACE_SLOT_LOSS,
	SPACE_SLOT_REG,
	SPACE_SLOT_OPT,
	SPACE_SLOT_LEARNING_RATE,
	SPACE_SLOT_BATCH_SIZE,
	SPACE_SLOT_EPOCHS,
	SPACE_SLOT_PENALTY,
	SPACE_SLOT_L1_RATIO,
	SPACE_SLOT_HUBER_DELTA,
	SPACE_SLOT_C,
	SPACE_SLOT_LAYERS,
	SPACE_SLOT_UNITS1,
	SPACE_SLOT_UNITS2,
	SPACE_SLOT_UNITS3,
	SPACE_SLOT_ACTIVATION,
	SPACE_SLOT_DROPOUT,
	SPACE_SLOT_GBDT_LEARNING_RATE,
	SPACE_SLOT_TREES,
	SPACE_SLOT_MAX_LEAVES,
	SPACE_SLOT_MAX_DEPTH,
	SPACE_SLOT_MIN_CHILD_WEIGHT,
	SPACE_SLOT_MIN_LEAF_ROWS,
	SPACE_SLOT_MIN_SPLIT_GAIN,
	SPACE_SLOT_SUBSAMPLE,
	SPACE_SLOT_COLSAMPLE,
	SPACE_SLOT_MAX_BINS,
	SPACE_SLOT_COUNT
};

/* The values of one dimension. */
struct space_values {
	bool given;	 /* named in the request (else a default) */
	bool active;	 /* some combination of the space uses it */
	uint32_t mask;	 /* categorical: bit (FIT_BIT) per allowed enum value */
	bool range;	 /* numeric: a range, else the list */
	double min, max; /* range bounds */
	bool log;	 /* range sampled uniformly in log space */
	size_t n;	 /* list length, 1..SPACE_LIST_MAX */
	double list[SPACE_LIST_MAX];
};

struct search_space {
	bool classification;
	bool grid; /* built for grid search: lists only */
	/* gbdt.learning_rate was not given and took learning_rate's values */
	bool shrinkage_inherited;
	struct space_values dim[SPACE_DIM_COUNT];
};

/*
 * One trial: v[slot] holds the core's enum value of a categorical slot
 * (enum fit_model_kind, fit_loss, fit_reg, fit_optimizer, fit_activation)
 * or the number.
 */
struct space_point {
	uint32_t active; /* bit per slot in use */
	double v[SPACE_SLOT_COUNT];
};

/*
 * Builds *out from the "space" member of a spec (NULL or absent: all
 * defaults) for the task. grid selects grid defaults and refuses ranges.
 * FITD_EFORMAT for unknown keys ("unknown_field") and wrong JSON types
 * ("wrong_type"); FITD_EUNPROCESSABLE for values out of range ("out_of_range",
 * "unknown_value") and unusable combinations ("invalid_combination"). Every
 * message starts with the field's path ("space.mlp.units.min: ...").
 */
int search_space_build(const json_t *space, bool classification, bool grid,
		       struct search_space *out, struct fitd_error *err);

/*
 * Whether j is a JSON number with an integer value, in the form any client
 * may send it: a JSON integer, or a real with no fraction (30.0, 3e1) of
 * at most 2^53 in magnitude (past it a double no longer tells neighbouring
 * integers apart). The value goes to *out. The spec's integer fields and
 * the space's integer settings take exactly these.
 */
bool search_json_integer(const json_t *j, long long *out);

/* The normalized space: every active dimension, defaults filled in. New reference. */
json_t *search_space_to_json(const struct search_space *sp);

/* The dimension a slot draws from. */
enum space_dim search_space_slot_dim(enum space_slot slot);

/*
 * Whether slot is used by the point's earlier slots (model .. layers): the
 * optimizer when the family takes one, a numeric setting when the
 * combination reads it (fit_combo_settings()).
 */
bool search_space_slot_active(const struct space_point *p, enum space_slot slot);

/*
 * The options of a categorical or list slot given the point's earlier
 * slots: fills opts (room for SPACE_LIST_MAX) with enum values or list
 * numbers and returns how many; 0 for a range slot. For model, loss and
 * regularization only options that still leave a combination the core
 * accepts are given, and for the optimizer only those the core accepts, so
 * a walk through the slots never ends in a dead end.
 */
size_t search_space_slot_options(const struct search_space *sp, const struct space_point *p,
				 enum space_slot slot, double *opts);

/* Whether slot branches the tree (changes which later slots are active). */
bool search_space_slot_branches(enum space_slot slot);

/* Whether the slot holds an integer setting (batch_size, epochs, layers, units). */
bool search_space_slot_integer(enum space_slot slot);

/* Rounds x to the slot's kind (integers for integer settings). */
double search_space_slot_round(enum space_slot slot, double x);

/* The trial-parameters object of a point (see search.h). New reference. */
json_t *search_space_point_to_json(const struct search_space *sp, const struct space_point *p);

/*
 * Reads trial parameters back into a point. FITD_EFORMAT when a key is
 * missing, unknown to this space or inconsistent with the tree; used to
 * learn from stored history, where such a trial is simply left out.
 */
int search_space_point_from_json(const struct search_space *sp, const json_t *params,
				 struct space_point *out);

bool search_space_point_equal(const struct space_point *a, const struct space_point *b);

/* Number of points when every active dimension is a list; UINT64_MAX otherwise or beyond. */
uint64_t search_space_size(const struct search_space *sp);

/* Point number i (0 <= i < search_space_size()) in a fixed enumeration order. */
void search_space_point_at(const struct search_space *sp, uint64_t i, struct space_point *out);

#endif

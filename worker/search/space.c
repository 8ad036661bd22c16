/*
 * space.c - building a search space from the "space" object of a job spec:
 * parsing each dimension (one value, a list or a range), filling defaults,
 * narrowing the lists to what the chosen models can use and refusing what
 * no chosen model can use; and writing the normalized space back as JSON.
 *
 * Each dimension is one row of dims[] (its key, kind, bounds and the core
 * setting it stands for) and of defaults[] (its default for search and for
 * grid), so adding a setting is two rows and a slot in space_tree.c. What
 * goes together, the names and the default models and losses of a task are
 * the numeric core's family table (worker/fit/params.h). See space.h.
 */
#include "worker/search/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum dim_kind {
	KIND_CAT,
	KIND_REAL,
	KIND_INT,
};

#define NO_SETTING FIT_SET_COUNT

struct dim_desc {
	const char *parent; /* NULL, or a family's group of settings: "svm", "mlp" */
	const char *key;
	const char *path;
	enum dim_kind kind;
	const char *const *names; /* categorical: the core's name table */
	unsigned nnames;
	double lo, hi; /* allowed values: [lo, hi], (lo, hi] when lo_open */
	bool lo_open;
	enum fit_setting setting; /* the core setting it stands for; NO_SETTING: a choice */
	uint32_t unnamed;	  /* categorical: values the spec does not name */
};

static const struct dim_desc dims[SPACE_DIM_COUNT] = {
	[SPACE_DIM_MODELS] = { NULL, "models", "space.models", KIND_CAT, fit_model_kind_names,
			       FIT_MODEL_COUNT, 0, 0, false, NO_SETTING },
	[SPACE_DIM_OPTIMIZER] = { NULL, "optimizer", "space.optimizer", KIND_CAT,
				  fit_optimizer_names, FIT_OPT_COUNT, 0, 0, false, NO_SETTING },
	[SPACE_DIM_LEARNING_RATE] = { NULL, "learning_rate", "space.learning_rate", KIND_REAL, NULL,
				      0, 0, 10, true, FIT_SET_LEARNING_RATE },
	[SPACE_DIM_BATCH_SIZE] = { NULL, "batch_size", "space.batch_size", KIND_INT, NULL, 0, 1,
				   1e6, false, FIT_SET_BATCH_SIZE },
	[SPACE_DIM_EPOCHS] = { NULL, "epochs", "space.epochs", KIND_INT, NULL, 0, 1, 100000, false,
			       FIT_SET_EPOCHS },
	[SPACE_DIM_REGULARIZATION] = { NULL, "regularization", "space.regularization", KIND_CAT,
				       fit_reg_names, FIT_REG_COUNT, 0, 0, false, NO_SETTING },
	[SPACE_DIM_PENALTY] = { NULL, "penalty", "space.penalty", KIND_REAL, NULL, 0, 0, 1e4, false,
				FIT_SET_PENALTY },
	[SPACE_DIM_L1_RATIO] = { NULL, "l1_ratio", "space.l1_ratio", KIND_REAL, NULL, 0, 0, 1,
				 false, FIT_SET_L1_RATIO },
	[SPACE_DIM_LOSS] = { NULL, "loss", "space.loss", KIND_CAT, fit_loss_names, FIT_LOSS_COUNT,
			     0, 0, false, NO_SETTING, BIT(FIT_LOSS_AUTO) },
	[SPACE_DIM_HUBER_DELTA] = { NULL, "huber_delta", "space.huber_delta", KIND_REAL, NULL, 0, 0,
				    100, true, FIT_SET_HUBER_DELTA },
	[SPACE_DIM_C] = { "svm", "C", "space.svm.C", KIND_REAL, NULL, 0, 0, 1e6, true, FIT_SET_C },
	[SPACE_DIM_HIDDEN_LAYERS] = { "mlp", "hidden_layers", "space.mlp.hidden_layers", KIND_INT,
				      NULL, 0, 1, 3, false, FIT_SET_HIDDEN_LAYERS },
	[SPACE_DIM_UNITS] = { "mlp", "units", "space.mlp.units", KIND_INT, NULL, 0, 1, 4096, false,
			      FIT_SET_UNITS },
	[SPACE_DIM_ACTIVATION] = { "mlp", "activation", "space.mlp.activation", KIND_CAT,
				   fit_activation_names, FIT_ACT_COUNT, 0, 0, false,
				   FIT_SET_ACTIVATION },
	[SPACE_DIM_DROPOUT] = { "mlp", "dropout", "space.mlp.dropout", KIND_REAL, NULL, 0, 0, 0.9,
				false, FIT_SET_DROPOUT },
	[SPACE_DIM_GBDT_LEARNING_RATE] = { "gbdt", "learning_rate", "space.gbdt.learning_rate",
					   KIND_REAL, NULL, 0, 0, 10, true, FIT_SET_SHRINKAGE },
	[SPACE_DIM_TREES] = { "gbdt", "trees", "space.gbdt.trees", KIND_INT, NULL, 0, 1, 100000,
			      false, FIT_SET_TREES },
	[SPACE_DIM_MAX_LEAVES] = { "gbdt", "max_leaves", "space.gbdt.max_leaves", KIND_INT, NULL, 0,
				   2, 131072, false, FIT_SET_MAX_LEAVES },
	[SPACE_DIM_MAX_DEPTH] = { "gbdt", "max_depth", "space.gbdt.max_depth", KIND_INT, NULL, 0, 0,
				  1000, false, FIT_SET_MAX_DEPTH },
	[SPACE_DIM_MIN_CHILD_WEIGHT] = { "gbdt", "min_child_weight", "space.gbdt.min_child_weight",
					 KIND_REAL, NULL, 0, 0, 1e6, true,
					 FIT_SET_MIN_CHILD_WEIGHT },
	[SPACE_DIM_MIN_LEAF_ROWS] = { "gbdt", "min_leaf_rows", "space.gbdt.min_leaf_rows", KIND_INT,
				      NULL, 0, 1, 1e6, false, FIT_SET_MIN_LEAF_ROWS },
	[SPACE_DIM_MIN_SPLIT_GAIN] = { "gbdt", "min_split_gain", "space.gbdt.min_split_gain",
				       KIND_REAL, NULL, 0, 0, 1e6, false, FIT_SET_MIN_SPLIT_GAIN },
	[SPACE_DIM_SUBSAMPLE] = { "gbdt", "subsample", "space.gbdt.subsample", KIND_REAL, NULL, 0,
				  0, 1, true, FIT_SET_SUBSAMPLE },
	[SPACE_DIM_COLSAMPLE] = { "gbdt", "colsample", "space.gbdt.colsample", KIND_REAL, NULL, 0,
				  0, 1, true, FIT_SET_COLSAMPLE },
	[SPACE_DIM_MAX_BINS] = { "gbdt", "max_bins", "space.gbdt.max_bins", KIND_INT, NULL, 0, 2,
				 255, false, FIT_SET_MAX_BINS },
};

/*
 * Defaults: categorical masks per task [regression, classification]; numbers.
 * The models and losses of a task come from the family table (task_mask()).
 */
struct dim_default {
	uint32_t mask[2];
	uint32_t grid_mask[2];
	bool range;
	double min, max; /* the range, or min alone as a one-value list */
	bool log;
	double second; /* a second list value when nonzero ([1, 2] layers) */
	double grid;
};

#define R(x)	    BIT(FIT_REG_##x)
#define O(x)	    BIT(FIT_OPT_##x)
#define ALL_REGS    (BIT(FIT_REG_COUNT) - 1)
#define SEARCH_OPTS (O(SGD) | O(MOMENTUM) | O(ADAM) | O(LBFGS) | O(NEWTON) | O(DCD))

static const struct dim_default defaults[SPACE_DIM_COUNT] = {
	[SPACE_DIM_OPTIMIZER] = { { SEARCH_OPTS, SEARCH_OPTS }, { O(ADAM), O(ADAM) } },
	[SPACE_DIM_LEARNING_RATE] = { { 0 }, { 0 }, true, 1e-4, 1, true, 0, 0.01 },
	[SPACE_DIM_BATCH_SIZE] = { { 0 }, { 0 }, true, 16, 512, true, 0, 32 },
	[SPACE_DIM_EPOCHS] = { { 0 }, { 0 }, false, 200, 200, false, 0, 200 },
	[SPACE_DIM_REGULARIZATION] = { { ALL_REGS, ALL_REGS }, { R(L2), R(L2) } },
	[SPACE_DIM_PENALTY] = { { 0 }, { 0 }, true, 1e-6, 10, true, 0, 1e-4 },
	[SPACE_DIM_L1_RATIO] = { { 0 }, { 0 }, true, 0.05, 0.95, false, 0, 0.5 },
	[SPACE_DIM_HUBER_DELTA] = { { 0 }, { 0 }, true, 0.5, 3, false, 0, 1.35 },
	[SPACE_DIM_C] = { { 0 }, { 0 }, true, 1e-3, 100, true, 0, 1 },
	[SPACE_DIM_HIDDEN_LAYERS] = { { 0 }, { 0 }, false, 1, 1, false, 2, 1 },
	[SPACE_DIM_UNITS] = { { 0 }, { 0 }, true, 16, 256, true, 0, 64 },
	[SPACE_DIM_ACTIVATION] = { { BIT(FIT_ACT_RELU) | BIT(FIT_ACT_TANH),
				     BIT(FIT_ACT_RELU) | BIT(FIT_ACT_TANH) },
				   { BIT(FIT_ACT_RELU), BIT(FIT_ACT_RELU) } },
	[SPACE_DIM_DROPOUT] = { { 0 }, { 0 }, true, 0.05, 0.5, false, 0, 0.2 },
	/* gbdt: ranges AutoML systems search (GBDT.md), grid at LightGBM's defaults */
	[SPACE_DIM_GBDT_LEARNING_RATE] = { { 0 }, { 0 }, true, 0.01, 0.3, true, 0, 0.1 },
	[SPACE_DIM_TREES] = { { 0 }, { 0 }, true, 16, 2000, true, 0, 100 },
	[SPACE_DIM_MAX_LEAVES] = { { 0 }, { 0 }, true, 4, 256, true, 0, 31 },
	[SPACE_DIM_MAX_DEPTH] = { { 0 }, { 0 }, false, 0, 0, false, 0, 0 },
	[SPACE_DIM_MIN_CHILD_WEIGHT] = { { 0 }, { 0 }, false, 1e-3, 1e-3, false, 0, 1e-3 },
	[SPACE_DIM_MIN_LEAF_ROWS] = { { 0 }, { 0 }, true, 2, 100, true, 0, 20 },
	[SPACE_DIM_MIN_SPLIT_GAIN] = { { 0 }, { 0 }, false, 0, 0, false, 0, 0 },
	[SPACE_DIM_SUBSAMPLE] = { { 0 }, { 0 }, true, 0.5, 1, false, 0, 1 },
	[SPACE_DIM_COLSAMPLE] = { { 0 }, { 0 }, true, 0.5, 1, false, 0, 1 },
	[SPACE_DIM_MAX_BINS] = { { 0 }, { 0 }, false, 255, 255, false, 0, 255 },
};

bool search__default_range(enum space_dim d, const struct space_values *v)
{
	const struct dim_default *def = &defaults[d];

	return v->range && def->range && v->min == def->min && v->max == def->max &&
	       v->log == def->log;
}

/*
 * From the family table, for a task: dim models, the families that do it;
 * dim loss, every loss they take (grid: their natural losses).
 */
static uint32_t task_mask(enum space_dim dim, enum fit_task task, bool grid)
{
	uint32_t mask = 0;

	for (int m = 0; m < FIT_MODEL_COUNT; m++) {
		unsigned losses = fit_family_losses((enum fit_model_kind)m, task);

		if (losses == 0)
			continue;
		if (dim == SPACE_DIM_MODELS)
			mask |= BIT(m);
		else if (grid)
			mask |= BIT(fit_family_natural_loss((enum fit_model_kind)m, task));
		else
			mask |= losses;
	}
	return mask;
}

const char *const *search__dim_names(enum space_dim d, unsigned *n)
{
	*n = dims[d].nnames;
	return dims[d].names;
}

int search__dim_lookup(enum space_dim d, const char *s)
{
	for (unsigned i = 0; i < dims[d].nnames; i++)
		if (!(dims[d].unnamed & BIT(i)) && strcmp(dims[d].names[i], s) == 0)
			return (int)i;
	return -1;
}

enum fit_setting search__dim_setting(enum space_dim d)
{
	return dims[d].setting;
}

const char *search__dim_path(enum space_dim d)
{
	return dims[d].path;
}

/* ---- parsing one dimension ---- */

static int wrong_type(struct fitd_error *err, const char *path, const char *what)
{
	return fitd_error_set(err, FITD_EFORMAT, "wrong_type", "%s: expected %s", path, what);
}

static int unknown_name(const struct dim_desc *d, const char *path, const char *s,
			struct fitd_error *err)
{
	char list[128] = "";
	size_t used = 0;

	for (unsigned i = 0; i < d->nnames && used < sizeof(list); i++) {
		int w = d->unnamed & BIT(i) ? 0
					    : snprintf(list + used, sizeof(list) - used, "%s%s",
						       used ? ", " : "", d->names[i]);

		used += w > 0 ? (size_t)w : 0;
	}
	return fitd_error_set(err, FITD_EUNPROCESSABLE, "unknown_value",
			      "%s: unknown value '%.40s' (one of %s)", path, s, list);
}

static int parse_cat(enum space_dim dim, const json_t *j, struct space_values *v,
		     struct fitd_error *err)
{
	const struct dim_desc *d = &dims[dim];
	char path[96];
	size_t n = json_is_array(j) ? json_array_size(j) : 1;

	if (!json_is_string(j) && !json_is_array(j))
		return wrong_type(err, d->path, "a name or a list of names");
	if (n == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "out_of_range",
				      "%s: the list is empty", d->path);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(j) ? json_array_get(j, i) : j;
		int k;

		if (json_is_array(j))
			snprintf(path, sizeof(path), "%s[%zu]", d->path, i);
		else
			snprintf(path, sizeof(path), "%s", d->path);
		if (!json_is_string(e))
			return wrong_type(err, path, "a name");
		k = search__dim_lookup(dim, json_string_value(e));
		if (k < 0)
			return unknown_name(d, path, json_string_value(e), err);
		if (v->mask & BIT(k))
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "duplicate_value",
					      "%s: '%s' is listed twice", path, d->names[k]);
		v->mask |= BIT(k);
	}
	return FITD_OK;
}

bool search_json_integer(const json_t *j, long long *out)
{
	double x = json_number_value(j);

	if (json_is_integer(j)) {
		*out = json_integer_value(j);
		return true;
	}
	if (!json_is_real(j) || x != floor(x) || fabs(x) > 0x1p53)
		return false;
	*out = (long long)x;
	return true;
}

/* Reads one number of dimension d at path into *x, checking type and bounds. */
static int parse_number(const struct dim_desc *d, const json_t *j, const char *path, double *x,
			struct fitd_error *err)
{
	long long whole;

	if (d->kind == KIND_INT && !search_json_integer(j, &whole))
		return wrong_type(err, path, "an integer");
	if (!json_is_number(j))
		return wrong_type(err, path, "a number");
	*x = json_number_value(j);
	if (*x > d->hi || *x < d->lo || (d->lo_open && *x == d->lo))
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "out_of_range",
				      "%s: %g is out of range %c%g, %g]", path, *x,
				      d->lo_open ? '(' : '[', d->lo, d->hi);
	return FITD_OK;
}

static int parse_range(const struct dim_desc *d, const json_t *j, struct space_values *v,
		       struct fitd_error *err)
{
	const char *key;
	json_t *val, *log;
	char path[96];
	int rc = FITD_OK;

	json_object_foreach((json_t *)j, key, val)
	{
		if (strcmp(key, "min") != 0 && strcmp(key, "max") != 0 && strcmp(key, "log") != 0)
			return fitd_error_set(err, FITD_EFORMAT, "unknown_field",
					      "%s.%.40s: unknown key", d->path, key);
	}
	for (int i = 0; i < 2 && rc == FITD_OK; i++) {
		const char *k = i ? "max" : "min";

		snprintf(path, sizeof(path), "%s.%s", d->path, k);
		val = json_object_get(j, k);
		if (val == NULL)
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "missing_field",
					      "%s: a range needs min and max", path);
		rc = parse_number(d, val, path, i ? &v->max : &v->min, err);
	}
	if (rc != FITD_OK)
		return rc;
	log = json_object_get(j, "log");
	if (log != NULL && !json_is_boolean(log)) {
		snprintf(path, sizeof(path), "%s.log", d->path);
		return wrong_type(err, path, "true or false");
	}
	v->range = true;
	v->log = json_is_true(log);
	if (v->min > v->max)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "out_of_range",
				      "%s: min is greater than max", d->path);
	if (v->log && v->min <= 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "out_of_range",
				      "%s: a log range needs min > 0", d->path);
	return FITD_OK;
}

static int parse_num(const struct dim_desc *d, const json_t *j, struct space_values *v,
		     struct fitd_error *err)
{
	char path[96];
	size_t n;

	if (json_is_object(j))
		return parse_range(d, j, v, err);
	if (json_is_number(j)) {
		v->n = 1;
		return parse_number(d, j, d->path, &v->list[0], err);
	}
	if (!json_is_array(j))
		return wrong_type(err, d->path,
				  d->kind == KIND_INT ? "an integer, a list or a range"
						      : "a number, a list or a range");
	n = json_array_size(j);
	if (n == 0 || n > SPACE_LIST_MAX)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "out_of_range",
				      "%s: a list needs 1 to %d values", d->path, SPACE_LIST_MAX);
	for (size_t i = 0; i < n; i++) {
		int rc;

		snprintf(path, sizeof(path), "%s[%zu]", d->path, i);
		rc = parse_number(d, json_array_get(j, i), path, &v->list[i], err);
		if (rc != FITD_OK)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (v->list[k] == v->list[i])
				return fitd_error_set(err, FITD_EUNPROCESSABLE, "duplicate_value",
						      "%s: %g is listed twice", path, v->list[i]);
	}
	v->n = n;
	return FITD_OK;
}

static void fill_default(enum space_dim dim, bool cls, bool grid, struct space_values *v)
{
	const struct dim_default *def = &defaults[dim];

	if (dim == SPACE_DIM_MODELS || dim == SPACE_DIM_LOSS) {
		v->mask = task_mask(dim, cls ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION, grid);
		return;
	}
	if (dims[dim].kind == KIND_CAT) {
		v->mask = grid ? def->grid_mask[cls] : def->mask[cls];
		return;
	}
	if (grid) {
		v->n = 1;
		v->list[0] = def->grid;
	} else if (def->range) {
		v->range = true;
		v->min = def->min;
		v->max = def->max;
		v->log = def->log;
	} else {
		v->list[v->n++] = def->min;
		if (def->second != 0)
			v->list[v->n++] = def->second;
	}
}

/* ---- the object's keys ---- */

static int find_dim(const char *parent, const char *key)
{
	for (int d = 0; d < SPACE_DIM_COUNT; d++) {
		bool same_parent = parent == NULL ? dims[d].parent == NULL
						  : dims[d].parent != NULL &&
							strcmp(parent, dims[d].parent) == 0;

		if (same_parent && strcmp(dims[d].key, key) == 0)
			return d;
	}
	return -1;
}

/* Whether key names a family's group of settings ("svm", "mlp"): some dimension's parent. */
static bool is_group(const char *key)
{
	for (int d = 0; d < SPACE_DIM_COUNT; d++)
		if (dims[d].parent != NULL && strcmp(dims[d].parent, key) == 0)
			return true;
	return false;
}

static int check_keys(const json_t *obj, const char *parent, struct fitd_error *err)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val)
	{
		bool sub = parent == NULL && is_group(key);
		int rc;

		if (sub && !json_is_object(val))
			return fitd_error_set(err, FITD_EFORMAT, "wrong_type",
					      "space.%s: expected an object", key);
		if (sub) {
			rc = check_keys(val, key, err);
			if (rc != FITD_OK)
				return rc;
		} else if (find_dim(parent, key) < 0) {
			return fitd_error_set(err, FITD_EFORMAT, "unknown_field",
					      "space.%s%s%.40s: unknown key", parent ? parent : "",
					      parent ? "." : "", key);
		}
	}
	return FITD_OK;
}

static const json_t *dim_json(const json_t *space, enum space_dim d)
{
	const json_t *obj = space;

	if (space == NULL)
		return NULL;
	if (dims[d].parent != NULL)
		obj = json_object_get(space, dims[d].parent);
	return obj ? json_object_get(obj, dims[d].key) : NULL;
}

/*
 * learning_rate is gbdt's shrinkage too when the request gives it and not
 * gbdt.learning_rate: "learning_rate": 0.05 means 0.05 for every family
 * that has one. The normalized space then lists gbdt.learning_rate itself.
 */
static void inherit_shrinkage(struct search_space *sp)
{
	struct space_values *lr = &sp->dim[SPACE_DIM_LEARNING_RATE];
	struct space_values *shrink = &sp->dim[SPACE_DIM_GBDT_LEARNING_RATE];

	if (!lr->given || shrink->given)
		return;
	*shrink = *lr;
	shrink->given = false; /* not named: no error when no chosen model uses it */
	sp->shrinkage_inherited = true;
}

static int read_dims(const json_t *space, struct search_space *sp, struct fitd_error *err)
{
	for (int d = 0; d < SPACE_DIM_COUNT; d++) {
		const json_t *j = dim_json(space, (enum space_dim)d);
		struct space_values *v = &sp->dim[d];
		int rc;

		if (j == NULL) {
			fill_default((enum space_dim)d, sp->classification, sp->grid, v);
			continue;
		}
		v->given = true;
		rc = dims[d].kind == KIND_CAT ? parse_cat((enum space_dim)d, j, v, err)
					      : parse_num(&dims[d], j, v, err);
		if (rc == FITD_OK && sp->grid && v->range)
			rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
					    "%s: grid search takes a value or a list, not a range",
					    dims[d].path);
		if (rc != FITD_OK)
			return rc;
	}
	inherit_shrinkage(sp);
	return FITD_OK;
}

/* ---- what the chosen models can use ---- */

struct reach {
	uint32_t mask[SPACE_DIM_COUNT]; /* categorical values some combination uses */
	uint32_t used;			/* bit per dimension some combination uses */
};

/* Every value of categorical dimension d that the spec may name. */
static uint32_t all_named(enum space_dim d)
{
	return (BIT(dims[d].nnames) - 1) & ~dims[d].unnamed;
}

static void reach_combo(int m, int l, int r, int o, struct reach *re)
{
	unsigned used = fit_combo_settings((enum fit_model_kind)m, (enum fit_loss)l,
					   (enum fit_reg)r, (enum fit_optimizer)o);

	re->mask[SPACE_DIM_MODELS] |= BIT(m);
	re->mask[SPACE_DIM_LOSS] |= BIT(l);
	re->mask[SPACE_DIM_REGULARIZATION] |= BIT(r);
	re->used |= BIT(SPACE_DIM_MODELS) | BIT(SPACE_DIM_LOSS) | BIT(SPACE_DIM_REGULARIZATION);
	if (fit_family_optimizers((enum fit_model_kind)m) != 0) {
		re->mask[SPACE_DIM_OPTIMIZER] |= BIT(o);
		re->used |= BIT(SPACE_DIM_OPTIMIZER);
	}
	for (int d = 0; d < SPACE_DIM_COUNT; d++)
		if (dims[d].setting != NO_SETTING && (used & BIT(dims[d].setting)))
			re->used |= BIT(d);
}

/* Scans every (loss, regularization, optimizer) of the lists for model m. */
static void reach_model(const struct search_space *sp, int m, struct reach *re)
{
	uint32_t opts = search__opt_choices(sp, m);

	for (int l = 0; l < FIT_LOSS_COUNT; l++) {
		if (!(sp->dim[SPACE_DIM_LOSS].mask & BIT(l)))
			continue;
		for (int r = 0; r < FIT_REG_COUNT; r++) {
			if (!(sp->dim[SPACE_DIM_REGULARIZATION].mask & BIT(r)))
				continue;
			for (int o = 0; o < FIT_OPT_COUNT; o++)
				if ((opts & BIT(o)) && search__combo_ok(sp, m, l, r, o))
					reach_combo(m, l, r, o, re);
		}
	}
}

/* Scans every (model, loss, regularization, optimizer) of the lists. */
static void reach_scan(const struct search_space *sp, struct reach *re)
{
	memset(re, 0, sizeof(*re));
	re->mask[SPACE_DIM_ACTIVATION] = sp->dim[SPACE_DIM_ACTIVATION].mask;
	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		if (sp->dim[SPACE_DIM_MODELS].mask & BIT(m))
			reach_model(sp, m, re);
}

/*
 * The core's reason why model m goes with no combination of the listed
 * loss, regularization and optimizer when each list has a value it takes.
 */
static const char *combo_refusal(const struct search_space *sp, int m)
{
	enum fit_model_kind f = (enum fit_model_kind)m;
	uint32_t losses = sp->dim[SPACE_DIM_LOSS].mask & fit_family_losses(f, search__task(sp));
	uint32_t regs = sp->dim[SPACE_DIM_REGULARIZATION].mask & fit_family_regs(f);
	uint32_t opts = search__opt_choices(sp, m);
	const char *why = NULL;

	if (fit_family_optimizers(f) != 0)
		opts &= fit_family_optimizers(f);

	for (int l = 0; why == NULL && l < FIT_LOSS_COUNT; l++)
		for (int r = 0; why == NULL && r < FIT_REG_COUNT; r++)
			for (int o = 0; why == NULL && o < FIT_OPT_COUNT; o++)
				if ((losses & BIT(l)) && (regs & BIT(r)) && (opts & BIT(o)))
					why = fit_combo_check(search__task(sp), f, (enum fit_loss)l,
							      (enum fit_reg)r,
							      (enum fit_optimizer)o);
	return why != NULL ? why : "none goes together";
}

/* Says which list leaves model m without an option; the model was named. */
static int model_unusable(const struct search_space *sp, int m, struct fitd_error *err)
{
	static const enum space_dim order[] = { SPACE_DIM_LOSS, SPACE_DIM_REGULARIZATION,
						SPACE_DIM_OPTIMIZER };
	struct search_space alone = *sp;
	struct reach re;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		/* With every other categorical dimension open, is this one empty? */
		alone = *sp;
		alone.dim[SPACE_DIM_MODELS].mask = BIT(m);
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			if (k != i)
				alone.dim[order[k]].mask = all_named(order[k]);
		reach_scan(&alone, &re);
		if (re.mask[SPACE_DIM_MODELS] == 0)
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
					      "%s: none of the listed values works with model %s",
					      dims[order[i]].path, fit_model_kind_names[m]);
	}
	return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
			      "space: model %s has no usable combination of the listed loss, "
			      "regularization and optimizer (%s)",
			      fit_model_kind_names[m], combo_refusal(sp, m));
}

static int check_models(struct search_space *sp, struct fitd_error *err)
{
	struct space_values *v = &sp->dim[SPACE_DIM_MODELS];
	uint32_t task = task_mask(SPACE_DIM_MODELS, search__task(sp), false);
	struct reach re;

	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		if ((v->mask & BIT(m)) && !(task & BIT(m)))
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
					      "space.models: %s does not do %s",
					      fit_model_kind_names[m],
					      fit_task_name(search__task(sp)));
	reach_scan(sp, &re);
	for (int m = 0; m < FIT_MODEL_COUNT; m++) {
		if (!(v->mask & BIT(m)) || (re.mask[SPACE_DIM_MODELS] & BIT(m)))
			continue;
		if (v->given)
			return model_unusable(sp, m, err);
		v->mask &= ~BIT(m);
	}
	if (v->mask == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
				      "space: no model family can use the listed settings");
	return FITD_OK;
}

/* ---- saying what a setting needs ---- */

/* Appends text to buf (cap bytes, *at used); a text that does not fit fills it. */
static void say(char *buf, size_t cap, size_t *at, const char *text)
{
	int w = snprintf(buf + *at, cap - *at, "%s", text);

	if (w > 0)
		*at = (size_t)w < cap - *at ? *at + (size_t)w : cap - 1;
}

/* Appends what, then the names of mask as " a, b or c". */
static void say_names(char *buf, size_t cap, size_t *at, const char *what, const char *const *names,
		      unsigned n, uint32_t mask)
{
	unsigned count = (unsigned)__builtin_popcount(mask), said = 0;

	say(buf, cap, at, what);
	for (unsigned i = 0; i < n; i++) {
		if (!(mask & BIT(i)))
			continue;
		say(buf, cap, at, said == 0 ? " " : said + 1 == count ? " or " : ", ");
		say(buf, cap, at, names[i]);
		said++;
	}
}

/* What value v of a choice (loss, regularization, optimizer) brings. */
static unsigned brings(enum space_dim choice, unsigned v)
{
	return choice == SPACE_DIM_LOSS		    ? fit_loss_settings((enum fit_loss)v)
	       : choice == SPACE_DIM_REGULARIZATION ? fit_reg_settings((enum fit_reg)v)
						    : fit_optimizer_settings((enum fit_optimizer)v);
}

/* Whether family m takes a value of mask of a choice, for some task. */
static bool takes(enum space_dim choice, int m, uint32_t mask)
{
	enum fit_model_kind f = (enum fit_model_kind)m;

	if (choice == SPACE_DIM_LOSS)
		return ((fit_family_losses(f, FIT_TASK_REGRESSION) |
			 fit_family_losses(f, FIT_TASK_CLASSIFICATION)) &
			mask) != 0;
	return ((choice == SPACE_DIM_REGULARIZATION ? fit_family_regs(f)
						    : fit_family_optimizers(f)) &
		mask) != 0;
}

/*
 * "model svm", "optimizer sgd, momentum or adam", "regularization l1, l2 or
 * elasticnet on linear, logistic or mlp": the choices that make the core
 * read setting s, from its tables.
 */
static void say_needs(enum fit_setting s, char *buf, size_t cap)
{
	static const enum space_dim choices[] = { SPACE_DIM_OPTIMIZER, SPACE_DIM_REGULARIZATION,
						  SPACE_DIM_LOSS };
	uint32_t users = 0;
	size_t at = 0;

	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		users |= fit_family_uses((enum fit_model_kind)m) & BIT(s) ? BIT(m) : 0;
	if (users != 0)
		say_names(buf, cap, &at, "model", fit_model_kind_names, FIT_MODEL_COUNT, users);
	for (size_t c = 0; c < sizeof(choices) / sizeof(choices[0]); c++) {
		const struct dim_desc *d = &dims[choices[c]];
		uint32_t vals = 0, takers = 0, readers = 0;

		for (unsigned v = 0; v < d->nnames; v++)
			vals |= brings(choices[c], v) & BIT(s) ? BIT(v) : 0;
		for (int m = 0; vals != 0 && m < FIT_MODEL_COUNT; m++) {
			bool reads = !(fit_family_ignores((enum fit_model_kind)m) & BIT(s));

			takers |= takes(choices[c], m, vals) ? BIT(m) : 0;
			readers |= takes(choices[c], m, vals) && reads ? BIT(m) : 0;
		}
		if (vals == 0)
			continue;
		say(buf, cap, &at, at ? " or " : "");
		say_names(buf, cap, &at, d->key, d->names, d->nnames, vals);
		if (readers != takers)
			say_names(buf, cap, &at, " on", fit_model_kind_names, FIT_MODEL_COUNT,
				  readers);
	}
}

/* A dimension the request named that no chosen combination uses. */
static int unused(enum space_dim d, struct fitd_error *err)
{
	char needs[160] = "";

	if (dims[d].setting == NO_SETTING)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
				      "%s: no chosen combination uses it (the models the other "
				      "settings leave take none)",
				      dims[d].path);
	say_needs(dims[d].setting, needs, sizeof(needs));
	return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
			      "%s: no chosen combination uses it (it needs %s)", dims[d].path,
			      needs);
}

/* Narrows default lists to what is used and refuses named values no model can use. */
static int check_reach(struct search_space *sp, struct fitd_error *err)
{
	struct reach re;
	int rc = check_models(sp, err);

	if (rc != FITD_OK)
		return rc;
	reach_scan(sp, &re);
	for (int d = 0; d < SPACE_DIM_COUNT; d++) {
		struct space_values *v = &sp->dim[d];
		uint32_t extra = v->mask & ~re.mask[d];

		v->active = (re.used & BIT(d)) != 0;
		/* A learning_rate only gbdt uses, as its shrinkage, is used. */
		if (v->given && !v->active &&
		    !(d == SPACE_DIM_LEARNING_RATE && sp->shrinkage_inherited &&
		      (re.used & BIT(SPACE_DIM_GBDT_LEARNING_RATE))))
			return unused((enum space_dim)d, err);
		if (dims[d].kind != KIND_CAT || extra == 0)
			continue;
		if (v->given) {
			int k = __builtin_ctz(extra);

			return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
					      "%s: '%s' works with none of the chosen models and "
					      "settings",
					      dims[d].path, dims[d].names[k]);
		}
		v->mask &= re.mask[d];
	}
	return FITD_OK;
}

int search_space_build(const json_t *space, bool classification, bool grid,
		       struct search_space *out, struct fitd_error *err)
{
	int rc = FITD_OK;

	memset(out, 0, sizeof(*out));
	out->classification = classification;
	out->grid = grid;
	if (space != NULL && !json_is_object(space))
		return wrong_type(err, "space", "an object");
	if (space != NULL)
		rc = check_keys(space, NULL, err);
	if (rc == FITD_OK)
		rc = read_dims(space, out, err);
	if (rc == FITD_OK)
		rc = check_reach(out, err);
	return rc;
}

/* ---- the normalized space ---- */

static json_t *number_json(const struct dim_desc *d, double x)
{
	return d->kind == KIND_INT ? json_integer((json_int_t)x) : json_real(x);
}

static json_t *values_json(enum space_dim dim, const struct space_values *v)
{
	const struct dim_desc *d = &dims[dim];
	json_t *a;

	if (d->kind == KIND_CAT) {
		a = json_array();
		for (unsigned i = 0; a != NULL && i < d->nnames; i++)
			if (v->mask & BIT(i))
				json_array_append_new(a, json_string(d->names[i]));
		return a;
	}
	if (v->range)
		return json_pack("{s:o, s:o, s:b}", "min", number_json(d, v->min), "max",
				 number_json(d, v->max), "log", v->log);
	if (v->n == 1)
		return number_json(d, v->list[0]);
	a = json_array();
	for (size_t i = 0; a != NULL && i < v->n; i++)
		json_array_append_new(a, number_json(d, v->list[i]));
	return a;
}

json_t *search_space_to_json(const struct search_space *sp)
{
	json_t *obj = json_object();

	for (int d = 0; obj != NULL && d < SPACE_DIM_COUNT; d++) {
		json_t *parent = obj;

		if (!sp->dim[d].active)
			continue;
		if (dims[d].parent != NULL) {
			parent = json_object_get(obj, dims[d].parent);
			if (parent == NULL) {
				parent = json_object();
				json_object_set_new(obj, dims[d].parent, parent);
			}
		}
		if (parent == NULL ||
		    json_object_set_new(parent, dims[d].key,
					values_json((enum space_dim)d, &sp->dim[d])) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/*
 * space_tree.c - the conditional structure of a search space: which slots a
 * partial point uses, what each slot may take there, and the trial
 * parameters of a point as JSON (the contract with the trainer, search.h).
 *
 * Which model, loss, regularization and optimizer go together, and which
 * settings a combination reads, is the numeric core's family table
 * (worker/fit/params.h): the slots are one table, and a numeric slot is
 * used when the core says its combination reads the dimension's setting.
 * Inside the default ranges a slot draws only where good settings live
 * (search__narrowed()). Everything here is pure.
 */
#include "worker/search/internal.h"

#include <math.h>
#include <string.h>

enum fit_task search__task(const struct search_space *sp)
{
	return sp->classification ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION;
}

bool search__combo_ok(const struct search_space *sp, int m, int l, int r, int o)
{
	return fit_combo_check(search__task(sp), (enum fit_model_kind)m, (enum fit_loss)l,
			       (enum fit_reg)r, (enum fit_optimizer)o) == NULL;
}

uint32_t search__opt_choices(const struct search_space *sp, int m)
{
	return fit_family_optimizers((enum fit_model_kind)m) != 0
		   ? sp->dim[SPACE_DIM_OPTIMIZER].mask
		   : SEARCH__NO_OPT;
}

/* ---- slots ---- */

static int cat(const struct space_point *p, enum space_slot s)
{
	return (int)p->v[s];
}

struct slot_desc;
typedef bool (*slot_active_fn)(const struct slot_desc *d, const struct space_point *p);

struct slot_desc {
	enum space_dim dim;
	const char *key; /* in the trial parameters; units live in hidden_layers */
	bool integer;
	bool branches;	       /* later slots depend on it */
	slot_active_fn active; /* whether the point's earlier slots use it */
	unsigned layers;       /* units: the hidden layers the slot needs */
};

static bool always(const struct slot_desc *d, const struct space_point *p)
{
	(void)d;
	(void)p;
	return true;
}

static bool has_optimizer(const struct slot_desc *d, const struct space_point *p)
{
	(void)d;
	return fit_family_optimizers((enum fit_model_kind)cat(p, SPACE_SLOT_MODEL)) != 0;
}

/* Whether the point's combination reads the core setting of the slot's dimension. */
static bool reads(const struct slot_desc *d, const struct space_point *p)
{
	unsigned used = fit_combo_settings(
	    (enum fit_model_kind)cat(p, SPACE_SLOT_MODEL), (enum fit_loss)cat(p, SPACE_SLOT_LOSS),
	    (enum fit_reg)cat(p, SPACE_SLOT_REG), (enum fit_optimizer)cat(p, SPACE_SLOT_OPT));

	return (used & FIT_BIT(search__dim_setting(d->dim))) &&
	       p->v[SPACE_SLOT_LAYERS] >= d->layers;
}

static const struct slot_desc slots[SPACE_SLOT_COUNT] = {
	[SPACE_SLOT_MODEL] = { SPACE_DIM_MODELS, "model", false, true, always },
	[SPACE_SLOT_LOSS] = { SPACE_DIM_LOSS, "loss", false, true, always },
	[SPACE_SLOT_REG] = { SPACE_DIM_REGULARIZATION, "regularization", false, true, always },
	[SPACE_SLOT_OPT] = { SPACE_DIM_OPTIMIZER, "optimizer", false, true, has_optimizer },
	[SPACE_SLOT_LEARNING_RATE] = { SPACE_DIM_LEARNING_RATE, "learning_rate", false, false,
				       reads },
	[SPACE_SLOT_BATCH_SIZE] = { SPACE_DIM_BATCH_SIZE, "batch_size", true, false, reads },
	[SPACE_SLOT_EPOCHS] = { SPACE_DIM_EPOCHS, "epochs", true, false, reads },
	[SPACE_SLOT_PENALTY] = { SPACE_DIM_PENALTY, "penalty", false, false, reads },
	[SPACE_SLOT_L1_RATIO] = { SPACE_DIM_L1_RATIO, "l1_ratio", false, false, reads },
	[SPACE_SLOT_HUBER_DELTA] = { SPACE_DIM_HUBER_DELTA, "huber_delta", false, false, reads },
	[SPACE_SLOT_C] = { SPACE_DIM_C, "C", false, false, reads },
	[SPACE_SLOT_LAYERS] = { SPACE_DIM_HIDDEN_LAYERS, "hidden_layers", true, true, reads },
	[SPACE_SLOT_UNITS1] = { SPACE_DIM_UNITS, NULL, true, false, reads, 1 },
	[SPACE_SLOT_UNITS2] = { SPACE_DIM_UNITS, NULL, true, false, reads, 2 },
	[SPACE_SLOT_UNITS3] = { SPACE_DIM_UNITS, NULL, true, false, reads, 3 },
	[SPACE_SLOT_ACTIVATION] = { SPACE_DIM_ACTIVATION, "activation", false, false, reads },
	[SPACE_SLOT_DROPOUT] = { SPACE_DIM_DROPOUT, "dropout", false, false, reads },
	[SPACE_SLOT_GBDT_LEARNING_RATE] = { SPACE_DIM_GBDT_LEARNING_RATE, "learning_rate", false,
					    false, reads },
	[SPACE_SLOT_TREES] = { SPACE_DIM_TREES, "trees", true, false, reads },
	[SPACE_SLOT_MAX_LEAVES] = { SPACE_DIM_MAX_LEAVES, "max_leaves", true, false, reads },
	[SPACE_SLOT_MAX_DEPTH] = { SPACE_DIM_MAX_DEPTH, "max_depth", true, false, reads },
	[SPACE_SLOT_MIN_CHILD_WEIGHT] = { SPACE_DIM_MIN_CHILD_WEIGHT, "min_child_weight", false,
					  false, reads },
	[SPACE_SLOT_MIN_LEAF_ROWS] = { SPACE_DIM_MIN_LEAF_ROWS, "min_leaf_rows", true, false,
				       reads },
	[SPACE_SLOT_MIN_SPLIT_GAIN] = { SPACE_DIM_MIN_SPLIT_GAIN, "min_split_gain", false, false,
					reads },
	[SPACE_SLOT_SUBSAMPLE] = { SPACE_DIM_SUBSAMPLE, "subsample", false, false, reads },
	[SPACE_SLOT_COLSAMPLE] = { SPACE_DIM_COLSAMPLE, "colsample", false, false, reads },
	[SPACE_SLOT_MAX_BINS] = { SPACE_DIM_MAX_BINS, "max_bins", true, false, reads },
};

enum space_dim search_space_slot_dim(enum space_slot slot)
{
	return slots[slot].dim;
}

bool search_space_slot_active(const struct space_point *p, enum space_slot slot)
{
	return slots[slot].active(&slots[slot], p);
}

bool search_space_slot_branches(enum space_slot slot)
{
	return slots[slot].branches;
}

bool search_space_slot_integer(enum space_slot slot)
{
	return slots[slot].integer;
}

double search_space_slot_round(enum space_slot slot, double x)
{
	return slots[slot].integer ? floor(x + 0.5) : x;
}

/* Whether some combination completes model m, loss l (or any: -1), regularization r (or any). */
static bool completes(const struct search_space *sp, int m, int l, int r)
{
	uint32_t opts = search__opt_choices(sp, m);

	for (int li = 0; li < FIT_LOSS_COUNT; li++) {
		if ((l >= 0 && li != l) || !(sp->dim[SPACE_DIM_LOSS].mask & BIT(li)))
			continue;
		for (int ri = 0; ri < FIT_REG_COUNT; ri++) {
			if ((r >= 0 && ri != r) ||
			    !(sp->dim[SPACE_DIM_REGULARIZATION].mask & BIT(ri)))
				continue;
			for (int o = 0; o < FIT_OPT_COUNT; o++)
				if ((opts & BIT(o)) && search__combo_ok(sp, m, li, ri, o))
					return true;
		}
	}
	return false;
}

static bool option_ok(const struct search_space *sp, const struct space_point *p,
		      enum space_slot slot, int k)
{
	int m = cat(p, SPACE_SLOT_MODEL);

	switch (slot) {
	case SPACE_SLOT_MODEL:
		return completes(sp, k, -1, -1);
	case SPACE_SLOT_LOSS:
		return completes(sp, m, k, -1);
	case SPACE_SLOT_REG:
		return completes(sp, m, cat(p, SPACE_SLOT_LOSS), k);
	case SPACE_SLOT_OPT:
		return search__combo_ok(sp, m, cat(p, SPACE_SLOT_LOSS), cat(p, SPACE_SLOT_REG), k);
	default:
		return true;
	}
}

size_t search_space_slot_options(const struct search_space *sp, const struct space_point *p,
				 enum space_slot slot, double *opts)
{
	const struct space_values *v = &sp->dim[slots[slot].dim];
	unsigned nnames;
	size_t n = 0;

	if (search__dim_names(slots[slot].dim, &nnames) != NULL) {
		for (unsigned k = 0; k < nnames; k++)
			if ((v->mask & BIT(k)) && option_ok(sp, p, slot, (int)k))
				opts[n++] = k;
		return n;
	}
	if (v->range)
		return 0;
	memcpy(opts, v->list, v->n * sizeof(*opts));
	return v->n;
}

/*
 * Where good settings live inside a default range (the request left the
 * setting out, or gave exactly its default range, as a stored normalized
 * spec does): the learning rate by optimizer (on standardized features,
 * adam diverges or wanders above a few hundredths, and plain sgd barely
 * moves below a thousandth in 200 epochs; momentum's steps are ten times
 * its rate), the penalty by family (a linear model or network with a
 * penalty of 1 on a mean loss is all penalty, while a tree's leaf weights
 * take XGBoost's lambda of 1 and more), and the svm's C (below 0.01 it
 * barely fits; above 10 dcd needs hundreds of passes for what C 10 gives).
 * The default range itself is the union, so the normalized space names it.
 */
struct narrow {
	double min, max;
};

static const struct narrow lr_by_optimizer[FIT_OPT_COUNT] = {
	[FIT_OPT_GD] = { 1e-2, 1 },
	[FIT_OPT_SGD] = { 1e-3, 0.3 },
	[FIT_OPT_MOMENTUM] = { 1e-4, 0.1 },
	[FIT_OPT_ADAM] = { 1e-4, 0.03 },
};

static const struct narrow penalty_by_model[FIT_MODEL_COUNT] = {
	[FIT_MODEL_LINEAR] = { 1e-6, 0.1 },
	[FIT_MODEL_LOGISTIC] = { 1e-6, 0.1 },
	[FIT_MODEL_MLP] = { 1e-6, 0.1 },
	[FIT_MODEL_GBDT] = { 1e-3, 10 },
};

static const struct narrow svm_c = { 1e-2, 10 };

bool search__narrowed(const struct search_space *sp, const struct space_point *p,
		      enum space_slot slot, struct space_values *out)
{
	enum space_dim d = search_space_slot_dim(slot);
	const struct space_values *v = &sp->dim[d];
	const struct narrow *n = NULL;
	int k;

	if (sp->grid || !search__default_range(d, v))
		return false;
	if (slot == SPACE_SLOT_LEARNING_RATE && (p->active & BIT(SPACE_SLOT_OPT))) {
		k = (int)p->v[SPACE_SLOT_OPT];
		n = k >= 0 && k < FIT_OPT_COUNT ? &lr_by_optimizer[k] : NULL;
	} else if (slot == SPACE_SLOT_PENALTY) {
		k = (int)p->v[SPACE_SLOT_MODEL];
		n = k >= 0 && k < FIT_MODEL_COUNT ? &penalty_by_model[k] : NULL;
	} else if (slot == SPACE_SLOT_C) {
		n = &svm_c;
	}
	if (n == NULL || n->max == 0)
		return false;
	*out = *v;
	out->min = n->min > v->min ? n->min : v->min;
	out->max = n->max < v->max ? n->max : v->max;
	if (out->min > out->max)
		*out = *v;
	return true;
}

void search__walk(const struct search_space *sp, search__choose_fn choose, void *ctx,
		  struct space_point *out)
{
	double opts[SPACE_LIST_MAX];

	memset(out, 0, sizeof(*out));
	for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
		const struct space_values *vals = &sp->dim[slots[s].dim];
		struct space_values narrowed;
		size_t n;

		if (!search_space_slot_active(out, (enum space_slot)s))
			continue;
		n = search_space_slot_options(sp, out, (enum space_slot)s, opts);
		if (n == 0 && search__narrowed(sp, out, (enum space_slot)s, &narrowed))
			vals = &narrowed;
		out->v[s] = search_space_slot_round(
		    (enum space_slot)s, choose(ctx, out, (enum space_slot)s, opts, n, vals));
		out->active |= BIT(s);
	}
}

/* ---- trial parameters ---- */

static json_t *slot_json(const struct space_point *p, int s)
{
	unsigned nnames;
	const char *const *names = search__dim_names(slots[s].dim, &nnames);

	if (names != NULL)
		return json_string(names[cat(p, (enum space_slot)s)]);
	if (slots[s].integer)
		return json_integer((json_int_t)p->v[s]);
	return json_real(p->v[s]);
}

json_t *search_space_point_to_json(const struct search_space *sp, const struct space_point *p)
{
	/* The contract's key order: model and optimizer first. */
	static const enum space_slot order[] = {
		SPACE_SLOT_MODEL,
		SPACE_SLOT_OPT,
		SPACE_SLOT_LEARNING_RATE,
		SPACE_SLOT_GBDT_LEARNING_RATE,
		SPACE_SLOT_BATCH_SIZE,
		SPACE_SLOT_EPOCHS,
		SPACE_SLOT_REG,
		SPACE_SLOT_PENALTY,
		SPACE_SLOT_L1_RATIO,
		SPACE_SLOT_LOSS,
		SPACE_SLOT_HUBER_DELTA,
		SPACE_SLOT_C,
		SPACE_SLOT_LAYERS,
		SPACE_SLOT_ACTIVATION,
		SPACE_SLOT_DROPOUT,
		SPACE_SLOT_TREES,
		SPACE_SLOT_MAX_LEAVES,
		SPACE_SLOT_MAX_DEPTH,
		SPACE_SLOT_MIN_CHILD_WEIGHT,
		SPACE_SLOT_MIN_LEAF_ROWS,
		SPACE_SLOT_MIN_SPLIT_GAIN,
		SPACE_SLOT_SUBSAMPLE,
		SPACE_SLOT_COLSAMPLE,
		SPACE_SLOT_MAX_BINS,
	};
	json_t *obj = json_object();

	(void)sp;
	for (size_t i = 0; obj != NULL && i < sizeof(order) / sizeof(order[0]); i++) {
		enum space_slot s = order[i];
		json_t *v;

		if (!(p->active & BIT(s)))
			continue;
		if (s == SPACE_SLOT_LAYERS) {
			v = json_array();
			for (int k = 0; v != NULL && k < (int)p->v[s]; k++)
				json_array_append_new(
				    v, json_integer((json_int_t)p->v[SPACE_SLOT_UNITS1 + k]));
		} else {
			v = slot_json(p, s);
		}
		if (json_object_set_new(obj, slots[s].key, v) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* Reads slot s of params into p->v[s]; false when missing or unreadable. */
static bool slot_read(const json_t *params, int s, struct space_point *p)
{
	const json_t *h = json_object_get(params, "hidden_layers");
	unsigned nnames;
	const json_t *j;

	if (s == SPACE_SLOT_LAYERS) {
		if (!json_is_array(h) || json_array_size(h) < 1 || json_array_size(h) > 3)
			return false;
		p->v[s] = (double)json_array_size(h);
		return true;
	}
	j = slots[s].key ? json_object_get(params, slots[s].key)
			 : json_array_get(h, (size_t)(s - SPACE_SLOT_UNITS1));
	if (search__dim_names(slots[s].dim, &nnames) != NULL) {
		int k = json_is_string(j) ? search__dim_lookup(slots[s].dim, json_string_value(j))
					  : -1;

		p->v[s] = k;
		return k >= 0;
	}
	if (slots[s].integer ? !json_is_integer(j) : !json_is_number(j))
		return false;
	p->v[s] = json_number_value(j);
	return isfinite(p->v[s]);
}

int search_space_point_from_json(const struct search_space *sp, const json_t *params,
				 struct space_point *out)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(params))
		return FITD_EFORMAT;
	for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
		if (search_space_slot_active(out, (enum space_slot)s)) {
			if (!slot_read(params, s, out))
				return FITD_EFORMAT;
			out->active |= BIT(s);
		}
		/* Once the four choices are read: a combination the core accepts. */
		if (s == SPACE_SLOT_OPT &&
		    !search__combo_ok(sp, cat(out, SPACE_SLOT_MODEL), cat(out, SPACE_SLOT_LOSS),
				      cat(out, SPACE_SLOT_REG), cat(out, SPACE_SLOT_OPT)))
			return FITD_EFORMAT;
	}
	return FITD_OK;
}

bool search_space_point_equal(const struct space_point *a, const struct space_point *b)
{
	if (a->active != b->active)
		return false;
	for (int s = 0; s < SPACE_SLOT_COUNT; s++)
		if ((a->active & BIT(s)) && a->v[s] != b->v[s])
			return false;
	return true;
}

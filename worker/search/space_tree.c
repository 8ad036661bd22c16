/*
 * space_tree.c - the conditional structure of a search space: which loss,
 * regularization and optimizer go together for each model, which slots a
 * partial point uses, what each slot may take there, and the trial
 * parameters of a point as JSON (the contract with the trainer, search.h).
 *
 * The compatibility rules are three bit tables and one rule for the
 * second-order optimizers; the slots are one table with a predicate each.
 * Everything here is pure.
 */
#include "worker/search/internal.h"

#include <math.h>
#include <string.h>

#define M(x) BIT(SPACE_MODEL_##x)
#define L(x) BIT(SPACE_LOSS_##x)
#define R(x) BIT(SPACE_REG_##x)
#define O(x) BIT(SPACE_OPT_##x)

/* Losses per model and task [regression, classification]. */
static const uint32_t model_losses[SPACE_MODEL_COUNT][2] = {
	[SPACE_MODEL_LINEAR] = { L(SQUARED) | L(HUBER) | L(ABSOLUTE), 0 },
	[SPACE_MODEL_LOGISTIC] = { 0, L(LOG) },
	[SPACE_MODEL_SVM] = { 0, L(HINGE) | L(SQUARED_HINGE) },
	[SPACE_MODEL_MLP] = { L(SQUARED) | L(HUBER) | L(ABSOLUTE), L(LOG) },
};

#define PENALTIES (R(L1) | R(L2) | R(ELASTICNET))
static const uint32_t model_regs[SPACE_MODEL_COUNT] = {
	[SPACE_MODEL_LINEAR] = R(NONE) | PENALTIES,
	[SPACE_MODEL_LOGISTIC] = R(NONE) | PENALTIES,
	[SPACE_MODEL_SVM] = PENALTIES, /* C is the strength */
	[SPACE_MODEL_MLP] = R(NONE) | PENALTIES | R(DROPOUT),
};

#define FIRST_ORDER  (O(GD) | O(SGD) | O(MOMENTUM) | O(ADAM))
#define SECOND_ORDER (O(LBFGS) | O(NEWTON))
static const uint32_t model_opts[SPACE_MODEL_COUNT] = {
	[SPACE_MODEL_LINEAR] = FIRST_ORDER | SECOND_ORDER,
	[SPACE_MODEL_LOGISTIC] = FIRST_ORDER | SECOND_ORDER,
	[SPACE_MODEL_SVM] = FIRST_ORDER | SECOND_ORDER,
	[SPACE_MODEL_MLP] = FIRST_ORDER,
};

/* lbfgs and newton need a (generalized) second derivative. */
#define SMOOTH_LOSSES	  (L(SQUARED) | L(HUBER) | L(LOG) | L(SQUARED_HINGE))
#define SECOND_ORDER_REGS (R(NONE) | R(L2))

bool search_space_combo_ok(bool classification, int m, int l, int r, int o)
{
	if (m < 0 || m >= SPACE_MODEL_COUNT || l < 0 || l >= SPACE_LOSS_COUNT || r < 0 ||
	    r >= SPACE_REG_COUNT || o < 0 || o >= SPACE_OPT_COUNT)
		return false;
	if (!(model_losses[m][classification] & BIT(l)) || !(model_regs[m] & BIT(r)) ||
	    !(model_opts[m] & BIT(o)))
		return false;
	if (SECOND_ORDER & BIT(o))
		return (SMOOTH_LOSSES & BIT(l)) && (SECOND_ORDER_REGS & BIT(r));
	return true;
}

/* ---- slots ---- */

static int cat(const struct space_point *p, enum space_slot s)
{
	return (int)p->v[s];
}

static bool always(const struct space_point *p)
{
	(void)p;
	return true;
}

static bool uses_lr(const struct space_point *p)
{
	return (FIRST_ORDER & BIT(cat(p, SPACE_SLOT_OPT))) != 0;
}

static bool uses_batch(const struct space_point *p)
{
	return uses_lr(p) && cat(p, SPACE_SLOT_OPT) != SPACE_OPT_GD;
}

static bool uses_penalty(const struct space_point *p)
{
	return cat(p, SPACE_SLOT_MODEL) != SPACE_MODEL_SVM &&
	       (PENALTIES & BIT(cat(p, SPACE_SLOT_REG)));
}

static bool uses_l1_ratio(const struct space_point *p)
{
	return cat(p, SPACE_SLOT_REG) == SPACE_REG_ELASTICNET;
}

static bool uses_huber(const struct space_point *p)
{
	return cat(p, SPACE_SLOT_LOSS) == SPACE_LOSS_HUBER;
}

static bool is_svm(const struct space_point *p)
{
	return cat(p, SPACE_SLOT_MODEL) == SPACE_MODEL_SVM;
}

static bool is_mlp(const struct space_point *p)
{
	return cat(p, SPACE_SLOT_MODEL) == SPACE_MODEL_MLP;
}

static bool layer2(const struct space_point *p)
{
	return is_mlp(p) && p->v[SPACE_SLOT_LAYERS] >= 2;
}

static bool layer3(const struct space_point *p)
{
	return is_mlp(p) && p->v[SPACE_SLOT_LAYERS] >= 3;
}

static bool uses_dropout(const struct space_point *p)
{
	return is_mlp(p) && cat(p, SPACE_SLOT_REG) == SPACE_REG_DROPOUT;
}

struct slot_desc {
	enum space_dim dim;
	const char *key; /* in the trial parameters; units live in hidden_layers */
	bool integer;
	bool branches; /* later slots depend on it */
	bool (*active)(const struct space_point *p);
};

static const struct slot_desc slots[SPACE_SLOT_COUNT] = {
	[SPACE_SLOT_MODEL] = { SPACE_DIM_MODELS, "model", false, true, always },
	[SPACE_SLOT_LOSS] = { SPACE_DIM_LOSS, "loss", false, true, always },
	[SPACE_SLOT_REG] = { SPACE_DIM_REGULARIZATION, "regularization", false, true, always },
	[SPACE_SLOT_OPT] = { SPACE_DIM_OPTIMIZER, "optimizer", false, true, always },
	[SPACE_SLOT_LEARNING_RATE] = { SPACE_DIM_LEARNING_RATE, "learning_rate", false, false,
				       uses_lr },
	[SPACE_SLOT_BATCH_SIZE] = { SPACE_DIM_BATCH_SIZE, "batch_size", true, false, uses_batch },
	[SPACE_SLOT_EPOCHS] = { SPACE_DIM_EPOCHS, "epochs", true, false, always },
	[SPACE_SLOT_PENALTY] = { SPACE_DIM_PENALTY, "penalty", false, false, uses_penalty },
	[SPACE_SLOT_L1_RATIO] = { SPACE_DIM_L1_RATIO, "l1_ratio", false, false, uses_l1_ratio },
	[SPACE_SLOT_HUBER_DELTA] = { SPACE_DIM_HUBER_DELTA, "huber_delta", false, false,
				     uses_huber },
	[SPACE_SLOT_C] = { SPACE_DIM_C, "C", false, false, is_svm },
	[SPACE_SLOT_LAYERS] = { SPACE_DIM_HIDDEN_LAYERS, "hidden_layers", true, true, is_mlp },
	[SPACE_SLOT_UNITS1] = { SPACE_DIM_UNITS, NULL, true, false, is_mlp },
	[SPACE_SLOT_UNITS2] = { SPACE_DIM_UNITS, NULL, true, false, layer2 },
	[SPACE_SLOT_UNITS3] = { SPACE_DIM_UNITS, NULL, true, false, layer3 },
	[SPACE_SLOT_ACTIVATION] = { SPACE_DIM_ACTIVATION, "activation", false, false, is_mlp },
	[SPACE_SLOT_DROPOUT] = { SPACE_DIM_DROPOUT, "dropout", false, false, uses_dropout },
};

enum space_dim search_space_slot_dim(enum space_slot slot)
{
	return slots[slot].dim;
}

bool search_space_slot_active(const struct space_point *p, enum space_slot slot)
{
	return slots[slot].active(p);
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
	for (int li = 0; li < SPACE_LOSS_COUNT; li++) {
		if ((l >= 0 && li != l) || !(sp->dim[SPACE_DIM_LOSS].mask & BIT(li)))
			continue;
		for (int ri = 0; ri < SPACE_REG_COUNT; ri++) {
			if ((r >= 0 && ri != r) ||
			    !(sp->dim[SPACE_DIM_REGULARIZATION].mask & BIT(ri)))
				continue;
			for (int o = 0; o < SPACE_OPT_COUNT; o++)
				if ((sp->dim[SPACE_DIM_OPTIMIZER].mask & BIT(o)) &&
				    search_space_combo_ok(sp->classification, m, li, ri, o))
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
		return search_space_combo_ok(sp->classification, m, cat(p, SPACE_SLOT_LOSS),
					     cat(p, SPACE_SLOT_REG), k);
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

void search__walk(const struct search_space *sp, search__choose_fn choose, void *ctx,
		  struct space_point *out)
{
	double opts[SPACE_LIST_MAX];

	memset(out, 0, sizeof(*out));
	for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
		size_t n;

		if (!slots[s].active(out))
			continue;
		n = search_space_slot_options(sp, out, (enum space_slot)s, opts);
		out->v[s] = search_space_slot_round(
		    (enum space_slot)s,
		    choose(ctx, out, (enum space_slot)s, opts, n, &sp->dim[slots[s].dim]));
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
		SPACE_SLOT_MODEL,	SPACE_SLOT_OPT,	     SPACE_SLOT_LEARNING_RATE,
		SPACE_SLOT_BATCH_SIZE,	SPACE_SLOT_EPOCHS,   SPACE_SLOT_REG,
		SPACE_SLOT_PENALTY,	SPACE_SLOT_L1_RATIO, SPACE_SLOT_LOSS,
		SPACE_SLOT_HUBER_DELTA, SPACE_SLOT_C,	     SPACE_SLOT_LAYERS,
		SPACE_SLOT_ACTIVATION,	SPACE_SLOT_DROPOUT,
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
	const char *const *names = search__dim_names(slots[s].dim, &nnames);
	const json_t *j;

	if (s == SPACE_SLOT_LAYERS) {
		if (!json_is_array(h) || json_array_size(h) < 1 || json_array_size(h) > 3)
			return false;
		p->v[s] = (double)json_array_size(h);
		return true;
	}
	j = slots[s].key ? json_object_get(params, slots[s].key)
			 : json_array_get(h, (size_t)(s - SPACE_SLOT_UNITS1));
	if (names != NULL) {
		for (unsigned k = 0; json_is_string(j) && k < nnames; k++) {
			if (strcmp(json_string_value(j), names[k]) == 0) {
				p->v[s] = k;
				return true;
			}
		}
		return false;
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
		if (!slots[s].active(out))
			continue;
		if (!slot_read(params, s, out))
			return FITD_EFORMAT;
		out->active |= BIT(s);
		if (s == SPACE_SLOT_OPT &&
		    !search_space_combo_ok(sp->classification, cat(out, SPACE_SLOT_MODEL),
					   cat(out, SPACE_SLOT_LOSS), cat(out, SPACE_SLOT_REG),
					   cat(out, SPACE_SLOT_OPT)))
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

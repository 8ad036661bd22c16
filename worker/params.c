/*
 * params.c - trial parameters JSON -> struct fit_params; see params.h. The
 * names are the core's (fit_*_parse()) and whether the combination works is
 * the core's fit_params_check(): nothing here knows which goes with which.
 */
#include "worker/params.h"

#include <limits.h>
#include <stddef.h>

struct num_key {
	const char *key;
	size_t offset; /* of a double in struct fit_params */
};

static const struct num_key num_keys[] = {
	{ "learning_rate", offsetof(struct fit_params, learning_rate) },
	{ "penalty", offsetof(struct fit_params, penalty) },
	{ "l1_ratio", offsetof(struct fit_params, l1_ratio) },
	{ "huber_delta", offsetof(struct fit_params, huber_delta) },
	{ "C", offsetof(struct fit_params, svm_c) },
	{ "dropout", offsetof(struct fit_params, dropout) },
	{ "lr_decay", offsetof(struct fit_params, lr_decay) },
	{ "min_child_weight", offsetof(struct fit_params, gbdt.min_child_weight) },
	{ "min_split_gain", offsetof(struct fit_params, gbdt.min_split_gain) },
	{ "subsample", offsetof(struct fit_params, gbdt.subsample) },
	{ "colsample", offsetof(struct fit_params, gbdt.colsample) },
};

/* A gbdt setting read as an integer; the core judges its range. */
struct count_key {
	const char *key;
	size_t offset; /* of an unsigned in struct fit_params */
};

static const struct count_key count_keys[] = {
	{ "trees", offsetof(struct fit_params, gbdt.trees) },
	{ "max_leaves", offsetof(struct fit_params, gbdt.max_leaves) },
	{ "max_depth", offsetof(struct fit_params, gbdt.max_depth) },
	{ "min_leaf_rows", offsetof(struct fit_params, gbdt.min_leaf_rows) },
	{ "max_bins", offsetof(struct fit_params, gbdt.max_bins) },
};

static int bad(struct fitd_error *err, const char *key, const char *why)
{
	return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_params", "trial parameter %s: %s",
			      key, why);
}

/* Reads a name with parse() into *out when key is present. */
static int read_name(const json_t *params, const char *key, int (*parse)(const char *, int *),
		     int *out, struct fitd_error *err)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL)
		return FITD_OK;
	if (!json_is_string(v) || parse(json_string_value(v), out) != 0)
		return bad(err, key, "unknown name");
	return FITD_OK;
}

/* The fit_*_parse() functions take typed enum pointers; these adapt them to int. */
#define ENUM_ADAPTER(fn, type)                       \
	static int fn##_int(const char *s, int *out) \
	{                                            \
		type v;                              \
		int rc = fn(s, &v);                  \
		*out = (int)v;                       \
		return rc;                           \
	}
ENUM_ADAPTER(fit_model_kind_parse, enum fit_model_kind)
ENUM_ADAPTER(fit_optimizer_parse, enum fit_optimizer)
ENUM_ADAPTER(fit_loss_parse, enum fit_loss)
ENUM_ADAPTER(fit_activation_parse, enum fit_activation)

static int read_reg(const json_t *params, struct fit_params *p, struct fitd_error *err)
{
	const json_t *j = json_object_get(params, "regularization");
	enum fit_reg r;

	if (j == NULL)
		return FITD_OK;
	if (!json_is_string(j))
		return bad(err, "regularization", "not a string");
	if (fit_reg_parse(json_string_value(j), &r) != 0)
		return bad(err, "regularization", "unknown name");
	/* A regularizer without a weight penalty (none, dropout) has penalty 0. */
	if (!(fit_reg_settings(r) & FIT_BIT(FIT_SET_PENALTY)))
		p->penalty = 0;
	p->reg = r;
	return FITD_OK;
}

static int read_hidden(const json_t *params, struct fit_params *p, struct fitd_error *err)
{
	json_t *h = json_object_get(params, "hidden_layers");

	if (h == NULL)
		return FITD_OK;
	if (!json_is_array(h) || json_array_size(h) < 1 || json_array_size(h) > FIT_MAX_HIDDEN)
		return bad(err, "hidden_layers", "must be an array of 1 to 3 unit counts");
	p->hidden_layers = (unsigned)json_array_size(h);
	for (unsigned i = 0; i < p->hidden_layers; i++) {
		json_t *u = json_array_get(h, i);

		if (!json_is_integer(u) || json_integer_value(u) < 1 ||
		    json_integer_value(u) > 65536)
			return bad(err, "hidden_layers", "unit counts must be integers 1..65536");
		p->hidden_units[i] = (unsigned)json_integer_value(u);
	}
	return FITD_OK;
}

static int read_numbers(const json_t *params, struct fit_params *p, struct fitd_error *err)
{
	json_t *v;

	for (size_t i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
		v = json_object_get(params, num_keys[i].key);
		if (v == NULL)
			continue;
		if (!json_is_number(v))
			return bad(err, num_keys[i].key, "not a number");
		*(double *)(void *)((char *)p + num_keys[i].offset) = json_number_value(v);
	}
	for (size_t i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		v = json_object_get(params, count_keys[i].key);
		if (v == NULL)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT_MAX)
			return bad(err, count_keys[i].key, "not an integer from 0 to 4294967295");
		*(unsigned *)(void *)((char *)p +
				      count_keys[i].offset) = (unsigned)json_integer_value(v);
	}
	v = json_object_get(params, "batch_size");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return bad(err, "batch_size", "not a positive integer");
		p->batch_size = (size_t)json_integer_value(v);
	}
	v = json_object_get(params, "epochs");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000)
			return bad(err, "epochs", "not an integer from 1 to 1000000");
		p->epochs = (unsigned)json_integer_value(v);
	}
	return FITD_OK;
}

int worker_params_from_json(const json_t *params, const struct worker_fit_context *ctx,
			    struct fit_params *out, struct fitd_error *err)
{
	struct fit_params p;
	int model = 0, opt = 0, loss = FIT_LOSS_AUTO, act = 0;
	const char *why;
	int rc;

	if (!json_is_object(params))
		return bad(err, "(all)", "not an object");
	fit_params_init(&p);
	model = (int)p.model;
	opt = (int)p.optimizer;
	act = (int)p.activation;
	rc = read_name(params, "model", fit_model_kind_parse_int, &model, err);
	if (rc == FITD_OK)
		rc = read_name(params, "optimizer", fit_optimizer_parse_int, &opt, err);
	if (rc == FITD_OK)
		rc = read_name(params, "loss", fit_loss_parse_int, &loss, err);
	if (rc == FITD_OK)
		rc = read_name(params, "activation", fit_activation_parse_int, &act, err);
	if (rc == FITD_OK)
		rc = read_numbers(params, &p, err);
	if (rc == FITD_OK)
		rc = read_reg(params, &p, err);
	if (rc == FITD_OK)
		rc = read_hidden(params, &p, err);
	if (rc != FITD_OK)
		return rc;
	p.model = (enum fit_model_kind)model;
	p.optimizer = (enum fit_optimizer)opt;
	p.loss = (enum fit_loss)loss;
	p.activation = (enum fit_activation)act;
	p.metric = ctx->metric;
	p.patience = ctx->patience;
	p.seed = ctx->seed;
	p.threads = ctx->threads;
	fit_params_resolve(&p, ctx->task);
	why = fit_params_check(&p, ctx->task);
	if (why != NULL)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_params", "%s", why);
	/*
	 * Dropout trains exactly as none with its rate (in "dropout"); the model
	 * document names the weight penalty (none, l1, l2, elasticnet in
	 * api/openapi.json), so once checked the trainer is given none.
	 */
	if (p.reg == FIT_REG_DROPOUT)
		p.reg = FIT_REG_NONE;
	*out = p;
	return FITD_OK;
}

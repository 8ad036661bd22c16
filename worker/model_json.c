/*
 * model_json.c - fit_model_desc <-> JSON; see model_json.h.
 *
 * Reading builds a struct fit_model_desc whose strings and arrays borrow
 * from the JSON document or from a scratch arena freed at the end;
 * fit_model_rebuild() deep-copies and validates it, so the numeric core
 * stays the one judge of what a valid model is.
 */
#include "worker/model_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "worker/json.h"

/* ---- writing ---- */

/*
 * Every builder returns NULL when memory runs out, never a document with a
 * piece missing: a model file short of a weight would be wrong, not absent.
 */

static json_t *doubles(const double *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && a != NULL; i++)
		a = worker_json_append(a, json_real(v[i]));
	return a;
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && a != NULL; i++)
		a = worker_json_append(a, json_string(v[i]));
	return a;
}

static json_t *params_json(const struct fit_params *p)
{
	json_t *hidden = json_array();

	for (unsigned i = 0; i < p->hidden_layers && i < FIT_MAX_HIDDEN && hidden != NULL; i++)
		hidden = worker_json_append(hidden, json_integer(p->hidden_units[i]));
	return json_pack(
	    "{s:s, s:s, s:s, s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:s, s:f, s:f, s:f,"
	    " s:f, s:f, s:o, s:s, s:I, s:s, s:b, s:I, s:I}",
	    "model", fit_model_kind_name(p->model), "loss", fit_loss_name(p->loss), "optimizer",
	    fit_optimizer_name(p->optimizer), "learning_rate", p->learning_rate, "lr_decay",
	    p->lr_decay, "batch_size", (json_int_t)p->batch_size, "epochs", (json_int_t)p->epochs,
	    "momentum", p->momentum, "beta1", p->beta1, "beta2", p->beta2, "epsilon", p->epsilon,
	    "tol", p->tol, "regularization", fit_reg_name(p->reg), "penalty", p->penalty,
	    "l1_ratio", p->l1_ratio, "svm_c", p->svm_c, "huber_delta", p->huber_delta, "dropout",
	    p->dropout, "hidden_layers", hidden, "activation", fit_activation_name(p->activation),
	    "patience", (json_int_t)p->patience, "metric", fit_metric_name(p->metric),
	    "missing_indicator", p->missing_indicator, "min_level_count",
	    (json_int_t)p->min_level_count, "seed", (json_int_t)p->seed);
}

static json_t *column_json(const struct fit_prep_column *c)
{
	if (c->type == FIT_COL_NUMERIC)
		return json_pack("{s:s, s:s, s:f, s:f, s:f, s:b}", "name", c->name, "type",
				 "numeric", "fill", c->fill, "center", c->center, "scale", c->scale,
				 "indicator", c->indicator);
	return json_pack("{s:s, s:s, s:o, s:b}", "name", c->name, "type", "categorical", "levels",
			 strings(c->levels, c->nlevels), "other", c->other);
}

static json_t *report_json(const struct fit_report *r)
{
	json_t *o = json_pack("{s:I, s:I, s:f, s:I, s:b, s:b}", "epochs", (json_int_t)r->epochs,
			      "best_epoch", (json_int_t)r->best_epoch, "train_loss", r->train_loss,
			      "passes", (json_int_t)r->passes, "stopped_early", r->stopped_early,
			      "converged", r->converged);

	if (o != NULL && isfinite(r->valid_score) &&
	    json_object_set_new(o, "valid_score", json_real(r->valid_score)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *worker_model_to_json(const struct fit_model *m)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	json_t *cols = json_array(), *layers = json_array();

	for (size_t i = 0; i < d->ncolumns && cols != NULL; i++)
		cols = worker_json_append(cols, column_json(&d->columns[i]));
	for (size_t i = 0; i < d->nlayers && layers != NULL; i++) {
		const struct fit_layer_desc *l = &d->layers[i];

		layers = worker_json_append(layers, json_pack("{s:I, s:I, s:o, s:o}", "nin",
							      (json_int_t)l->nin, "nout",
							      (json_int_t)l->nout, "weights",
							      doubles(l->weights, l->nin * l->nout),
							      "bias", doubles(l->bias, l->nout)));
	}
	return json_pack("{s:s, s:i, s:s, s:s, s:o, s:f, s:f, s:o, s:o, s:o, s:o}", "format",
			 WORKER_MODEL_FORMAT, "version", WORKER_MODEL_VERSION, "task",
			 fit_task_name(d->task), "target", d->target, "classes",
			 strings(d->classes, d->nclasses), "y_center", d->y_center, "y_scale",
			 d->y_scale, "params", params_json(&d->params), "columns", cols, "layers",
			 layers, "report", report_json(&d->report));
}

/* ---- reading ---- */

/* Heap blocks made while reading (void * each), freed together once the model is rebuilt. */
struct arena {
	struct fitd_buf blocks;
};

static void arena_release(struct arena *a)
{
	void **blocks = (void **)a->blocks.data;

	for (size_t i = 0; i < a->blocks.len / sizeof(void *); i++)
		free(blocks[i]);
	fitd_buf_release(&a->blocks);
}

struct reader {
	struct arena arena;
	struct fitd_error *err;
	int rc;
};

/* Zeroed memory freed with the arena; NULL with r->rc set when memory runs out. */
static void *arena_alloc(struct reader *r, size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size);

	if (p != NULL && fitd_buf_add(&r->arena.blocks, &p, sizeof(p)) == FITD_OK)
		return p;
	free(p);
	if (r->rc == FITD_OK)
		r->rc = fitd_error_set(r->err, FITD_ENOMEM, NULL, "model: out of memory");
	return NULL;
}

static bool bad(struct reader *r, const char *field, const char *why)
{
	if (r->rc == FITD_OK)
		r->rc = fitd_error_set(r->err, FITD_EFORMAT, "bad_model", "model field %s: %s",
				       field, why);
	return false;
}

static bool get_num(struct reader *r, const json_t *o, const char *key, double *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		return bad(r, key, "missing or not a number");
	*out = json_number_value(v);
	return true;
}

static bool get_uint(struct reader *r, const json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(r, key, "missing or not a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static const char *get_str(struct reader *r, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		bad(r, key, "missing or not a string");
	return s;
}

static bool get_bool(struct reader *r, const json_t *o, const char *key, int *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return bad(r, key, "missing or not a boolean");
	*out = json_is_true(v);
	return true;
}

static const char *const *get_strings(struct reader *r, const json_t *a, const char *key, size_t *n)
{
	const char **v;

	if (!json_is_array(a)) {
		bad(r, key, "not an array");
		return NULL;
	}
	*n = json_array_size(a);
	v = arena_alloc(r, *n, sizeof(*v));
	for (size_t i = 0; v != NULL && i < *n; i++) {
		v[i] = json_string_value(json_array_get(a, i));
		if (v[i] == NULL) {
			bad(r, key, "holds a non-string");
			return NULL;
		}
	}
	return v;
}

static const double *get_doubles(struct reader *r, const json_t *a, const char *key, size_t n)
{
	double *v;

	if (!json_is_array(a) || json_array_size(a) != n) {
		bad(r, key, "not an array of the layer's size");
		return NULL;
	}
	v = arena_alloc(r, n, sizeof(*v));
	for (size_t i = 0; v != NULL && i < n; i++) {
		json_t *x = json_array_get(a, i);

		if (!json_is_number(x)) {
			bad(r, key, "holds a non-number");
			return NULL;
		}
		v[i] = json_number_value(x);
	}
	return v;
}

/* Parses a name with one of the fit_*_parse() functions into an int-sized enum. */
#define GET_ENUM(r, o, key, parse, out)                \
	do {                                           \
		const char *s_ = get_str(r, o, key);   \
		if (s_ != NULL && parse(s_, out) != 0) \
			bad(r, key, "unknown name");   \
	} while (0)

static void read_params(struct reader *r, const json_t *o, struct fit_params *p)
{
	uint64_t u = 0;
	json_t *hidden = json_object_get(o, "hidden_layers");

	fit_params_init(p);
	GET_ENUM(r, o, "model", fit_model_kind_parse, &p->model);
	GET_ENUM(r, o, "loss", fit_loss_parse, &p->loss);
	GET_ENUM(r, o, "optimizer", fit_optimizer_parse, &p->optimizer);
	GET_ENUM(r, o, "regularization", fit_reg_parse, &p->reg);
	GET_ENUM(r, o, "activation", fit_activation_parse, &p->activation);
	GET_ENUM(r, o, "metric", fit_metric_parse, &p->metric);
	get_num(r, o, "learning_rate", &p->learning_rate);
	get_num(r, o, "lr_decay", &p->lr_decay);
	get_num(r, o, "momentum", &p->momentum);
	get_num(r, o, "beta1", &p->beta1);
	get_num(r, o, "beta2", &p->beta2);
	get_num(r, o, "epsilon", &p->epsilon);
	get_num(r, o, "tol", &p->tol);
	get_num(r, o, "penalty", &p->penalty);
	get_num(r, o, "l1_ratio", &p->l1_ratio);
	get_num(r, o, "svm_c", &p->svm_c);
	get_num(r, o, "huber_delta", &p->huber_delta);
	get_num(r, o, "dropout", &p->dropout);
	get_bool(r, o, "missing_indicator", &p->missing_indicator);
	if (get_uint(r, o, "batch_size", &u))
		p->batch_size = (size_t)u;
	if (get_uint(r, o, "epochs", &u))
		p->epochs = (unsigned)u;
	if (get_uint(r, o, "patience", &u))
		p->patience = (unsigned)u;
	if (get_uint(r, o, "min_level_count", &u))
		p->min_level_count = (size_t)u;
	if (get_uint(r, o, "seed", &u))
		p->seed = u;
	if (!json_is_array(hidden) || json_array_size(hidden) > FIT_MAX_HIDDEN) {
		bad(r, "params.hidden_layers", "not an array of at most 3 sizes");
		return;
	}
	p->hidden_layers = (unsigned)json_array_size(hidden);
	for (unsigned i = 0; i < p->hidden_layers; i++)
		p->hidden_units[i] = (unsigned)json_integer_value(json_array_get(hidden, i));
}

static void read_column(struct reader *r, const json_t *o, struct fit_prep_column *c)
{
	const char *type = get_str(r, o, "type");

	c->name = get_str(r, o, "name");
	if (type != NULL && strcmp(type, "numeric") == 0) {
		c->type = FIT_COL_NUMERIC;
		get_num(r, o, "fill", &c->fill);
		get_num(r, o, "center", &c->center);
		get_num(r, o, "scale", &c->scale);
		get_bool(r, o, "indicator", &c->indicator);
	} else if (type != NULL && strcmp(type, "categorical") == 0) {
		c->type = FIT_COL_CATEGORICAL;
		c->levels = get_strings(r, json_object_get(o, "levels"), "columns.levels",
					&c->nlevels);
		get_bool(r, o, "other", &c->other);
	} else {
		bad(r, "columns.type", "neither numeric nor categorical");
	}
}

static void read_layer(struct reader *r, const json_t *o, struct fit_layer_desc *l)
{
	uint64_t nin = 0, nout = 0;

	if (!get_uint(r, o, "nin", &nin) || !get_uint(r, o, "nout", &nout))
		return;
	if (nin == 0 || nout == 0 || nin > (1u << 24) || nout > (1u << 24) ||
	    nin * nout > ((uint64_t)1 << 31)) {
		bad(r, "layers", "sizes out of range");
		return;
	}
	l->nin = (size_t)nin;
	l->nout = (size_t)nout;
	l->weights = get_doubles(r, json_object_get(o, "weights"), "layers.weights",
				 l->nin * l->nout);
	l->bias = get_doubles(r, json_object_get(o, "bias"), "layers.bias", l->nout);
}

static void read_desc(struct reader *r, const json_t *doc, struct fit_model_desc *d)
{
	json_t *cols = json_object_get(doc, "columns"), *layers = json_object_get(doc, "layers");
	json_t *report = json_object_get(doc, "report");
	struct fit_prep_column *c;
	struct fit_layer_desc *l;
	uint64_t u = 0;

	GET_ENUM(r, doc, "task", fit_task_parse, &d->task);
	d->target = get_str(r, doc, "target");
	d->classes = get_strings(r, json_object_get(doc, "classes"), "classes", &d->nclasses);
	get_num(r, doc, "y_center", &d->y_center);
	get_num(r, doc, "y_scale", &d->y_scale);
	read_params(r, json_object_get(doc, "params"), &d->params);
	if (!json_is_array(cols) || !json_is_array(layers) || !json_is_object(report)) {
		bad(r, "columns/layers/report", "missing");
		return;
	}
	d->ncolumns = json_array_size(cols);
	d->columns = c = arena_alloc(r, d->ncolumns, sizeof(*c));
	for (size_t i = 0; i < d->ncolumns && r->rc == FITD_OK; i++)
		read_column(r, json_array_get(cols, i), &c[i]);
	d->nlayers = json_array_size(layers);
	d->layers = l = arena_alloc(r, d->nlayers, sizeof(*l));
	for (size_t i = 0; i < d->nlayers && r->rc == FITD_OK; i++)
		read_layer(r, json_array_get(layers, i), &l[i]);
	if (get_uint(r, report, "epochs", &u))
		d->report.epochs = (unsigned)u;
	if (get_uint(r, report, "best_epoch", &u))
		d->report.best_epoch = (unsigned)u;
	if (get_uint(r, report, "passes", &u))
		d->report.passes = u;
	get_num(r, report, "train_loss", &d->report.train_loss);
	get_bool(r, report, "stopped_early", &d->report.stopped_early);
	get_bool(r, report, "converged", &d->report.converged);
	d->report.valid_score = NAN;
	if (json_object_get(report, "valid_score") != NULL)
		get_num(r, report, "valid_score", &d->report.valid_score);
}

int worker_model_from_json(const json_t *doc, struct fit_model **out, struct fitd_error *err)
{
	struct reader r = { .err = err, .rc = FITD_OK };
	struct fit_model_desc d;
	const char *format = json_string_value(json_object_get(doc, "format"));
	json_t *version = json_object_get(doc, "version");

	*out = NULL;
	memset(&d, 0, sizeof(d));
	/* One block per array the document holds: the document is the bound. */
	fitd_buf_init(&r.arena.blocks, SIZE_MAX);
	if (format == NULL || strcmp(format, WORKER_MODEL_FORMAT) != 0 || !json_is_integer(version))
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "not a fitd model (format \"%s\" version 1 expected)",
				      WORKER_MODEL_FORMAT);
	if (json_integer_value(version) > WORKER_MODEL_VERSION)
		return fitd_error_set(
		    err, FITD_EUNPROCESSABLE, "model_too_new",
		    "model format version %lld is newer than this fitd reads (%d)",
		    (long long)json_integer_value(version), WORKER_MODEL_VERSION);
	read_desc(&r, doc, &d);
	if (r.rc == FITD_OK)
		r.rc = fit_model_rebuild(&d, out, err);
	arena_release(&r.arena);
	return r.rc;
}

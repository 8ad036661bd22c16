/*
 * model_json.c - fit_model_desc <-> JSON; see model_json.h. A gbdt model's
 * trees are the "trees" member: per tree the parallel arrays of
 * struct fit_gbdt_tree ("column", "left", "right", "default_left",
 * "value", "cat", "cover", "gain"), then the models' starting margins
 * ("base") and the categorical splits' bitsets ("cat_bits").
 *
 * Reading builds a struct fit_model_desc whose strings and arrays borrow
 * from the JSON document or from a scratch arena freed at the end;
 * fit_model_rebuild() deep-copies and validates it, so the numeric core
 * stays the one judge of what a valid model is.
 */
#include "worker/model_json.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "worker/fit/ensemble.h"
#include "worker/fit/gbdt.h"
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

/* An array of n integers read by get(v, i). */
static json_t *integers(const void *v, size_t n, json_int_t (*get)(const void *, size_t))
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && a != NULL; i++)
		a = worker_json_append(a, json_integer(get(v, i)));
	return a;
}

static json_int_t get_i32(const void *v, size_t i)
{
	return ((const int32_t *)v)[i];
}

static json_int_t get_u32(const void *v, size_t i)
{
	return ((const uint32_t *)v)[i];
}

static json_int_t get_u8(const void *v, size_t i)
{
	return ((const uint8_t *)v)[i];
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && a != NULL; i++)
		a = worker_json_append(a, json_string(v[i]));
	return a;
}

/* The trees' own settings, written for a gbdt model only. */
static json_t *tree_params_json(const struct fit_params_gbdt *g)
{
	return json_pack("{s:I, s:I, s:I, s:f, s:I, s:f, s:f, s:f, s:I}", "trees",
			 (json_int_t)g->trees, "max_leaves", (json_int_t)g->max_leaves, "max_depth",
			 (json_int_t)g->max_depth, "min_child_weight", g->min_child_weight,
			 "min_leaf_rows", (json_int_t)g->min_leaf_rows, "min_split_gain",
			 g->min_split_gain, "subsample", g->subsample, "colsample", g->colsample,
			 "max_bins", (json_int_t)g->max_bins);
}

static json_t *params_json(const struct fit_params *p)
{
	json_t *hidden = json_array(), *o;

	for (unsigned i = 0; i < p->hidden_layers && i < FIT_MAX_HIDDEN && hidden != NULL; i++)
		hidden = worker_json_append(hidden, json_integer(p->hidden_units[i]));
	o = json_pack(
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
	if (o != NULL && p->model == FIT_MODEL_GBDT &&
	    json_object_set_new(o, "gbdt", tree_params_json(&p->gbdt)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Features of a preprocessed column: value and indicator, or levels and "other". */
static size_t column_width(const struct fit_prep_column *c)
{
	return c->type == FIT_COL_NUMERIC ? 1 + (c->indicator != 0) : c->nlevels + (c->other != 0);
}

/*
 * A column: for a gbdt model its name, type and levels; else its
 * preprocessing and, when known, its features' training means (means).
 */
static json_t *column_json(const struct fit_prep_column *c, int trees, const double *means)
{
	json_t *o;

	if (trees && c->type == FIT_COL_NUMERIC)
		return json_pack("{s:s, s:s}", "name", c->name, "type", "numeric");
	if (trees)
		return json_pack("{s:s, s:s, s:o}", "name", c->name, "type", "categorical",
				 "levels", strings(c->levels, c->nlevels));
	if (c->type == FIT_COL_NUMERIC)
		o = json_pack("{s:s, s:s, s:f, s:f, s:f, s:b}", "name", c->name, "type", "numeric",
			      "fill", c->fill, "center", c->center, "scale", c->scale, "indicator",
			      c->indicator);
	else
		o = json_pack("{s:s, s:s, s:o, s:b}", "name", c->name, "type", "categorical",
			      "levels", strings(c->levels, c->nlevels), "other", c->other);
	if (o != NULL && means != NULL &&
	    json_object_set_new(o, "means", doubles(means, column_width(c))) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One tree's parallel arrays. */
static json_t *tree_json(const struct fit_gbdt_tree *t)
{
	size_t n = t->nnodes;

	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "column",
			 integers(t->column, n, get_i32), "left", integers(t->left, n, get_i32),
			 "right", integers(t->right, n, get_i32), "default_left",
			 integers(t->default_left, n, get_u8), "value", doubles(t->value, n), "cat",
			 integers(t->cat, n, get_u32), "cover", doubles(t->cover, n), "gain",
			 doubles(t->gain, n));
}

/* The trees of a gbdt model: the starting margins, every tree, the categorical bitsets. */
static json_t *trees_json(const struct fit_gbdt_desc *g)
{
	json_t *list = json_array();

	for (size_t t = 0; t < g->ntrees && list != NULL; t++)
		list = worker_json_append(list, tree_json(&g->trees[t]));
	return json_pack("{s:o, s:o, s:o}", "base", doubles(g->base, g->noutputs), "list", list,
			 "cat_bits", integers(g->cat_bits, g->ncat_words, get_u32));
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

/*
 * An ensemble's document: the members' own documents with their weights,
 * and the target they share. Callers may add keys to a member's object.
 */
static json_t *ensemble_json(const struct fit_model_desc *d)
{
	json_t *members = json_array();

	for (size_t k = 0; k < d->nmembers && members != NULL; k++)
		members = worker_json_append(
		    members, json_pack("{s:f, s:o}", "weight", d->weights[k], "model",
				       worker_model_to_json(d->members[k])));
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:o}", "format", WORKER_MODEL_FORMAT,
			 "version", WORKER_MODEL_VERSION, "kind", "ensemble", "task",
			 fit_task_name(d->task), "target", d->target, "classes",
			 strings(d->classes, d->nclasses), "members", members);
}

json_t *worker_model_to_json(const struct fit_model *m)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	json_t *cols, *layers, *doc;
	const double *means = d->feature_means;

	if (d->nmembers > 0)
		return ensemble_json(d);
	cols = json_array();
	layers = json_array();

	for (size_t i = 0; i < d->ncolumns && cols != NULL; i++) {
		cols = worker_json_append(cols,
					  column_json(&d->columns[i], d->gbdt != NULL, means));
		means = means != NULL ? means + column_width(&d->columns[i]) : NULL;
	}
	for (size_t i = 0; i < d->nlayers && layers != NULL; i++) {
		const struct fit_layer_desc *l = &d->layers[i];

		layers = worker_json_append(layers, json_pack("{s:I, s:I, s:o, s:o}", "nin",
							      (json_int_t)l->nin, "nout",
							      (json_int_t)l->nout, "weights",
							      doubles(l->weights, l->nin * l->nout),
							      "bias", doubles(l->bias, l->nout)));
	}
	doc = json_pack("{s:s, s:i, s:s, s:s, s:o, s:f, s:f, s:o, s:o, s:o, s:o}", "format",
			WORKER_MODEL_FORMAT, "version", WORKER_MODEL_VERSION, "task",
			fit_task_name(d->task), "target", d->target, "classes",
			strings(d->classes, d->nclasses), "y_center", d->y_center, "y_scale",
			d->y_scale, "params", params_json(&d->params), "columns", cols, "layers",
			layers, "report", report_json(&d->report));
	if (doc != NULL && d->gbdt != NULL &&
	    json_object_set_new(doc, "trees", trees_json(d->gbdt)) != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
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

/*
 * n integers of a at key, each in [lo, hi], into 4-byte (size 4) or 1-byte
 * (size 1) slots; NULL (with r->rc set) otherwise.
 */
static void *get_ints(struct reader *r, const json_t *a, const char *key, size_t n, int64_t lo,
		      int64_t hi, size_t size)
{
	char *v;

	if (!json_is_array(a) || json_array_size(a) != n) {
		bad(r, key, "not an array of the tree's size");
		return NULL;
	}
	v = arena_alloc(r, n, size);
	for (size_t i = 0; v != NULL && i < n; i++) {
		json_t *x = json_array_get(a, i);
		json_int_t k = json_integer_value(x);

		if (!json_is_integer(x) || k < lo || k > hi) {
			bad(r, key, "holds a value that is not an integer in range");
			return NULL;
		}
		if (size == 1)
			v[i] = (char)k;
		else if (lo < 0)
			((int32_t *)(void *)v)[i] = (int32_t)k;
		else
			((uint32_t *)(void *)v)[i] = (uint32_t)k;
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

/* The trees' own settings (params.gbdt) of a gbdt model. */
static void read_tree_params(struct reader *r, const json_t *o, struct fit_params_gbdt *g)
{
	static const struct {
		const char *key;
		size_t offset;
	} counts[] = {
		{ "trees", offsetof(struct fit_params_gbdt, trees) },
		{ "max_leaves", offsetof(struct fit_params_gbdt, max_leaves) },
		{ "max_depth", offsetof(struct fit_params_gbdt, max_depth) },
		{ "min_leaf_rows", offsetof(struct fit_params_gbdt, min_leaf_rows) },
		{ "max_bins", offsetof(struct fit_params_gbdt, max_bins) },
	};
	uint64_t u = 0;

	if (!json_is_object(o)) {
		bad(r, "params.gbdt", "missing for a gbdt model");
		return;
	}
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (get_uint(r, o, counts[i].key, &u))
			*(unsigned *)(void *)((char *)g + counts[i].offset) = u > UINT_MAX
										  ? UINT_MAX
										  : (unsigned)u;
	get_num(r, o, "min_child_weight", &g->min_child_weight);
	get_num(r, o, "min_split_gain", &g->min_split_gain);
	get_num(r, o, "subsample", &g->subsample);
	get_num(r, o, "colsample", &g->colsample);
}

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
	if (p->model == FIT_MODEL_GBDT)
		read_tree_params(r, json_object_get(o, "gbdt"), &p->gbdt);
	if (!json_is_array(hidden) || json_array_size(hidden) > FIT_MAX_HIDDEN) {
		bad(r, "params.hidden_layers", "not an array of at most 3 sizes");
		return;
	}
	p->hidden_layers = (unsigned)json_array_size(hidden);
	for (unsigned i = 0; i < p->hidden_layers; i++)
		p->hidden_units[i] = (unsigned)json_integer_value(json_array_get(hidden, i));
}

/* A column: a gbdt model's (trees) only names and types it, with levels. */
static void read_column(struct reader *r, const json_t *o, struct fit_prep_column *c, int trees)
{
	const char *type = get_str(r, o, "type");

	c->name = get_str(r, o, "name");
	if (type != NULL && strcmp(type, "numeric") == 0) {
		c->type = FIT_COL_NUMERIC;
		c->scale = 1.0;
		if (trees)
			return;
		get_num(r, o, "fill", &c->fill);
		get_num(r, o, "center", &c->center);
		get_num(r, o, "scale", &c->scale);
		get_bool(r, o, "indicator", &c->indicator);
	} else if (type != NULL && strcmp(type, "categorical") == 0) {
		c->type = FIT_COL_CATEGORICAL;
		c->levels = get_strings(r, json_object_get(o, "levels"), "columns.levels",
					&c->nlevels);
		if (!trees)
			get_bool(r, o, "other", &c->other);
	} else {
		bad(r, "columns.type", "neither numeric nor categorical");
	}
}

/*
 * The features' training means, from every column's "means"; NULL when a
 * column has none (a document written before fitd kept them).
 */
static const double *read_means(struct reader *r, const json_t *cols,
				const struct fit_model_desc *d)
{
	size_t total = 0, at = 0;
	double *means;

	for (size_t i = 0; i < d->ncolumns; i++) {
		if (json_object_get(json_array_get(cols, i), "means") == NULL)
			return NULL;
		total += column_width(&d->columns[i]);
	}
	means = arena_alloc(r, total, sizeof(double));
	for (size_t i = 0; means != NULL && i < d->ncolumns && r->rc == FITD_OK; i++) {
		size_t w = column_width(&d->columns[i]);
		const double *v = get_doubles(r, json_object_get(json_array_get(cols, i), "means"),
					      "columns.means", w);

		if (v != NULL)
			memcpy(means + at, v, w * sizeof(double));
		at += w;
	}
	return means;
}

/* One tree's arrays into *t, its nodes' indexes in range of its nnodes. */
static void read_tree(struct reader *r, const json_t *o, struct fit_gbdt_tree *t)
{
	json_t *column = json_object_get(o, "column");
	size_t n = json_array_size(column);

	if (!json_is_array(column) || n == 0 || n > ((size_t)1 << 30)) {
		bad(r, "trees.list.column", "not an array of the tree's nodes");
		return;
	}
	t->nnodes = n;
	t->column = get_ints(r, column, "trees.list.column", n, FIT_GBDT_LEAF, INT32_MAX, 4);
	t->left = get_ints(r, json_object_get(o, "left"), "trees.list.left", n, 0, INT32_MAX, 4);
	t->right = get_ints(r, json_object_get(o, "right"), "trees.list.right", n, 0, INT32_MAX, 4);
	t->default_left = get_ints(r, json_object_get(o, "default_left"), "trees.list.default_left",
				   n, 0, 1, 1);
	t->cat = get_ints(r, json_object_get(o, "cat"), "trees.list.cat", n, 0, UINT32_MAX, 4);
	t->value = get_doubles(r, json_object_get(o, "value"), "trees.list.value", n);
	t->cover = get_doubles(r, json_object_get(o, "cover"), "trees.list.cover", n);
	t->gain = get_doubles(r, json_object_get(o, "gain"), "trees.list.gain", n);
}

/* A gbdt model's trees ("trees"), its columns those of the model. */
static const struct fit_gbdt_desc *read_trees(struct reader *r, const json_t *o,
					      const struct fit_model_desc *d)
{
	struct fit_gbdt_desc *g = arena_alloc(r, 1, sizeof(*g));
	struct fit_gbdt_column *cols = arena_alloc(r, d->ncolumns, sizeof(*cols));
	json_t *list = json_object_get(o, "list"), *bits = json_object_get(o, "cat_bits");
	struct fit_gbdt_tree *trees;

	if (g == NULL || cols == NULL)
		return NULL;
	if (!json_is_object(o) || !json_is_array(list) || !json_is_array(bits)) {
		bad(r, "trees", "missing, or without list and cat_bits, for a gbdt model");
		return NULL;
	}
	for (size_t j = 0; j < d->ncolumns; j++)
		cols[j] = (struct fit_gbdt_column){ d->columns[j].name, d->columns[j].type,
						    d->columns[j].nlevels, d->columns[j].levels };
	g->nclasses = d->task == FIT_TASK_CLASSIFICATION ? d->nclasses : 0;
	g->noutputs = g->nclasses <= 2 ? 1 : g->nclasses;
	g->base = get_doubles(r, json_object_get(o, "base"), "trees.base", g->noutputs);
	g->ncolumns = d->ncolumns;
	g->columns = cols;
	g->ntrees = json_array_size(list);
	g->trees = trees = arena_alloc(r, g->ntrees, sizeof(*trees));
	for (size_t t = 0; trees != NULL && t < g->ntrees && r->rc == FITD_OK; t++)
		read_tree(r, json_array_get(list, t), &trees[t]);
	g->ncat_words = json_array_size(bits);
	g->cat_bits = get_ints(r, bits, "trees.cat_bits", g->ncat_words, 0, UINT32_MAX, 4);
	return g;
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
		read_column(r, json_array_get(cols, i), &c[i], d->params.model == FIT_MODEL_GBDT);
	if (r->rc == FITD_OK && d->params.model == FIT_MODEL_GBDT)
		d->gbdt = read_trees(r, json_object_get(doc, "trees"), d);
	else if (r->rc == FITD_OK)
		d->feature_means = read_means(r, cols, d);
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

/* Rebuilds an ensemble's members, then the ensemble (fit_model_ensemble_new()). */
static int ensemble_from_json(const json_t *members, struct fit_model **out, struct fitd_error *err)
{
	size_t n = json_array_size(members);
	struct fit_model **m = calloc(n + 1, sizeof(*m));
	double *w = calloc(n + 1, sizeof(double));
	int rc = m != NULL && w != NULL ? FITD_OK
					: fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");

	if (rc == FITD_OK && (!json_is_array(members) || n == 0))
		rc = fitd_error_set(err, FITD_EFORMAT, "bad_model",
				    "members: a non-empty array expected");
	for (size_t k = 0; rc == FITD_OK && k < n; k++) {
		const json_t *o = json_array_get(members, k);
		const json_t *wj = json_object_get(o, "weight");
		const json_t *doc = json_object_get(o, "model");

		if (!json_is_number(wj) || !json_is_object(doc) ||
		    json_object_get(doc, "members") != NULL)
			rc = fitd_error_set(err, FITD_EFORMAT, "bad_model",
					    "members[%zu]: a weight and a model expected", k);
		else
			rc = worker_model_from_json(doc, &m[k], err);
		if (rc == FITD_OK)
			w[k] = json_number_value(wj);
	}
	if (rc == FITD_OK) {
		rc = fit_model_ensemble_new(m, w, n, out, err); /* takes the members */
	} else {
		for (size_t k = 0; m != NULL && k < n; k++)
			fit_model_free(m[k]);
	}
	free(m);
	free(w);
	return rc;
}

/* A model's excluded_columns (worker/predict.h), when present, are names. */
static bool excluded_ok(const json_t *doc)
{
	const json_t *a = json_object_get(doc, "excluded_columns"), *e;
	size_t i;

	if (a == NULL)
		return true;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e))
			return false;
	}
	return true;
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
	if (!excluded_ok(doc))
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "model field excluded_columns: not an array of names");
	if (json_object_get(doc, "members") != NULL)
		return ensemble_from_json(json_object_get(doc, "members"), out, err);
	read_desc(&r, doc, &d);
	if (r.rc == FITD_OK)
		r.rc = fit_model_rebuild(&d, out, err);
	arena_release(&r.arena);
	return r.rc;
}

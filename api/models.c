/*
 * models.c - GET and DELETE /v1/models/{id} and POST /v1/models/{id}/predict,
 * and the prediction the alias route shares (api__predict_with()).
 *
 * Models are read from their files, parsed and rebuilt once, then kept in a
 * small cache (least recently used out) shared by the HTTP threads; an entry
 * in use is reference-counted so eviction never frees a model mid-predict.
 * A deleted model must not be served from the cache: the store counts the
 * deletions of model rows (store_model_deletions()), and a lookup that sees
 * the count move empties the cache first (entries in use are freed by
 * their last user). A model loaded across a deletion is served to its
 * request but not cached. Deletions are rare; a reload costs a file read.
 * Prediction input is CSV (text/csv) or JSON {"rows": [{column: value}]};
 * columns are matched by name. Input may name only the model's columns
 * (its inputs, and its target and the columns its job excluded, ignored):
 * another is 400 unknown_column
 * (worker_predict_column_known()). A JSON row leaves out the inputs it
 * has no value for (missing), but must name one at least (400 empty_row),
 * and "rows" must hold one at least (422 no_rows, as a header alone);
 * a CSV header must hold every input (422 missing_column).
 * "explain": true in the JSON body, or ?explain=true with either body, adds
 * each row's per-column contributions (worker_explain()).
 */
#include "api/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "store/csv.h"
#include "worker/model_json.h"
#include "worker/predict.h"

struct model_entry {
	char id[STORE_ID_MAX];
	struct fit_model *model;
	json_t *doc;
	unsigned refs; /* guarded by the cache lock */
	uint64_t used; /* guarded by the cache lock */
	bool in_table; /* guarded by the cache lock; false: freed by its last user */
};

struct api__model_cache {
	pthread_mutex_t lock;
	struct model_entry **entries;
	unsigned n, cap;
	uint64_t clock;
	uint64_t deletions; /* store_model_deletions() when the table was last known good */
};

int api__models_new(unsigned capacity, struct api__model_cache **out)
{
	struct api__model_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return FITD_ENOMEM;
	c->cap = capacity ? capacity : 1;
	c->entries = calloc(c->cap, sizeof(*c->entries));
	if (c->entries == NULL) {
		free(c);
		return FITD_ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return FITD_OK;
}

static void entry_free(struct model_entry *e)
{
	fit_model_free(e->model);
	json_decref(e->doc);
	free(e);
}

/* Takes every entry out of the table; those in use are freed by their last model_put(). Lock held. */
static void cache_flush(struct api__model_cache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		c->entries[i]->in_table = false;
		if (c->entries[i]->refs == 0)
			entry_free(c->entries[i]);
	}
	c->n = 0;
}

void api__models_free(struct api__model_cache *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n; i++)
		entry_free(c->entries[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->entries);
	free(c);
}

static struct model_entry *cache_find(struct api__model_cache *c, const char *id)
{
	for (unsigned i = 0; i < c->n; i++) {
		if (strcmp(c->entries[i]->id, id) == 0) {
			c->entries[i]->refs++;
			c->entries[i]->used = ++c->clock;
			return c->entries[i];
		}
	}
	return NULL;
}

/* Inserts e (or returns the entry another thread inserted first); lock held. */
static struct model_entry *cache_insert(struct api__model_cache *c, struct model_entry *e)
{
	struct model_entry *old = cache_find(c, e->id);
	unsigned victim = c->n;

	if (old != NULL) {
		entry_free(e);
		return old;
	}
	e->refs = 1;
	if (c->n == c->cap) {
		for (unsigned i = 0; i < c->n; i++)
			if (c->entries[i]->refs == 0 &&
			    (victim == c->n || c->entries[i]->used < c->entries[victim]->used))
				victim = i;
		if (victim == c->n)
			return e; /* everything busy: serve uncached, freed on release */
		entry_free(c->entries[victim]);
		c->entries[victim] = c->entries[--c->n];
	}
	e->used = ++c->clock;
	e->in_table = true;
	c->entries[c->n++] = e;
	return e;
}

static struct model_entry *load(struct api_server *srv, const char *id, struct fitd_error *err)
{
	struct model_entry *e;
	json_error_t jerr;
	char *text;
	size_t len;

	if (store_model_read(srv->store, id, &text, &len, err) != FITD_OK)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(text);
		fitd_error_set(err, FITD_ENOMEM, NULL, "model %s: out of memory", id);
		return NULL;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (e->doc == NULL && json_error_code(&jerr) == json_error_out_of_memory) {
		fitd_error_set(err, FITD_ENOMEM, NULL, "model %s: out of memory", id);
		entry_free(e);
		return NULL;
	}
	if (e->doc == NULL) {
		fitd_error_set(err, FITD_EIO, "model_unreadable", "model %s: %s", id, jerr.text);
		entry_free(e);
		return NULL;
	}
	if (worker_model_from_json(e->doc, &e->model, err) != FITD_OK) {
		entry_free(e);
		return NULL;
	}
	json_object_set_new(e->doc, "id", json_string(id));
	return e;
}

static struct model_entry *model_get(struct api_server *srv, const char *id, struct fitd_error *err)
{
	struct api__model_cache *c = srv->models;
	struct model_entry *e;
	uint64_t seen;

	pthread_mutex_lock(&c->lock);
	seen = store_model_deletions(srv->store);
	if (seen != c->deletions) {
		cache_flush(c);
		c->deletions = seen;
	}
	e = cache_find(c, id);
	pthread_mutex_unlock(&c->lock);
	if (e != NULL)
		return e;
	e = load(srv, id, err);
	if (e == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	if (store_model_deletions(srv->store) == seen)
		e = cache_insert(c, e);
	else
		e->refs = 1; /* a deletion ran meanwhile: this one request only */
	pthread_mutex_unlock(&c->lock);
	return e;
}

static void model_put(struct api_server *srv, struct model_entry *e)
{
	struct api__model_cache *c = srv->models;
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --e->refs == 0 && !e->in_table;
	pthread_mutex_unlock(&c->lock);
	if (last)
		entry_free(e);
}

static bool model_id_param(struct api__request *req)
{
	if (store_id_valid("mdl", req->params[0]))
		return true;
	api__reply_fail(req, 400, "invalid_id",
			"'%.64s' is not a model id (mdl_ and 20 hex digits)", req->params[0]);
	return false;
}

void api__models_delete(struct api__request *req)
{
	struct fitd_error err = { 0 };

	if (!model_id_param(req))
		return;
	if (store_model_delete(req->srv->store, req->params[0], &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("model_deleted", "id=%s", req->params[0]);
	api__reply_json(req, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

void api__models_get(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct model_entry *e;

	if (!model_id_param(req))
		return;
	e = model_get(req->srv, req->params[0], &err);
	if (e == NULL) {
		api__reply_error(req, &err);
		return;
	}
	api__reply_json(req, 200, json_incref(e->doc));
	model_put(req->srv, e);
}

/* ---- prediction input ---- */

/* Sets one cell from a JSON value; false with err filled when the type is wrong. */
static bool set_cell(struct fit_frame_builder *b, const struct fit_prep_column *c, size_t col,
		     size_t row, const json_t *v, struct fitd_error *err)
{
	char num[32];

	if (v == NULL || json_is_null(v)) {
		if (c->type == FIT_COL_NUMERIC)
			fit_frame_builder_set_num(b, col, row, NAN);
		else
			fit_frame_builder_set_cat(b, col, row, NULL, 0);
		return true;
	}
	if (c->type == FIT_COL_NUMERIC && json_is_number(v)) {
		fit_frame_builder_set_num(b, col, row, json_number_value(v));
		return true;
	}
	if (c->type == FIT_COL_CATEGORICAL && json_is_string(v)) {
		fit_frame_builder_set_cat(b, col, row, json_string_value(v), json_string_length(v));
		return true;
	}
	if (c->type == FIT_COL_CATEGORICAL && json_is_number(v)) {
		int n = json_is_integer(v)
			    ? snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v))
			    : snprintf(num, sizeof(num), "%.17g", json_real_value(v));

		fit_frame_builder_set_cat(b, col, row, num, (size_t)n);
		return true;
	}
	fitd_error_set(err, FITD_EFORMAT, "wrong_type", "rows[%zu].%s must be %s or null", row,
		       c->name, c->type == FIT_COL_NUMERIC ? "a number" : "a string");
	return false;
}

/* A JSON row's keys: one the model does not know is refused, as is a row naming no input. */
static int check_row_keys(const struct fit_model_desc *d, const json_t *excluded, const json_t *row,
			  size_t r, size_t named, struct fitd_error *err)
{
	char inputs[112];
	const char *key;
	json_t *v;

	if (json_object_size(row) > named) {
		json_object_foreach((json_t *)row, key, v)
		{
			if (worker_predict_column_known(d, excluded, key))
				continue;
			worker_predict_inputs_text(d, inputs, sizeof(inputs));
			return fitd_error_set(
			    err, FITD_EFORMAT, "unknown_column",
			    "rows[%zu]: '%.40s' is not a column of the model: its "
			    "inputs are %s, and its target '%.40s' may be given",
			    r, key, inputs, d->target);
		}
	}
	if (named > 0)
		return FITD_OK;
	worker_predict_inputs_text(d, inputs, sizeof(inputs));
	return fitd_error_set(err, FITD_EFORMAT, "empty_row",
			      "rows[%zu] names none of the model's inputs (%s); give null for a "
			      "value that is missing",
			      r, inputs);
}

/* Sets row r of the frame from the JSON object row. */
static int row_to_frame(struct fit_frame_builder *b, const struct fit_model_desc *d,
			const json_t *excluded, const json_t *row, size_t r, struct fitd_error *err)
{
	size_t named = 0;

	if (!json_is_object(row))
		return fitd_error_set(err, FITD_EFORMAT, "wrong_type", "rows[%zu] is not an object",
				      r);
	for (size_t c = 0; c < d->ncolumns; c++) {
		const json_t *v = json_object_get(row, d->columns[c].name);

		named += v != NULL;
		if (!set_cell(b, &d->columns[c], c, r, v, err))
			return FITD_EFORMAT;
	}
	return check_row_keys(d, excluded, row, r, named, err);
}

/* The body's "explain" into *explain when present; FITD_EFORMAT when not a boolean. */
static int explain_member(const json_t *doc, bool *explain, struct fitd_error *err)
{
	const json_t *v = json_object_get(doc, "explain");

	if (v == NULL)
		return FITD_OK;
	if (!json_is_boolean(v))
		return fitd_error_set(err, FITD_EFORMAT, "wrong_type",
				      "explain must be true or false");
	*explain = *explain || json_is_true(v);
	return FITD_OK;
}

static int frame_from_json(struct api__request *req, const struct fit_model_desc *d,
			   const json_t *excluded, bool *explain, struct fit_frame **out,
			   struct fitd_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len,
				 JSON_REJECT_DUPLICATES, &jerr);
	json_t *rows = json_object_get(doc, "rows");
	struct fit_frame_builder *b = NULL;
	size_t n = json_array_size(rows);
	int rc = FITD_OK;

	if (doc == NULL && json_error_code(&jerr) == json_error_out_of_memory)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "rows: out of memory");
	else if (doc == NULL)
		rc = fitd_error_set(err, FITD_EFORMAT, "malformed_json", "line %d: %s", jerr.line,
				    jerr.text);
	else if (!json_is_array(rows))
		rc = fitd_error_set(err, FITD_EFORMAT, "wrong_type",
				    "the body must be {\"rows\": [{column: value, ...}, ...]}");
	else if (n == 0)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "no_rows",
				    "rows is empty: give one row at least, as a CSV gives one "
				    "after its header");
	else if (n > req->srv->opt.max_predict_rows)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "too_many_rows",
				    "%zu rows exceed the limit of %u", n,
				    req->srv->opt.max_predict_rows);
	if (rc == FITD_OK)
		rc = explain_member(doc, explain, err);
	if (rc == FITD_OK)
		rc = fit_frame_builder_new(n, d->ncolumns, &b);
	for (size_t c = 0; rc == FITD_OK && c < d->ncolumns; c++)
		rc = fit_frame_builder_column(b, c, d->columns[c].name, d->columns[c].type);
	for (size_t r = 0; rc == FITD_OK && r < n; r++)
		rc = row_to_frame(b, d, excluded, json_array_get(rows, r), r, err);
	if (rc == FITD_OK) {
		rc = fit_frame_builder_finish(b, out);
		b = NULL;
	}
	fit_frame_builder_free(b);
	json_decref(doc);
	return rc;
}

/* The body's media type (any case): JSON, CSV (text/csv, or none given), or neither. */
enum body_type {
	BODY_JSON,
	BODY_CSV,
	BODY_OTHER
};

static enum body_type body_type(struct api__request *req)
{
	const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);

	if (type == NULL || api__header_is(type, "text/csv"))
		return BODY_CSV;
	return api__header_is(type, "application/json") ? BODY_JSON : BODY_OTHER;
}

/* ?explain=true|false into *explain; false with a reply for another value. */
static bool explain_query(struct api__request *req, bool *explain)
{
	const char *v = api__query(req, "explain");

	*explain = v != NULL && strcmp(v, "true") == 0;
	if (v == NULL || *explain || strcmp(v, "false") == 0)
		return true;
	api__reply_fail(req, 400, "invalid_parameter", "explain must be true or false");
	return false;
}

int api__predict_with(struct api__request *req, const char *id, bool retry, const json_t *extra)
{
	struct store_csv_options csv = req->srv->opt.csv;
	struct fitd_error err = { 0 };
	struct fit_frame *frame = NULL;
	struct model_entry *e;
	const json_t *excluded;
	json_t *out = NULL;
	bool explain = false;
	int rc;

	if (!explain_query(req, &explain))
		return FITD_OK;
	if (body_type(req) == BODY_OTHER) {
		api__reply_fail(req, 415, "unsupported_media_type",
				"the body must be text/csv or application/json");
		return FITD_OK;
	}
	if (!api__body_unencoded(req, "the rows"))
		return FITD_OK;
	e = model_get(req->srv, id, &err);
	if (e == NULL && retry && err.status == FITD_ENOTFOUND)
		return FITD_ENOTFOUND;
	if (e == NULL) {
		api__reply_error(req, &err);
		return FITD_OK;
	}
	excluded = json_object_get(e->doc, "excluded_columns");
	csv.max_rows = req->srv->opt.max_predict_rows;
	if (req->body.len == 0)
		rc = fitd_error_set(&err, FITD_EFORMAT, "empty_body",
				    "the body is empty; send CSV rows or {\"rows\": [...]}");
	else if (body_type(req) == BODY_JSON)
		rc = frame_from_json(req, fit_model_desc(e->model), excluded, &explain, &frame,
				     &err);
	else
		rc = worker_predict_frame_csv(e->model, excluded, req->body.data, req->body.len,
					      &csv, &frame, &err);
	if (rc == FITD_OK)
		rc = worker_predict(e->model, frame, 1, &out, &err);
	if (rc == FITD_OK && explain)
		rc = worker_explain(e->model, frame, 1, 1, out, &err);
	/* The frame builder returns a status without detail: never answer it as 200 "ok". */
	if (rc != FITD_OK && err.status == FITD_OK)
		fitd_error_set(&err, rc, NULL, "rows: %s", fitd_strerror(rc));
	if (rc == FITD_OK && extra != NULL && json_object_update(out, (json_t *)extra) != 0)
		rc = fitd_error_set(&err, FITD_ENOMEM, NULL, "prediction: out of memory");
	if (rc == FITD_OK) {
		api__reply_json(req, 200, out);
	} else {
		json_decref(out);
		api__reply_error(req, &err);
	}
	if (rc == FITD_OK && req->response != NULL)
		MHD_add_response_header(req->response, "Fitd-Model", id);
	fit_frame_free(frame);
	model_put(req->srv, e);
	return FITD_OK;
}

void api__models_predict(struct api__request *req)
{
	if (model_id_param(req))
		api__predict_with(req, req->params[0], false, NULL);
}

/*
 * datasets.c - POST/GET/DELETE /v1/datasets: the upload streams into the
 * store as it arrives, is parsed once complete, and is answered 201 only
 * after the store committed it.
 */
#include "api/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "worker/json.h"
#include "worker/spec_facts.h"

#define NAME_MAX_BYTES 256
#define LEVELS_SHOWN   100

static void upload_cleanup(void *state)
{
	store_upload_free(state);
}

/* A dataset name: 1..256 bytes of UTF-8 without control characters. */
static bool name_ok(const char *name)
{
	size_t len = strlen(name);
	json_t *probe;

	if (len == 0 || len > NAME_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	probe = json_stringn(name, len); /* NULL when not valid UTF-8 */
	json_decref(probe);
	return probe != NULL;
}

int api__datasets_begin(struct api__request *req)
{
	const char *name = api__query(req, "name");
	const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	struct store_upload *up;
	struct fitd_error err;
	int rc;

	if (name == NULL || !name_ok(name)) {
		api__reply_fail(req, 400, "invalid_name",
				"give ?name= of 1 to %d bytes of UTF-8 without control characters",
				NAME_MAX_BYTES);
		return FITD_EINVAL;
	}
	if (type != NULL && strncmp(type, "multipart/", 10) == 0) {
		api__reply_fail(req, 415, "unsupported_media_type",
				"send the raw CSV as the body (curl --data-binary @file.csv "
				"-H 'Content-Type: text/csv'), not a multipart form");
		return FITD_EINVAL;
	}
	if (req->content_length == 0) {
		api__reply_fail(req, 400, "empty_body",
				"the body is empty; send a CSV with a header row");
		return FITD_EINVAL;
	}
	rc = store_upload_begin(req->srv->store, req->content_length, &up, &err);
	if (rc != FITD_OK) {
		api__reply_error(req, &err);
		return rc;
	}
	req->state = up;
	req->cleanup = upload_cleanup;
	return FITD_OK;
}

int api__datasets_chunk(struct api__request *req, const char *data, size_t len)
{
	struct fitd_error err;
	int rc = store_upload_write(req->state, data, len, &err);

	if (rc != FITD_OK)
		api__reply_error(req, &err);
	return rc;
}

static json_t *column_json(const struct fit_column *c)
{
	json_t *col = json_pack("{s:s, s:s, s:I}", "name", c->name, "type",
				c->type == FIT_COL_NUMERIC ? "numeric" : "categorical", "missing",
				(json_int_t)c->missing);
	json_t *levels;

	if (col == NULL || c->type != FIT_COL_CATEGORICAL)
		return col;
	levels = json_array();
	for (size_t i = 0; i < c->nlevels && i < LEVELS_SHOWN && levels != NULL; i++)
		levels = worker_json_append(levels, json_string(c->levels[i]));
	if (json_object_set_new(col, "levels", levels) != 0 ||
	    json_object_set_new(col, "n_levels", json_integer((json_int_t)c->nlevels)) != 0) {
		json_decref(col);
		return NULL;
	}
	return col;
}

static char *columns_json(const struct fit_frame *frame)
{
	json_t *cols = json_array();
	char *text;

	for (size_t i = 0; i < frame->ncols && cols != NULL; i++)
		cols = worker_json_append(cols, column_json(&frame->cols[i]));
	text = json_dumps(cols, JSON_COMPACT);
	json_decref(cols);
	return text;
}

static json_t *dataset_json(const struct store_dataset *d)
{
	char created[32];
	json_error_t jerr;
	json_t *columns = json_loads(d->columns_json, 0, &jerr);

	api__format_time(d->created_at, created);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:o}", "id", d->id, "name", d->name,
			 "rows", (json_int_t)d->rows, "cols", (json_int_t)d->cols, "bytes",
			 (json_int_t)d->bytes, "sha256", d->sha256, "created_at", created,
			 "columns", columns ? columns : json_array());
}

void api__datasets_create(struct api__request *req)
{
	struct store_upload *up = req->state;
	struct store_dataset d;
	const struct fit_frame *frame;
	struct fitd_error err;
	char *cols;
	int rc;

	rc = store_upload_parse(up, &req->srv->opt.csv, &frame, &err);
	if (rc == FITD_OK)
		rc = worker_dataset_facts_upload(up, frame, &err); /* what jobs are validated on */
	if (rc == FITD_OK) {
		cols = columns_json(frame);
		rc = cols ? store_upload_commit(up, api__query(req, "name"), cols, &d, &err)
			  : fitd_error_set(&err, FITD_ENOMEM, NULL, "column description");
		free(cols);
	}
	/* The temporary file goes before the answer: a client never sees it. */
	store_upload_free(up);
	req->state = NULL;
	if (rc != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("dataset_created", "id=%s rows=%lld cols=%lld bytes=%lld", d.id,
		      (long long)d.rows, (long long)d.cols, (long long)d.bytes);
	api__reply_json(req, 201, dataset_json(&d));
	store_dataset_release(&d);
}

/* Replies 400 and returns false unless the {id} param is a dataset id. */
static bool dataset_id_param(struct api__request *req)
{
	if (store_id_valid("ds", req->params[0]))
		return true;
	api__reply_fail(req, 400, "invalid_id",
			"'%.64s' is not a dataset id (ds_ and 20 hex digits)", req->params[0]);
	return false;
}

void api__datasets_get(struct api__request *req)
{
	struct store_dataset d;
	struct fitd_error err;

	if (!dataset_id_param(req))
		return;
	if (store_dataset_get(req->srv->store, req->params[0], &d, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	api__reply_json(req, 200, dataset_json(&d));
	store_dataset_release(&d);
}

void api__datasets_list(struct api__request *req)
{
	struct store_dataset *items;
	struct fitd_error err;
	const char *after;
	size_t limit, n;
	bool more;
	json_t *arr;

	if (!api__page_params(req, &limit, &after))
		return;
	if (store_dataset_list(req->srv->store, after, limit, &items, &n, &more, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, dataset_json(&items[i]));
		store_dataset_release(&items[i]);
	}
	api__reply_json(req, 200,
			json_pack("{s:o, s:o}", "items", arr, "next_after",
				  more && n > 0 ? json_string(items[n - 1].id) : json_null()));
	free(items);
}

void api__datasets_delete(struct api__request *req)
{
	struct fitd_error err;

	if (!dataset_id_param(req))
		return;
	if (store_dataset_delete(req->srv->store, req->params[0], &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("dataset_deleted", "id=%s", req->params[0]);
	api__reply_json(req, 200, json_pack("{s:s, s:b}", "id", req->params[0], "deleted", 1));
}

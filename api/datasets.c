/*
 * datasets.c - POST/GET/DELETE /v1/datasets: the upload streams into the
 * store as it arrives (inflated first when it is gzip), is parsed once
 * complete, and is answered 201 only after the store committed it.
 *
 * The table's delimiter is the comma unless ?delimiter= names another
 * (the character, percent-encoded or not, or its name: comma, semicolon,
 * tab, pipe) or the Content-Type is text/tab-separated-values; the two
 * must agree when both are given. Content-Encoding may be gzip (or
 * x-gzip) or identity; the limit on uploads applies to the inflated
 * bytes too, and the dataset's bytes and sha256 are those of the CSV as
 * inflated, so a table has the same sha256 however it was sent.
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
#define TSV_TYPE       "text/tab-separated-values"

/* An upload in progress (req->state). */
struct upload {
	struct store_upload *up;
	struct api__gunzip *gz; /* NULL: the body is the CSV itself */
	char delimiter;
};

static void upload_cleanup(void *state)
{
	struct upload *u = state;

	if (u == NULL)
		return;
	api__gunzip_free(u->gz);
	store_upload_free(u->up);
	free(u);
}

/*
 * A dataset name: 1..256 bytes of UTF-8 without control characters. Checked
 * without allocating, so that running out of memory is never an invalid name.
 */
static bool name_ok(const char *name)
{
	char copy[NAME_MAX_BYTES + 1];
	size_t len = strlen(name);

	if (len == 0 || len > NAME_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	memcpy(copy, name, len + 1);
	fitd_utf8_scrub(copy); /* drops what is not UTF-8 */
	return strlen(copy) == len;
}

/* Reads Content-Encoding into *gzip; false after replying 415. */
static bool take_encoding(struct api__request *req, bool *gzip)
{
	const char *enc = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_ENCODING);

	*gzip = api__header_is(enc, "gzip") || api__header_is(enc, "x-gzip");
	if (*gzip || api__encoding_identity(enc))
		return true;
	api__reply_fail(req, 415, "unsupported_encoding",
			"Content-Encoding '%.32s' is not taken: send the CSV as it is, or "
			"gzipped with Content-Encoding: gzip",
			enc);
	return false;
}

/* The delimiter from ?delimiter= and the Content-Type; false after replying 400. */
static bool take_delimiter(struct api__request *req, const char *type, char *d)
{
	const char *v = api__query(req, "delimiter");
	bool tsv = api__header_is(type, TSV_TYPE);

	*d = tsv ? '\t' : ',';
	if (v == NULL)
		return true;
	*d = store_csv_delimiter_parse(v);
	if (*d == 0) {
		api__reply_fail(req, 400, "invalid_parameter",
				"delimiter must be ',', ';', '|' or a tab (%%09), or its name: "
				"comma, semicolon, pipe, tab");
		return false;
	}
	if (tsv && *d != '\t') {
		api__reply_fail(req, 400, "conflicting_delimiter",
				"the Content-Type is " TSV_TYPE " (tab) but ?delimiter= says %s; "
				"give one or make them agree",
				store_csv_delimiter_name(*d));
		return false;
	}
	return true;
}

/* Checks the request's name, media type, encoding and delimiter; false after replying. */
static bool check_upload(struct api__request *req, bool *gzip, char *delimiter)
{
	const char *name = api__query(req, "name");
	const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);

	if (name == NULL || !name_ok(name)) {
		api__reply_fail(req, 400, "invalid_name",
				"give ?name= of 1 to %d bytes of UTF-8 without control characters",
				NAME_MAX_BYTES);
		return false;
	}
	if (type != NULL && strncmp(type, "multipart/", 10) == 0) {
		api__reply_fail(req, 415, "unsupported_media_type",
				"send the raw CSV as the body (curl --data-binary @file.csv "
				"-H 'Content-Type: text/csv'), not a multipart form");
		return false;
	}
	if (!take_encoding(req, gzip) || !take_delimiter(req, type, delimiter))
		return false;
	if (req->content_length == 0) {
		api__reply_fail(req, 400, "empty_body",
				"the body is empty; send a CSV with a header row");
		return false;
	}
	return true;
}

int api__datasets_begin(struct api__request *req)
{
	struct upload *u;
	struct fitd_error err;
	bool gzip = false;
	char delimiter = ',';
	int rc;

	if (!check_upload(req, &gzip, &delimiter))
		return FITD_EINVAL;
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		api__reply_oom(req);
		return FITD_ENOMEM;
	}
	u->delimiter = delimiter;
	req->state = u;
	req->cleanup = upload_cleanup;
	rc = store_upload_begin(req->srv->store, req->content_length, &u->up, &err);
	if (rc != FITD_OK) {
		api__reply_error(req, &err);
		return rc;
	}
	if (gzip && api__gunzip_new(req->srv->opt.max_upload_bytes, &u->gz) != FITD_OK) {
		api__reply_oom(req);
		return FITD_ENOMEM;
	}
	return FITD_OK;
}

/* The sink of a gzip body: the inflated bytes go to the store's upload. */
static int write_inflated(void *up, const char *data, size_t len, struct fitd_error *err)
{
	return store_upload_write(up, data, len, err);
}

int api__datasets_chunk(struct api__request *req, const char *data, size_t len)
{
	struct upload *u = req->state;
	struct fitd_error err;
	int rc = u->gz != NULL ? api__gunzip_feed(u->gz, data, len, write_inflated, u->up, &err)
			       : store_upload_write(u->up, data, len, &err);

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
	struct upload *u = req->state;
	struct store_csv_options csv = req->srv->opt.csv;
	struct store_dataset d;
	const struct fit_frame *frame;
	struct fitd_error err;
	char *cols;
	int rc = u->gz != NULL ? api__gunzip_finish(u->gz, &err) : FITD_OK;

	csv.delimiter = u->delimiter;
	csv.delimiter_param = "?delimiter=";
	if (rc == FITD_OK)
		rc = store_upload_parse(u->up, &csv, &frame, &err);
	if (rc == FITD_OK)
		rc = worker_dataset_facts_upload(u->up, frame,
						 &err); /* what jobs are validated on */
	if (rc == FITD_OK) {
		cols = columns_json(frame);
		rc = cols ? store_upload_commit(u->up, api__query(req, "name"), cols, &d, &err)
			  : fitd_error_set(&err, FITD_ENOMEM, NULL, "column description");
		free(cols);
	}
	/* The temporary file goes before the answer: a client never sees it. */
	upload_cleanup(u);
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

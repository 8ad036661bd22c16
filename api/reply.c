/*
 * reply.c - JSON replies, the JSON error format and the one table that maps
 * fitd statuses to HTTP statuses.
 *
 * A reply's text is dumped straight into one struct fitd_buf capped at
 * API__REPLY_MAX, which libmicrohttpd then owns and frees.
 */
#include "api/internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/base/buf.h"

/*
 * The HTTP status of each fitd status, indexed by -status. A row left out
 * reads 0, which api__http_status() answers as 500; tests/api/test_reply.c
 * walks FITD_STATUS_MAP and fails on a status without a row, or with a
 * row that is not a 4xx or 5xx.
 */
static const unsigned http_of_status[FITD__IDX_COUNT] = {
	[FITD__IDX_OK] = 200,
	[FITD__IDX_EINVAL] = 400,
	[FITD__IDX_ENOMEM] = 503,
	[FITD__IDX_EIO] = 500,
	[FITD__IDX_ENOSPC] = 507,
	[FITD__IDX_ENOTFOUND] = 404,
	[FITD__IDX_ECONFLICT] = 409,
	[FITD__IDX_ETOOBIG] = 413,
	[FITD__IDX_ELENGTH] = 411,
	[FITD__IDX_EFORMAT] = 400,
	[FITD__IDX_EUNPROCESSABLE] = 422,
	[FITD__IDX_ESTATE] = 409,
	[FITD__IDX_ECANCELLED] = 409,
	[FITD__IDX_ETIMEOUT] = 504,
	[FITD__IDX_EDIVERGED] = 422,
	[FITD__IDX_ESTORE] = 500,
	[FITD__IDX_ESCHEMA] = 500,
	[FITD__IDX_EUNAVAILABLE] = 503,
	[FITD__IDX_ELIMIT] = 429,
	[FITD__IDX_EINTERNAL] = 500,
};

unsigned api__http_status_row(int status)
{
	if (status > 0 || status <= -FITD__IDX_COUNT) /* not -status: INT_MIN has no negation */
		return 0;
	return http_of_status[-status];
}

unsigned api__http_status(int status)
{
	unsigned http = api__http_status_row(status);

	/* A value outside the map, or a status added to it without a row here: never HTTP 0. */
	return http != 0 ? http : 500;
}

static const char oom_body[] = "{\"error\":{\"code\":\"out_of_memory\","
			       "\"message\":\"out of memory; retry later\"}}\n";

/* The 503 out_of_memory answer, from static memory; NULL when even that fails. */
static struct MHD_Response *oom_response(void)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    sizeof(oom_body) - 1, (void *)oom_body, MHD_RESPMEM_PERSISTENT);

	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return r;
}

void api__reply_oom(struct api__request *req)
{
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	req->response = oom_response();
	req->status = 503;
}

enum MHD_Result api__reply_oom_now(struct MHD_Connection *conn)
{
	struct MHD_Response *r = oom_response();
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, 503, r);
	MHD_destroy_response(r);
	return ret;
}

/* jansson's dump callback: appends to a struct fitd_buf, and stops at its first failure. */
static int dump_to_buf(const char *p, size_t n, void *buf)
{
	return fitd_buf_add(buf, p, n) == FITD_OK ? 0 : -1;
}

/*
 * body as compact JSON and a newline (it keeps curl output readable; JSON
 * parsers ignore it) into text, capped at API__REPLY_MAX. FITD_OK,
 * FITD_ETOOBIG or FITD_ENOMEM (also for a NULL body: building it ran out).
 */
static int dump_body(const json_t *body, struct fitd_buf *text)
{
	if (body != NULL && json_dump_callback(body, dump_to_buf, text, JSON_COMPACT) == 0)
		return fitd_buf_add(text, "\n", 1);
	/* jansson fails on its own too: its loop check allocates. */
	return fitd_buf_status(text) != FITD_OK ? fitd_buf_status(text) : FITD_ENOMEM;
}

void api__reply_json(struct api__request *req, unsigned status, json_t *body)
{
	struct fitd_buf text;
	size_t len;
	char *data;
	int rc;

	fitd_buf_init(&text, API__REPLY_MAX);
	rc = dump_body(body, &text);
	json_decref(body);
	len = text.len;
	data = rc == FITD_OK ? fitd_buf_take(&text) : NULL;
	fitd_buf_release(&text);
	if (rc == FITD_ETOOBIG) {
		api__reply_fail(req, 500, "internal_error",
				"the answer would pass the limit of %zu bytes of one reply",
				(size_t)API__REPLY_MAX);
		return;
	}
	if (data == NULL)
		goto oom;
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	req->response = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (req->response == NULL)
		goto oom;
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	req->status = status;
	return;
oom:
	free(data);
	api__reply_oom(req);
}

static void reply_error_body(struct api__request *req, unsigned status, const char *code,
			     const char *message)
{
	json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);

	if (body == NULL) /* message was not valid UTF-8: keep the code, drop the text */
		body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", code);
	api__reply_json(req, status, body);
}

void api__reply_error(struct api__request *req, const struct fitd_error *err)
{
	unsigned status = api__http_status(err->status);
	const char *code = err->code[0] ? err->code : fitd_status_code(err->status);
	const char *message = err->message[0] ? err->message : fitd_strerror(err->status);

	reply_error_body(req, status, code, message);
}

void api__reply_fail(struct api__request *req, unsigned http_status, const char *code,
		     const char *fmt, ...)
{
	char message[FITD_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fitd_utf8_scrub(message);
	reply_error_body(req, http_status, code, message);
}

const char *api__query(struct api__request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool api__header_is(const char *value, const char *token)
{
	size_t n = strlen(token);

	if (value == NULL)
		return false;
	value += strspn(value, " \t");
	if (strncasecmp(value, token, n) != 0)
		return false;
	value += n;
	value += strspn(value, " \t");
	return *value == '\0' || *value == ';';
}

bool api__encoding_identity(const char *enc)
{
	return enc == NULL || enc[strspn(enc, " \t")] == '\0' || api__header_is(enc, "identity");
}

bool api__body_unencoded(struct api__request *req, const char *what)
{
	const char *enc = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_ENCODING);

	if (api__encoding_identity(enc))
		return true;
	api__reply_fail(req, 415, "unsupported_encoding",
			"Content-Encoding '%.32s' is not taken here: send %s as they are", enc,
			what);
	return false;
}

bool api__page_params(struct api__request *req, size_t *limit, const char **after)
{
	const char *text = api__query(req, "limit");

	*limit = 50;
	*after = api__query(req, "after");
	if (text != NULL) {
		char *end;
		unsigned long v = strtoul(text, &end, 10);

		if (text[0] < '0' || text[0] > '9' || *end != '\0' || v < 1 || v > 1000) {
			api__reply_fail(req, 400, "invalid_parameter",
					"limit must be an integer from 1 to 1000");
			return false;
		}
		*limit = v;
	}
	if (*after != NULL && (*after)[0] == '\0') {
		api__reply_fail(req, 400, "invalid_parameter", "after must not be empty");
		return false;
	}
	return true;
}

void api__format_time(int64_t ms, char buf[32])
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

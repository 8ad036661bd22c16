/*
 * internal.h - what the api/ files share: the request, the route table and
 * the reply helpers. Nothing outside api/ includes it.
 */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "api/ratelimit.h"
#include "daemon/base/buf.h"

#define API_MAX_PARAMS 4
#define API_ROUTES_MAX 24 /* entries of the routing table; sizes the request counters */
#define API_REPLY_MAX  ((size_t)1 << 30) /* bytes of one JSON answer; the client reads as many */

struct api_stream;

/* The open event streams; see events.c. */
struct api_hub {
	pthread_mutex_t lock;
	struct api_stream *streams; /* guarded by lock */
	unsigned count;		    /* guarded by lock */
	bool closing;		    /* guarded by lock */
};

struct api_model_cache;
struct api_metrics;

struct api_server {
	struct api_options opt; /* opt.tokens is moved to tokens */
	struct api_hub hub;
	pthread_rwlock_t tokens_lock;
	struct api_tokens *tokens;	/* guarded by tokens_lock; NULL: no token file, all open */
	struct api_ratelimit *ip_limit; /* per client address; NULL: no limit */
	struct api_ratelimit *token_limit; /* per token name; NULL: no limit */
	struct api_model_cache *models;
	struct api_metrics *http; /* request counters and durations; see metrics.c */
	struct store *store;
	struct MHD_Daemon *mhd;
	uint16_t port;
	atomic_bool ready;
	atomic_bool stopping; /* api_server_stop() began: 503 shutting_down, connections close */
};

struct api_request;

/* Runs once the whole body has arrived; must leave a reply in req. */
typedef void (*api_handler_fn)(struct api_request *req);

/* Streaming bodies: begin once headers are in, chunk per piece of body. */
typedef int (*api_begin_fn)(struct api_request *req);
typedef int (*api_chunk_fn)(struct api_request *req, const char *data, size_t len);

enum api_body {
	API_BODY_NONE,	 /* a body is read and ignored */
	API_BODY_JSON,	 /* buffered up to max_json_bytes */
	API_BODY_LARGE,	 /* buffered up to max_predict_bytes */
	API_BODY_STREAM, /* handed to begin/chunk as it arrives */
};

struct api_route {
	const char *method;
	const char *pattern;  /* "/v1/datasets/{id}": {name} matches one segment */
	enum api_scope scope; /* what the token needs; API_OPEN: none */
	enum api_body body;
	bool needs_store; /* 503 not_ready until the server is ready */
	api_handler_fn handler;
	api_begin_fn begin;
	api_chunk_fn chunk;
};

struct api_request {
	struct api_server *srv;
	struct MHD_Connection *conn;
	const struct api_route *route;
	const struct api_route *path_route; /* first route of the path under any method, or NULL */
	const char *method;
	char *path;
	char token[API_TOKEN_NAME_MAX + 1]; /* the name of the token presented; "" when none */
	const char *params[API_MAX_PARAMS]; /* point into params_buf */
	size_t nparams;
	char *params_buf;

	uint64_t content_length;
	bool has_content_length;
	struct fitd_buf
	    body; /* API_BODY_JSON, _LARGE: capped at the route's limit; data NULL if empty */

	void *state; /* the route's own, freed by cleanup */
	void (*cleanup)(void *state);

	struct MHD_Response *response; /* the reply, once decided */
	unsigned status;
	int64_t started_ns;
};

/* ---- routing (router.c) ---- */

enum api_match {
	API_MATCH_FOUND,
	API_MATCH_NO_PATH,
	API_MATCH_WRONG_METHOD,
	API_MATCH_NO_MEMORY, /* found, but its params could not be captured */
};

/*
 * Finds the route for method and path; on API_MATCH_FOUND fills the captured
 * params into req. On API_MATCH_WRONG_METHOD writes the allowed methods,
 * comma separated, into allow. Either way req->path_route is the first
 * route whose pattern matches the path (the metrics' route label).
 */
enum api_match api_route_match(const char *method, const char *path, struct api_request *req,
			       char *allow, size_t allow_cap);

const struct api_route *api_routes(size_t *n);

/* ---- access (access.c) ---- */

/*
 * Runs before the route: the client address's rate limit (except on open
 * routes), then, on a matched route that is not open, the bearer token,
 * its scope and its rate limit. Sets req->token. Returns false when it set
 * a reply (401, 403 or 429).
 */
bool api__access_check(struct api_request *req);

/*
 * Two checks server.c makes before any body, outside it so that the router's
 * fuzz harness can call them too. A Content-Length value must be a plain
 * decimal number that fits in *out; a query argument (as libmicrohttpd hands
 * it over: unescaped, with its length) must hide no NUL byte that C strings
 * would cut at.
 */
bool api__content_length_parse(const char *v, uint64_t *out);
bool api__query_arg_clean(const char *key, size_t key_size, const char *value, size_t value_size);

/* ---- replies (reply.c) ---- */

/*
 * Sets the reply to status with the JSON body (takes the reference). A NULL
 * body, or running out of memory on the way, gives the 503 out_of_memory
 * reply instead; a body whose text would pass API_REPLY_MAX bytes, a 500
 * internal_error.
 */
void api_reply_json(struct api_request *req, unsigned status, json_t *body);

/*
 * Sets the reply to 503 {"error":{"code":"out_of_memory",...}} from a static
 * body. req->status is set even when not even the response could be made;
 * the connection is then closed without an answer.
 */
void api_reply_oom(struct api_request *req);

/*
 * Queues the same 503 on conn at once, for a request that could not even
 * get its struct api_request; MHD_NO (close) when that fails too.
 */
enum MHD_Result api__reply_oom_now(struct MHD_Connection *conn);

/* Sets a JSON error reply; the HTTP status comes from the status table. */
void api_reply_error(struct api_request *req, const struct fitd_error *err);

/* Shorthand: a JSON error with an explicit HTTP status, code and message. */
void api_reply_fail(struct api_request *req, unsigned http_status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The HTTP status of a fitd status, from the one table in reply.c: 200 for
 * FITD_OK, a 4xx or 5xx for each FITD_E*, and 500 for any other value or
 * for a status the table has no row for. Never 0.
 */
unsigned api_http_status(int status);

/* The table's row for status: its HTTP status, or 0 when it has none (what the tests check). */
unsigned api__http_status_row(int status);

/* A query parameter, or NULL. */
const char *api_query(struct api_request *req, const char *name);

/* Reads limit (1..1000, default 50) and after from the query; replies 400 and returns false on bad values. */
bool api_page_params(struct api_request *req, size_t *limit, const char **after);

/* RFC 3339 UTC text of a time in ms since the epoch, into buf (32 bytes). */
void api_format_time(int64_t ms, char buf[32]);

/* Parses the JSON body; replies 400 and returns NULL when it is not a JSON object. */
json_t *api_body_object(struct api_request *req);

/* Replies 400 and returns false unless the {id} param is a job id. */
bool api_job_id_param(struct api_request *req);

/* Resumes every suspended stream so it ends; before the daemon stops. */
void api__events_close(struct api_server *srv);

/* ---- the model cache (models.c) ---- */

int api__models_new(unsigned capacity, struct api_model_cache **out);
void api__models_free(struct api_model_cache *c);

/* ---- request metrics (metrics.c) ---- */

int api__metrics_new(struct api_metrics **out);
void api__metrics_free(struct api_metrics *m);

/* Counts a reply as it is queued, ns after the request began. Any MHD thread, lock-free. */
void api__metrics_request(struct api_request *req, int64_t ns);

/* ---- handlers ---- */

void api_health_get(struct api_request *req);
void api_ready_get(struct api_request *req);
void api_metrics_get(struct api_request *req);
void api_openapi_get(struct api_request *req);

int api_datasets_begin(struct api_request *req);
int api_datasets_chunk(struct api_request *req, const char *data, size_t len);
void api_datasets_create(struct api_request *req);
void api_datasets_list(struct api_request *req);
void api_datasets_get(struct api_request *req);
void api_datasets_delete(struct api_request *req);

void api_jobs_create(struct api_request *req);
void api_jobs_list(struct api_request *req);
void api_jobs_get(struct api_request *req);
void api_jobs_cancel(struct api_request *req);
void api_jobs_trials(struct api_request *req);
void api_events_get(struct api_request *req);

void api_models_get(struct api_request *req);
void api_models_predict(struct api_request *req);

#endif

/*
 * internal.h - what the api/ files share: the request, the route table and
 * the reply helpers. Nothing outside api/ includes it.
 *
 * Names in api/ follow one rule. api_ is the public prefix: what api.h
 * (with the auth.h it includes) exports to the daemon, and struct
 * api_server, which api.h declares opaque and this header defines.
 * api__ (API__ for macros and enum constants) marks what the files of
 * api/ share only among themselves: everything declared here and in
 * ratelimit.h, types included. Names used by one file only are static and
 * carry no prefix. So a reader knows from the name alone whether it may
 * leave api/, and `grep -rn '\bapi_[a-z]' api --include='*.[ch]'` finds
 * only the public interface.
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

#define API__MAX_PARAMS 4
#define API__ROUTES_MAX 32 /* entries of the routing table; sizes the request counters */
#define API__REPLY_MAX	((size_t)1 << 30) /* bytes of one JSON answer; the client reads as many */
/*
 * Bytes of formatted events an event stream holds (events.c): a batch stops
 * early at this cap and the rest follows once the buffer is drained, so
 * memory stays bounded per stream; only a single event larger than the
 * cap ends the stream in error. Events are a few hundred bytes.
 */
#define API__STREAM_BUF_MAX ((size_t)1 << 20)
/*
 * A reply decided before its request's body is in (a 413 from the
 * Content-Length, a 401, a 404, a 400 on the query) waits while the body is
 * read and dropped, then goes out: a client that sends its whole body
 * before it reads (Python's urllib and requests do) reads the answer
 * instead of a reset connection. The drain is bounded: a body declared
 * larger than API__DRAIN_MAX bytes is answered at once and the connection
 * closed (a client that reads while it sends, as curl does, still sees the
 * answer), and one that keeps coming past API__DRAIN_MAX bytes or
 * API__DRAIN_NS after the decision is cut without an answer. A request
 * with "Expect: 100-continue" is answered at once: its client waits and
 * sends no body.
 */
#define API__DRAIN_MAX ((uint64_t)64 << 20)
#define API__DRAIN_NS  ((int64_t)30 * 1000 * 1000 * 1000)

struct api__stream;

/* The open event streams; see events.c. */
struct api__hub {
	pthread_mutex_t lock;
	struct api__stream *streams; /* guarded by lock */
	unsigned count;		     /* guarded by lock */
	bool closing;		     /* guarded by lock */
};

struct api__model_cache;
struct api__metrics;

struct api_server {
	struct api_options opt; /* opt.tokens is moved to tokens */
	struct api__hub hub;
	pthread_rwlock_t tokens_lock;
	struct api_tokens *tokens;	 /* guarded by tokens_lock; NULL: no token file, all open */
	struct api__ratelimit *ip_limit; /* per client address; NULL: no limit */
	struct api__ratelimit *token_limit; /* per token name; NULL: no limit */
	/* The prediction routes' own buckets, per address and per token (access.c); NULL: none */
	struct api__ratelimit *predict_ip_limit, *predict_token_limit;
	struct api__model_cache *models;
	struct api__metrics *http; /* request counters and durations; see metrics.c */
	struct store *store;
	struct MHD_Daemon *mhd;
	uint16_t port;
	atomic_bool ready;
	atomic_bool stopping; /* api_server_stop() began: 503 shutting_down, connections close */
};

struct api__request;

/* Runs once the whole body has arrived; must leave a reply in req. */
typedef void (*api__handler_fn)(struct api__request *req);

/* Streaming bodies: begin once headers are in, chunk per piece of body. */
typedef int (*api__begin_fn)(struct api__request *req);
typedef int (*api__chunk_fn)(struct api__request *req, const char *data, size_t len);

enum api__body {
	API__BODY_NONE,	  /* a body is read and ignored */
	API__BODY_JSON,	  /* buffered up to max_json_bytes */
	API__BODY_LARGE,  /* buffered up to max_predict_bytes */
	API__BODY_STREAM, /* handed to begin/chunk as it arrives */
};

struct api__route {
	const char *method;
	const char *pattern;  /* "/v1/datasets/{id}": {name} matches one segment */
	enum api_scope scope; /* what the token needs; API_OPEN: none */
	enum api__body body;
	bool needs_store; /* 503 not_ready until the server is ready */
	api__handler_fn handler;
	api__begin_fn begin;
	api__chunk_fn chunk;
	const char *params; /* the query parameters it takes, separated by spaces; NULL: none */
};

struct api__request {
	struct api_server *srv;
	struct MHD_Connection *conn;
	const struct api__route *route;
	const struct api__route *path_route; /* first route of the path under any method, or NULL */
	const char *method;
	char *path;
	char token[API_TOKEN_NAME_MAX + 1]; /* the name of the token presented; "" when none */
	unsigned
	    scopes; /* its scopes (enum api_scope mask), all when no token file; 0 on open routes */
	const char *params[API__MAX_PARAMS]; /* point into params_buf */
	size_t nparams;
	char *params_buf;

	uint64_t content_length;
	bool has_content_length;
	/* API__BODY_JSON and _LARGE: capped at the route's limit; body.data is NULL while empty */
	struct fitd_buf body;

	void *state; /* the route's own, freed by cleanup */
	void (*cleanup)(void *state);

	struct MHD_Response *response; /* the reply, once decided */
	unsigned status;
	int64_t started_ns;
	/* A reply decided before the body ended: body bytes dropped since, and until when */
	uint64_t drained;
	int64_t drain_until_ns;
};

/* ---- routing (router.c) ---- */

enum api__match {
	API__MATCH_FOUND,
	API__MATCH_NO_PATH,
	API__MATCH_WRONG_METHOD,
	API__MATCH_NO_MEMORY, /* found, but its params could not be captured */
};

/*
 * Finds the route for method and path; on API__MATCH_FOUND fills the captured
 * params into req. On API__MATCH_WRONG_METHOD writes the allowed methods,
 * comma separated, into allow. Either way req->path_route is the first
 * route whose pattern matches the path (the metrics' route label).
 */
enum api__match api__route_match(const char *method, const char *path, struct api__request *req,
				 char *allow, size_t allow_cap);

const struct api__route *api__routes(size_t *n);

/*
 * Whether route r takes the query parameter name (compared byte for byte:
 * names are case-sensitive). A request naming any other is refused with
 * 400 unknown_parameter before its handler runs (server.c).
 */
bool api__route_takes(const struct api__route *r, const char *name);

/* ---- access (access.c) ---- */

/*
 * Runs before the route: the client address's rate limit (except on open
 * routes), then, on a matched route that is not open, the bearer token,
 * its scope and its rate limit. Sets req->token. Returns false when it set
 * a reply (401, 403 or 429).
 */
bool api__access_check(struct api__request *req);

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
 * reply instead; a body whose text would pass API__REPLY_MAX bytes, a 500
 * internal_error.
 */
void api__reply_json(struct api__request *req, unsigned status, json_t *body);

/*
 * Sets the reply to 503 {"error":{"code":"out_of_memory",...}} from a static
 * body. req->status is set even when not even the response could be made;
 * the connection is then closed without an answer.
 */
void api__reply_oom(struct api__request *req);

/*
 * Queues the same 503 on conn at once, for a request that could not even
 * get its struct api__request; MHD_NO (close) when that fails too.
 */
enum MHD_Result api__reply_oom_now(struct MHD_Connection *conn);

/* Sets a JSON error reply; the HTTP status comes from the status table. */
void api__reply_error(struct api__request *req, const struct fitd_error *err);

/* Shorthand: a JSON error with an explicit HTTP status, code and message. */
void api__reply_fail(struct api__request *req, unsigned http_status, const char *code,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The HTTP status of a fitd status, from the one table in reply.c: 200 for
 * FITD_OK, a 4xx or 5xx for each FITD_E*, and 500 for any other value or
 * for a status the table has no row for. Never 0.
 */
unsigned api__http_status(int status);

/* The table's row for status: its HTTP status, or 0 when it has none (what the tests check). */
unsigned api__http_status_row(int status);

/* A query parameter, or NULL. */
const char *api__query(struct api__request *req, const char *name);

/*
 * Whether a header value, blanks aside, is token (in any case, as media
 * types and codings are) and ends there or at a ';' (parameters).
 */
bool api__header_is(const char *value, const char *token);

/* Whether a Content-Encoding value (NULL when absent) leaves the body as it is: none, or identity. */
bool api__encoding_identity(const char *enc);

/*
 * Whether the body comes as it is (no Content-Encoding, or identity), as
 * every body but an upload's must: read as it came, a gzipped one would be
 * called malformed. Replies 415 unsupported_encoding, naming what (the
 * rows, the fields), and returns false otherwise.
 */
bool api__body_unencoded(struct api__request *req, const char *what);

/*
 * Reads limit (1..1000, default 50) and after from the query; replies 400
 * and returns false on bad values.
 */
bool api__page_params(struct api__request *req, size_t *limit, const char **after);

/* RFC 3339 UTC text of a time in ms since the epoch, into buf (32 bytes). */
void api__format_time(int64_t ms, char buf[32]);

/* ---- request helpers (jobs.c) ---- */

/*
 * Parses the JSON body; replies 400 (415 when it comes encoded) and returns
 * NULL when it is not a JSON object.
 */
json_t *api__body_object(struct api__request *req);

/* Replies 400 and returns false unless the {id} param is a job id. */
bool api__job_id_param(struct api__request *req);

/* ---- gzip request bodies (gzip.c) ---- */

struct api__gunzip;

/* Takes len inflated bytes at data; a status (with err filled) stops the inflating. */
typedef int (*api__gunzip_sink)(void *ctx, const char *data, size_t len, struct fitd_error *err);

/*
 * Starts inflating a gzip body (one member, or several one after the
 * other) whose inflated size may reach max bytes; *out is freed with
 * api__gunzip_free() (NULL-safe). FITD_ENOMEM when memory runs out.
 */
int api__gunzip_new(uint64_t max, struct api__gunzip **out);
void api__gunzip_free(struct api__gunzip *g);

/*
 * Inflates the next len bytes of the body, handing the output to sink as
 * it comes, at most 64 KiB at a time. Errors: FITD_EFORMAT bad_encoding
 * (not gzip, corrupt, a bad checksum, bytes after a member that are not
 * another one), FITD_ETOOBIG payload_too_large (the output would pass
 * max; nothing past max reaches the sink), FITD_ENOMEM, or what the sink
 * returned. After an error, g may only be freed.
 */
int api__gunzip_feed(struct api__gunzip *g, const char *data, size_t len, api__gunzip_sink sink,
		     void *ctx, struct fitd_error *err);

/* Once the body has ended: FITD_OK when it ended with a whole member, else bad_encoding. */
int api__gunzip_finish(struct api__gunzip *g, struct fitd_error *err);

/* ---- event streams (events.c) ---- */

/* Resumes every suspended stream so it ends; before the daemon stops. */
void api__events_close(struct api_server *srv);

/* ---- the model cache and predictions (models.c) ---- */

int api__models_new(unsigned capacity, struct api__model_cache **out);
void api__models_free(struct api__model_cache *c);

/*
 * Answers a prediction request (the body as POST /v1/models/{id}/predict
 * takes it) with model id, whose id also goes out in a Fitd-Model header.
 * With retry set, a model that does not exist (deleted since the caller
 * read its id) leaves no reply and returns FITD_ENOTFOUND, so an alias can
 * be read again; otherwise every outcome is replied and FITD_OK returned.
 * extra, when not NULL, adds its fields to a 200 answer (borrowed).
 */
int api__predict_with(struct api__request *req, const char *id, bool retry, const json_t *extra);

/* True for the routes that score rows (access.c gives them their own rate limit). */
bool api__route_predicts(const struct api__route *r);

/* ---- request metrics (metrics.c) ---- */

int api__metrics_new(struct api__metrics **out);
void api__metrics_free(struct api__metrics *m);

/* Counts a reply as it is queued, ns after the request began. Any MHD thread, lock-free. */
void api__metrics_request(struct api__request *req, int64_t ns);

/* ---- handlers ---- */

void api__health_get(struct api__request *req);
void api__ready_get(struct api__request *req);
void api__metrics_get(struct api__request *req);
void api__openapi_get(struct api__request *req);
void api__whoami_get(struct api__request *req);
void api__dash_index(struct api__request *req);
void api__dash_file(struct api__request *req);

int api__datasets_begin(struct api__request *req);
int api__datasets_chunk(struct api__request *req, const char *data, size_t len);
void api__datasets_create(struct api__request *req);
void api__datasets_list(struct api__request *req);
void api__datasets_get(struct api__request *req);
void api__datasets_delete(struct api__request *req);

void api__jobs_create(struct api__request *req);
void api__jobs_list(struct api__request *req);
void api__jobs_get(struct api__request *req);
void api__jobs_cancel(struct api__request *req);
void api__jobs_trials(struct api__request *req);
void api__events_get(struct api__request *req);

void api__jobs_delete(struct api__request *req);

void api__models_get(struct api__request *req);
void api__models_delete(struct api__request *req);
void api__models_predict(struct api__request *req);

void api__aliases_list(struct api__request *req);
void api__aliases_get(struct api__request *req);
void api__aliases_put(struct api__request *req);
void api__aliases_delete(struct api__request *req);
void api__aliases_predict(struct api__request *req);

#endif

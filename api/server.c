/*
 * server.c - the libmicrohttpd glue: start and stop, the per-request state
 * and the access handler that routes, reads bodies and sends replies.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (we route, check access (access.c), the query and the
 * body's length then, so a 400, 401, 404, 405, 411, 413 or 429 is decided
 * before any body is read), once per piece of body, and once more when the
 * body is complete (the route's handler runs then). A buffered body goes
 * into one struct fitd_buf capped at the route's limit.
 *
 * MHD takes a response only before the body or after it. A reply decided
 * before the body ended (at the headers, or on a piece of body: a chunked
 * body past its limit, a failed upload write) is sent once the body has
 * been read and dropped, within the bounds of API__DRAIN_MAX (internal.h):
 * a reply sent at the headers makes MHD close the connection with the
 * body unread, which resets it under a client still sending. Only a body
 * declared past the bound, or a client that asked with Expect:
 * 100-continue, gets its answer at once. The route's state (an upload's
 * temporary file) goes as soon as such a reply is decided, before the
 * answer; the request is freed by the completion callback, whatever
 * happened, which is also where an upload cut short is removed.
 */
#include "api/internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/clock.h"

/* Buckets of the rate limits: fixed tables whatever the number of clients (ratelimit.h). */
#define IP_LIMIT_SLOTS	  4096
#define TOKEN_LIMIT_SLOTS 1024

/*
 * Frees the route's state (an upload's temporary file) once a reply is
 * decided before the handler: it goes before the answer, which may wait
 * for the body to be drained, so a client never sees it.
 */
static void drop_state(struct api__request *req)
{
	if (req->cleanup != NULL)
		req->cleanup(req->state);
	req->cleanup = NULL;
	req->state = NULL;
}

static void request_free(struct api__request *req)
{
	drop_state(req);
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	free(req->params_buf);
	free(req->path);
	fitd_buf_release(&req->body);
	free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api__request *req = *req_cls;

	(void)cls;
	(void)conn;
	if (req == NULL)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		fitd_log_debug("request_aborted", "method=%s path=\"%s\" reason=%d", req->method,
			       req->path, (int)toe);
	request_free(req);
	*req_cls = NULL;
}

static enum MHD_Result count_value(void *cls, enum MHD_ValueKind kind, const char *key,
				   size_t key_size, const char *value, size_t value_size)
{
	unsigned *n = cls;

	(void)kind;
	(void)value;
	(void)value_size;
	if (key_size == strlen(MHD_HTTP_HEADER_CONTENT_LENGTH) &&
	    strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, key_size) == 0)
		(*n)++;
	return MHD_YES;
}

bool api__content_length_parse(const char *v, uint64_t *out)
{
	char *end;

	if (v[0] < '0' || v[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * Parses Content-Length; false when present but not a plain decimal number,
 * or present twice (which value a proxy in front used is anyone's guess).
 */
static bool read_content_length(struct api__request *req)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned copies = 0;

	if (v == NULL)
		return true;
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, count_value, &copies);
	if (copies > 1)
		return false;
	req->has_content_length = api__content_length_parse(v, &req->content_length);
	return req->has_content_length;
}

bool api__query_arg_clean(const char *key, size_t key_size, const char *value, size_t value_size)
{
	return strlen(key) == key_size && (value == NULL || strlen(value) == value_size);
}

/* Distinct keys a route takes (every route takes fewer). */
#define QUERY_KEYS_MAX 16

/* What a walk over the query arguments finds. */
struct query_check {
	const struct api__route *route;
	bool clean;	      /* no key or value hides a NUL byte */
	const char *unknown;  /* the first key the route does not take, or NULL */
	const char *repeated; /* the first key given twice, or NULL */
	const char *seen[QUERY_KEYS_MAX];
	unsigned nseen;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 size_t key_size, const char *value, size_t value_size)
{
	struct query_check *q = cls;

	(void)kind;
	if (!api__query_arg_clean(key, key_size, value, value_size)) {
		q->clean = false;
		return MHD_NO;
	}
	if (q->unknown == NULL && !api__route_takes(q->route, key))
		q->unknown = key;
	for (unsigned i = 0; q->repeated == NULL && i < q->nseen; i++)
		if (strcmp(q->seen[i], key) == 0)
			q->repeated = key;
	if (q->nseen < QUERY_KEYS_MAX)
		q->seen[q->nseen++] = key;
	return MHD_YES;
}

/*
 * Checks the query: 400 invalid_parameter when a key or value hides a NUL
 * byte that C strings would cut at, 400 unknown_parameter when a key is not
 * one the route takes, 400 invalid_parameter when a key is given twice
 * (?name=a&name=b: only the first would be read). False when a reply was set.
 */
static bool check_query(struct api__request *req)
{
	struct query_check q = { .route = req->route, .clean = true };

	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
	if (!q.clean) {
		api__reply_fail(req, 400, "invalid_parameter",
				"a query parameter contains a NUL byte (%%00)");
		return false;
	}
	if (q.unknown != NULL) {
		api__reply_fail(req, 400, "unknown_parameter",
				"'%.64s' is not a query parameter of %s %s (it takes: %s)",
				q.unknown, req->route->method, req->route->pattern,
				req->route->params ? req->route->params : "none");
		return false;
	}
	if (q.repeated != NULL) {
		api__reply_fail(req, 400, "invalid_parameter",
				"'%.64s' is given twice in the query; give it once", q.repeated);
		return false;
	}
	return true;
}

static size_t body_limit(const struct api__request *req);

/* Checks what can be checked from the headers; false when a reply was set. */
static bool check_headers(struct api__request *req)
{
	struct api_server *srv = req->srv;
	const struct api__route *r = req->route;

	if (r->needs_store && atomic_load(&srv->stopping)) {
		api__reply_fail(req, 503, "shutting_down", "fitd is stopping; retry shortly");
		return false;
	}
	if (r->needs_store && !atomic_load(&srv->ready)) {
		api__reply_fail(req, 503, "not_ready", "fitd is starting; retry shortly");
		return false;
	}
	if (!read_content_length(req)) {
		api__reply_fail(req, 400, "bad_content_length",
				"Content-Length must be given once, as a decimal number");
		return false;
	}
	if (!check_query(req))
		return false;
	if (r->body == API__BODY_STREAM) {
		if (!req->has_content_length) {
			api__reply_fail(req, 411, "length_required",
					"send the body with a Content-Length header");
			return false;
		}
		if (req->content_length > srv->opt.max_upload_bytes) {
			api__reply_fail(req, 413, "payload_too_large",
					"body of %llu bytes exceeds the limit of %llu bytes",
					(unsigned long long)req->content_length,
					(unsigned long long)srv->opt.max_upload_bytes);
			return false;
		}
		return r->begin(req) == FITD_OK;
	}
	fitd_buf_init(&req->body, body_limit(req));
	if ((r->body == API__BODY_JSON || r->body == API__BODY_LARGE) && req->has_content_length &&
	    req->content_length > body_limit(req)) {
		api__reply_fail(req, 413, "payload_too_large",
				"body of %llu bytes exceeds the limit of %zu bytes",
				(unsigned long long)req->content_length, body_limit(req));
		return false;
	}
	return true;
}

static void start_request(struct api__request *req, const char *method)
{
	char allow[64];
	enum api__match match = api__route_match(method, req->path, req, allow, sizeof(allow));

	if (!api__access_check(req))
		return;
	switch (match) {
	case API__MATCH_FOUND:
		check_headers(req);
		break;
	case API__MATCH_WRONG_METHOD:
		api__reply_fail(req, 405, "method_not_allowed", "%s is not allowed on %s", method,
				req->path);
		if (req->response != NULL)
			MHD_add_response_header(req->response, MHD_HTTP_HEADER_ALLOW, allow);
		break;
	case API__MATCH_NO_PATH:
		api__reply_fail(req, 404, "not_found", "no such path: %s", req->path);
		break;
	case API__MATCH_NO_MEMORY:
		api__reply_oom(req);
		break;
	}
}

/* The cap on a buffered body: max_predict_bytes for API__BODY_LARGE, else max_json_bytes. */
static size_t body_limit(const struct api__request *req)
{
	return req->route->body == API__BODY_LARGE ? req->srv->opt.max_predict_bytes
						   : req->srv->opt.max_json_bytes;
}

/* Takes a piece of body; false when the request must stop, with the reply set. */
static bool take_body(struct api__request *req, const char *data, size_t len)
{
	switch (req->route->body) {
	case API__BODY_NONE:
		return true;
	case API__BODY_STREAM:
		return req->route->chunk(req, data, len) == FITD_OK;
	case API__BODY_JSON:
	case API__BODY_LARGE:
		break;
	}
	switch (fitd_buf_add(&req->body, data, len)) {
	case FITD_OK:
		return true;
	case FITD_ETOOBIG: /* a body without Content-Length (chunked) that outgrew the limit */
		api__reply_fail(req, 413, "payload_too_large",
				"body exceeds the limit of %zu bytes", req->body.max);
		return false;
	default:
		api__reply_oom(req);
		return false;
	}
}

/*
 * Whether a reply decided with the headers waits for the body to be read
 * and dropped (see API__DRAIN_MAX): when a body comes (chunked, or a valid
 * Content-Length above 0 and within the bound) and the client did not ask
 * with Expect: 100-continue, which it answers by sending no body.
 */
static bool drain_first(struct api__request *req)
{
	const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_EXPECT);

	if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
		return false;
	if (MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return true; /* chunked: of unknown size, cut by the bound if need be */
	return read_content_length(req) && req->has_content_length && req->content_length > 0 &&
	       req->content_length <= API__DRAIN_MAX;
}

/*
 * Drops len bytes of a body whose reply is decided; false (close the
 * connection unanswered) once the drain passes its bounds.
 */
static bool drain(struct api__request *req, size_t len)
{
	int64_t now = fitd_clock_ns();

	if (req->drain_until_ns == 0)
		req->drain_until_ns = now + API__DRAIN_NS;
	req->drained += len;
	if (req->drained <= API__DRAIN_MAX && now <= req->drain_until_ns)
		return true;
	fitd_log_info("request_cut", "method=%s path=\"%s\" status=%u drained=%llu", req->method,
		      req->path ? req->path : "", req->status, (unsigned long long)req->drained);
	return false;
}

static enum MHD_Result send_reply(struct api__request *req)
{
	int64_t ns = fitd_clock_ns() - req->started_ns, us = ns / 1000;
	int level = req->status >= 500					    ? FITD_LOG_WARN
		    : req->status >= 400 || strcmp(req->method, "GET") != 0 ? FITD_LOG_INFO
									    : FITD_LOG_DEBUG;
	enum MHD_Result ret;

	fitd_log(level, "request", "method=%s path=\"%s\" status=%u us=%lld%s%s", req->method,
		 req->path ? req->path : "", req->status, (long long)us,
		 req->token[0] ? " token=" : "", req->token);
	api__metrics_request(req, ns);
	/* Not even the static out-of-memory reply could be made: close the connection. */
	if (req->response == NULL)
		return MHD_NO;
	/* While stopping, keep-alive connections end with their answer. */
	if (atomic_load(&req->srv->stopping))
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(req->conn, req->status, req->response);
	MHD_destroy_response(req->response);
	req->response = NULL;
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct api__request *req = *req_cls;

	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL) {
			fitd_log_warn("request",
				      "method=%s path=\"%s\" status=503 detail=out_of_memory",
				      method, url);
			return api__reply_oom_now(conn);
		}
		req->srv = cls;
		req->conn = conn;
		req->method = method;
		req->started_ns = fitd_clock_ns();
		req->path = strdup(url);
		*req_cls = req;
		if (req->path == NULL)
			api__reply_oom(req);
		else
			start_request(req, method);
		if (req->status == 0)
			return MHD_YES;
		/* A reply decided now goes at once (MHD then closes), or after the body. */
		drop_state(req);
		return drain_first(req) ? MHD_YES : send_reply(req);
	}
	if (*upload_data_size > 0) {
		size_t len = *upload_data_size;

		*upload_data_size = 0;
		if (req->status == 0) {
			if (!take_body(req, upload_data, len))
				drop_state(req);
			return MHD_YES;
		}
		return drain(req, len) ? MHD_YES : MHD_NO;
	}
	if (req->status == 0)
		req->route->handler(req);
	if (req->status == 0)
		api__reply_fail(req, 500, "internal_error", "the handler produced no reply");
	return send_reply(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	fitd_log_warn("http_server", "detail=\"%s\"", line);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len,
		   struct fitd_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char service[8];
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return fitd_error_set(err, FITD_EINVAL, "bad_listen_address",
				      "cannot resolve listen host '%s': %s", host,
				      gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return FITD_OK;
}

/* Frees what api_server_start made, once MHD is stopped. */
static void server_free(struct api_server *srv)
{
	api_tokens_free(srv->tokens);
	api__ratelimit_free(srv->token_limit);
	api__ratelimit_free(srv->ip_limit);
	api__ratelimit_free(srv->predict_token_limit);
	api__ratelimit_free(srv->predict_ip_limit);
	api__metrics_free(srv->http);
	api__models_free(srv->models);
	pthread_rwlock_destroy(&srv->tokens_lock);
	pthread_mutex_destroy(&srv->hub.lock);
	free(srv);
}

int api_server_start(const struct api_options *opt, struct store *store, struct api_server **out,
		     struct fitd_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct api_server *srv;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int rc;

	*out = NULL;
	rc = resolve(opt->host, opt->port, &ss, &sslen, err);
	if (rc != FITD_OK)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "server");
	srv->opt = *opt;
	srv->opt.tokens = NULL;
	srv->tokens = opt->tokens; /* before the first request can arrive */
	srv->store = store;
	pthread_mutex_init(&srv->hub.lock, NULL);
	pthread_rwlock_init(&srv->tokens_lock, NULL);
	if (api__models_new(opt->model_cache, &srv->models) != FITD_OK ||
	    api__metrics_new(&srv->http) != FITD_OK ||
	    api__ratelimit_new(opt->rate_ip, opt->burst_ip, IP_LIMIT_SLOTS, &srv->ip_limit) !=
		FITD_OK ||
	    api__ratelimit_new(opt->rate_token, opt->burst_token, TOKEN_LIMIT_SLOTS,
			       &srv->token_limit) != FITD_OK ||
	    api__ratelimit_new(opt->rate_predict, opt->burst_predict, IP_LIMIT_SLOTS,
			       &srv->predict_ip_limit) != FITD_OK ||
	    api__ratelimit_new(opt->rate_predict, opt->burst_predict, TOKEN_LIMIT_SLOTS,
			       &srv->predict_token_limit) != FITD_OK) {
		srv->tokens = NULL;
		server_free(srv);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "server tables");
	}
	srv->mhd = MHD_start_daemon(
	    flags, opt->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	    srv, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)(opt->threads ? opt->threads : 1), MHD_OPTION_CONNECTION_LIMIT,
	    opt->connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->per_ip_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, opt->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    opt->connection_memory, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		srv->tokens = NULL; /* still the caller's */
		rc = fitd_error_set(err, FITD_EIO, "listen_failed", "cannot listen on %s:%u: %s",
				    opt->host, opt->port, strerror(errno));
		server_free(srv);
		return rc;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : opt->port;
	*out = srv;
	return FITD_OK;
}

uint16_t api_server_port(const struct api_server *srv)
{
	return srv->port;
}

void api_server_set_ready(struct api_server *srv, bool ready)
{
	atomic_store(&srv->ready, ready);
}

void api_server_set_tokens(struct api_server *srv, struct api_tokens *tokens)
{
	struct api_tokens *old;

	pthread_rwlock_wrlock(&srv->tokens_lock);
	old = srv->tokens;
	srv->tokens = tokens;
	pthread_rwlock_unlock(&srv->tokens_lock);
	api_tokens_free(old);
}

void api_server_stop(struct api_server *srv, unsigned grace_ms)
{
	MHD_socket listener;

	if (srv == NULL)
		return;
	atomic_store(&srv->stopping, true); /* before ready: never "starting" while stopping */
	atomic_store(&srv->ready, false);
	listener = MHD_quiesce_daemon(srv->mhd);
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	api__events_close(srv);
	for (unsigned waited = 0; waited < grace_ms; waited += 20) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(
		    srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (info == NULL || info->num_connections == 0)
			break;
		usleep(20 * 1000);
	}
	MHD_stop_daemon(srv->mhd);
	server_free(srv);
}

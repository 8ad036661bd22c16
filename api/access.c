/*
 * access.c - the checks a request passes once its headers are in and
 * before its route runs, in this order:
 *
 *   1. the client address's token bucket (429 rate_limited), for every
 *      request but health checks, so a flood of bad tokens, unknown paths
 *      or open requests that cost something (/readyz counts the store's
 *      rows, /v1/openapi.json is large) is slowed like any other;
 *   2. the bearer token (401 unauthorized) and the route's scope (403
 *      insufficient_scope), when a token file is configured;
 *   3. the token's own bucket (429 rate_limited).
 *
 * The routes that score rows (POST /v1/models/{id}/predict and
 * /v1/aliases/{name}/predict) take their tokens from buckets of their own,
 * per address and per token, at rate-limit-predict: a serving path answers
 * in well under a millisecond, and the general limits, sized for uploads
 * and status polls, would turn a busy client into a stream of 429s. Each
 * request takes from one set of buckets only, so predictions neither use
 * up nor are held back by the general ones.
 *
 * The WWW-Authenticate headers follow RFC 6750: a request without a
 * bearer token (none, or another scheme) gets the challenge alone; a wrong
 * token adds error="invalid_token"; a missing scope adds
 * error="insufficient_scope" and the scope needed. The scheme is matched
 * case-insensitively (RFC 7235). The token itself is never logged or
 * copied: only the name it maps to is kept, in req->token.
 */
#include "api/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/base/clock.h"

#define REALM "Bearer realm=\"fitd\""

static void reply_rate_limited(struct api__request *req, unsigned wait, const char *who)
{
	char seconds[16];

	api__reply_fail(req, 429, "rate_limited", "too many requests from this %s; retry in %u s",
			who, wait);
	snprintf(seconds, sizeof(seconds), "%u", wait);
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
}

/*
 * The rate-limit key of the client's address: an IPv4 address, or the /64
 * prefix of an IPv6 one (a host is usually given a whole /64). Returns its
 * length; 0 when the address is unknown.
 */
static size_t client_key(struct MHD_Connection *conn, unsigned char key[9])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa != NULL && sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 5;
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
			return 5;
		}
		key[0] = 6;
		memcpy(key + 1, a->s6_addr, 8);
		return 9;
	}
	return 0;
}

/* The buckets of the request's route: the prediction routes have their own (see above). */
static struct api__ratelimit *ip_table(const struct api__request *req)
{
	return api__route_predicts(req->route) ? req->srv->predict_ip_limit : req->srv->ip_limit;
}

static struct api__ratelimit *token_table(const struct api__request *req)
{
	return api__route_predicts(req->route) ? req->srv->predict_token_limit
					       : req->srv->token_limit;
}

static bool limit_ip(struct api__request *req)
{
	unsigned char key[9];
	size_t len = client_key(req->conn, key);
	unsigned wait = api__ratelimit_take(ip_table(req), key, len, fitd_clock_ns());

	if (wait == 0)
		return true;
	reply_rate_limited(req, wait, "address");
	return false;
}

static enum MHD_Result count_authorization(void *cls, enum MHD_ValueKind kind, const char *key,
					   size_t key_size, const char *value, size_t value_size)
{
	unsigned *n = cls;

	(void)kind;
	(void)value;
	(void)value_size;
	if (key_size == strlen(MHD_HTTP_HEADER_AUTHORIZATION) &&
	    strncasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION, key_size) == 0)
		(*n)++;
	return MHD_YES;
}

static void reply_unauthorized(struct api__request *req, bool token_sent, const char *message)
{
	api__reply_fail(req, 401, "unauthorized", "%s", message);
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				token_sent ? REALM ", error=\"invalid_token\"" : REALM);
}

enum credential {
	CRED_NONE, /* no Authorization header, or another scheme than Bearer */
	CRED_BAD,  /* a bearer credential that cannot be a token */
	CRED_OK,
};

/* Finds the bearer token: *token and *len for CRED_OK, else the reason in *why. */
static enum credential bearer_token(struct api__request *req, const char **token, size_t *len,
				    const char **why)
{
	const char *v = NULL;
	size_t vlen = 0, skip;
	unsigned copies = 0;

	*why = "send 'Authorization: Bearer <token>'";
	if (MHD_lookup_connection_value_n(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
					  strlen(MHD_HTTP_HEADER_AUTHORIZATION), &v,
					  &vlen) != MHD_YES ||
	    v == NULL)
		return CRED_NONE;
	if (vlen < 6 || strncasecmp(v, "Bearer", 6) != 0 || (vlen > 6 && v[6] != ' ')) {
		*why = "only bearer tokens are accepted: send 'Authorization: Bearer <token>'";
		return CRED_NONE;
	}
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, count_authorization, &copies);
	skip = 6 + strspn(v + 6, " ");
	if (copies > 1)
		*why = "send one Authorization header";
	else if (skip >= vlen)
		*why = "the bearer token is empty";
	else if (memchr(v + skip, ' ', vlen - skip) != NULL)
		*why = "a token has no spaces";
	else if (strlen(v) != vlen)
		*why = "the bearer token contains a NUL byte";
	else
		*why = NULL;
	if (*why != NULL)
		return CRED_BAD;
	*token = v + skip;
	*len = vlen - skip;
	return CRED_OK;
}

/* 401 or 403 unless the request's token has the route's scope; sets req->token. */
static bool authenticate(struct api__request *req)
{
	struct api_server *srv = req->srv;
	enum api_scope need = req->route->scope;
	const char *token = NULL, *why;
	size_t len = 0;
	enum credential cred = bearer_token(req, &token, &len, &why);
	unsigned scopes = 0;
	bool configured, known = false;
	char challenge[128];

	pthread_rwlock_rdlock(&srv->tokens_lock);
	configured = srv->tokens != NULL;
	if (configured && cred == CRED_OK)
		known = api_tokens_find(srv->tokens, token, len, req->token, &scopes);
	pthread_rwlock_unlock(&srv->tokens_lock);
	if (!configured) {
		req->scopes = API_READ | API_WRITE | API_ADMIN;
		return true;
	}
	req->scopes = known ? scopes : 0;
	if (cred != CRED_OK || !known) {
		reply_unauthorized(req, cred != CRED_NONE,
				   cred == CRED_OK ? "the bearer token is not valid" : why);
		return false;
	}
	if ((scopes & (unsigned)need) == 0) {
		api__reply_fail(req, 403, "insufficient_scope",
				"token '%s' lacks the '%s' scope that %s %s needs", req->token,
				api_scope_name(need), req->method, req->route->pattern);
		snprintf(challenge, sizeof(challenge),
			 REALM ", error=\"insufficient_scope\", scope=\"%s\"",
			 api_scope_name(need));
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
		return false;
	}
	return true;
}

bool api__access_check(struct api__request *req)
{
	unsigned wait;

	if (req->route != NULL && req->route->handler == api__health_get)
		return true;
	if (!limit_ip(req))
		return false;
	if (req->route == NULL || req->route->scope == API_OPEN) /* or 404, 405 follows */
		return true;
	if (!authenticate(req))
		return false;
	if (req->token[0] == '\0')
		return true;
	wait = api__ratelimit_take(token_table(req), req->token, strlen(req->token),
				   fitd_clock_ns());
	if (wait == 0)
		return true;
	reply_rate_limited(req, wait, "token");
	return false;
}

/*
 * GET /v1/whoami: what the request's token may do, so a client (the
 * dashboard) offers only what it may call: {"token": its name or null,
 * "scopes": [...], "tokens_required": whether a token file is in force}.
 * Without a token file every scope is listed and token is null.
 */
void api__whoami_get(struct api__request *req)
{
	static const enum api_scope all[] = { API_READ, API_WRITE, API_ADMIN };
	json_t *scopes = json_array();
	bool required;

	pthread_rwlock_rdlock(&req->srv->tokens_lock);
	required = req->srv->tokens != NULL;
	pthread_rwlock_unlock(&req->srv->tokens_lock);
	for (size_t i = 0; scopes != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if ((req->scopes & (unsigned)all[i]) != 0 &&
		    json_array_append_new(scopes, json_string(api_scope_name(all[i]))) != 0) {
			json_decref(scopes);
			scopes = NULL;
		}
	api__reply_json(req, 200,
			scopes == NULL
			    ? NULL
			    : json_pack("{s:o, s:o, s:o}", "token",
					req->token[0] ? json_string(req->token) : json_null(),
					"scopes", scopes, "tokens_required",
					json_boolean(required)));
}

/*
 * fuzz_router.c - libFuzzer harness of what the API does with a request
 * line before any handler runs: the route match (api/router.c), the 404 and
 * 405 replies, the query-argument and Content-Length checks of
 * api/server.c, and the id and state checks the handlers apply to the
 * path's {id} and ?state=.
 *
 * The input is "METHOD TARGET", then optionally a newline and the value of
 * a Content-Length header. TARGET is split at the first '?'; the path and
 * each query argument are unescaped as libmicrohttpd does (the path with
 * MHD_http_unescape; arguments split at '&' and the first '=', '+' made a
 * space, then unescaped), and, like libmicrohttpd, the path reaches the
 * router as a C string.
 *
 * Properties checked besides the sanitizers': the match agrees with a
 * segment-by-segment matcher written here (route, params, Allow list and
 * the metrics' path route), and each check (ids, alias names, query
 * arguments, Content-Length) agrees with a reference, the query parameters
 * a route takes included.
 */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "api/internal.h"
#include "store/files.h"
#include "store/store.h"

#define MAX_SEGS 16

/* Splits the path at '/' into at most MAX_SEGS segments after the leading one; -1 if more. */
static int split(const char *path, const char *seg[], size_t len[])
{
	int n = 0;

	if (path[0] != '/')
		return -1;
	while (*path == '/') {
		const char *s = path + 1, *e = strchr(s, '/');

		if (n == MAX_SEGS)
			return -1;
		seg[n] = s;
		len[n] = e ? (size_t)(e - s) : strlen(s);
		path = s + len[n];
		n++;
	}
	return n;
}

/* The reference matcher: same number of segments, {x} takes any non-empty one. */
static bool ref_match(const char *pattern, const char *path, int *nparams)
{
	const char *ps[MAX_SEGS], *ss[MAX_SEGS];
	size_t pl[MAX_SEGS], sl[MAX_SEGS];
	int np = split(pattern, ps, pl), ns = split(path, ss, sl);

	*nparams = 0;
	if (np < 0 || np != ns)
		return false;
	for (int i = 0; i < np; i++) {
		if (ps[i][0] == '{') {
			if (sl[i] == 0)
				return false;
			++*nparams;
		} else if (pl[i] != sl[i] || memcmp(ps[i], ss[i], pl[i]) != 0) {
			return false;
		}
	}
	return true;
}

/* The id prefix the handlers of a route require of its {id}; NULL for an alias's {name}. */
static const char *id_prefix(const char *pattern)
{
	if (strncmp(pattern, "/v1/aliases/", 12) == 0)
		return NULL;
	if (strncmp(pattern, "/v1/datasets/", 13) == 0)
		return "ds";
	if (strncmp(pattern, "/v1/jobs/", 9) == 0)
		return "job";
	return "mdl";
}

static bool ref_id_valid(const char *prefix, const char *s)
{
	size_t plen = strlen(prefix);

	if (strlen(s) != plen + 1 + STORE_ID_HEX || strncmp(s, prefix, plen) != 0 || s[plen] != '_')
		return false;
	for (size_t i = plen + 1; s[i]; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return false;
	return true;
}

/* The alias name rule, written apart: [a-z0-9][a-z0-9._-]{0,63}. */
static bool ref_alias_valid(const char *s)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = strlen(s);

	return len >= 1 && len <= STORE_ALIAS_NAME_MAX && strchr(first, s[0]) != NULL &&
	       strspn(s + 1, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len - 1;
}

/*
 * The reference answer for method and path: the route found (or NULL), the
 * first route of the path under any method, the params' count and the
 * Allow list.
 */
static const struct api__route *ref_route(const char *method, const char *path,
					  const struct api__route **first, int *nparams,
					  char allow[64])
{
	size_t nroutes;
	const struct api__route *routes = api__routes(&nroutes);

	*first = NULL;
	allow[0] = '\0';
	for (size_t i = 0; i < nroutes; i++) {
		size_t used = strlen(allow);

		if (!ref_match(routes[i].pattern, path, nparams))
			continue;
		if (*first == NULL)
			*first = &routes[i];
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
		if (strstr(allow, routes[i].method) == NULL)
			snprintf(allow + used, 64 - used, "%s%s", used ? ", " : "",
				 routes[i].method);
	}
	return NULL;
}

/* Checks a FOUND match's params against the path and their id checks. */
static void check_params(const struct api__request *req, const char *path)
{
	const char *prefix = id_prefix(req->route->pattern);

	for (size_t i = 0; i < req->nparams; i++) {
		const char *p = req->params[i];

		FUZZ_CHECK(p[0] != '\0' && strchr(p, '/') == NULL && strstr(path, p) != NULL,
			   "param %zu '%s' of %s", i, p, path);
		if (prefix == NULL)
			FUZZ_CHECK(store_alias_name_valid(p) == ref_alias_valid(p), "alias '%s'",
				   p);
		else
			FUZZ_CHECK(store_id_valid(prefix, p) == ref_id_valid(prefix, p), "id '%s'",
				   p);
	}
}

/* Matches as server.c does, replying 404 or 405 the same way, and checks the result; the route. */
static const struct api__route *check_match(const char *method, const char *path)
{
	struct api__request req = { 0 };
	const struct api__route *first, *found;
	char allow[64], want_allow[64];
	int nparams = 0;
	enum api__match m = api__route_match(method, path, &req, allow, sizeof(allow));

	found = ref_route(method, path, &first, &nparams, want_allow);
	FUZZ_CHECK(req.path_route == first, "path route of %s", path);
	if (found != NULL) {
		FUZZ_CHECK(m == API__MATCH_FOUND && req.route == found, "%s %s", method, path);
		FUZZ_CHECK(req.nparams == (size_t)nparams, "%s %s", method, path);
		check_params(&req, path);
	} else if (first != NULL) {
		FUZZ_CHECK(m == API__MATCH_WRONG_METHOD, "%s %s: %d", method, path, (int)m);
		FUZZ_CHECK(strcmp(allow, want_allow) == 0, "Allow '%s', want '%s'", allow,
			   want_allow);
		api__reply_fail(&req, 405, "method_not_allowed", "%s is not allowed on %s", method,
				path);
		MHD_add_response_header(req.response, MHD_HTTP_HEADER_ALLOW, allow);
	} else {
		FUZZ_CHECK(m == API__MATCH_NO_PATH, "%s %s: %d", method, path, (int)m);
		api__reply_fail(&req, 404, "not_found", "no such path: %s", path);
	}
	if (req.response != NULL)
		MHD_destroy_response(req.response);
	free(req.params_buf);
	return found;
}

/* The reference of api__route_takes(): name is a whole word of " params ". */
static bool ref_takes(const struct api__route *r, const char *name)
{
	char padded[128], word[128];

	if (r->params == NULL || name[0] == '\0' || strchr(name, ' ') != NULL ||
	    strlen(name) + 3 > sizeof(word))
		return false;
	snprintf(padded, sizeof(padded), " %s ", r->params);
	snprintf(word, sizeof(word), " %s ", name);
	return strstr(padded, word) != NULL;
}

/* Unescapes a query key or value in place as libmicrohttpd does; returns its length. */
static size_t unescape_arg(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '+')
			*p = ' ';
	return MHD_http_unescape(s);
}

/*
 * One query argument "key[=value]" of len bytes (no '&' inside),
 * NUL-terminated, of a request to route (NULL: none matched).
 */
static void check_arg(char *arg, size_t len, const struct api__route *route)
{
	char *eq = memchr(arg, '=', len), *value = NULL;
	size_t klen, vlen = 0;
	bool clean;

	if (eq != NULL) {
		*eq = '\0';
		value = eq + 1;
		vlen = unescape_arg(value);
	}
	klen = unescape_arg(arg);
	clean = memchr(arg, '\0', klen) == NULL &&
		(value == NULL || memchr(value, '\0', vlen) == NULL);
	FUZZ_CHECK(api__query_arg_clean(arg, klen, value, vlen) == clean, "query argument");
	if (clean && route != NULL)
		FUZZ_CHECK(api__route_takes(route, arg) == ref_takes(route, arg),
			   "%s %s takes '%s'", route->method, route->pattern, arg);
	if (clean && value != NULL && strcmp(arg, "state") == 0) {
		int st = store_job_state_parse(value);

		FUZZ_CHECK(st < 0 || strcmp(store_job_state_name(st), value) == 0, "state '%s'",
			   value);
	}
}

static void check_query(char *query, const struct api__route *route)
{
	while (*query != '\0') {
		char *amp = strchr(query, '&');
		size_t len = amp ? (size_t)(amp - query) : strlen(query);

		if (amp != NULL)
			*amp = '\0';
		check_arg(query, len, route);
		if (amp == NULL)
			break;
		query = amp + 1;
	}
}

static void check_content_length(const char *v)
{
	uint64_t got = 0, want = 0;
	bool ok = v[0] != '\0';

	for (const char *p = v; ok && *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		ok = d <= 9 && want <= (UINT64_MAX - d) / 10;
		want = want * 10 + d;
	}
	FUZZ_CHECK(api__content_length_parse(v, &got) == ok, "Content-Length '%s'", v);
	FUZZ_CHECK(!ok || got == want, "Content-Length '%s': %llu", v, (unsigned long long)got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *method = "GET", *target, *nl, *query;
	const struct api__route *route;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	target = text;
	nl = strchr(target, '\n');
	if (nl != NULL) {
		*nl = '\0';
		check_content_length(nl + 1);
	}
	if (strchr(target, ' ') != NULL) {
		method = target;
		target = strchr(target, ' ');
		*target++ = '\0';
	}
	query = strchr(target, '?');
	if (query != NULL)
		*query++ = '\0';
	MHD_http_unescape(target);
	route = check_match(method, target);
	if (query != NULL)
		check_query(query, route);
	free(text);
	return 0;
}

/*
 * router.c - the routing table of the v1 contract and its matcher.
 *
 * A route is a method and a pattern of '/'-separated segments; a segment
 * written {name} matches any one non-empty segment and is captured. A path
 * that matches a pattern under another method gets 405 with an Allow header;
 * a path that matches nothing gets 404.
 *
 * Each route lists the query parameters it takes: any other is refused
 * (400 unknown_parameter), so a misspelt ?limti= or a ?delimiter= sent to
 * the wrong route is said, not ignored.
 *
 * Each route names the scope a token needs to call it (api/auth.h): read
 * for what only looks (every GET under /v1, and predictions, through a
 * model or an alias), write for what changes state (deletes and alias
 * switches too), admin for the operator's /metrics. API_OPEN routes are
 * answered without a token and without rate limits, so health checks and
 * the API's description always work. The dashboard's page and files (GET /,
 * GET /dash/{file}) are open too: they hold no data, and the API calls the
 * page makes carry the token the user gives it.
 */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

static const struct api__route routes[] = {
	{ "GET", "/healthz", API_OPEN, API__BODY_NONE, false, api__health_get, NULL, NULL },
	{ "GET", "/readyz", API_OPEN, API__BODY_NONE, false, api__ready_get, NULL, NULL },
	{ "GET", "/metrics", API_ADMIN, API__BODY_NONE, false, api__metrics_get, NULL, NULL },
	{ "GET", "/v1/openapi.json", API_OPEN, API__BODY_NONE, false, api__openapi_get, NULL,
	  NULL },
	{ "GET", "/", API_OPEN, API__BODY_NONE, false, api__dash_index, NULL, NULL },
	{ "GET", "/dash/{file}", API_OPEN, API__BODY_NONE, false, api__dash_file, NULL, NULL },
	{ "GET", "/v1/whoami", API_READ, API__BODY_NONE, false, api__whoami_get, NULL, NULL },
	{ "POST", "/v1/datasets", API_WRITE, API__BODY_STREAM, true, api__datasets_create,
	  api__datasets_begin, api__datasets_chunk, "name delimiter" },
	{ "GET", "/v1/datasets", API_READ, API__BODY_NONE, true, api__datasets_list, NULL, NULL,
	  "limit after" },
	{ "GET", "/v1/datasets/{id}", API_READ, API__BODY_NONE, true, api__datasets_get, NULL,
	  NULL },
	{ "DELETE", "/v1/datasets/{id}", API_WRITE, API__BODY_NONE, true, api__datasets_delete,
	  NULL, NULL },
	{ "POST", "/v1/jobs", API_WRITE, API__BODY_JSON, true, api__jobs_create, NULL, NULL },
	{ "GET", "/v1/jobs", API_READ, API__BODY_NONE, true, api__jobs_list, NULL, NULL,
	  "state limit after" },
	{ "GET", "/v1/jobs/{id}", API_READ, API__BODY_NONE, true, api__jobs_get, NULL, NULL },
	{ "DELETE", "/v1/jobs/{id}", API_WRITE, API__BODY_NONE, true, api__jobs_delete, NULL,
	  NULL },
	{ "POST", "/v1/jobs/{id}/cancel", API_WRITE, API__BODY_NONE, true, api__jobs_cancel, NULL,
	  NULL },
	{ "GET", "/v1/jobs/{id}/trials", API_READ, API__BODY_NONE, true, api__jobs_trials, NULL,
	  NULL, "limit offset" },
	{ "GET", "/v1/jobs/{id}/events", API_READ, API__BODY_NONE, true, api__events_get, NULL,
	  NULL, "after" },
	{ "GET", "/v1/models/{id}", API_READ, API__BODY_NONE, true, api__models_get, NULL, NULL },
	{ "DELETE", "/v1/models/{id}", API_WRITE, API__BODY_NONE, true, api__models_delete, NULL,
	  NULL },
	{ "POST", "/v1/models/{id}/predict", API_READ, API__BODY_LARGE, true, api__models_predict,
	  NULL, NULL, "explain" },
	{ "GET", "/v1/aliases", API_READ, API__BODY_NONE, true, api__aliases_list, NULL, NULL,
	  "limit after" },
	{ "GET", "/v1/aliases/{name}", API_READ, API__BODY_NONE, true, api__aliases_get, NULL,
	  NULL },
	{ "PUT", "/v1/aliases/{name}", API_WRITE, API__BODY_JSON, true, api__aliases_put, NULL,
	  NULL },
	{ "DELETE", "/v1/aliases/{name}", API_WRITE, API__BODY_NONE, true, api__aliases_delete,
	  NULL, NULL },
	{ "POST", "/v1/aliases/{name}/predict", API_READ, API__BODY_LARGE, true,
	  api__aliases_predict, NULL, NULL, "explain" },
};

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= API__ROUTES_MAX,
	       "raise API__ROUTES_MAX: the request counters are sized by it");

bool api__route_predicts(const struct api__route *r)
{
	return r != NULL &&
	       (r->handler == api__models_predict || r->handler == api__aliases_predict);
}

const struct api__route *api__routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

bool api__route_takes(const struct api__route *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = r->params; p != NULL && *p != '\0'; p += strspn(p, " ")) {
		size_t len = strcspn(p, " ");

		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len;
	}
	return false;
}

/* Length of the segment starting at s (up to '/' or the end). */
static size_t seg_len(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash ? (size_t)(slash - s) : strlen(s);
}

/*
 * Matches path against pattern; when caps is not NULL, records the offset
 * and length of each {param} segment. Returns the number of params or -1.
 */
static int match_pattern(const char *pattern, const char *path, size_t caps[][2])
{
	const char *p = pattern, *s = path;
	int nparams = 0;

	while (*p == '/' && *s == '/') {
		size_t plen = seg_len(++p), slen = seg_len(++s);

		if (p[0] == '{') {
			if (slen == 0 || nparams == API__MAX_PARAMS)
				return -1;
			if (caps != NULL) {
				caps[nparams][0] = (size_t)(s - path);
				caps[nparams][1] = slen;
			}
			nparams++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return -1;
		}
		p += plen;
		s += slen;
	}
	return *p == '\0' && *s == '\0' ? nparams : -1;
}

/* Copies the params into req; false when memory runs out. */
static bool capture(struct api__request *req, const char *path, size_t caps[][2], int n)
{
	size_t total = 0, off = 0;

	for (int i = 0; i < n; i++)
		total += caps[i][1] + 1;
	req->params_buf = malloc(total + 1);
	if (req->params_buf == NULL)
		return false;
	for (int i = 0; i < n; i++) {
		memcpy(req->params_buf + off, path + caps[i][0], caps[i][1]);
		req->params_buf[off + caps[i][1]] = '\0';
		req->params[i] = req->params_buf + off;
		off += caps[i][1] + 1;
	}
	req->nparams = (size_t)n;
	return true;
}

static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t len = strlen(allow);

	if (strstr(allow, method) != NULL)
		return;
	if (len > 0 && len + 2 < cap) {
		memcpy(allow + len, ", ", 3);
		len += 2;
	}
	if (len + strlen(method) < cap)
		memcpy(allow + len, method, strlen(method) + 1);
}

enum api__match api__route_match(const char *method, const char *path, struct api__request *req,
				 char *allow, size_t allow_cap)
{
	size_t caps[API__MAX_PARAMS][2];
	bool path_known = false;

	allow[0] = '\0';
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int n = match_pattern(routes[i].pattern, path, caps);

		if (n < 0)
			continue;
		if (req->path_route == NULL)
			req->path_route = &routes[i];
		if (strcmp(routes[i].method, method) == 0) {
			req->route = &routes[i];
			return capture(req, path, caps, n) ? API__MATCH_FOUND
							   : API__MATCH_NO_MEMORY;
		}
		path_known = true;
		allow_add(allow, allow_cap, routes[i].method);
	}
	return path_known ? API__MATCH_WRONG_METHOD : API__MATCH_NO_PATH;
}

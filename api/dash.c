/*
 * dash.c - GET / and GET /dash/{file}: the dashboard, a single page of
 * static files (api/dash/) built into the binary by api/embed.py, gzipped
 * there too. The page speaks only the public v1 contract, like any other
 * client; nothing here reads the store.
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles
 * come only from these files, nothing from elsewhere, no inline code, no
 * framing), nosniff and no-referrer. Caching: each file has a strong ETag
 * (the start of its SHA-256, fixed at build time) and "Cache-Control:
 * no-cache", so a browser keeps the file and asks again with
 * If-None-Match, answered 304 without a body until the binary changes.
 * A client that accepts gzip (Accept-Encoding, q not 0) gets the gzipped
 * bytes with "Content-Encoding: gzip"; "Vary: Accept-Encoding" tells caches.
 */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ASSET(sym)                                    \
	extern const unsigned char sym[], sym##_gz[]; \
	extern const size_t sym##_len, sym##_gz_len;  \
	extern const char sym##_etag[]

ASSET(api__dash_index_html);
ASSET(api__dash_app_js);
ASSET(api__dash_app_css);
ASSET(api__dash_icon_svg);

struct asset {
	const char *name; /* the {file} of /dash/{file}; index.html is also GET / */
	const char *type;
	const unsigned char *raw, *gz;
	const size_t *raw_len, *gz_len;
	const char *etag;
};

#define ROW(name, type, sym)                                                     \
	{                                                                        \
		name, type, sym, sym##_gz, &sym##_len, &sym##_gz_len, sym##_etag \
	}

static const struct asset assets[] = {
	ROW("index.html", "text/html; charset=utf-8", api__dash_index_html),
	ROW("app.js", "text/javascript; charset=utf-8", api__dash_app_js),
	ROW("app.css", "text/css; charset=utf-8", api__dash_app_css),
	ROW("icon.svg", "image/svg+xml", api__dash_icon_svg),
};

#define CSP                                                                                 \
	"default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " \
	"object-src 'none'"

/*
 * Whether an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip")
 * coding, else "*", whose q is not 0 (RFC 9110 12.5.3); no q means 1.
 */
static bool accepts_gzip(const char *v)
{
	int star = -1;

	while (v != NULL && *v != '\0') {
		size_t len = strcspn(v, ",");
		const char *item = v + strspn(v, " \t");
		size_t name = strcspn(item, " \t;,");
		const char *q = strstr(item, "q=");
		bool zero = q != NULL && q < v + len && strtod(q + 2, NULL) <= 0.0;

		if ((name == 4 && strncasecmp(item, "gzip", 4) == 0) ||
		    (name == 6 && strncasecmp(item, "x-gzip", 6) == 0))
			return !zero;
		if (name == 1 && item[0] == '*')
			star = !zero;
		v = v[len] == ',' ? v + len + 1 : NULL;
	}
	return star == 1;
}

/* Whether an If-None-Match value names etag (or is "*"); a weak W/ match counts (RFC 9110 13.1.2). */
static bool etag_matches(const char *v, const char *etag)
{
	size_t n = strlen(etag);

	if (v == NULL)
		return false;
	if (strcmp(v + strspn(v, " \t"), "*") == 0)
		return true;
	for (const char *p = strstr(v, etag); p != NULL; p = strstr(p + 1, etag))
		if (p == v || strchr(" ,/", p[-1]) != NULL)
			return p[n] == '\0' || strchr(" ,", p[n]) != NULL;
	return false;
}

/* Adds the headers every answer carries; false when memory runs out (no answer without its CSP). */
static bool headers(struct MHD_Response *r, const struct asset *a, bool fresh, bool gz)
{
	bool ok = MHD_add_response_header(r, "Content-Security-Policy", CSP) == MHD_YES &&
		  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") ==
		      MHD_YES &&
		  MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag) == MHD_YES &&
		  MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding") == MHD_YES &&
		  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
		  MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_YES;

	if (ok && !fresh)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type) == MHD_YES;
	if (ok && !fresh && gz)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") ==
		     MHD_YES;
	return ok;
}

static void serve(struct api__request *req, const struct asset *a)
{
	const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool gz = accepts_gzip(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_ACCEPT_ENCODING));
	bool fresh = etag_matches(inm, a->etag);

	if (req->response != NULL)
		MHD_destroy_response(req->response);
	if (fresh)
		req->response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	else
		req->response = MHD_create_response_from_buffer(gz ? *a->gz_len : *a->raw_len,
								(void *)(gz ? a->gz : a->raw),
								MHD_RESPMEM_PERSISTENT);
	if (req->response == NULL || !headers(req->response, a, fresh, gz)) {
		api__reply_oom(req);
		return;
	}
	req->status = fresh ? 304 : 200;
}

void api__dash_index(struct api__request *req)
{
	serve(req, &assets[0]);
}

void api__dash_file(struct api__request *req)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(req->params[0], assets[i].name) == 0) {
			serve(req, &assets[i]);
			return;
		}
	api__reply_fail(req, 404, "not_found", "the dashboard has no file '%.64s'", req->params[0]);
}

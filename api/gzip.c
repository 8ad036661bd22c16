/*
 * gzip.c - request bodies sent with Content-Encoding: gzip, inflated as
 * they arrive (zlib), for the upload of datasets.c; see internal.h.
 *
 * Each piece of body goes through inflate() into a fixed window of output,
 * and each window's worth is handed to the caller's sink at once, so
 * memory stays at one window whatever the sizes, and the cap on inflated
 * bytes stops a small body that inflates without end (a zip bomb) as soon
 * as it passes the cap. Several gzip members one after the other (what
 * `cat a.gz b.gz` makes) are one body, as gzip -d reads them; anything
 * after a member that is not another member is an error, as is a body
 * that ends inside one. zlib allocates through calloc() and free() here,
 * so the allocation-failure tests reach its allocations too.
 */
#include "api/internal.h"

#include <stdlib.h>
#include <zlib.h>

#define WINDOW	   (64 * 1024) /* bytes of output handed to the sink at a time */
#define GZIP_WBITS (15 + 16)   /* the largest window, gzip wrapper only */

struct api__gunzip {
	z_stream zs;
	bool live;	   /* inflateInit2() succeeded: inflateEnd() is owed */
	bool between;	   /* a member ended and no byte of the next one came yet */
	uint64_t max;	   /* inflated bytes allowed */
	uint64_t inflated; /* inflated bytes so far */
	unsigned char out[WINDOW];
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

int api__gunzip_new(uint64_t max, struct api__gunzip **out)
{
	struct api__gunzip *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (g == NULL)
		return FITD_ENOMEM;
	g->zs.zalloc = z_alloc;
	g->zs.zfree = z_free;
	g->max = max;
	if (inflateInit2(&g->zs, GZIP_WBITS) != Z_OK) {
		free(g);
		return FITD_ENOMEM;
	}
	g->live = true;
	*out = g;
	return FITD_OK;
}

void api__gunzip_free(struct api__gunzip *g)
{
	if (g == NULL)
		return;
	if (g->live)
		inflateEnd(&g->zs);
	free(g);
}

static int corrupt(struct fitd_error *err, const char *why)
{
	return fitd_error_set(err, FITD_EFORMAT, "bad_encoding",
			      "the body is not a valid gzip stream (Content-Encoding: gzip): %s",
			      why);
}

/* Hands the window's n bytes to the sink, within the cap. */
static int flush(struct api__gunzip *g, size_t n, api__gunzip_sink sink, void *ctx,
		 struct fitd_error *err)
{
	if (n > g->max - g->inflated)
		return fitd_error_set(err, FITD_ETOOBIG, "payload_too_large",
				      "the body decompressed exceeds the limit of %llu bytes",
				      (unsigned long long)g->max);
	g->inflated += n;
	return n > 0 ? sink(ctx, (const char *)g->out, n, err) : FITD_OK;
}

/* One inflate() call over what is left of the input; *done when it needs more. */
static int step(struct api__gunzip *g, api__gunzip_sink sink, void *ctx, bool *done,
		struct fitd_error *err)
{
	uInt before = g->zs.avail_in;
	int z, rc;

	g->zs.next_out = g->out;
	g->zs.avail_out = WINDOW;
	z = inflate(&g->zs, Z_NO_FLUSH);
	if (z == Z_MEM_ERROR)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "gzip: out of memory");
	if (z == Z_DATA_ERROR || z == Z_NEED_DICT)
		return corrupt(err, g->zs.msg ? g->zs.msg : "corrupt data");
	rc = flush(g, WINDOW - g->zs.avail_out, sink, ctx, err);
	if (rc != FITD_OK)
		return rc;
	if (z == Z_STREAM_END) {
		g->between = true; /* another member may follow */
		if (inflateReset(&g->zs) != Z_OK)
			return corrupt(err, "cannot start the next member");
	} else if (g->zs.avail_in < before) {
		g->between = false; /* inside a member */
	}
	*done = g->zs.avail_in == 0 && g->zs.avail_out != 0;
	return FITD_OK;
}

int api__gunzip_feed(struct api__gunzip *g, const char *data, size_t len, api__gunzip_sink sink,
		     void *ctx, struct fitd_error *err)
{
	int rc = FITD_OK;
	bool done = false;

	while (len > 0 && rc == FITD_OK) {
		uInt take = len > (size_t)UINT32_MAX ? UINT32_MAX : (uInt)len;

		g->zs.next_in = (Bytef *)(uintptr_t)data;
		g->zs.avail_in = take;
		done = false;
		while (!done && rc == FITD_OK)
			rc = step(g, sink, ctx, &done, err);
		data += take;
		len -= take;
	}
	return rc;
}

int api__gunzip_finish(struct api__gunzip *g, struct fitd_error *err)
{
	return g->between ? FITD_OK : corrupt(err, "it ends inside a member (truncated)");
}

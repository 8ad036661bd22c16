/*
 * test_gzip.c - the inflater of gzip request bodies (api/gzip.c): the
 * output is the input whatever the pieces the body comes in (one byte at a
 * time included), several members make one body, the cap on inflated
 * bytes holds to the byte, and corrupt, truncated or trailing data is
 * bad_encoding.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/internal.h"
#include "daemon/base/buf.h"

/* gzip of n bytes at p (one member), into a buffer the caller frees; its size into *len. */
static unsigned char *gz(const void *p, size_t n, size_t *len)
{
	z_stream zs = { 0 };
	size_t cap = n + n / 100 + 64;
	unsigned char *out = malloc(cap);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* A text of n bytes, compressible but not trivially: rows of numbers. */
static char *table(size_t n)
{
	char *t = malloc(n + 1);

	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < n; i++)
		t[i] = i % 13 == 12 ? '\n' : (char)('0' + (i * 7 + i / 13) % 10);
	t[n] = '\0';
	return t;
}

static int collect(void *ctx, const char *data, size_t len, struct fitd_error *err)
{
	(void)err;
	return fitd_buf_add(ctx, data, len);
}

/*
 * Inflates the n bytes at body fed in pieces of step bytes (0: whole) with
 * a cap of max; the output into out, the status of feed or finish returned.
 */
static int inflate_in_pieces(const unsigned char *body, size_t n, size_t step, uint64_t max,
			     struct fitd_buf *out, struct fitd_error *err)
{
	struct api__gunzip *g = NULL;
	int rc = api__gunzip_new(max, &g);

	fitd_buf_init(out, (size_t)1 << 30);
	for (size_t off = 0; rc == FITD_OK && off < n; off += step ? step : n) {
		size_t len = step && n - off > step ? step : n - off;

		rc = api__gunzip_feed(g, (const char *)body + off, len, collect, out, err);
	}
	if (rc == FITD_OK)
		rc = api__gunzip_finish(g, err);
	api__gunzip_free(g);
	return rc;
}

START_TEST(any_pieces_give_the_input)
{
	static const size_t steps[] = { 0, 1, 7, 4096, 65536 };
	size_t n = 300 * 1000, len;
	char *text = table(n);
	unsigned char *body = gz(text, n, &len);

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct fitd_error err = { 0 };
		struct fitd_buf out;

		ck_assert_msg(inflate_in_pieces(body, len, steps[i], n, &out, &err) == FITD_OK,
			      "%s", err.message);
		ck_assert_uint_eq(out.len, n);
		ck_assert(memcmp(out.data, text, n) == 0);
		fitd_buf_release(&out);
	}
	free(body);
	free(text);
}
END_TEST

START_TEST(members_one_after_another_are_one_body)
{
	size_t n = 100 * 1000, a, b;
	char *text = table(n);
	unsigned char *first = gz(text, n / 3, &a), *second = gz(text + n / 3, n - n / 3, &b);
	unsigned char *both = malloc(a + b);
	struct fitd_error err = { 0 };
	struct fitd_buf out;

	ck_assert_ptr_nonnull(both);
	memcpy(both, first, a);
	memcpy(both + a, second, b);
	for (size_t step = 1; step <= 4096; step *= 64) {
		ck_assert_int_eq(inflate_in_pieces(both, a + b, step, n, &out, &err), FITD_OK);
		ck_assert_uint_eq(out.len, n);
		ck_assert(memcmp(out.data, text, n) == 0);
		fitd_buf_release(&out);
	}
	free(both);
	free(second);
	free(first);
	free(text);
}
END_TEST

START_TEST(cap_holds_to_the_byte)
{
	size_t n = 200 * 1000, len;
	char *text = table(n);
	unsigned char *body = gz(text, n, &len);
	struct fitd_error err = { 0 };
	struct fitd_buf out;

	ck_assert_int_eq(inflate_in_pieces(body, len, 1000, n, &out, &err), FITD_OK);
	fitd_buf_release(&out);
	ck_assert_int_eq(inflate_in_pieces(body, len, 1000, n - 1, &out, &err), FITD_ETOOBIG);
	ck_assert_str_eq(err.code, "payload_too_large");
	ck_assert_ptr_nonnull(strstr(err.message, "decompressed"));
	ck_assert_uint_le(out.len, n - 1); /* nothing past the cap reached the sink */
	fitd_buf_release(&out);
	free(body);
	free(text);
}
END_TEST

START_TEST(bad_streams_are_bad_encoding)
{
	size_t n = 50 * 1000, len;
	char *text = table(n);
	unsigned char *body = gz(text, n, &len), *bad = malloc(len + 4);
	struct fitd_error err = { 0 };
	struct fitd_buf out;

	ck_assert_ptr_nonnull(bad);
	/* Not gzip at all. */
	ck_assert_int_eq(inflate_in_pieces((const unsigned char *)text, 100, 0, n, &out, &err),
			 FITD_EFORMAT);
	ck_assert_str_eq(err.code, "bad_encoding");
	fitd_buf_release(&out);
	/* Truncated: every cut inside the member. */
	for (size_t cut = 1; cut < len; cut += len / 7) {
		ck_assert_int_eq(inflate_in_pieces(body, cut, 3, n, &out, &err), FITD_EFORMAT);
		ck_assert_str_eq(err.code, "bad_encoding");
		fitd_buf_release(&out);
	}
	/* A wrong checksum, and bytes after the member. */
	memcpy(bad, body, len);
	bad[len - 6] ^= 0x55;
	ck_assert_int_eq(inflate_in_pieces(bad, len, 0, n, &out, &err), FITD_EFORMAT);
	fitd_buf_release(&out);
	memcpy(bad, body, len);
	memcpy(bad + len, "junk", 4);
	ck_assert_int_eq(inflate_in_pieces(bad, len + 4, 0, n, &out, &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "bad_encoding");
	fitd_buf_release(&out);
	free(bad);
	free(body);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_gzip");
	TCase *tc = tcase_create("inflate");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, any_pieces_give_the_input);
	tcase_add_test(tc, members_one_after_another_are_one_body);
	tcase_add_test(tc, cap_holds_to_the_byte);
	tcase_add_test(tc, bad_streams_are_bad_encoding);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

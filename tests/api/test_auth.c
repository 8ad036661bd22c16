/*
 * test_auth.c - the token file parser and lookup, the scope of every route,
 * and the token bucket arithmetic and its bounded table.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/internal.h"
#include "api/ratelimit.h"
#include "store/sha256.h"

#define SEC 1000000000LL

/* The sha256sum of text, as the token file holds it. */
static const char *hex_of(const char *text)
{
	static char hex[4][STORE_SHA256_HEX];
	static int next;
	struct store_sha256 ctx;
	char *out = hex[next++ % 4];

	store_sha256_init(&ctx);
	store_sha256_update(&ctx, text, strlen(text));
	store_sha256_final_hex(&ctx, out);
	return out;
}

static struct api_tokens *parse_ok(const char *text)
{
	struct api_tokens *t = NULL;
	struct fitd_error err = { 0 };

	ck_assert_msg(api_tokens_parse(text, strlen(text), "t", &t, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* Parses text expecting a refusal whose message starts with want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
	struct api_tokens *t = (struct api_tokens *)1;
	struct fitd_error err = { 0 };

	ck_assert_int_eq(api_tokens_parse(text, len, "t", &t, &err), FITD_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err.code, "invalid_token_file");
	ck_assert_msg(strncmp(err.message, want, strlen(want)) == 0, "got '%s', want '%s...'",
		      err.message, want);
}

START_TEST(parses_lines_comments_and_crlf)
{
	char text[1024];
	struct api_tokens *t;
	char name[API_TOKEN_NAME_MAX + 1];
	unsigned scopes = 0;

	snprintf(text, sizeof(text),
		 "# fitd tokens\n\n   # indented comment\n%s read,write,admin alice\r\n"
		 "\t%s\tread   ci.bot-2\n%s admin,read ops_1",
		 hex_of("alice-token"), hex_of("bot-token"), hex_of("ops-token"));
	t = parse_ok(text);
	ck_assert_uint_eq(api_tokens_count(t), 3);
	ck_assert(api_tokens_find(t, "alice-token", 11, name, &scopes));
	ck_assert_str_eq(name, "alice");
	ck_assert_uint_eq(scopes, API_READ | API_WRITE | API_ADMIN);
	ck_assert(api_tokens_find(t, "bot-token", 9, name, &scopes));
	ck_assert_str_eq(name, "ci.bot-2");
	ck_assert_uint_eq(scopes, API_READ);
	ck_assert(api_tokens_find(t, "ops-token", 9, name, &scopes));
	ck_assert_str_eq(name, "ops_1");
	ck_assert_uint_eq(scopes, API_READ | API_ADMIN);
	api_tokens_free(t);
}
END_TEST

START_TEST(finds_only_the_exact_token)
{
	char text[256], name[API_TOKEN_NAME_MAX + 1] = "unchanged";
	unsigned scopes = 99;
	struct api_tokens *t;

	snprintf(text, sizeof(text), "%s write w\n", hex_of("s3cret"));
	t = parse_ok(text);
	ck_assert(!api_tokens_find(t, "s3cre", 5, name, &scopes));
	ck_assert(!api_tokens_find(t, "s3cret ", 7, name, &scopes));
	ck_assert(!api_tokens_find(t, "S3cret", 6, name, &scopes));
	ck_assert(!api_tokens_find(t, "", 0, name, &scopes));
	ck_assert(!api_tokens_find(t, "s3cret\0x", 8, name, &scopes)); /* length, not C string */
	ck_assert_str_eq(name, "unchanged");
	ck_assert_uint_eq(scopes, 99);
	ck_assert(api_tokens_find(t, "s3cret\0x", 6, name, &scopes));
	ck_assert_str_eq(name, "w");
	api_tokens_free(t);
}
END_TEST

START_TEST(uppercase_hash_and_empty_file)
{
	char text[256], upper[STORE_SHA256_HEX], name[API_TOKEN_NAME_MAX + 1];
	struct api_tokens *t;
	unsigned scopes;

	snprintf(upper, sizeof(upper), "%s", hex_of("tok"));
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(text, sizeof(text), "%s read x\n", upper);
	t = parse_ok(text);
	ck_assert(api_tokens_find(t, "tok", 3, name, &scopes));
	api_tokens_free(t);

	t = parse_ok("# nobody yet\n\n");
	ck_assert_uint_eq(api_tokens_count(t), 0);
	ck_assert(!api_tokens_find(t, "tok", 3, name, &scopes));
	api_tokens_free(t);
	t = parse_ok("");
	ck_assert_uint_eq(api_tokens_count(t), 0);
	api_tokens_free(t);
}
END_TEST

START_TEST(refuses_malformed_lines_with_their_number)
{
	const char *h = hex_of("a"), *h2 = hex_of("b");
	char bad[64 + 1];
	/* Each text is pre, the first hashlen digits of a valid hash, then post. */
	const struct {
		const char *pre;
		int hashlen;
		const char *post, *want;
	} cases[] = {
		{ "", 64, " read\n", "token file t:1: expected '<sha256 hex> <scopes> <name>'" },
		{ "# c\n", 64, " read a extra\n", "token file t:2: expected" },
		{ "\n\n", 63, " read a\n", "token file t:3: the hash must be 64 hex digits" },
		{ "", 64, "0 read a\n", "token file t:1: the hash must be 64 hex digits" },
		{ "", 64, " wrte a\n", "token file t:1: unknown scope 'wrte'" },
		{ "", 64, " Read a\n", "token file t:1: unknown scope 'Read'" },
		{ "", 64, " read,,write a\n", "token file t:1: empty scope" },
		{ "", 64, " read, a\n", "token file t:1: empty scope" },
		{ "", 64, " ,read a\n", "token file t:1: empty scope" },
		{ "", 64, " read,read a\n", "token file t:1: scope 'read' is listed twice" },
		{ "", 64, " read al/ice\n", "token file t:1: the name must be 1 to 64" },
		{ "", 64, " read caf\xc3\xa9\n", "token file t:1: the name must be 1 to 64" },
		{ "", 64,
		  " read n12345678901234567890123456789012345678901234567890123456789012345\n",
		  "token file t:1: the name must be 1 to 64" },
	};
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%.*s%s", cases[i].pre, cases[i].hashlen, h,
			 cases[i].post);
		parse_bad(text, strlen(text), cases[i].want);
	}
	memcpy(bad, h, 65);
	bad[10] = 'g';
	snprintf(text, sizeof(text), "%s read a\n", bad);
	parse_bad(text, strlen(text), "token file t:1: the hash must be 64 hex digits");

	snprintf(text, sizeof(text), "%s read a\n# x\n%s write a\n", h, h2);
	parse_bad(text, strlen(text), "token file t:3: the name is already used on line 1");
	snprintf(text, sizeof(text), "%s read a\n%s write b\n", h, h);
	parse_bad(text, strlen(text), "token file t:2: the same token is already listed on line 1");
	snprintf(text, sizeof(text), "# ok\n%s read a\x01\n", h);
	parse_bad(text, strlen(text), "token file t:2: the name must be");
	snprintf(text, sizeof(text), "%s read a\n#x\n", h);
	text[strlen(h) + 9] = '\0'; /* the x */
	parse_bad(text, strlen(h) + 11, "token file t:2: NUL byte");
}
END_TEST

/*
 * A token file of n tokens named tNNNNN, each line LINE_BYTES long, whose
 * hashes are the line's index in hex; malloc'd, n * LINE_BYTES bytes.
 */
#define LINE_BYTES (64 + sizeof(" read t00000\n") - 1)

static char *many_tokens(size_t n)
{
	char *text = malloc(n * LINE_BYTES + 1);

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		snprintf(text + i * LINE_BYTES, LINE_BYTES + 1, "%064zx read t%05zu\n", i, i);
	return text;
}

START_TEST(table_holds_up_to_the_cap)
{
	char *text = many_tokens(API_TOKENS_MAX + 1), want[80];
	struct api_tokens *t = NULL;
	struct fitd_error err = { 0 };

	/* API_TOKENS_MAX lines: all kept. */
	ck_assert_msg(api_tokens_parse(text, API_TOKENS_MAX * LINE_BYTES, "t", &t, &err) == FITD_OK,
		      "%s", err.message);
	ck_assert_uint_eq(api_tokens_count(t), API_TOKENS_MAX);
	api_tokens_free(t);
	/* One more is refused, naming its line, and no table is left. */
	t = (struct api_tokens *)1;
	ck_assert_int_eq(api_tokens_parse(text, (API_TOKENS_MAX + 1) * LINE_BYTES, "t", &t, &err),
			 FITD_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err.code, "invalid_token_file");
	snprintf(want, sizeof(want), "token file t:%d: more than %d tokens", API_TOKENS_MAX + 1,
		 API_TOKENS_MAX);
	ck_assert_str_eq(err.message, want);
	free(text);
}
END_TEST

START_TEST(loads_a_file)
{
	char path[] = "/tmp/fitd-tokens-XXXXXX";
	int fd = mkstemp(path);
	struct api_tokens *t = NULL;
	struct fitd_error err = { 0 };
	char line[128];

	ck_assert_int_ge(fd, 0);
	snprintf(line, sizeof(line), "%s read r\n", hex_of("x"));
	ck_assert_int_eq(write(fd, line, strlen(line)), (int)strlen(line));
	close(fd);
	ck_assert_int_eq(api_tokens_load(path, &t, &err), FITD_OK);
	ck_assert_uint_eq(api_tokens_count(t), 1);
	api_tokens_free(t);
	unlink(path);
	ck_assert_int_eq(api_tokens_load(path, &t, &err), FITD_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err.message, "cannot open") != NULL, "%s", err.message);
	ck_assert_int_eq(api_tokens_load("/tmp", &t, &err), FITD_EINVAL);
	ck_assert_msg(strstr(err.message, "not a regular file") != NULL, "%s", err.message);
}
END_TEST

/* The contract's scopes: read for GETs under /v1 and predictions (by model or alias), write for
 * changes, admin for /metrics, open for health, the API description and the dashboard's files. */
START_TEST(every_route_has_the_contract_scope)
{
	size_t n;
	const struct api__route *r = api__routes(&n);

	ck_assert_uint_gt(n, 10);
	for (size_t i = 0; i < n; i++) {
		const char *m = r[i].method, *p = r[i].pattern;
		enum api_scope want;

		if (strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 ||
		    strcmp(p, "/v1/openapi.json") == 0 || strcmp(p, "/") == 0 ||
		    strncmp(p, "/dash/", 6) == 0)
			want = API_OPEN;
		else if (strcmp(p, "/metrics") == 0)
			want = API_ADMIN;
		else if (strcmp(m, "GET") == 0 || strcmp(p, "/v1/models/{id}/predict") == 0 ||
			 strcmp(p, "/v1/aliases/{name}/predict") == 0)
			want = API_READ;
		else
			want = API_WRITE;
		ck_assert_msg(r[i].scope == want, "%s %s needs %s, has %s", m, p,
			      api_scope_name(want), api_scope_name(r[i].scope));
		/* The routes with the predict rate limit are exactly the two that score rows. */
		ck_assert_msg(api__route_predicts(&r[i]) == (strstr(p, "/predict") != NULL),
			      "%s %s", m, p);
	}
	ck_assert(!api__route_predicts(NULL));
}
END_TEST

START_TEST(bucket_burst_then_rate)
{
	struct api__bucket b;
	int64_t t = 1000 * SEC;

	api__bucket_init(&b, 3, t);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t), 0);
	/* Empty: at 2 a second the next token comes in 0.5 s, rounded up to 1. */
	ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t), 1);
	ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t + SEC / 4), 1);
	ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t + SEC / 2), 0);
	ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t + SEC / 2), 1);
	/* A long pause refills up to the burst, not beyond. */
	t += 3600 * SEC;
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(api__bucket_take(&b, 2, 3, t), 0);
	ck_assert_uint_ne(api__bucket_take(&b, 2, 3, t), 0);
}
END_TEST

START_TEST(bucket_retry_after_rounds_up)
{
	struct api__bucket b;
	int64_t t = 5 * SEC;

	/* One request a second, no burst: the wait after it is the whole second. */
	api__bucket_init(&b, 1, t);
	ck_assert_uint_eq(api__bucket_take(&b, 1, 1, t), 0);
	ck_assert_uint_eq(api__bucket_take(&b, 1, 1, t), 1);
	/* A clock that steps back refills nothing and does not underflow. */
	ck_assert_uint_eq(api__bucket_take(&b, 1, 1, t - 10 * SEC), 1);
	ck_assert_uint_eq(api__bucket_take(&b, 1, 1, t + SEC), 0);
	/* At 1 a second from empty, a refused request waits ceil(1 - tokens) seconds. */
	ck_assert_uint_eq(api__bucket_take(&b, 1, 1, t + SEC + SEC / 10), 1);
}
END_TEST

START_TEST(table_keys_are_separate_and_bounded)
{
	struct api__ratelimit *rl = NULL;
	int64_t t = 10 * SEC;
	char key[32];

	ck_assert_int_eq(api__ratelimit_new(0, 5, 64, &rl), FITD_OK);
	ck_assert_ptr_null(rl); /* rate 0: no limit */
	ck_assert_uint_eq(api__ratelimit_take(rl, "a", 1, t), 0);

	ck_assert_int_eq(api__ratelimit_new(1, 2, 64, &rl), FITD_OK);
	ck_assert_uint_eq(api__ratelimit_take(rl, "alice", 5, t), 0);
	ck_assert_uint_eq(api__ratelimit_take(rl, "alice", 5, t), 0);
	ck_assert_uint_eq(api__ratelimit_take(rl, "alice", 5, t), 1);
	ck_assert_uint_eq(api__ratelimit_take(rl, "bob", 3, t), 0);
	ck_assert_uint_eq(api__ratelimit_take(rl, "alic", 4, t), 0);
	ck_assert_uint_eq(api__ratelimit_take(rl, "alice", 5, t), 1);
	/* 10,000 other keys pass through 64 slots; each is a fresh full bucket. */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_uint_eq(api__ratelimit_take(rl, key, strlen(key), t + i), 0);
	}
	/* alice was used least recently, so evicted: she starts again full. */
	ck_assert_uint_eq(api__ratelimit_take(rl, "alice", 5, t + SEC / 2), 0);
	api__ratelimit_free(rl);
	api__ratelimit_free(NULL);
}
END_TEST

START_TEST(keys_of_one_set_coexist)
{
	struct api__ratelimit *rl = NULL;
	int64_t t = 10 * SEC;
	char key[32];
	int refused = 0;

	/* Eight slots are one set: six keys share it without evicting each other. */
	ck_assert_int_eq(api__ratelimit_new(1, 1000, 8, &rl), FITD_OK);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "other%d", i % 5);
		api__ratelimit_take(rl, key, strlen(key), t + i);
		refused += api__ratelimit_take(rl, "busy", 4, t + i) != 0;
	}
	ck_assert_int_eq(refused, 1000);
	api__ratelimit_free(rl);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("api_auth");
	TCase *tc = tcase_create("auth");

	tcase_add_test(tc, parses_lines_comments_and_crlf);
	tcase_add_test(tc, finds_only_the_exact_token);
	tcase_add_test(tc, uppercase_hash_and_empty_file);
	tcase_add_test(tc, refuses_malformed_lines_with_their_number);
	tcase_add_test(tc, loads_a_file);
	tcase_add_test(tc, table_holds_up_to_the_cap);
	tcase_add_test(tc, every_route_has_the_contract_scope);
	tcase_add_test(tc, bucket_burst_then_rate);
	tcase_add_test(tc, bucket_retry_after_rounds_up);
	tcase_add_test(tc, table_keys_are_separate_and_bounded);
	tcase_add_test(tc, keys_of_one_set_coexist);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

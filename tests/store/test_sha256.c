/*
 * test_sha256.c - SHA-256 (store/sha256.h over nettle) against the FIPS
 * 180-2 test vectors, fed in one piece and in chunks of every awkward
 * size; a digest fed in pieces agreeing with the same data in one piece
 * for every length across several blocks; hex output, an empty update and
 * a context used again after init.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/sha256.h"

static const struct {
	const char *msg;
	size_t repeat; /* the message is msg repeated this many times */
	const char *hex;
} vectors[] = {
	{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
};

static char *expand(size_t k, size_t *len)
{
	size_t n = strlen(vectors[k].msg);
	char *buf = malloc(n * vectors[k].repeat + 1);

	ck_assert_ptr_nonnull(buf);
	for (size_t r = 0; r < vectors[k].repeat; r++)
		memcpy(buf + r * n, vectors[k].msg, n);
	*len = n * vectors[k].repeat;
	return buf;
}

START_TEST(fips_vectors_one_piece)
{
	for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
		struct store_sha256 s;
		char hex[STORE_SHA256_HEX];
		size_t len;
		char *msg = expand(k, &len);

		store_sha256_init(&s);
		store_sha256_update(&s, msg, len);
		store_sha256_final_hex(&s, hex);
		ck_assert_str_eq(hex, vectors[k].hex);
		free(msg);
	}
}
END_TEST

START_TEST(fips_vectors_in_chunks)
{
	static const size_t sizes[] = { 1, 3, 55, 56, 63, 64, 65, 127, 4096 };

	for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
		size_t len;
		char *msg = expand(k, &len);

		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			struct store_sha256 s;
			char hex[STORE_SHA256_HEX];

			store_sha256_init(&s);
			for (size_t off = 0; off < len; off += sizes[z])
				store_sha256_update(&s, msg + off,
						    len - off < sizes[z] ? len - off : sizes[z]);
			store_sha256_final_hex(&s, hex);
			ck_assert_str_eq(hex, vectors[k].hex);
		}
		free(msg);
	}
}
END_TEST

START_TEST(pieces_agree_with_one_piece)
{
	unsigned char data[1000];
	uint64_t x = 12345;

	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		data[i] = (unsigned char)(x >> 56);
	}
	for (size_t len = 0; len <= sizeof(data); len++) {
		struct store_sha256 a, b;
		unsigned char da[STORE_SHA256_BYTES], db[STORE_SHA256_BYTES];

		store_sha256_init(&a);
		store_sha256_init(&b);
		store_sha256_update(&a, data, len);
		store_sha256_update(&b, data, len / 3);
		store_sha256_update(&b, NULL, 0);
		store_sha256_update(&b, data + len / 3, len - len / 3);
		store_sha256_final(&a, da);
		store_sha256_final(&b, db);
		ck_assert_msg(memcmp(da, db, sizeof(da)) == 0, "length %zu", len);
	}
}
END_TEST

START_TEST(hex_and_defaults)
{
	unsigned char d[STORE_SHA256_BYTES];
	char hex[STORE_SHA256_HEX];
	struct store_sha256 s;

	for (int i = 0; i < STORE_SHA256_BYTES; i++)
		d[i] = (unsigned char)(i % 16 * 17);
	store_sha256_hex(d, hex);
	ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	store_sha256_init(&s);
	store_sha256_update(&s, NULL, 0);
	store_sha256_final_hex(&s, hex);
	ck_assert_str_eq(hex, vectors[3].hex);
	/* The same context, started again, gives the next digest from scratch. */
	store_sha256_init(&s);
	store_sha256_update(&s, "abc", 3);
	store_sha256_final_hex(&s, hex);
	ck_assert_str_eq(hex, vectors[0].hex);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, fips_vectors_one_piece);
	tcase_add_test(tc, fips_vectors_in_chunks);
	tcase_add_test(tc, pieces_agree_with_one_piece);
	tcase_add_test(tc, hex_and_defaults);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

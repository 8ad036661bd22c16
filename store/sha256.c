/*
 * sha256.c - store_sha256 over nettle: the context is nettle's, the digest
 * comes out in bytes or lowercase hex.
 */
#include "store/sha256.h"

void store_sha256_init(struct store_sha256 *s)
{
	sha256_init(&s->ctx);
}

void store_sha256_update(struct store_sha256 *s, const void *data, size_t len)
{
	if (len > 0)
		sha256_update(&s->ctx, len, data);
}

void store_sha256_final(struct store_sha256 *s, unsigned char out[STORE_SHA256_BYTES])
{
	sha256_digest(&s->ctx, STORE_SHA256_BYTES, out);
}

void store_sha256_hex(const unsigned char digest[STORE_SHA256_BYTES], char hex[STORE_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < STORE_SHA256_BYTES; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[2 * STORE_SHA256_BYTES] = '\0';
}

void store_sha256_final_hex(struct store_sha256 *s, char hex[STORE_SHA256_HEX])
{
	unsigned char d[STORE_SHA256_BYTES];

	store_sha256_final(s, d);
	store_sha256_hex(d, hex);
}

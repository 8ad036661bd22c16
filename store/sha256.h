/*
 * sha256.h - incremental SHA-256 (FIPS 180-4), used to fingerprint uploads
 * chunk by chunk as they arrive, and to hash bearer tokens.
 *
 * A thin layer over nettle's sha256 (Debian: nettle-dev), which picks the
 * x86-64 SHA extensions (SHA-NI) at run time when the CPU has them. A
 * struct store_sha256 is a plain value: embed it, init it, feed it with
 * update() any number of times in any chunk sizes, then final() once. It
 * allocates nothing, cannot fail and has no global state, so separate
 * contexts may be used from separate threads.
 */
#ifndef STORE_SHA256_H
#define STORE_SHA256_H

#include <stddef.h>

#include <nettle/sha2.h>

#define STORE_SHA256_BYTES 32
#define STORE_SHA256_HEX   65 /* 64 lowercase hex digits and a NUL */

_Static_assert(STORE_SHA256_BYTES == SHA256_DIGEST_SIZE, "a SHA-256 digest is 32 bytes");

struct store_sha256 {
	struct sha256_ctx ctx;
};

/* Starts a digest. */
void store_sha256_init(struct store_sha256 *s);

/* Hashes len bytes at data; data may be NULL when len is 0. */
void store_sha256_update(struct store_sha256 *s, const void *data, size_t len);

/* Finishes the digest into out; store_sha256_init() starts the context again. */
void store_sha256_final(struct store_sha256 *s, unsigned char out[STORE_SHA256_BYTES]);

/* final() written as 64 lowercase hex digits and a NUL. */
void store_sha256_final_hex(struct store_sha256 *s, char hex[STORE_SHA256_HEX]);

/* Writes a digest as 64 lowercase hex digits and a NUL. */
void store_sha256_hex(const unsigned char digest[STORE_SHA256_BYTES], char hex[STORE_SHA256_HEX]);

#endif

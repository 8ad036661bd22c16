/*
 * sha256.h - incremental SHA-256 (FIPS 180-4), used to fingerprint uploads
 * chunk by chunk as they arrive.
 *
 * A struct store_sha256 is a plain value: embed it, init it, feed it with
 * update() any number of times in any chunk sizes, then final() once. It
 * allocates nothing and has no global state, so separate contexts may be
 * used from separate threads. init() picks the SHA-NI instructions when the
 * CPU has them and a portable implementation otherwise; both give the same
 * digest.
 */
#ifndef STORE_SHA256_H
#define STORE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SHA256_BYTES 32
#define STORE_SHA256_HEX   65 /* 64 lowercase hex digits and a NUL */

enum store_sha256_impl {
	STORE_SHA256_PORTABLE = 0,
	STORE_SHA256_SHANI = 1, /* x86-64 SHA extensions */
};

struct store_sha256 {
	uint32_t state[8];
	uint64_t bytes;	       /* message length so far */
	unsigned char buf[64]; /* a partial block */
	size_t nbuf;	       /* bytes in buf */
	enum store_sha256_impl impl;
};

/* Starts a digest with the fastest implementation this CPU supports. */
void store_sha256_init(struct store_sha256 *s);

/*
 * Switches an initialised context to impl before any update(); returns
 * false (and changes nothing) when the CPU lacks it. For tests and
 * benchmarks.
 */
bool store_sha256_use(struct store_sha256 *s, enum store_sha256_impl impl);

/* Hashes len bytes at data; data may be NULL when len is 0. */
void store_sha256_update(struct store_sha256 *s, const void *data, size_t len);

/* Finishes the digest into out; the context must be init()ed again before reuse. */
void store_sha256_final(struct store_sha256 *s, unsigned char out[STORE_SHA256_BYTES]);

/* final() written as 64 lowercase hex digits and a NUL. */
void store_sha256_final_hex(struct store_sha256 *s, char hex[STORE_SHA256_HEX]);

/* Writes a digest as 64 lowercase hex digits and a NUL. */
void store_sha256_hex(const unsigned char digest[STORE_SHA256_BYTES], char hex[STORE_SHA256_HEX]);

#endif

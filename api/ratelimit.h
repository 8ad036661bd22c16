/*
 * ratelimit.h - token buckets, and a bounded table of them keyed by client
 * address or token name.
 *
 * A bucket holds up to burst tokens and gains rate tokens a second; each
 * request takes one, and a request that finds less than one is refused with
 * the whole seconds until one is there (the Retry-After). The table has a
 * fixed number of slots, allocated once: a key hashes to a set of a few
 * slots, and a new key takes a free slot of its set or the one used least
 * recently. Memory stays fixed whatever clients send; the price of an
 * eviction is that the evicted client starts again with a full bucket.
 *
 * Only api/ (and its tests) includes it, so its names are api__ ones
 * (see internal.h).
 */
#ifndef API_RATELIMIT_H
#define API_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define API__RATELIMIT_KEY_MAX 64 /* bytes of a key; a token name fits */

struct api__bucket {
	double tokens;
	int64_t last_ns; /* when tokens was last brought up to date */
};

/* A full bucket at now_ns. */
void api__bucket_init(struct api__bucket *b, unsigned burst, int64_t now_ns);

/*
 * Refills b for the time since its last use at rate tokens a second (at
 * most burst in all), then takes one token. Returns 0 when it took one, or
 * the seconds, rounded up, until one will be there. A clock that went
 * backwards refills nothing. rate must be at least 1.
 */
unsigned api__bucket_take(struct api__bucket *b, unsigned rate, unsigned burst, int64_t now_ns);

struct api__ratelimit;

/*
 * A table of at least slots buckets (rounded up to a power of two) of
 * rate a second and burst. rate 0 means no limit: then *out is NULL, which
 * api__ratelimit_take() accepts.
 */
int api__ratelimit_new(unsigned rate, unsigned burst, size_t slots, struct api__ratelimit **out);

/* NULL is allowed. */
void api__ratelimit_free(struct api__ratelimit *rl);

/*
 * Takes a token from the bucket of key (keylen bytes, at most
 * API__RATELIMIT_KEY_MAX; longer keys are cut). Returns 0 or the
 * Retry-After in seconds as api__bucket_take(). Thread-safe; NULL rl always
 * returns 0.
 */
unsigned api__ratelimit_take(struct api__ratelimit *rl, const void *key, size_t keylen,
			     int64_t now_ns);

#endif

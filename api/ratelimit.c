/*
 * ratelimit.c - token buckets and their bounded, set-associative table.
 *
 * One mutex guards a whole table: a take is a hash, a scan of WAYS slots
 * and a little arithmetic, far shorter than the request around it. The
 * hash is seeded per table so that clients cannot choose keys that land in
 * one set on purpose.
 */
#include "api/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/base/status.h"

#define WAYS 8 /* slots a key may occupy */

struct slot {
	unsigned char key[API__RATELIMIT_KEY_MAX];
	unsigned char keylen; /* 0: free */
	struct api__bucket bucket;
};

struct api__ratelimit {
	pthread_mutex_t lock; /* guards slots */
	unsigned rate, burst;
	uint64_t seed;
	size_t mask; /* slots - 1; slots is a power of two >= WAYS */
	struct slot *slots;
};

void api__bucket_init(struct api__bucket *b, unsigned burst, int64_t now_ns)
{
	b->tokens = burst;
	b->last_ns = now_ns;
}

unsigned api__bucket_take(struct api__bucket *b, unsigned rate, unsigned burst, int64_t now_ns)
{
	double wait;

	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * 1e-9 * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ns = now_ns;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	wait = ceil((1.0 - b->tokens) / rate);
	return wait < 1.0 ? 1 : (unsigned)wait;
}

int api__ratelimit_new(unsigned rate, unsigned burst, size_t slots, struct api__ratelimit **out)
{
	struct api__ratelimit *rl;
	size_t n = WAYS;

	*out = NULL;
	if (rate == 0)
		return FITD_OK;
	while (n < slots)
		n *= 2;
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL || (rl->slots = calloc(n, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return FITD_ENOMEM;
	}
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst = burst ? burst : 1;
	rl->mask = n - 1;
	if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) != sizeof(rl->seed))
		rl->seed = (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15u;
	*out = rl;
	return FITD_OK;
}

void api__ratelimit_free(struct api__ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/* FNV-1a over the seed and the key, then a final mix so the low bits spread. */
static uint64_t hash(uint64_t seed, const unsigned char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 0x100000001b3u;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	return h ^ (h >> 33);
}

/* The slot of key in its set: its own, else a free one, else the least recently used. */
static struct slot *find_slot(struct api__ratelimit *rl, const unsigned char *key, size_t len,
			      bool *fresh)
{
	size_t set = (size_t)hash(rl->seed, key, len) & rl->mask & ~(size_t)(WAYS - 1);
	struct slot *free_slot = NULL, *oldest = NULL;

	for (size_t i = 0; i < WAYS; i++) {
		struct slot *s = &rl->slots[set + i];

		if (s->keylen == len && memcmp(s->key, key, len) == 0) {
			*fresh = false;
			return s;
		}
		if (s->keylen == 0) {
			if (free_slot == NULL)
				free_slot = s;
		} else if (oldest == NULL || s->bucket.last_ns < oldest->bucket.last_ns) {
			oldest = s;
		}
	}
	*fresh = true;
	return free_slot ? free_slot : oldest;
}

unsigned api__ratelimit_take(struct api__ratelimit *rl, const void *key, size_t keylen,
			     int64_t now_ns)
{
	struct slot *s;
	unsigned wait;
	bool fresh;

	if (rl == NULL)
		return 0;
	if (keylen > API__RATELIMIT_KEY_MAX)
		keylen = API__RATELIMIT_KEY_MAX;
	if (keylen == 0) { /* an empty key shares one bucket with the key "\0" */
		key = "";
		keylen = 1;
	}
	pthread_mutex_lock(&rl->lock);
	s = find_slot(rl, key, keylen, &fresh);
	if (fresh) {
		memcpy(s->key, key, keylen);
		s->keylen = (unsigned char)keylen;
		api__bucket_init(&s->bucket, rl->burst, now_ns);
	}
	wait = api__bucket_take(&s->bucket, rl->rate, rl->burst, now_ns);
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

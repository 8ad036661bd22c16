/*
 * util.c - the small pieces every file of the core uses: overflow-checked
 * sizes, the planning arena, the seeded random generator and cancellation.
 *
 * The generator is xoshiro256** (Blackman and Vigna) seeded through
 * splitmix64, so a (seed, stream) pair gives the same numbers on every
 * machine; there is no global generator state anywhere in the core.
 */
#include "worker/fit/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_FROM ((size_t)8 << 20) /* buffers from this size get huge pages */

int fit__mul(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int fit__add(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

size_t fit__pad(size_t x)
{
	size_t r;

	if (fit__add(x, FIT__PAD - 1, &r))
		return 0;
	return r / FIT__PAD * FIT__PAD;
}

void *fit__arena_take(struct fit__arena *a, size_t count, size_t elem)
{
	size_t bytes, end;
	void *p;

	if (a->overflow || fit__mul(count, elem, &bytes) ||
	    fit__add(bytes, FIT__ALIGN - 1, &bytes)) {
		a->overflow = 1;
		return NULL;
	}
	bytes = bytes / FIT__ALIGN * FIT__ALIGN;
	if (fit__add(a->used, bytes, &end) || (a->base != NULL && end > a->size)) {
		a->overflow = 1;
		return NULL;
	}
	p = a->base != NULL ? a->base + a->used : NULL;
	a->used = end;
	return p;
}

void *fit__alloc(size_t bytes)
{
	size_t n;
	void *p = NULL;

	if (fit__add(bytes, FIT__ALIGN - 1, &n))
		return NULL;
	n = n / FIT__ALIGN * FIT__ALIGN;
	if (n < HUGE_FROM)
		return aligned_alloc(FIT__ALIGN, n == 0 ? FIT__ALIGN : n);
	/*
	 * Big buffers (design matrices) are touched once per pass: 2 MiB pages
	 * make their first touch one fault per 2 MiB instead of per 4 KiB, which
	 * in a virtual machine costs more than several passes over the data.
	 */
	if (posix_memalign(&p, HUGE_PAGE, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t fit__hash64(uint64_t x)
{
	return splitmix64(&x);
}

void fit__rng_seed(struct fit__rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t st = seed ^ fit__hash64(stream + 0x632be59bd9b4e019ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t fit__rng_next(struct fit__rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t fit__rng_below(struct fit__rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)fit__rng_next(r) * n;
	uint64_t low = (uint64_t)m;

	if (low < n) {
		uint64_t threshold = -n % n;

		while (low < threshold) {
			m = (unsigned __int128)fit__rng_next(r) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double fit__rng_uniform(struct fit__rng *r)
{
	return (double)(fit__rng_next(r) >> 11) * 0x1.0p-53;
}

void fit__rng_shuffle(struct fit__rng *r, size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)fit__rng_below(r, i);
		size_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

int fit__poll_check(struct fit__poll *p)
{
	if (p == NULL)
		return 0;
	if (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED) && p->abort != NULL &&
	    p->abort(p->data) != 0)
		__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}

int fit__poll_stopped(const struct fit__poll *p)
{
	if (p == NULL)
		return 0;
	return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}

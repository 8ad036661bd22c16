/*
 * rng.c - the seeded random numbers of fitd: xoshiro256** (Blackman and
 * Vigna) seeded through splitmix64, so a (seed, stream) pair gives the same
 * numbers on every machine. There is no global generator state anywhere.
 */
#include "worker/fit/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t fit_hash64(uint64_t x)
{
	return splitmix64(&x);
}

void fit_rng_seed(struct fit_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t st = seed ^ fit_hash64(stream + 0x632be59bd9b4e019ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t fit_rng_next(struct fit_rng *r)
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

uint64_t fit_rng_below(struct fit_rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)fit_rng_next(r) * n;
	uint64_t low = (uint64_t)m;

	if (low < n) {
		uint64_t threshold = -n % n;

		while (low < threshold) {
			m = (unsigned __int128)fit_rng_next(r) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double fit_rng_uniform(struct fit_rng *r)
{
	return (double)(fit_rng_next(r) >> 11) * 0x1.0p-53;
}

void fit_rng_shuffle(struct fit_rng *r, size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)fit_rng_below(r, i);
		size_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

double fit_rng_normal(struct fit_rng *r)
{
	double u1 = 1.0 - fit_rng_uniform(r); /* (0, 1] */
	double u2 = fit_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/*
 * rng.h - seeded random numbers: splitmix64 seeding, xoshiro256** streams.
 * Never rand(): the numbers must be the same on every run and platform.
 */
#ifndef WORKER_FIT_RNG_H
#define WORKER_FIT_RNG_H

#include <stddef.h>
#include <stdint.h>

struct fit_rng {
	uint64_t s[4];
};

/* A stream for (seed, stream): different streams are independent. */
void fit_rng_seed(struct fit_rng *r, uint64_t seed, uint64_t stream);
uint64_t fit_rng_next(struct fit_rng *r);
/* Uniform in [0, n) without bias (Lemire); n > 0. */
uint64_t fit_rng_below(struct fit_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double fit_rng_uniform(struct fit_rng *r);
/* Fisher-Yates shuffle of a. */
void fit_rng_shuffle(struct fit_rng *r, size_t *a, size_t n);
/* The splitmix64 finalizer: a counter-based hash for order-free random draws. */
uint64_t fit_hash64(uint64_t x);
/* A standard normal draw (Box-Muller). */
double fit_rng_normal(struct fit_rng *r);

#endif

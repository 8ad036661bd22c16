/*
 * random.c - the seeded random numbers of the searchers and random search.
 *
 * Every proposal draws from its own xoshiro256** stream (worker/fit/rng.h),
 * seeded from (job seed, trial index, purpose), so what trial k draws
 * never depends on how many numbers another trial drew, on the thread that
 * asks, or on the time. Ranges are sampled in the samplers' coordinates:
 * log of the value for log ranges, and integers widened by half a step on
 * each side so that rounding gives every integer of the range its share.
 */
#include "worker/search/internal.h"

#include <math.h>

void search__rng_init(struct fit_rng *r, uint64_t seed, uint64_t idx, uint64_t stream)
{
	uint64_t x = fit_hash64(fit_hash64(fit_hash64(seed) ^ idx) ^ stream);

	for (int i = 0; i < 4; i++) {
		x = fit_hash64(x);
		r->s[i] = x;
	}
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1; /* the one state xoshiro cannot leave */
}

/* One bijection of [0, 4^half) : four Feistel rounds on two half-words. */
static uint64_t feistel(uint64_t x, unsigned half, uint64_t key)
{
	uint64_t mask = (1ull << half) - 1;
	uint64_t l = x >> half, r = x & mask;

	for (uint64_t round = 0; round < 4; round++) {
		uint64_t f = fit_hash64(r ^ key ^ (round * 0xd6e8feb86659fd93ull)) & mask;
		uint64_t next = l ^ f;

		l = r;
		r = next;
	}
	return (l << half) | r;
}

uint64_t search__permute(uint64_t i, uint64_t n, uint64_t seed)
{
	unsigned bits = 2;
	uint64_t key = fit_hash64(seed ^ SEARCH__STREAM_PERMUTE);

	while (bits < 62 && (1ull << bits) < n)
		bits += 2;
	/* Cycle-walking keeps the walk inside [0, n): still a bijection. */
	do
		i = feistel(i, bits / 2, key);
	while (i >= n);
	return i;
}

void search__range_bounds(const struct space_values *v, bool integer, double *lo, double *hi)
{
	double a = integer ? v->min - 0.5 : v->min;
	double b = integer ? v->max + 0.5 : v->max;

	if (integer && a <= 0)
		a = v->min > 0 ? v->min / 2 : 0;
	*lo = v->log ? log(a) : a;
	*hi = v->log ? log(b) : b;
}

double search__range_to(const struct space_values *v, double x)
{
	return v->log ? log(x > 0 ? x : v->min) : x;
}

double search__range_from(const struct space_values *v, bool integer, double t)
{
	double x = v->log ? exp(t) : t;

	if (integer)
		x = floor(x + 0.5);
	return x < v->min ? v->min : x > v->max ? v->max : x;
}

struct uniform {
	struct fit_rng rng;
	int model; /* the family to draw in; -1: any */
};

static double choose_uniform(void *ctx, const struct space_point *p, enum space_slot slot,
			     const double *opts, size_t nopts, const struct space_values *vals)
{
	struct uniform *u = ctx;
	bool integer = search_space_slot_integer(slot);
	double lo, hi;

	(void)p;
	for (size_t k = 0; slot == SPACE_SLOT_MODEL && u->model >= 0 && k < nopts; k++)
		if (opts[k] == u->model)
			return opts[k];
	if (nopts > 0)
		return opts[(size_t)fit_rng_below(&u->rng, nopts)];
	search__range_bounds(vals, integer, &lo, &hi);
	return search__range_from(vals, integer, lo + fit_rng_uniform(&u->rng) * (hi - lo));
}

void search__random_point_of(const struct search_space *sp, uint64_t seed, size_t idx, int model,
			     struct space_point *out)
{
	struct uniform u = { .model = model };

	search__rng_init(&u.rng, seed, idx, SEARCH__STREAM_RANDOM);
	search__walk(sp, choose_uniform, &u, out);
}

void search__random_point(const struct search_space *sp, uint64_t seed, size_t idx,
			  struct space_point *out)
{
	search__random_point_of(sp, seed, idx, -1, out);
}

/*
 * tpe.c - the tree-structured Parzen estimator (Bergstra, Bardenet, Bengio
 * and Kegl, "Algorithms for Hyper-Parameter Optimization", 2011).
 *
 * The observations arrive ranked best first (search__observations()). The
 * best quarter, at most 25, are "good", the rest "bad"; failed trials are
 * always bad. For every slot a density of good values l(x) and of bad
 * values g(x) is estimated from the observations that used the slot, and,
 * below the model slot, that share the candidate's model: that is the tree
 * of the estimator, so an mlp's learning rate learns only from mlps.
 *
 *   categorical and list slots: a count per value plus a prior count of 1,
 *     normalized over the options the point's earlier slots leave.
 *   range slots: a Parzen window of Gaussians truncated to the range, one
 *     per observation (bandwidth: the larger gap to its neighbours, clipped
 *     to [width / min(100, 1 + n), width]) and one wide prior component at
 *     the middle, equal weights; in log space for log ranges.
 *
 * SEARCH_TPE_CANDIDATES points are drawn from l by walking the tree, and the
 * one with the largest sum over its slots of log l(x) - log g(x) wins. All
 * draws come from the trial's own stream: the result depends on the seed,
 * the index and the observations only.
 */
#include "worker/search/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TPE_GAMMA    0.25
#define TPE_GOOD_MAX 25

struct tpe_est {
	double w[SPACE_LIST_MAX]; /* categorical and list: count of each value index */
	size_t k;		  /* range: components, the prior included */
	size_t cap;
	double *mu, *sigma;
};

struct tpe {
	const struct search_space *sp;
	double lo[SPACE_SLOT_COUNT], hi[SPACE_SLOT_COUNT]; /* range slots, samplers' coordinates */
	struct tpe_est est[2][FIT_MODEL_COUNT][SPACE_SLOT_COUNT]; /* [good, bad] */
	struct fit_rng rng;
	double score;
	int model; /* the family to propose in; -1: any */
};

static bool slot_is_range(const struct search_space *sp, int s)
{
	unsigned n;
	enum space_dim d = search_space_slot_dim((enum space_slot)s);

	return search__dim_names(d, &n) == NULL && sp->dim[d].range;
}

/* The index of value x in its dimension: the enum value, or its place in the list. */
static int value_index(const struct search_space *sp, int s, double x)
{
	unsigned n;
	enum space_dim d = search_space_slot_dim((enum space_slot)s);
	const struct space_values *v = &sp->dim[d];

	if (search__dim_names(d, &n) != NULL)
		return x >= 0 && x < n ? (int)x : -1;
	for (size_t i = 0; i < v->n; i++)
		if (v->list[i] == x)
			return (int)i;
	return -1;
}

static int est_slot_model(const struct space_point *p, int s)
{
	return s == SPACE_SLOT_MODEL ? 0 : (int)p->v[SPACE_SLOT_MODEL];
}

/* Adds observation p to the estimators of group g; counts only when mu is NULL. */
static void est_add(struct tpe *t, int g, const struct space_point *p)
{
	for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
		struct tpe_est *e = &t->est[g][est_slot_model(p, s)][s];
		const struct space_values *v =
		    &t->sp->dim[search_space_slot_dim((enum space_slot)s)];
		double x;
		int i;

		if (!(p->active & BIT(s)))
			continue;
		if (!slot_is_range(t->sp, s)) {
			i = value_index(t->sp, s, p->v[s]);
			if (i >= 0)
				e->w[i] += 1;
			continue;
		}
		if (e->mu == NULL) {
			e->cap++;
			continue;
		}
		x = search__range_to(v, p->v[s]);
		e->mu[e->k++] = x < t->lo[s] ? t->lo[s] : x > t->hi[s] ? t->hi[s] : x;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts the observed centres, sets bandwidths and appends the prior. */
static void est_finish(struct tpe_est *e, double lo, double hi)
{
	size_t n = e->k;
	double width = hi - lo;
	double smin = width / (double)(n + 1 < 100 ? n + 1 : 100);

	qsort(e->mu, n, sizeof(*e->mu), cmp_double);
	for (size_t i = 0; i < n; i++) {
		double left = e->mu[i] - (i > 0 ? e->mu[i - 1] : lo);
		double right = (i + 1 < n ? e->mu[i + 1] : hi) - e->mu[i];
		double sg = left > right ? left : right;

		e->sigma[i] = width <= 0 ? 1 : sg < smin ? smin : sg > width ? width : sg;
	}
	e->mu[n] = (lo + hi) / 2;
	e->sigma[n] = width > 0 ? width : 1;
	e->k = n + 1;
}

static int tpe_build(struct tpe *t, const struct search__obs *obs, size_t n, size_t ngood)
{
	for (int s = 0; s < SPACE_SLOT_COUNT; s++)
		if (slot_is_range(t->sp, s))
			search__range_bounds(&t->sp->dim[search_space_slot_dim((enum space_slot)s)],
					     search_space_slot_integer((enum space_slot)s),
					     &t->lo[s], &t->hi[s]);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++)
			est_add(t, i < ngood ? 0 : 1, &obs[i].p);
		if (pass == 1)
			break;
		/* Counting pass done: allocate; the categorical counts restart. */
		for (int g = 0; g < 2; g++) {
			for (int m = 0; m < FIT_MODEL_COUNT; m++) {
				for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
					struct tpe_est *e = &t->est[g][m][s];

					memset(e->w, 0, sizeof(e->w));
					if (!slot_is_range(t->sp, s))
						continue;
					e->mu = malloc((e->cap + 1) * sizeof(double));
					e->sigma = malloc((e->cap + 1) * sizeof(double));
					if (e->mu == NULL || e->sigma == NULL)
						return FITD_ENOMEM;
				}
			}
		}
	}
	for (int g = 0; g < 2; g++)
		for (int m = 0; m < FIT_MODEL_COUNT; m++)
			for (int s = 0; s < SPACE_SLOT_COUNT; s++)
				if (t->est[g][m][s].mu != NULL)
					est_finish(&t->est[g][m][s], t->lo[s], t->hi[s]);
	return FITD_OK;
}

static void tpe_release(struct tpe *t)
{
	for (int g = 0; g < 2; g++) {
		for (int m = 0; m < FIT_MODEL_COUNT; m++) {
			for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
				free(t->est[g][m][s].mu);
				free(t->est[g][m][s].sigma);
			}
		}
	}
}

static double normal_cdf(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

/* log of the mixture's density at x, each component truncated to [lo, hi]. */
static double est_logpdf(const struct tpe_est *e, double lo, double hi, double x)
{
	double sum = 0;

	for (size_t i = 0; i < e->k; i++) {
		double z = (x - e->mu[i]) / e->sigma[i];
		double mass = normal_cdf((hi - e->mu[i]) / e->sigma[i]) -
			      normal_cdf((lo - e->mu[i]) / e->sigma[i]);

		if (mass < 1e-12)
			mass = 1e-12;
		sum += exp(-0.5 * z * z) / (e->sigma[i] * sqrt(2 * M_PI) * mass);
	}
	sum /= (double)e->k;
	return log(sum > 1e-300 ? sum : 1e-300);
}

static double est_sample(const struct tpe_est *e, double lo, double hi, struct fit_rng *r)
{
	size_t i = (size_t)fit_rng_below(r, e->k);
	double x = e->mu[i];

	for (int tries = 0; tries < 32; tries++) {
		x = e->mu[i] + e->sigma[i] * fit_rng_normal(r);
		if (x >= lo && x <= hi)
			return x;
	}
	return x < lo ? lo : hi;
}

static double choose_options(struct tpe *t, const struct tpe_est *good, const struct tpe_est *bad,
			     int s, const double *opts, size_t n)
{
	double wl[SPACE_LIST_MAX] = { 0 }, wg[SPACE_LIST_MAX] = { 0 }, suml = 0, sumg = 0, u;
	size_t k;

	for (k = 0; k < n; k++) {
		int i = value_index(t->sp, s, opts[k]);

		wl[k] = 1 + (i >= 0 ? good->w[i] : 0);
		wg[k] = 1 + (i >= 0 ? bad->w[i] : 0);
		suml += wl[k];
		sumg += wg[k];
	}
	u = fit_rng_uniform(&t->rng) * suml;
	for (k = 0; k + 1 < n && u >= wl[k]; k++)
		u -= wl[k];
	t->score += log(wl[k] / suml) - log(wg[k] / sumg);
	return opts[k];
}

static double choose_tpe(void *ctx, const struct space_point *p, enum space_slot slot,
			 const double *opts, size_t nopts, const struct space_values *vals)
{
	struct tpe *t = ctx;
	int m = est_slot_model(p, slot);
	const struct tpe_est *good = &t->est[0][m][slot], *bad = &t->est[1][m][slot];
	bool integer = search_space_slot_integer(slot);
	double x, at;

	for (size_t k = 0; slot == SPACE_SLOT_MODEL && t->model >= 0 && k < nopts; k++)
		if (opts[k] == t->model)
			return opts[k]; /* the same for every candidate: no score */
	if (nopts > 0)
		return choose_options(t, good, bad, slot, opts, nopts);
	x = search__range_from(vals, integer, est_sample(good, t->lo[slot], t->hi[slot], &t->rng));
	/* Score where the rounded value lands, the same for l and g. */
	at = search__range_to(vals, x);
	at = at < t->lo[slot] ? t->lo[slot] : at > t->hi[slot] ? t->hi[slot] : at;
	t->score += est_logpdf(good, t->lo[slot], t->hi[slot], at) -
		    est_logpdf(bad, t->lo[slot], t->hi[slot], at);
	return x;
}

/* Good observations: the best quarter, at most 25, never a failed trial. */
static size_t good_count(const struct search__obs *obs, size_t n)
{
	size_t eligible = 0, g = (size_t)ceil(TPE_GAMMA * (double)n);

	while (eligible < n && obs[eligible].rank_class < 2)
		eligible++;
	if (g > TPE_GOOD_MAX)
		g = TPE_GOOD_MAX;
	if (g > eligible)
		g = eligible;
	if (g >= n)
		g = n - 1;
	return g;
}

int search__tpe_point(const struct search *s, size_t idx, const struct search__obs *obs, size_t n,
		      int model, struct space_point *out)
{
	struct tpe *t = calloc(1, sizeof(*t));
	size_t ngood = n >= 2 ? good_count(obs, n) : 0;
	double best = -INFINITY;
	int rc;

	if (t == NULL)
		return FITD_ENOMEM;
	if (ngood == 0) {
		free(t);
		return FITD_EINVAL; /* nothing to learn from yet */
	}
	t->sp = s->sp;
	t->model = model;
	search__rng_init(&t->rng, s->seed, idx, SEARCH__STREAM_TPE);
	rc = tpe_build(t, obs, n, ngood);
	for (int c = 0; rc == FITD_OK && c < SEARCH_TPE_CANDIDATES; c++) {
		struct space_point cand;

		t->score = 0;
		search__walk(s->sp, choose_tpe, t, &cand);
		if (c == 0 || t->score > best) {
			best = t->score;
			*out = cand;
		}
	}
	tpe_release(t);
	free(t);
	return rc;
}

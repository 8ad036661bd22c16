/*
 * gbdt_bin.c - every input column cut into at most max_bins value bins plus
 * one bin for missing values, so a cell of the binned matrix is one byte.
 *
 * Numeric inputs: the boundaries come from a sample of at most 200,000
 * training rows, drawn by selection sampling from the seed (the same rows
 * for any thread count). With at most max_bins distinct sampled values every
 * value gets its own bin and the thresholds are the midpoints between
 * neighbours (scikit-learn); with more, LightGBM's greedy equal-count cut
 * over the distinct values, where a value that alone fills a bin's share
 * gets a bin of its own. A value x falls in the first bin b with
 * x <= thr[b]; the last threshold is DBL_MAX, so a split "bins <= b go left"
 * is the rule "x <= thr[b]" in the data's own units, which is how the model
 * stores it. NAN (and +inf, which frames do not hold) fall in the missing
 * bin.
 *
 * Categorical inputs: the model's levels are the frame's levels seen on the
 * training rows (all of them, not the sample), in byte order. With at most
 * max_bins of them a level's bin is its model level. With more, the
 * max_bins - 1 most frequent levels (ties: the lower code) get a bin each,
 * in level order, and the rest share the last bin, which splits treat as one
 * level. Missing values and levels never seen in training (at prediction:
 * levels the model does not know) fall in the missing bin.
 *
 * Layout: the matrix is row-major (a row's bytes side by side). Histograms
 * are built feature-parallel over a leaf's rows (gbdt_hist.c); deep leaves
 * hold rows scattered over the table, and row-major makes such a row one
 * cache line for all its features instead of one line per feature
 * (XGBoost's GHistIndexMatrix, LightGBM's multi-value bins).
 */
#include "worker/fit/gbdt_priv.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_BIN_SAMPLE 0x62696e73ULL /* "bins": the rng stream of the binning sample */
#define THR_SLOTS	  256		/* thresholds kept per input, padded with DBL_MAX */
#define RADIX_BITS	  11		/* digits of the samples' radix sort */

void fit__gbdt_bin_layout(struct fit__arena *a, struct fit__gbdt_data *d, size_t levels,
			  struct fit__gbdt_binwork *w)
{
	size_t nthr;

	if (fit__mul(d->nf, THR_SLOTS, &nthr)) {
		a->overflow = 1;
		return;
	}
	d->feat = fit__arena_take(a, d->nf, sizeof(struct fit__gbdt_feat));
	w->thr = fit__arena_take(a, nthr, sizeof(double));
	w->code_level = fit__arena_take(a, levels, sizeof(int32_t));
	w->level_code = fit__arena_take(a, levels, sizeof(int32_t));
	w->level_bin = fit__arena_take(a, levels, 1);
}

void fit__gbdt_bin_scratch(struct fit__arena *a, size_t n, size_t levels, int threads,
			   struct fit__gbdt_binwork *w)
{
	size_t per;

	w->nsample = n < FIT__GBDT_SAMPLE ? n : FIT__GBDT_SAMPLE;
	if (fit__mul(w->nsample, (size_t)threads, &per)) {
		a->overflow = 1;
		return;
	}
	w->sort = fit__arena_take(a, per, 2 * sizeof(uint64_t));
	w->pick = fit__arena_take(a, w->nsample, sizeof(uint32_t));
	w->keys = fit__arena_take(a, levels, sizeof(uint64_t));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Knuth's selection sampling: k of positions 0..n-1, ascending, from the seed. */
static void draw_sample(uint32_t *pick, size_t k, size_t n, uint64_t seed)
{
	struct fit_rng r;
	size_t got = 0;

	if (k == n) {
		for (size_t i = 0; i < n; i++)
			pick[i] = (uint32_t)i;
		return;
	}
	fit_rng_seed(&r, seed, STREAM_BIN_SAMPLE);
	for (size_t i = 0; i < n && got < k; i++)
		if ((double)(n - i) * fit_rng_uniform(&r) < (double)(k - got))
			pick[got++] = (uint32_t)i;
}

/* A double's bits as an unsigned key that sorts as the doubles do. */
static uint64_t sort_key(double x)
{
	uint64_t u;

	memcpy(&u, &x, sizeof(u));
	return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

static double key_value(uint64_t k)
{
	uint64_t u = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
	double x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/* LSD radix sort of a[0..n) with scratch tmp; a digit all keys share costs one count. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
	size_t cnt[1u << RADIX_BITS];
	uint64_t *src = a, *dst = tmp, *t;

	for (unsigned shift = 0; shift < 64; shift += RADIX_BITS) {
		size_t sum = 0, mask = (1u << RADIX_BITS) - 1;
		int same = 0;

		memset(cnt, 0, sizeof(cnt));
		for (size_t i = 0; i < n; i++)
			cnt[src[i] >> shift & mask]++;
		for (size_t b = 0; b <= mask; b++) {
			size_t c = cnt[b];

			same |= c == n;
			cnt[b] = sum;
			sum += c;
		}
		if (same)
			continue;
		for (size_t i = 0; i < n; i++)
			dst[cnt[src[i] >> shift & mask]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(uint64_t));
}

/* A threshold t with a <= t < b for neighbouring values a < b. */
static double midpoint(double a, double b)
{
	double t = a * 0.5 + b * 0.5;

	return t >= a && t < b ? t : a;
}

/* Compacts sorted v[0..m) to its distinct values with their counts; returns how many. */
static size_t distinct(double *v, size_t m, uint32_t *cnt)
{
	size_t nd = 0;

	for (size_t i = 0; i < m; i++) {
		if (nd > 0 && v[i] == v[nd - 1]) {
			cnt[nd - 1]++;
			continue;
		}
		v[nd] = v[i];
		cnt[nd++] = 1;
	}
	return nd;
}

/* Thresholds of nd distinct values (counts cnt, m in all) into at most maxb bins; returns bins. */
static unsigned cut(const double *v, const uint32_t *cnt, size_t nd, size_t m, unsigned maxb,
		    double *thr)
{
	unsigned nb = 0, left = maxb;
	double rest = (double)m, acc = 0.0;

	if (nd <= maxb) {
		for (size_t k = 0; k + 1 < nd; k++)
			thr[nb++] = midpoint(v[k], v[k + 1]);
	} else {
		for (size_t k = 0; k + 1 < nd && left > 1; k++) {
			double share = rest / left;

			acc += cnt[k];
			if (acc >= share || (double)cnt[k + 1] >= share) {
				thr[nb++] = midpoint(v[k], v[k + 1]);
				rest -= acc;
				acc = 0.0;
				left--;
			}
		}
	}
	thr[nb++] = DBL_MAX;
	return nb;
}

/* The smallest power of two >= n. */
static unsigned span_of(unsigned n)
{
	unsigned s = 1;

	while (s < n)
		s *= 2;
	return s;
}

static void fit_numeric(struct fit__gbdt_feat *ft, const struct fit_gbdt_problem *prob,
			const struct fit__gbdt_binwork *w, unsigned maxb, int t)
{
	const double *x = ft->src->num;
	uint64_t *key = w->sort + (size_t)t * 2 * w->nsample;
	double *v = (double *)key;			/* the sorted keys become values in place */
	uint32_t *cnt = (uint32_t *)(key + w->nsample); /* in the sort's scratch half */
	size_t m = 0;

	for (size_t i = 0; i < w->nsample; i++) {
		double val = x[prob->train[w->pick[i]]];

		if (val == val)
			key[m++] = sort_key(val);
	}
	radix_sort(key, key + w->nsample, m);
	for (size_t i = 0; i < m; i++) {
		double val = key_value(key[i]);

		memcpy(&key[i], &val, sizeof(val));
	}
	ft->nbins = cut(v, cnt, distinct(v, m, cnt), m, maxb, ft->thr);
	ft->span = span_of(ft->nbins);
	for (unsigned b = ft->nbins; b < THR_SLOTS; b++)
		ft->thr[b] = DBL_MAX;
}

/*
 * The model levels of a categorical input and their bins; code_level,
 * level_code and level_bin point at frame-level-sized slices.
 */
static void fit_categorical(struct fit__gbdt_feat *ft, const struct fit_gbdt_problem *prob,
			    unsigned maxb, uint64_t *keys)
{
	const struct fit_column *c = ft->src;
	uint32_t *count = (uint32_t *)ft->code_level;
	size_t nl = 0;

	memset(count, 0, c->nlevels * sizeof(uint32_t));
	for (size_t i = 0; i < prob->ntrain; i++) {
		int32_t code = c->cat[prob->train[i]];

		if (code >= 0 && (size_t)code < c->nlevels)
			count[code]++;
	}
	for (size_t code = 0; code < c->nlevels; code++) {
		if (count[code] == 0)
			continue;
		/* keys order the levels by count (descending), then level */
		keys[nl] = (uint64_t)(UINT32_MAX - count[code]) << 32 | nl;
		ft->level_code[nl++] = (int32_t)code;
	}
	for (size_t code = 0; code < c->nlevels; code++)
		ft->code_level[code] = -1;
	for (size_t l = 0; l < nl; l++)
		ft->code_level[ft->level_code[l]] = (int32_t)l;
	ft->nlevels = nl;
	if (nl <= maxb) {
		for (size_t l = 0; l < nl; l++)
			ft->level_bin[l] = (uint8_t)l;
		ft->nbins = nl > 0 ? (unsigned)nl : 1;
		return;
	}
	qsort(keys, nl, sizeof(uint64_t), cmp_u64);
	memset(ft->level_bin, 0xff, nl);
	for (size_t k = 0; k + 1 < maxb; k++)
		ft->level_bin[keys[k] & UINT32_MAX] = 0;
	for (size_t l = 0, b = 0; l < nl; l++)
		ft->level_bin[l] = ft->level_bin[l] == 0 ? (uint8_t)b++ : (uint8_t)(maxb - 1);
	ft->nbins = maxb;
}

/* Gives every input its slice of the binning tables. */
static void assign(struct fit__gbdt_data *d, const struct fit_gbdt_problem *prob,
		   const struct fit__gbdt_binwork *w)
{
	int32_t *cl = w->code_level, *lc = w->level_code;
	uint8_t *lb = w->level_bin;

	for (size_t f = 0; f < d->nf; f++) {
		struct fit__gbdt_feat *ft = &d->feat[f];

		memset(ft, 0, sizeof(*ft));
		ft->thr = w->thr + f * THR_SLOTS;
		ft->src = &prob->frame->cols[prob->features[f]];
		ft->cat = ft->src->type == FIT_COL_CATEGORICAL;
		if (!ft->cat)
			continue;
		ft->code_level = cl;
		ft->level_code = lc;
		ft->level_bin = lb;
		cl += ft->src->nlevels;
		lc += ft->src->nlevels;
		lb += ft->src->nlevels;
	}
}

int fit__gbdt_bin_fit(struct fit__gbdt_data *d, const struct fit_gbdt_problem *prob,
		      const struct fit_gbdt_params *p, struct fit__gbdt_binwork *w,
		      struct fit__poll *poll)
{
	size_t nb = 0;

	assign(d, prob, w);
	draw_sample(w->pick, w->nsample, prob->ntrain, p->seed);
#pragma omp parallel for num_threads(p->threads) schedule(dynamic, 1) if (p->threads > 1)
	for (size_t f = 0; f < d->nf; f++) {
		int t = omp_get_thread_num();

		if (t == 0 ? fit__poll_check(poll) : fit__poll_stopped(poll))
			continue;
		if (!d->feat[f].cat)
			fit_numeric(&d->feat[f], prob, w, p->max_bins, t);
	}
	for (size_t f = 0; f < d->nf && !fit__poll_check(poll); f++)
		if (d->feat[f].cat)
			fit_categorical(&d->feat[f], prob, p->max_bins, w->keys);
	if (fit__poll_stopped(poll))
		return FITD_ECANCELLED;
	for (size_t f = 0; f < d->nf; f++) {
		d->feat[f].hoff = nb;
		nb += d->feat[f].nbins + 1;
	}
	d->nhbins = nb;
	return FITD_OK;
}

/*
 * The first b with x <= thr[b], by a fixed number of halvings over the
 * thresholds padded to a power of two (each step a compare and an add, no
 * branch); NAN and values above DBL_MAX: the missing bin nbins.
 */
static unsigned numeric_bin(const struct fit__gbdt_feat *ft, double x)
{
	const double *thr = ft->thr;
	unsigned b = 0;

	if (x != x)
		return ft->nbins;
	for (unsigned step = ft->span / 2; step > 0; step /= 2)
		b += (unsigned)(thr[b + step - 1] < x) * step;
	b += thr[b] < x;
	return b < ft->nbins ? b : ft->nbins;
}

static unsigned categorical_bin(const struct fit__gbdt_feat *ft, int32_t code)
{
	int32_t l;

	if (code < 0 || (size_t)code >= ft->src->nlevels)
		return ft->nbins;
	l = ft->code_level[code];
	return l < 0 ? ft->nbins : ft->level_bin[l];
}

static void bin_block(const struct fit__gbdt_data *d, const size_t *rows, size_t i0, size_t i1,
		      uint8_t *out)
{
	size_t nf = d->nf;

	for (size_t f = 0; f < nf; f++) {
		const struct fit__gbdt_feat *ft = &d->feat[f];

		if (ft->cat) {
			for (size_t i = i0; i < i1; i++)
				out[i * nf + f] = (uint8_t)categorical_bin(ft,
									   ft->src->cat[rows[i]]);
			continue;
		}
		for (size_t i = i0; i < i1; i++)
			out[i * nf + f] = (uint8_t)numeric_bin(ft, ft->src->num[rows[i]]);
	}
}

int fit__gbdt_bin_rows(const struct fit__gbdt_data *d, const size_t *rows, size_t n, uint8_t *out,
		       int threads, struct fit__poll *poll)
{
	size_t nblk = (n + FIT__GBDT_BLOCK - 1) / FIT__GBDT_BLOCK;

#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && nblk > 1)
	for (size_t b = 0; b < nblk; b++) {
		size_t i0 = b * FIT__GBDT_BLOCK,
		       i1 = i0 + FIT__GBDT_BLOCK < n ? i0 + FIT__GBDT_BLOCK : n;

		if (omp_get_thread_num() == 0 ? fit__poll_check(poll) : fit__poll_stopped(poll))
			continue;
		bin_block(d, rows, i0, i1, out);
	}
	return fit__poll_stopped(poll) ? FITD_ECANCELLED : FITD_OK;
}

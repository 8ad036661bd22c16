/*
 * gbdt_hist.c - gradient histograms: per leaf and input, per bin, the sums
 * of g, h and the row count of the leaf's rows in that bin.
 *
 * The loop that matters is
 *
 *   for each row r of the leaf (ascending):  for each input f of a group:
 *       hist[f][bin(r, f)] += (g_r, h_r, 1)
 *
 * over the row-major binned matrix: a row's bytes are read once per group,
 * its gradient pair once, and the group's inputs update independent
 * histograms, so consecutive updates rarely wait on each other. Threads own
 * groups of inputs (gbdt_grow.c hands them out); every bin adds its rows in
 * row order whatever the grouping, so the sums, and hence the trees, are the
 * same for any number of threads. Groups are cut into chunks of CHUNK inputs
 * so a chunk's histograms stay in L2 while the rows stream by, and rows a
 * few iterations ahead are prefetched (deep leaves hold scattered rows).
 * Sibling histograms come from subtraction (parent - smaller child), in
 * double, which is what makes it safe.
 */
#include "worker/fit/gbdt_priv.h"

#include <string.h>

#define CHUNK	 32 /* inputs whose histograms one pass over the rows updates */
#define PREFETCH 48 /* rows ahead */

/* Not under TSan: the resolvers target_clones makes are instrumented, and run before its runtime. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones) && __has_attribute(ifunc)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef CLONES
#define CLONES
#endif

/*
 * A bin {g, h, n, pad} updated as one 32-byte vector: one load, add and store
 * with AVX, two of each on the baseline (kept bit-identical: the same adds).
 */
typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));

/* The general pass: inputs cols[0..k) with histograms h[0..k). */
CLONES static void pass_gather(const uint8_t *bins, size_t nf, const struct fit__gbdt_gh *gh,
			       const uint32_t *rows, size_t m, const uint32_t *cols,
			       struct fit__gbdt_hbin *const *h, size_t k)
{
	for (size_t i = 0; i < m; i++) {
		size_t r = rows[i];
		const uint8_t *x = bins + r * nf;
		v4d p = { gh[r].g, gh[r].h, 1.0, 0.0 };

		if (i + PREFETCH < m) {
			__builtin_prefetch(bins + (size_t)rows[i + PREFETCH] * nf);
			__builtin_prefetch(gh + rows[i + PREFETCH]);
		}
		for (size_t j = 0; j < k; j++)
			*(v4d *)&h[j][x[cols[j]]] += p;
	}
}

/* The same for inputs c0..c0+k-1 side by side in a row (every input of the tree). */
CLONES static void pass_range(const uint8_t *bins, size_t nf, const struct fit__gbdt_gh *gh,
			      const uint32_t *rows, size_t m, size_t c0,
			      struct fit__gbdt_hbin *const *h, size_t k)
{
	for (size_t i = 0; i < m; i++) {
		size_t r = rows[i];
		const uint8_t *x = bins + r * nf + c0;
		v4d p = { gh[r].g, gh[r].h, 1.0, 0.0 };

		if (i + PREFETCH < m) {
			__builtin_prefetch(bins + (size_t)rows[i + PREFETCH] * nf + c0);
			__builtin_prefetch(gh + rows[i + PREFETCH]);
		}
		for (size_t j = 0; j < k; j++)
			*(v4d *)&h[j][x[j]] += p;
	}
}

void fit__gbdt_hist_build(const struct fit__gbdt_data *d, const struct fit__gbdt_gh *gh,
			  const uint32_t *rows, size_t m, const uint32_t *act, size_t j0, size_t j1,
			  struct fit__gbdt_hbin *hist)
{
	for (size_t c = j0; c < j1; c += CHUNK) {
		size_t k = j1 - c < CHUNK ? j1 - c : CHUNK;
		struct fit__gbdt_hbin *h[CHUNK];
		uint32_t cols[CHUNK] = { 0 };
		int range = 1;

		for (size_t j = 0; j < k; j++) {
			const struct fit__gbdt_feat *ft = &d->feat[act[c + j]];

			cols[j] = act[c + j];
			h[j] = hist + ft->hoff;
			memset(h[j], 0, (ft->nbins + 1) * sizeof(struct fit__gbdt_hbin));
			range &= cols[j] == cols[0] + j;
		}
		if (range)
			pass_range(d->bins, d->nf, gh, rows, m, cols[0], h, k);
		else
			pass_gather(d->bins, d->nf, gh, rows, m, cols, h, k);
	}
}

void fit__gbdt_hist_subtract(const struct fit__gbdt_feat *f, struct fit__gbdt_hbin *big,
			     const struct fit__gbdt_hbin *small)
{
	double *a = &big[f->hoff].g;
	const double *b = &small[f->hoff].g;
	size_t n = 4 * (size_t)(f->nbins + 1);

	for (size_t i = 0; i < n; i++)
		a[i] -= b[i];
}

static struct fit__gbdt_hbin block_sum(const struct fit__gbdt_gh *gh, const uint32_t *rows,
				       size_t i0, size_t i1)
{
	struct fit__gbdt_hbin s = { 0.0, 0.0, (double)(i1 - i0) };

	for (size_t i = i0; i < i1; i++) {
		size_t r = rows != NULL ? rows[i] : i;

		s.g += gh[r].g;
		s.h += gh[r].h;
	}
	return s;
}

struct fit__gbdt_hbin fit__gbdt_sum_rows(const struct fit__gbdt_gh *gh, const uint32_t *rows,
					 size_t m, struct fit__gbdt_hbin *partial, int threads)
{
	size_t nblk = (m + FIT__GBDT_BLOCK - 1) / FIT__GBDT_BLOCK;
	struct fit__gbdt_hbin s = { 0.0, 0.0, 0.0 };

#pragma omp parallel for num_threads(threads) \
    schedule(static) if (threads > 1 && nblk >= FIT__GBDT_PAR_BLOCKS)
	for (size_t b = 0; b < nblk; b++) {
		size_t i1 = (b + 1) * FIT__GBDT_BLOCK;

		partial[b] = block_sum(gh, rows, b * FIT__GBDT_BLOCK, i1 < m ? i1 : m);
	}
	for (size_t b = 0; b < nblk; b++) {
		s.g += partial[b].g;
		s.h += partial[b].h;
		s.n += partial[b].n;
	}
	return s;
}

/*
 * gbdt_grow.c - one tree, grown leaf-wise: the open leaf with the best gain
 * splits next (ties: the lowest leaf), until max_leaves leaves or no split
 * passes the rules; max_depth caps the depth.
 *
 * A split is one step:
 *
 *   1. partition the leaf's rows by the split (stable, in fixed blocks:
 *      each block writes its left rows forward and its right rows backward
 *      into scratch, a prefix sum places the blocks, a second pass copies
 *      them back), so every leaf's rows stay ascending whatever the thread
 *      count;
 *   2. in one parallel region, each thread takes a group of inputs: it
 *      builds the smaller child's histograms from its rows, gets the larger
 *      child's by subtracting them from the parent's (kept in place), and
 *      searches both children for their best split on those inputs;
 *   3. the per-input candidates are reduced in input order.
 *
 * Histograms live in a pool of slots, half as many as leaves (see
 * pool_slots(): no split loses its subtraction; capped at FIT__GBDT_POOL
 * bytes when max_leaves is large): a leaf that may still split keeps its
 * histogram for the subtraction; when the pool runs dry the open leaf with
 * the lowest gain gives its slot up, and were it split later (only when the
 * cap binds), both children would be built from their rows. Children that can no longer split
 * (depth, size, the last leaf) get no histogram at all. The abort callback
 * is polled once per split.
 */
#include "worker/fit/gbdt_priv.h"

#include <omp.h>
#include <string.h>

/*
 * Work below which a pass runs on one thread: a parallel region costs a
 * wake-up of the team, which on a busy machine can take far longer than the
 * work (the results are the same either way).
 */
#define PART_BLOCK 16384     /* rows per partition block */
#define PART_PAR   4	     /* partition blocks from which a partition is parallel */
#define PAR_WORK   (1 << 20) /* histogram cells from which a step is parallel */

enum {
	NONE,
	BUILD,
	SUB
}; /* how a child gets its histogram */

/*
 * The histograms of nhbins bins the pool holds: (leaves + 2) / 2, at most
 * budget bytes of them, at least 3 (never more than leaves).
 *
 * Why half the leaves lose nothing: a slot is taken from an open leaf only
 * when every slot is held, by the split's parent (which its larger child
 * keeps) and nslots - 1 open leaves, so the tree has N >= nslots + 1 leaves
 * and R = leaves - N splits to go. The victim has the lowest gain of those
 * nslots - 1; with nslots - 1 > R, at least R open leaves come before it in
 * the queue, and the gains of leaves already open never change, so the R
 * remaining splits take others and it is never split. nslots >= (leaves +
 * 1) / 2 makes nslots - 1 > R whenever a slot is taken: every split still
 * subtracts, and the trees are those of a slot per leaf.
 */
static size_t pool_slots(size_t leaves, size_t nhbins, size_t budget)
{
	size_t bytes = nhbins * sizeof(struct fit__gbdt_hbin), want = leaves / 2 + 1, cap;

	cap = bytes > 0 ? budget / bytes : want;
	cap = cap < want ? cap : want;
	if (cap < 3)
		cap = 3;
	return leaves < cap ? leaves : cap;
}

void fit__gbdt_grow_layout(struct fit__arena *a, struct fit__gbdt_grow *g, size_t n, size_t nf,
			   size_t nhbins, const struct fit_gbdt_params *p)
{
	size_t L = p->max_leaves, nblk = (n + PART_BLOCK - 1) / PART_BLOCK, most;

	g->nslots = pool_slots(L, nhbins, FIT__GBDT_POOL);
	g->stride = nhbins;
	if (fit__mul(g->nslots, nhbins, &g->cells)) {
		a->overflow = 1;
		return;
	}
	/* the most histograms the cells hold once bins are cut: each input has at least 2 */
	most = g->cells / (2 * (nf > 0 ? nf : 1));
	most = most < L ? most : L;
	g->rows = fit__arena_take(a, n, sizeof(uint32_t));
	g->tmp = fit__arena_take(a, n, sizeof(uint32_t));
	g->act = fit__arena_take(a, nf, sizeof(uint32_t));
	g->colkey = fit__arena_take(a, nf, sizeof(uint64_t));
	g->leaf = fit__arena_take(a, L, sizeof(struct fit__gbdt_leaf));
	g->heap = fit__arena_take(a, L, sizeof(struct fit__gbdt_open));
	g->pool = fit__arena_take(a, g->cells, sizeof(struct fit__gbdt_hbin));
	g->owner = fit__arena_take(a, most, sizeof(int32_t));
	g->free_slot = fit__arena_take(a, most, sizeof(int32_t));
	g->cand = fit__arena_take(a, 2 * nf, sizeof(struct fit__gbdt_split));
	g->blk = fit__arena_take(a, nblk, sizeof(size_t));
	g->partial = fit__arena_take(a, (n + FIT__GBDT_BLOCK - 1) / FIT__GBDT_BLOCK,
				     sizeof(struct fit__gbdt_hbin));
}

void fit__gbdt_grow_bins(struct fit__gbdt_grow *g, size_t nhbins)
{
	g->stride = nhbins;
	g->nslots = pool_slots(g->p->max_leaves, nhbins, g->cells * sizeof(struct fit__gbdt_hbin));
}

/* ---- the queue of open leaves: a binary heap ---- */

static int before(const struct fit__gbdt_open *a, const struct fit__gbdt_open *b)
{
	return a->gain > b->gain || (a->gain == b->gain && a->leaf < b->leaf);
}

static void heap_push(struct fit__gbdt_grow *g, int32_t leaf)
{
	struct fit__gbdt_open e = { g->leaf[leaf].best.gain, leaf };
	size_t i = g->nheap++;

	g->leaf[leaf].open = 1;
	while (i > 0 && before(&e, &g->heap[(i - 1) / 2])) {
		g->heap[i] = g->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	g->heap[i] = e;
}

static int32_t heap_pop(struct fit__gbdt_grow *g)
{
	int32_t top = g->heap[0].leaf;
	struct fit__gbdt_open e = g->heap[--g->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= g->nheap)
			break;
		if (c + 1 < g->nheap && before(&g->heap[c + 1], &g->heap[c]))
			c++;
		if (!before(&g->heap[c], &e))
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	if (g->nheap > 0)
		g->heap[i] = e;
	g->leaf[top].open = 0;
	return top;
}

/* ---- histogram slots ---- */

static struct fit__gbdt_hbin *slot_hist(const struct fit__gbdt_grow *g, int32_t s)
{
	return g->pool + (size_t)s * g->stride;
}

static void slot_release(struct fit__gbdt_grow *g, struct fit__gbdt_leaf *l)
{
	if (l->slot < 0)
		return;
	g->owner[l->slot] = -1;
	g->free_slot[g->nfree++] = l->slot;
	l->slot = -1;
}

/*
 * A free slot for leaf; when none is free, the open leaf (one waiting in the
 * queue) with the lowest gain gives its slot up (ties: the highest leaf).
 * There always is one: the pool has at least 3 slots and a step holds at
 * most 2 outside the queue.
 */
static int32_t slot_take(struct fit__gbdt_grow *g, int32_t leaf)
{
	int32_t s, victim = -1;

	if (g->nfree == 0) {
		for (size_t i = 0; i < g->nslots; i++) {
			int32_t o = g->owner[i];
			const struct fit__gbdt_leaf *v = victim >= 0 ? &g->leaf[victim] : NULL;

			if (o < 0 || !g->leaf[o].open)
				continue;
			if (v == NULL || g->leaf[o].best.gain < v->best.gain ||
			    (g->leaf[o].best.gain == v->best.gain && o > victim))
				victim = o;
		}
		slot_release(g, &g->leaf[victim]);
	}
	s = g->free_slot[--g->nfree];
	g->owner[s] = leaf;
	g->leaf[leaf].slot = s;
	return s;
}

/* ---- partition ---- */

/*
 * Left rows of rows[i0..i1) forward from tmp[i0], right rows backward from
 * tmp[i1 - 1], without a branch: each row is written to both free ends and
 * one end advances; the other copy lands on a slot a later row overwrites.
 */
static void part_block(const uint8_t *col, size_t nf, const uint8_t *lut, const uint32_t *rows,
		       uint32_t *tmp, size_t i0, size_t i1, size_t *nleft)
{
	size_t l = i0, r = i1;

	for (size_t i = i0; i < i1; i++) {
		uint32_t row = rows[i];
		size_t go = lut[col[(size_t)row * nf]];

		if (i + 48 < i1)
			__builtin_prefetch(col + (size_t)rows[i + 48] * nf);
		tmp[l] = row;
		tmp[r - 1] = row;
		l += go;
		r -= 1 - go;
	}
	*nleft = l - i0;
}

/* Splits rows[begin..end) stably by the split; returns where the right rows start. */
static size_t partition(struct fit__gbdt_grow *g, const struct fit__gbdt_leaf *lf)
{
	const struct fit__gbdt_split *s = &lf->best;
	const uint8_t *col = g->d->bins + s->feat;
	uint32_t *rows = g->rows + lf->begin, *tmp = g->tmp + lf->begin;
	size_t m = lf->end - lf->begin, nblk = (m + PART_BLOCK - 1) / PART_BLOCK, nleft = 0;
	int threads = nblk >= PART_PAR ? g->threads : 1;
	uint8_t lut[256];

	for (unsigned b = 0; b < 256; b++)
		lut[b] = (uint8_t)fit__gbdt_goes_left(s->mask, b);
#pragma omp parallel num_threads(threads) if (threads > 1)
	{
#pragma omp for schedule(static)
		for (size_t b = 0; b < nblk; b++) {
			size_t i1 = (b + 1) * PART_BLOCK < m ? (b + 1) * PART_BLOCK : m;

			part_block(col, g->d->nf, lut, rows, tmp, b * PART_BLOCK, i1, &g->blk[b]);
		}
#pragma omp single
		for (size_t b = 0; b < nblk; b++) {
			size_t c = g->blk[b];

			g->blk[b] = nleft;
			nleft += c;
		}
#pragma omp for schedule(static)
		for (size_t b = 0; b < nblk; b++) {
			size_t i0 = b * PART_BLOCK, i1 = i0 + PART_BLOCK < m ? i0 + PART_BLOCK : m;
			size_t lo = g->blk[b], nl = (b + 1 < nblk ? g->blk[b + 1] : nleft) - lo;
			size_t ro = nleft + (i0 - lo);

			memcpy(rows + lo, tmp + i0, nl * sizeof(uint32_t));
			for (size_t k = 0; k < i1 - i0 - nl; k++)
				rows[ro + k] = tmp[i1 - 1 - k];
		}
	}
	return lf->begin + nleft;
}

/* ---- one step: histograms and split search of up to two children ---- */

struct step {
	struct fit__gbdt_leaf *ch[2];
	struct fit__gbdt_hbin *hist[2];
	int how[2];  /* NONE, BUILD from rows, SUB: hist holds the parent, minus the other child */
	int scan[2]; /* search for the best split */
};

static void step_group(struct fit__gbdt_grow *g, const struct step *st, size_t j0, size_t j1)
{
	const struct fit__gbdt_data *d = g->d;

	for (int c = 0; c < 2; c++)
		if (st->how[c] == BUILD)
			fit__gbdt_hist_build(d, g->gh, g->rows + st->ch[c]->begin,
					     st->ch[c]->end - st->ch[c]->begin, g->act, j0, j1,
					     st->hist[c]);
	for (size_t j = j0; j < j1; j++) {
		const struct fit__gbdt_feat *ft = &d->feat[g->act[j]];

		for (int c = 0; c < 2; c++)
			if (st->how[c] == SUB)
				fit__gbdt_hist_subtract(ft, st->hist[c], st->hist[1 - c]);
		for (int c = 0; c < 2; c++)
			if (st->scan[c])
				fit__gbdt_split_feature(ft, (int32_t)g->act[j],
							st->hist[c] + ft->hoff, &st->ch[c]->sum,
							&g->rules, &g->cand[c * d->nf + j]);
	}
}

/* The first best candidate in input order. */
static void reduce(const struct fit__gbdt_grow *g, const struct fit__gbdt_split *cand,
		   struct fit__gbdt_split *best)
{
	memset(best, 0, sizeof(*best));
	best->feat = -1;
	best->gain = g->rules.min_gain;
	for (size_t j = 0; j < g->nact; j++)
		if (cand[j].feat >= 0 && cand[j].gain > best->gain)
			*best = cand[j];
}

static void run_step(struct fit__gbdt_grow *g, const struct step *st)
{
	size_t work = 0;
	int threads;

	for (int c = 0; c < 2; c++)
		if (st->how[c] == BUILD)
			work += (st->ch[c]->end - st->ch[c]->begin) * g->nact;
	threads = work + 256 * g->nact >= PAR_WORK ? g->threads : 1;
	if (work > 0 || st->scan[0] || st->scan[1]) {
#pragma omp parallel num_threads(threads) if (threads > 1)
		{
			size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();

			step_group(g, st, g->nact * t / nt, g->nact * (t + 1) / nt);
		}
	}
	for (int c = 0; c < 2; c++) {
		struct fit__gbdt_leaf *l = st->ch[c];

		if (l == NULL)
			continue;
		if (st->scan[c])
			reduce(g, g->cand + c * g->d->nf, &l->best);
		if (st->scan[c] && l->best.feat >= 0)
			heap_push(g, (int32_t)(l - g->leaf));
		else
			slot_release(g, l);
	}
}

/* Whether a new leaf may split again. */
static int may_split(const struct fit__gbdt_grow *g, const struct fit__gbdt_leaf *l)
{
	const struct fit_gbdt_params *p = g->p;

	return (p->max_depth == 0 || l->depth < p->max_depth) && g->nleaves < p->max_leaves &&
	       l->sum.n >= 2.0 * g->rules.min_rows && l->sum.h >= 2.0 * g->rules.min_hess;
}

static void new_leaf(struct fit__gbdt_grow *g, struct fit__gbdt_leaf *l, size_t begin, size_t end,
		     struct fit__gbdt_hbin sum, unsigned depth, int32_t node)
{
	struct fit__gbdt_wnode *w = &g->node[node];

	*l = (struct fit__gbdt_leaf){
		.begin = begin, .end = end, .sum = sum, .depth = depth, .node = node, .slot = -1
	};
	memset(w, 0, sizeof(*w));
	w->feat = -1;
	w->sum = sum;
	w->begin = begin;
	w->end = end;
}

/* Plans how the children of a split leaf (parent slot ps, or -1) get their histograms. */
static void plan_children(struct fit__gbdt_grow *g, struct step *st, int32_t ps)
{
	int small = st->ch[1]->end - st->ch[1]->begin < st->ch[0]->end - st->ch[0]->begin;
	int big = 1 - small;

	st->scan[0] = may_split(g, st->ch[0]);
	st->scan[1] = may_split(g, st->ch[1]);
	st->how[0] = st->how[1] = NONE;
	if (ps >= 0 && st->scan[big]) {
		st->how[small] = BUILD;
		st->how[big] = SUB;
		st->ch[big]->slot = ps;
		g->owner[ps] = (int32_t)(st->ch[big] - g->leaf);
		st->hist[small] = slot_hist(g, slot_take(g, (int32_t)(st->ch[small] - g->leaf)));
		st->hist[big] = slot_hist(g, ps);
		return;
	}
	if (ps >= 0) {
		g->owner[ps] = -1;
		g->free_slot[g->nfree++] = ps;
	}
	for (int c = 0; c < 2; c++) {
		if (!st->scan[c])
			continue;
		st->how[c] = BUILD;
		st->hist[c] = slot_hist(g, slot_take(g, (int32_t)(st->ch[c] - g->leaf)));
	}
}

static int split_leaf(struct fit__gbdt_grow *g, int32_t li)
{
	struct fit__gbdt_leaf *lf = &g->leaf[li];
	struct fit__gbdt_split s = lf->best;
	struct fit__gbdt_wnode *w = &g->node[lf->node];
	struct fit__gbdt_hbin rsum = { lf->sum.g - s.left.g, lf->sum.h - s.left.h,
				       lf->sum.n - s.left.n };
	size_t mid = partition(g, lf), begin = lf->begin, end = lf->end;
	int32_t ps = lf->slot, left = (int32_t)g->nnodes;
	unsigned depth = lf->depth + 1;
	struct step st;

	if ((double)(mid - begin) != s.left.n)
		return FITD_EINTERNAL;
	w->feat = s.feat;
	w->left = left;
	w->cat = s.cat;
	w->dl = s.dl;
	w->bin = s.bin;
	memcpy(w->mask, s.mask, sizeof(w->mask));
	w->gain = s.gain;
	g->nnodes += 2;
	st.ch[0] = lf;
	st.ch[1] = &g->leaf[g->nleaves++];
	new_leaf(g, st.ch[0], begin, mid, s.left, depth, left);
	new_leaf(g, st.ch[1], mid, end, rsum, depth, left + 1);
	plan_children(g, &st, ps);
	run_step(g, &st);
	return FITD_OK;
}

int fit__gbdt_grow_tree(struct fit__gbdt_grow *g)
{
	struct fit__gbdt_leaf *root = &g->leaf[0];
	struct step st = { { root, NULL }, { NULL, NULL }, { BUILD, NONE }, { 1, 0 } };
	int rc = FITD_OK;

	g->nfree = 0;
	for (size_t s = g->nslots; s-- > 0;) {
		g->owner[s] = -1;
		g->free_slot[g->nfree++] = (int32_t)s;
	}
	g->nheap = 0;
	g->nnodes = 1;
	g->nleaves = 1;
	new_leaf(g, root, 0, g->nrows,
		 fit__gbdt_sum_rows(g->gh, g->rows, g->nrows, g->partial, g->threads), 0, 0);
	st.scan[0] = g->nrows > 0 && may_split(g, root);
	st.how[0] = st.scan[0] ? BUILD : NONE;
	if (st.scan[0]) {
		st.hist[0] = slot_hist(g, slot_take(g, 0));
		run_step(g, &st);
	}
	while (rc == FITD_OK && g->nheap > 0 && g->nleaves < g->p->max_leaves) {
		if (omp_get_thread_num() == 0 ? fit__poll_check(g->poll)
					      : fit__poll_stopped(g->poll))
			return FITD_ECANCELLED;
		rc = split_leaf(g, heap_pop(g));
	}
	return rc;
}

int32_t fit__gbdt_wtree_leaf(const struct fit__gbdt_wnode *node, const uint8_t *x)
{
	int32_t n = 0;

	while (node[n].feat >= 0)
		n = node[n].left + !fit__gbdt_goes_left(node[n].mask, x[node[n].feat]);
	return n;
}

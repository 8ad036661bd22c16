/*
 * gbdt_split.c - the best split of a leaf on one input, from the input's
 * histogram and the leaf's sums.
 *
 * Numeric inputs: bins are scanned left to right twice, first with the
 * missing bin on the right, then (when the leaf has missing values) with it
 * on the left; the best gain decides the threshold and where missing values
 * go. "Every value left, missing right" is a split too (its threshold is
 * DBL_MAX). When the leaf has no missing values they go, at prediction, to
 * the child with more rows (scikit-learn's rule).
 *
 * Categorical inputs with at most FIT__GBDT_ONEHOT bins: one level bin
 * against the rest, with missing values on either side. With more: level
 * bins on fewer than FIT__GBDT_CAT_MIN of the leaf's rows are pooled with the
 * missing bin; the others are sorted by G / (H + FIT__GBDT_CAT_SMOOTH) and
 * the prefixes of that order, from either end and at most FIT__GBDT_CAT_SIDE
 * long, go left, the pool on either side (LightGBM's many-vs-many search),
 * their children scored with l2 raised by FIT__GBDT_CAT_L2 (cat_l2): a split
 * that may group levels freely must gain more than a threshold. Where the
 * pool goes is where missing values and unseen levels go.
 *
 * Candidates must leave min_leaf_rows rows and min_child_weight hessian in
 * each child and gain more than min_split_gain; the first best wins, so ties
 * keep the lowest bin (and the caller keeps the lowest input).
 */
#include "worker/fit/gbdt_priv.h"

#include <math.h>
#include <string.h>

void fit__gbdt_rules_init(struct fit__gbdt_rules *r, const struct fit_gbdt_params *p)
{
	r->l1 = p->l1;
	r->l2 = p->l2;
	r->min_hess = p->min_child_weight;
	r->min_rows = p->min_leaf_rows > 0 ? (double)p->min_leaf_rows : 1.0;
	r->min_gain = p->min_split_gain;
}

static double soft(double g, double a)
{
	return g > a ? g - a : g < -a ? g + a : 0.0;
}

double fit__gbdt_score(const struct fit__gbdt_rules *r, double g, double h)
{
	double t = r->l1 > 0.0 ? soft(g, r->l1) : g;

	return t * t / (h + r->l2);
}

double fit__gbdt_weight(const struct fit__gbdt_rules *r, double g, double h)
{
	double t = r->l1 > 0.0 ? soft(g, r->l1) : g;

	return h + r->l2 > 0.0 ? -t / (h + r->l2) : 0.0;
}

static struct fit__gbdt_hbin sub(const struct fit__gbdt_hbin *a, const struct fit__gbdt_hbin *b)
{
	return (struct fit__gbdt_hbin){ a->g - b->g, a->h - b->h, a->n - b->n };
}

static void add(struct fit__gbdt_hbin *a, const struct fit__gbdt_hbin *b)
{
	a->g += b->g;
	a->h += b->h;
	a->n += b->n;
}

static int child_ok(const struct fit__gbdt_rules *r, const struct fit__gbdt_hbin *c)
{
	return c->n >= r->min_rows && c->h >= r->min_hess && c->h + r->l2 > 0.0;
}

/* The gain of left l (right = s - l), or -INFINITY when a child breaks the rules. */
static double gain_of(const struct fit__gbdt_rules *r, const struct fit__gbdt_hbin *s,
		      const struct fit__gbdt_hbin *l, double parent)
{
	struct fit__gbdt_hbin rt = sub(s, l);

	if (!child_ok(r, l) || !child_ok(r, &rt))
		return -INFINITY;
	return fit__gbdt_score(r, l->g, l->h) + fit__gbdt_score(r, rt.g, rt.h) - parent;
}

static void set_bit(uint64_t *mask, unsigned b)
{
	mask[b >> 6] |= (uint64_t)1 << (b & 63);
}

/* Records a better candidate; dl < 0: missing values go to the child with more rows. */
static void take(struct fit__gbdt_split *out, double gain, const struct fit__gbdt_hbin *s,
		 const struct fit__gbdt_hbin *l, int dl)
{
	out->gain = gain;
	out->left = *l;
	out->dl = (uint8_t)(dl >= 0 ? dl : l->n >= s->n - l->n);
}

static void scan_numeric(const struct fit__gbdt_feat *ft, const struct fit__gbdt_hbin *h,
			 const struct fit__gbdt_hbin *s, const struct fit__gbdt_rules *r,
			 double parent, struct fit__gbdt_split *out)
{
	unsigned nb = ft->nbins, best_bin = 0;
	int miss = h[nb].n > 0.0, found = 0;

	for (int pass = 0; pass <= miss; pass++) {
		struct fit__gbdt_hbin l = pass ? h[nb] : (struct fit__gbdt_hbin){ 0.0, 0.0, 0.0 };
		unsigned last = pass == 0 && miss ? nb : nb - 1;

		for (unsigned b = 0; b < last; b++) {
			double gain;

			add(&l, &h[b]);
			if (l.n < r->min_rows || l.h < r->min_hess)
				continue;
			if (s->n - l.n < r->min_rows || s->h - l.h < r->min_hess)
				break;
			gain = gain_of(r, s, &l, parent);
			if (gain > out->gain) {
				take(out, gain, s, &l, miss ? pass : -1);
				best_bin = b;
				found = 1;
			}
		}
	}
	if (!found)
		return;
	out->bin = (uint8_t)best_bin;
	for (unsigned b = 0; b <= best_bin; b++)
		set_bit(out->mask, b);
	if (out->dl)
		set_bit(out->mask, nb);
}

static void scan_onehot(const struct fit__gbdt_feat *ft, const struct fit__gbdt_hbin *h,
			const struct fit__gbdt_hbin *s, const struct fit__gbdt_rules *r,
			double parent, struct fit__gbdt_split *out)
{
	unsigned nb = ft->nbins, best = nb;
	int miss = h[nb].n > 0.0;

	for (unsigned c = 0; c < nb; c++) {
		for (int pass = 0; h[c].n > 0.0 && pass <= miss; pass++) {
			struct fit__gbdt_hbin l = h[c];
			double gain;

			if (pass)
				add(&l, &h[nb]);
			gain = gain_of(r, s, &l, parent);
			if (gain > out->gain) {
				take(out, gain, s, &l, miss ? pass : -1);
				best = c;
			}
		}
	}
	if (best == nb)
		return;
	set_bit(out->mask, best);
	if (out->dl)
		set_bit(out->mask, nb);
}

/* Sorts the k kept bins of order by G / (H + smoothing), ties by bin: a stable insertion sort. */
static void order_bins(const struct fit__gbdt_hbin *h, uint8_t *order, double *key, size_t k)
{
	for (size_t i = 0; i < k; i++)
		key[i] = h[order[i]].g / (h[order[i]].h + FIT__GBDT_CAT_SMOOTH);
	for (size_t i = 1; i < k; i++) {
		uint8_t o = order[i];
		double kv = key[i];
		size_t j = i;

		for (; j > 0 && key[j - 1] > kv; j--) {
			key[j] = key[j - 1];
			order[j] = order[j - 1];
		}
		key[j] = kv;
		order[j] = o;
	}
}

/* The best prefix of order (from the front or, dir = 1, the back), the pool on either side. */
static void scan_prefixes(const struct fit__gbdt_hbin *h, const uint8_t *order, size_t k,
			  const struct fit__gbdt_hbin *pool, const struct fit__gbdt_hbin *s,
			  const struct fit__gbdt_rules *r, double parent,
			  struct fit__gbdt_split *out, int *best_dir, size_t *best_len)
{
	size_t side = k - 1 < FIT__GBDT_CAT_SIDE ? k - 1 : FIT__GBDT_CAT_SIDE;
	int with_pool = pool->n > 0.0;

	for (int dir = 0; dir < 2; dir++) {
		struct fit__gbdt_hbin l = { 0.0, 0.0, 0.0 };

		for (size_t i = 0; i < side; i++) {
			add(&l, &h[order[dir ? k - 1 - i : i]]);
			for (int pass = 0; pass <= with_pool; pass++) {
				struct fit__gbdt_hbin c = l;
				double gain;

				if (pass)
					add(&c, pool);
				gain = gain_of(r, s, &c, parent);
				if (gain > out->gain) {
					take(out, gain, s, &c, with_pool ? pass : -1);
					*best_dir = dir;
					*best_len = i + 1;
				}
			}
		}
	}
}

static void scan_subsets(const struct fit__gbdt_feat *ft, const struct fit__gbdt_hbin *h,
			 const struct fit__gbdt_hbin *s, const struct fit__gbdt_rules *r,
			 double parent, struct fit__gbdt_split *out)
{
	uint8_t order[FIT_GBDT_MAX_BINS];
	double key[FIT_GBDT_MAX_BINS];
	unsigned nb = ft->nbins;
	struct fit__gbdt_hbin pool = *s;
	struct fit__gbdt_rules rc = *r;
	size_t k = 0, len = 0;
	int dir = 0;

	rc.l2 += FIT__GBDT_CAT_L2;

	for (unsigned c = 0; c < nb; c++) {
		if (h[c].n < FIT__GBDT_CAT_MIN)
			continue;
		order[k++] = (uint8_t)c;
		pool = sub(&pool, &h[c]);
	}
	if (k < 2)
		return;
	order_bins(h, order, key, k);
	scan_prefixes(h, order, k, &pool, s, &rc, parent, out, &dir, &len);
	if (len == 0)
		return;
	for (size_t i = 0; i < len; i++)
		set_bit(out->mask, order[dir ? k - 1 - i : i]);
	if (!out->dl)
		return;
	for (unsigned c = 0; c < nb; c++)
		if (h[c].n < FIT__GBDT_CAT_MIN)
			set_bit(out->mask, c);
	set_bit(out->mask, nb);
}

void fit__gbdt_split_feature(const struct fit__gbdt_feat *ft, int32_t f,
			     const struct fit__gbdt_hbin *h, const struct fit__gbdt_hbin *s,
			     const struct fit__gbdt_rules *r, struct fit__gbdt_split *out)
{
	double parent = fit__gbdt_score(r, s->g, s->h);

	memset(out, 0, sizeof(*out));
	out->gain = r->min_gain;
	out->feat = -1;
	if (!ft->cat)
		scan_numeric(ft, h, s, r, parent, out);
	else if (ft->nbins <= FIT__GBDT_ONEHOT)
		scan_onehot(ft, h, s, r, parent, out);
	else
		scan_subsets(ft, h, s, r, parent, out);
	if (out->gain > r->min_gain) {
		out->feat = f;
		out->cat = (uint8_t)ft->cat;
	}
}

/*
 * gbdt_boost.c - the boosting rounds: losses and their gradients, the
 * starting margins, row and input sampling, leaf values, margin updates and
 * early stopping.
 *
 * A round computes nothing new from the frame: the gradients of every
 * output come from the margins (one pass over fixed blocks of rows, whose
 * loss sums are added in block order), then one tree per output grows from
 * them (gbdt_grow.c), its leaves get their values, and the training margins
 * of the rows in each leaf move by the leaf's value; rows left out of the
 * round's sample, and the validation rows, walk the new tree on their bins.
 * The gradient pass that ends a round also gives the training loss the
 * progress callback reports.
 *
 * Random choices are counter-based: row i is in round r's sample when
 * hash(seed, "bag", r, i) falls below subsample * 2^64, and a tree's inputs
 * are those with the smallest hash(seed, "cols", tree, input); nothing
 * depends on the order in which threads draw them.
 */
#include "worker/fit/gbdt_priv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define PURPOSE_BAG  0x626167ULL /* "bag" */
#define PURPOSE_COLS 0x636f6cULL /* "col" */
#define HESS_FLOOR   1e-16	 /* the smallest hessian of a log-loss row */
#define PROB_FLOOR   1e-15	 /* class priors are clipped to [PROB_FLOOR, 1 - PROB_FLOOR] */

/*
 * One row's loss on outputs z[c * stride] (c < k) against y (regression) or
 * label, as reported: squared error, huber, absolute error, log loss. When
 * gh is not NULL writes the pair of output c to gh[c * stride] (margins and
 * pairs are both output-major); when want is zero the loss may be skipped
 * (0 returned).
 */
typedef double (*row_fn)(const double *z, size_t k, double y, int32_t label, double delta,
			 struct fit__gbdt_gh *gh, size_t stride, int want);

static double row_squared(const double *z, size_t k, double y, int32_t label, double delta,
			  struct fit__gbdt_gh *gh, size_t stride, int want)
{
	double r = z[0] - y;

	(void)k, (void)label, (void)delta, (void)stride, (void)want;
	if (gh != NULL)
		*gh = (struct fit__gbdt_gh){ (float)r, 1.0f };
	return r * r;
}

static double row_huber(const double *z, size_t k, double y, int32_t label, double delta,
			struct fit__gbdt_gh *gh, size_t stride, int want)
{
	double r = z[0] - y, a = fabs(r);

	(void)k, (void)label, (void)stride, (void)want;
	if (gh != NULL)
		*gh = (struct fit__gbdt_gh){ (float)(a <= delta ? r : copysign(delta, r)), 1.0f };
	return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
}

static double row_absolute(const double *z, size_t k, double y, int32_t label, double delta,
			   struct fit__gbdt_gh *gh, size_t stride, int want)
{
	double r = z[0] - y;

	(void)k, (void)label, (void)delta, (void)stride, (void)want;
	if (gh != NULL)
		*gh = (struct fit__gbdt_gh){ (float)((r > 0) - (r < 0)), 1.0f };
	return fabs(r);
}

static double row_logistic(const double *z, size_t k, double y, int32_t label, double delta,
			   struct fit__gbdt_gh *gh, size_t stride, int want)
{
	double t = z[0], e = exp(-fabs(t)), p = t >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

	(void)k, (void)y, (void)delta, (void)stride;
	if (gh != NULL) {
		double h = p * (1.0 - p);

		*gh = (struct fit__gbdt_gh){ (float)(p - (label == 1)),
					     (float)(h > HESS_FLOOR ? h : HESS_FLOOR) };
	}
	return want ? log1p(e) + (t > 0 ? t : 0.0) - (label == 1 ? t : 0.0) : 0.0;
}

static double row_softmax(const double *z, size_t k, double y, int32_t label, double delta,
			  struct fit__gbdt_gh *gh, size_t stride, int want)
{
	double m = z[0], s = 0.0;

	(void)y, (void)delta;
	for (size_t c = 1; c < k; c++)
		m = z[c * stride] > m ? z[c * stride] : m;
	for (size_t c = 0; c < k; c++) {
		double e = exp(z[c * stride] - m);

		s += e;
		if (gh != NULL)
			gh[c * stride].g = (float)e; /* kept until s is known */
	}
	for (size_t c = 0; gh != NULL && c < k; c++) {
		double p = (double)gh[c * stride].g / s, h = p * (1.0 - p);

		gh[c * stride] = (struct fit__gbdt_gh){ (float)(p - ((size_t)label == c)),
							(float)(h > HESS_FLOOR ? h : HESS_FLOOR) };
	}
	return want ? m + log(s) - z[(size_t)label * stride] : 0.0;
}

static row_fn pick_loss(enum fit_loss loss, size_t k)
{
	static const row_fn table[FIT_LOSS_COUNT] = {
		[FIT_LOSS_SQUARED] = row_squared,
		[FIT_LOSS_HUBER] = row_huber,
		[FIT_LOSS_ABSOLUTE] = row_absolute,
		[FIT_LOSS_LOG] = row_logistic,
	};

	return loss == FIT_LOSS_LOG && k > 1 ? row_softmax : table[loss];
}

/*
 * The mean loss of n rows (frame rows rows[0..n)) with margins z (k x n),
 * writing their gradient pairs to gh (k x n) when not NULL; NAN when want is
 * zero.
 */
static double loss_pass(struct fit__gbdt_fit *fit, const double *z, const size_t *rows, size_t n,
			struct fit__gbdt_gh *gh, int want)
{
	size_t k = fit->k, nblk = (n + FIT__GBDT_BLOCK - 1) / FIT__GBDT_BLOCK;
	const double *y = fit->y;
	const int32_t *label = fit->label;
	row_fn fn = pick_loss(fit->p->loss, k);
	double delta = fit->p->huber_delta, sum = 0.0;
	int threads = fit->p->threads;

#pragma omp parallel for num_threads(threads) \
    schedule(static) if (threads > 1 && nblk >= FIT__GBDT_PAR_BLOCKS)
	for (size_t b = 0; b < nblk; b++) {
		size_t i1 = (b + 1) * FIT__GBDT_BLOCK < n ? (b + 1) * FIT__GBDT_BLOCK : n;
		double s = 0.0;

		for (size_t i = b * FIT__GBDT_BLOCK; i < i1; i++)
			s += fn(z + i, k, y ? y[rows[i]] : 0.0, label ? label[rows[i]] : 0, delta,
				gh ? gh + i : NULL, n, want);
		fit->partial[b] = s;
	}
	for (size_t b = 0; b < nblk; b++)
		sum += fit->partial[b];
	return want && n > 0 ? sum / (double)n : NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n), n > 0, sorting v. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * v[n / 2 - 1] + 0.5 * v[n / 2];
}

void fit__gbdt_boost_base(struct fit__gbdt_fit *fit)
{
	size_t n = fit->n, k = fit->k;
	double s = 0.0;

	if (fit->nclasses == 0 && fit->p->loss != FIT_LOSS_SQUARED) {
		for (size_t i = 0; i < n; i++) /* scratch: margins come after */
			fit->f[i] = fit->y[fit->train[i]];
		fit->base[0] = median(fit->f, n);
		return;
	}
	if (fit->nclasses == 0) {
		for (size_t i = 0; i < n; i++)
			s += fit->y[fit->train[i]];
		fit->base[0] = s / (double)n;
		return;
	}
	for (size_t c = 0; c < k; c++) {
		size_t cnt = 0;
		int32_t want = k == 1 ? 1 : (int32_t)c;
		double pr;

		for (size_t i = 0; i < n; i++)
			cnt += fit->label[fit->train[i]] == want;
		pr = (double)cnt / (double)n;
		pr = pr < PROB_FLOOR ? PROB_FLOOR : pr > 1.0 - PROB_FLOOR ? 1.0 - PROB_FLOOR : pr;
		fit->base[c] = k == 1 ? log(pr / (1.0 - pr)) : log(pr);
	}
}

static uint64_t stream(uint64_t seed, uint64_t purpose, uint64_t t)
{
	return fit_hash64(fit_hash64(seed ^ fit_hash64(purpose)) + t);
}

/* Round r's sample into inbag (nothing without subsampling); an empty draw takes every row. */
static void draw_bag(struct fit__gbdt_fit *fit, unsigned r)
{
	uint64_t key = stream(fit->p->seed, PURPOSE_BAG, r);
	uint64_t below = (uint64_t)ldexp(fit->p->subsample, 64);
	size_t m = 0;

	if (fit->inbag == NULL)
		return;
	for (size_t i = 0; i < fit->n; i++) {
		fit->inbag[i] = fit_hash64(key + i) < below;
		m += fit->inbag[i];
	}
	if (m == 0)
		memset(fit->inbag, 1, fit->n);
}

/* The round's rows (ascending) into g->rows. */
static void fill_rows(const struct fit__gbdt_fit *fit, struct fit__gbdt_grow *g)
{
	size_t m = 0;

	for (size_t i = 0; i < fit->n; i++) {
		g->rows[m] = (uint32_t)i;
		m += fit->inbag == NULL || fit->inbag[i];
	}
	g->nrows = m;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Tree t's inputs into g->act: every input, or the colsample share with the smallest hashes. */
static void pick_inputs(const struct fit__gbdt_fit *fit, struct fit__gbdt_grow *g, size_t t)
{
	size_t nf = fit->nf, want = (size_t)floor(fit->p->colsample * (double)nf + 0.5);
	uint64_t key = stream(fit->p->seed, PURPOSE_COLS, t), *ck = g->colkey;

	want = want < 1 ? 1 : want > nf ? nf : want;
	g->nact = want;
	if (want == nf) {
		for (size_t f = 0; f < nf; f++)
			g->act[f] = (uint32_t)f;
		return;
	}
	/* the input's index in the low 24 bits breaks ties and comes back out */
	for (size_t f = 0; f < nf; f++)
		ck[f] = (fit_hash64(key + f) & ~(uint64_t)0xffffff) | f;
	qsort(ck, nf, sizeof(uint64_t), cmp_u64);
	for (size_t j = 0; j < want; j++)
		ck[j] &= 0xffffff;
	qsort(ck, want, sizeof(uint64_t), cmp_u64);
	for (size_t j = 0; j < want; j++)
		g->act[j] = (uint32_t)ck[j];
}

/* Leaf values of the tree g grew; FITD_EDIVERGED when one is not finite. */
static int leaf_values(struct fit__gbdt_fit *fit, struct fit__gbdt_grow *g)
{
	int absolute = fit->nclasses == 0 && fit->p->loss == FIT_LOSS_ABSOLUTE;
	double *scratch = (double *)fit->gh; /* absolute loss: k = 1, gradients used up */

	for (size_t j = 0; j < g->nnodes; j++) {
		struct fit__gbdt_wnode *w = &g->node[j];

		if (w->feat >= 0)
			continue;
		if (absolute && w->end > w->begin) {
			for (size_t i = w->begin; i < w->end; i++)
				scratch[i] = fit->y[fit->train[g->rows[i]]] - fit->f[g->rows[i]];
			w->value = median(scratch + w->begin, w->end - w->begin);
		} else {
			w->value = fit__gbdt_weight(&g->rules, w->sum.g, w->sum.h);
		}
		w->value *= fit->p->learning_rate;
		if (!isfinite(w->value))
			return FITD_EDIVERGED;
	}
	return FITD_OK;
}

/* Appends a grown tree of nnodes nodes to the store, in the model's units. */
static void store_tree(struct fit__gbdt_fit *fit, const struct fit__gbdt_wnode *node, size_t nnodes)
{
	struct fit__gbdt_store *st = &fit->store;
	size_t at = st->nnodes;

	st->root[st->ntrees] = at;
	for (size_t j = 0; j < nnodes; j++, at++) {
		const struct fit__gbdt_wnode *w = &node[j];

		st->feat[at] = w->feat;
		st->left[at] = w->feat >= 0 ? w->left : 0;
		st->dl[at] = w->feat >= 0 ? w->dl : 0;
		st->cover[at] = w->sum.h;
		st->gain[at] = w->feat >= 0 ? w->gain : 0.0;
		st->mask[at] = 0;
		if (w->feat < 0)
			st->value[at] = w->value;
		else if (w->cat)
			st->value[at] = 0.0;
		else
			st->value[at] = fit->data.feat[w->feat].thr[w->bin];
		if (w->feat >= 0 && w->cat) {
			st->mask[at] = (uint32_t)st->nmasks;
			memcpy(st->masks + 4 * st->nmasks++, w->mask, sizeof(w->mask));
		}
	}
	st->nnodes = at;
	st->root[++st->ntrees] = at;
}

/* Moves the margins of output c by g's tree: by leaf for sampled rows, by walking for others. */
static void update_margins(struct fit__gbdt_fit *fit, const struct fit__gbdt_grow *g, size_t c)
{
	const struct fit__gbdt_wnode *node = g->node;
	size_t nf = fit->nf, n = fit->n, nv = fit->nv;
	double *f = fit->f + c * n, *fv = fit->fv + c * nv;
	int threads = g->threads;

#pragma omp parallel num_threads(threads) if (threads > 1 && \
					      n + nv >= FIT__GBDT_PAR_BLOCKS * FIT__GBDT_BLOCK)
	{
#pragma omp for schedule(dynamic, 1) nowait
		for (size_t j = 0; j < g->nnodes; j++)
			for (size_t i = node[j].begin; node[j].feat < 0 && i < node[j].end; i++)
				f[g->rows[i]] += node[j].value;
#pragma omp for schedule(static) nowait
		for (size_t i = 0; i < (fit->inbag != NULL ? n : 0); i++)
			if (!fit->inbag[i])
				f[i] +=
				    node[fit__gbdt_wtree_leaf(node, fit->data.bins + i * nf)].value;
#pragma omp for schedule(static)
		for (size_t i = 0; i < nv; i++)
			fv[i] += node[fit__gbdt_wtree_leaf(node, fit->data.vbins + i * nf)].value;
	}
}

/* Grows, values and applies tree t (output c) with context g into node. */
static int one_tree(struct fit__gbdt_fit *fit, struct fit__gbdt_grow *g, size_t t, size_t c,
		    struct fit__gbdt_wnode *node, size_t *nnodes)
{
	int rc;

	fill_rows(fit, g);
	pick_inputs(fit, g, t);
	g->gh = fit->gh + c * fit->n;
	g->node = node;
	rc = fit__gbdt_grow_tree(g);
	*nnodes = g->nnodes;
	if (rc == FITD_OK)
		rc = leaf_values(fit, g);
	if (rc == FITD_OK)
		update_margins(fit, g, c);
	return rc;
}

/*
 * Grows the trees of round r, fit->chunk at a time: with several contexts
 * one thread grows each tree on its own (the trees of a round are
 * independent, and each is the same whichever thread grows it); the chunk's
 * trees are then stored in output order.
 */
static int boost_round(struct fit__gbdt_fit *fit, unsigned r)
{
	size_t k = fit->k, L = 2 * (size_t)fit->p->max_leaves - 1;
	int rc = FITD_OK;

	draw_bag(fit, r);
	for (size_t c0 = 0; c0 < k && rc == FITD_OK; c0 += fit->chunk) {
		size_t nc = k - c0 < fit->chunk ? k - c0 : fit->chunk;
		int threads = fit->ngrow > 1 ? fit->p->threads : 1;

#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
		for (size_t j = 0; j < nc; j++) {
			struct fit__gbdt_grow *g = &fit->grow[omp_get_thread_num()];
			int trc = one_tree(fit, g, (size_t)r * k + c0 + j, c0 + j,
					   fit->wnode + j * L, &fit->wcount[j]);

			if (trc != FITD_OK) {
#pragma omp critical(fit__gbdt_round)
				rc = rc == FITD_OK ? trc : rc;
			}
		}
		for (size_t j = 0; rc == FITD_OK && j < nc; j++)
			store_tree(fit, fit->wnode + j * L, fit->wcount[j]);
	}
	return rc;
}

/* After round r (1-based): the report, progress, and whether patience has run out. */
static int round_end(struct fit__gbdt_fit *fit, unsigned r, double tl, double vl)
{
	struct fit_gbdt_report *rep = &fit->report;
	const struct fit_callbacks *cb = fit->cb;

	rep->rounds = r;
	if (fit->nv == 0 || fit->p->patience == 0 || vl < rep->valid_loss || r == 1) {
		rep->best_round = r;
		rep->train_loss = tl;
		rep->valid_loss = vl;
	}
	if (cb != NULL && cb->progress != NULL)
		cb->progress(cb->data,
			     &(struct fit_progress){ r, tl, vl, fit->nv > 0 ? fit->fv : NULL });
	return fit->nv > 0 && fit->p->patience > 0 && r - rep->best_round >= fit->p->patience;
}

int fit__gbdt_boost(struct fit__gbdt_fit *fit)
{
	size_t n = fit->n, nv = fit->nv, k = fit->k;
	int want = fit->cb != NULL && fit->cb->progress != NULL, rc = FITD_OK;

	for (size_t i = 0; i < n * k; i++)
		fit->f[i] = fit->base[i / n];
	for (size_t i = 0; i < nv * k; i++)
		fit->fv[i] = fit->base[i / nv];
	loss_pass(fit, fit->f, fit->train, n, fit->gh, 0);
	fit->report = (struct fit_gbdt_report){ 0, 0, NAN, NAN, 0, fit->report.work_bytes };
	for (unsigned r = 0; r < fit->p->trees && rc == FITD_OK; r++) {
		double tl, vl;

		if (fit__poll_check(fit->poll))
			return FITD_ECANCELLED;
		rc = boost_round(fit, r);
		if (rc != FITD_OK)
			break;
		tl = loss_pass(fit, fit->f, fit->train, n, fit->gh, want);
		vl = nv > 0 ? loss_pass(fit, fit->fv, fit->valid, nv, NULL, 1) : NAN;
		if ((want && !isfinite(tl)) || (nv > 0 && !isfinite(vl)))
			return FITD_EDIVERGED;
		if (round_end(fit, r + 1, tl, vl)) {
			fit->report.stopped_early = 1;
			break;
		}
	}
	return rc;
}

/*
 * test_gbdt_det.c - a tree model does not depend on the number of threads:
 * the same problem, parameters and seed trained with 1, 2 and 3 threads
 * give byte-identical descriptions and bit-identical margins, for
 * regression (squared, huber, absolute), binary and multi-class models
 * (both ways of sharing a round's trees among threads), with row and input
 * sampling, missing values, categorical inputs and early stopping. And
 * the histogram pool's size (gbdt_grow.c) does not change a tree: with
 * max_leaves / 2 + 1 slots every split still subtracts, so the trees are
 * bit-identical to those grown with a slot per leaf.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/gbdt_fixture.h"
#include "worker/fit/gbdt_priv.h"

struct det_case {
	size_t nclasses;
	enum fit_loss loss;
};

static const struct det_case cases[] = {
	{ 0, FIT_LOSS_SQUARED }, { 0, FIT_LOSS_HUBER }, { 0, FIT_LOSS_ABSOLUTE },
	{ 2, FIT_LOSS_LOG },	 { 3, FIT_LOSS_LOG },	{ 4, FIT_LOSS_LOG },
};

static void make_data(struct gx *g, size_t nclasses)
{
	size_t levels[2] = { 12, 300 }, n = 3500;
	uint64_t st = 77;

	gx_make(g, n, 4, 2, levels, 0.1, 50);
	for (size_t i = 0; i < n; i++) {
		double s = sin(3.0 * (isnan(g->num[i]) ? 0.5 : g->num[i])) +
			   g->num[n + i] * (g->cat[i] % 4 == 1) + 0.3 * (g->cat[n + i] % 7 == 2) +
			   0.5 * (gx_uniform(&st) - 0.5);

		g->y[i] = isnan(s) ? 0.2 : s;
		g->label[i] = nclasses ? (int32_t)((size_t)(fabs(g->y[i]) * 2.5) % nclasses) : 0;
	}
}

START_TEST(same_for_any_thread_count)
{
	const struct det_case *c = &cases[_i];
	unsigned char *ref = NULL;
	size_t nref = 0, k = 0;
	double *zref = NULL;
	struct gx g;

	make_data(&g, c->nclasses);
	for (int threads = 1; threads <= 3; threads++) {
		struct fit_gbdt_problem prob = gx_problem(&g, 3000, 500, c->nclasses);
		struct fit_gbdt_params p;
		struct fit_gbdt_model *m;
		unsigned char *bytes;
		size_t nb;
		double *z;

		fit_gbdt_params_init(&p);
		p.loss = c->loss;
		p.trees = 25;
		p.min_leaf_rows = 5;
		p.subsample = 0.7;
		p.colsample = 0.6;
		p.patience = 4;
		p.seed = 1234;
		p.threads = threads;
		m = gx_train(&prob, &p);
		k = fit_gbdt_desc(m)->noutputs;
		ck_assert_uint_gt(fit_gbdt_desc(m)->ntrees, k);
		nb = gx_serialize(fit_gbdt_desc(m), 1, &bytes);
		z = gx_predict(m, g.frame, g.n, threads);
		if (ref == NULL) {
			ref = bytes;
			nref = nb;
			zref = z;
		} else {
			ck_assert_uint_eq(nb, nref);
			ck_assert_msg(memcmp(bytes, ref, nb) == 0, "threads %d: the models differ",
				      threads);
			ck_assert_msg(memcmp(z, zref, g.n * k * sizeof(double)) == 0,
				      "threads %d: the margins differ", threads);
			free(bytes);
			free(z);
		}
		fit_gbdt_free(m);
	}
	free(ref);
	free(zref);
	gx_free(&g);
}
END_TEST

/* Sampling is real: another seed gives another model. */
START_TEST(seed_matters)
{
	struct gx g;
	unsigned char *a, *b;
	size_t na, nb;
	struct fit_gbdt_model *m1, *m2;
	struct fit_gbdt_problem prob;
	struct fit_gbdt_params p;

	make_data(&g, 0);
	prob = gx_problem(&g, 3000, 0, 0);
	fit_gbdt_params_init(&p);
	p.trees = 5;
	p.subsample = 0.7;
	m1 = gx_train(&prob, &p);
	p.seed = 99;
	m2 = gx_train(&prob, &p);
	na = gx_serialize(fit_gbdt_desc(m1), 1, &a);
	nb = gx_serialize(fit_gbdt_desc(m2), 1, &b);
	ck_assert(na != nb || memcmp(a, b, na) != 0);
	free(a), free(b);
	fit_gbdt_free(m1);
	fit_gbdt_free(m2);
	gx_free(&g);
}
END_TEST

#define POOL_ROWS  6000
#define POOL_FEATS 6
#define POOL_BINS  40

/* Grows one tree over d (every row, every input) with a pool of nslots histograms into node. */
static size_t grow_with(const struct fit__gbdt_data *d, const struct fit__gbdt_gh *gh,
			const struct fit_gbdt_params *p, size_t nslots,
			struct fit__gbdt_wnode *node)
{
	struct fit__gbdt_grow g = { 0 };
	struct fit__arena a = { 0 };
	struct fit__gbdt_hbin *pool = malloc(nslots * d->nhbins * sizeof(*pool));
	int32_t *owner = malloc(nslots * sizeof(int32_t)), *free_slot = malloc(nslots * 4);
	void *mem;

	fit__gbdt_grow_layout(&a, &g, d->n, d->nf, d->nhbins, p);
	mem = fit__alloc(a.used);
	ck_assert(mem != NULL && pool != NULL && owner != NULL && free_slot != NULL);
	a = (struct fit__arena){ .base = mem, .size = a.used };
	fit__gbdt_grow_layout(&a, &g, d->n, d->nf, d->nhbins, p);
	g.d = d;
	g.p = p;
	g.threads = 1;
	fit__gbdt_rules_init(&g.rules, p);
	fit__gbdt_grow_bins(&g, d->nhbins);
	ck_assert_uint_eq(g.nslots, p->max_leaves / 2 + 1);
	g.pool = pool, g.owner = owner, g.free_slot = free_slot, g.nslots = nslots;
	g.gh = gh;
	g.node = node;
	for (size_t i = 0; i < d->n; i++)
		g.rows[i] = (uint32_t)i;
	g.nrows = d->n;
	for (size_t j = 0; j < d->nf; j++)
		g.act[j] = (uint32_t)j;
	g.nact = d->nf;
	ck_assert_int_eq(fit__gbdt_grow_tree(&g), FITD_OK);
	free(mem), free(pool), free(owner), free(free_slot);
	return g.nnodes;
}

/* Whether two grown trees agree bit for bit: splits, sums and gains. */
static int same_tree(const struct fit__gbdt_wnode *a, const struct fit__gbdt_wnode *b, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (a[j].feat != b[j].feat || a[j].left != b[j].left || a[j].bin != b[j].bin ||
		    a[j].dl != b[j].dl || memcmp(&a[j].sum, &b[j].sum, sizeof(a[j].sum)) != 0 ||
		    memcmp(&a[j].gain, &b[j].gain, sizeof(double)) != 0)
			return 0;
	return 1;
}

/* Random bins and gradients: max_leaves / 2 + 1 slots give the tree of a slot per leaf. */
START_TEST(pool_loses_nothing)
{
	static const unsigned leaves[] = { 4, 7, 8, 15, 31, 32, 63 };
	struct fit__gbdt_feat feat[POOL_FEATS] = { 0 };
	struct fit__gbdt_data d = { .n = POOL_ROWS, .nf = POOL_FEATS, .feat = feat };
	struct fit__gbdt_gh *gh = malloc(POOL_ROWS * sizeof(*gh));
	struct fit__gbdt_wnode *full = malloc(127 * sizeof(*full)),
			       *half = malloc(127 * sizeof(*half));
	struct fit_gbdt_params p;
	uint64_t st = 5;
	int differs = 0;

	d.bins = malloc(POOL_ROWS * POOL_FEATS);
	ck_assert(gh != NULL && full != NULL && half != NULL && d.bins != NULL);
	for (size_t f = 0; f < POOL_FEATS; f++) {
		feat[f].nbins = POOL_BINS;
		feat[f].hoff = d.nhbins;
		d.nhbins += POOL_BINS + 1;
	}
	/* magnitudes over many octaves, so that sums of the pairs round (else they are exact) */
	for (size_t i = 0; i < POOL_ROWS; i++) {
		double x = gx_uniform(&st), scale = exp(30.0 * (gx_uniform(&st) - 0.5));

		for (size_t f = 0; f < POOL_FEATS; f++)
			d.bins[i * POOL_FEATS + f] = (uint8_t)(gx_uniform(&st) * POOL_BINS);
		x = sin(7.0 * x * (1 + d.bins[i * POOL_FEATS])) + gx_uniform(&st) - 0.5;
		gh[i] = (struct fit__gbdt_gh){ (float)(x * scale),
					       (float)((0.05 + gx_uniform(&st)) * scale) };
	}
	fit_gbdt_params_init(&p);
	p.min_leaf_rows = 5;
	for (size_t c = 0; c < sizeof(leaves) / sizeof(leaves[0]); c++) {
		size_t nf, nh;

		p.max_leaves = leaves[c];
		nf = grow_with(&d, gh, &p, leaves[c], full);
		nh = grow_with(&d, gh, &p, leaves[c] / 2 + 1, half);
		ck_assert_uint_eq(nf, 2 * (size_t)leaves[c] - 1);
		ck_assert_uint_eq(nh, nf);
		ck_assert_msg(same_tree(full, half, nf), "%u leaves", leaves[c]);
		/* the comparison sees rebuilt histograms: 3 slots differ somewhere */
		if (leaves[c] > 8)
			differs |= grow_with(&d, gh, &p, 3, half) != nf ||
				   !same_tree(full, half, nf);
	}
	ck_assert(differs);
	free(d.bins), free(gh), free(full), free(half);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_gbdt_det");
	TCase *tc = tcase_create("det");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, same_for_any_thread_count, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, seed_matters);
	tcase_add_test(tc, pool_loses_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

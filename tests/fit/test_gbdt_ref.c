/*
 * test_gbdt_ref.c - one tree against an exact greedy reference: a brute
 * force over every threshold between neighbouring values of every input
 * (the same thresholds the binning cuts when each value has a bin), with
 * the same gain formula, leaf-wise in the same order, must choose the same
 * splits, thresholds, covers and leaf values (to 1e-12), with and without
 * L1, a depth cap, and several leaf limits and minimum leaf sizes.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/gbdt_fixture.h"

#define REF_MAX 64

struct ref_leaf {
	size_t *rows, n, node;
	unsigned depth;
	double g, h;
	int col; /* best split; -1 none */
	double thr, gain, gl, hl;
	size_t nl;
};

struct ref {
	const struct gx *g;
	const double *grad;
	double l1, l2, min_rows, lr;
	unsigned max_depth, max_leaves;
	double *thr[GX_MAX_COLS]; /* midpoints of each input's distinct values */
	size_t nthr[GX_MAX_COLS];
	int col[2 * REF_MAX], left[2 * REF_MAX];
	double value[2 * REF_MAX], cover[2 * REF_MAX];
	size_t nnodes;
	size_t *owned[REF_MAX]; /* the row lists to free */
	size_t nowned;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double ref_score(const struct ref *r, double g, double h)
{
	double t = g > r->l1 ? g - r->l1 : g < -r->l1 ? g + r->l1 : 0.0;

	return t * t / (h + r->l2);
}

/* The thresholds between neighbouring distinct values, as the binning computes them. */
static void ref_thresholds(struct ref *r, size_t n)
{
	for (size_t j = 0; j < r->g->nnum; j++) {
		double *v = malloc(n * sizeof(double));
		size_t nd = 0;

		memcpy(v, r->g->num + j * r->g->n, n * sizeof(double));
		qsort(v, n, sizeof(double), cmp_d);
		r->thr[j] = malloc(n * sizeof(double));
		for (size_t i = 1; i < n; i++) {
			double t = v[i - 1] * 0.5 + v[i] * 0.5;

			if (v[i] != v[i - 1])
				r->thr[j][nd++] = t >= v[i - 1] && t < v[i] ? t : v[i - 1];
		}
		r->nthr[j] = nd;
		free(v);
	}
}

/* Brute force: every input, every threshold, sums over the leaf's rows. */
static void ref_best(const struct ref *r, struct ref_leaf *l)
{
	double parent = ref_score(r, l->g, l->h);

	l->col = -1;
	l->gain = 0.0;
	for (size_t j = 0; j < r->g->nnum; j++)
		for (size_t t = 0; t < r->nthr[j]; t++) {
			double gl = 0.0, hl = 0.0, gain;
			size_t nl = 0;

			for (size_t i = 0; i < l->n; i++)
				if (r->g->num[j * r->g->n + l->rows[i]] <= r->thr[j][t]) {
					gl += r->grad[l->rows[i]];
					hl += 1.0;
					nl++;
				}
			if ((double)nl < r->min_rows || (double)(l->n - nl) < r->min_rows)
				continue;
			gain = ref_score(r, gl, hl) + ref_score(r, l->g - gl, l->h - hl) - parent;
			if (gain > l->gain) {
				l->col = (int)j;
				l->thr = r->thr[j][t];
				l->gain = gain;
				l->gl = gl;
				l->hl = hl;
				l->nl = nl;
			}
		}
}

static void ref_new_leaf(struct ref *r, struct ref_leaf *l, size_t *rows, size_t n, double g,
			 double h, unsigned depth, size_t node, size_t nleaves)
{
	*l =
	    (struct ref_leaf){ .rows = rows, .n = n, .node = node, .depth = depth, .g = g, .h = h };
	r->col[node] = -1;
	r->cover[node] = h;
	l->col = -1;
	if (nleaves < r->max_leaves && (r->max_depth == 0 || depth < r->max_depth) &&
	    (double)n >= 2.0 * r->min_rows)
		ref_best(r, l);
}

/* Grows the reference tree leaf-wise over rows 0..n-1, as fit__gbdt_grow_tree() orders splits. */
static void ref_grow(struct ref *r, size_t n)
{
	struct ref_leaf leaf[REF_MAX];
	size_t nleaves = 1, *rows = malloc(n * sizeof(size_t));
	double g = 0.0;

	for (size_t i = 0; i < n; i++) {
		rows[i] = i;
		g += r->grad[i];
	}
	r->nnodes = 1;
	r->owned[r->nowned++] = rows;
	ref_new_leaf(r, &leaf[0], rows, n, g, (double)n, 0, 0, 1);
	while (nleaves < r->max_leaves) {
		size_t best = nleaves, k = 0, node;
		struct ref_leaf p;
		size_t *lr;

		for (size_t i = 0; i < nleaves; i++)
			if (leaf[i].col >= 0 && (best == nleaves || leaf[i].gain > leaf[best].gain))
				best = i;
		if (best == nleaves)
			break;
		p = leaf[best];
		lr = malloc(p.n * sizeof(size_t));
		r->owned[r->nowned++] = lr;
		for (size_t i = 0; i < p.n; i++)
			if (r->g->num[p.col * r->g->n + p.rows[i]] <= p.thr)
				lr[k++] = p.rows[i];
		for (size_t i = 0; i < p.n; i++)
			if (!(r->g->num[p.col * r->g->n + p.rows[i]] <= p.thr))
				lr[k++] = p.rows[i];
		node = r->nnodes;
		r->col[p.node] = p.col;
		r->value[p.node] = p.thr;
		r->left[p.node] = (int)node;
		r->nnodes += 2;
		nleaves++;
		ref_new_leaf(r, &leaf[best], lr, p.nl, p.gl, p.hl, p.depth + 1, node, nleaves);
		ref_new_leaf(r, &leaf[nleaves - 1], lr + p.nl, p.n - p.nl, p.g - p.gl, p.h - p.hl,
			     p.depth + 1, node + 1, nleaves);
	}
	for (size_t i = 0; i < nleaves; i++) {
		double t = leaf[i].g > r->l1	? leaf[i].g - r->l1
			   : leaf[i].g < -r->l1 ? leaf[i].g + r->l1
						: 0.0;

		r->value[leaf[i].node] = -t / (leaf[i].h + r->l2) * r->lr;
	}
}

/* The reference tree matches tree 0 of m node for node. */
static void compare(const struct ref *r, const struct fit_gbdt_model *m, double base)
{
	const struct fit_gbdt_tree *t = &fit_gbdt_desc(m)->trees[0];

	ck_assert_double_eq(fit_gbdt_desc(m)->base[0], base);
	ck_assert_uint_eq(t->nnodes, r->nnodes);
	ck_assert_uint_gt(t->nnodes, 5);
	for (size_t j = 0; j < r->nnodes; j++) {
		ck_assert_int_eq(t->column[j], r->col[j]);
		ck_assert_double_eq_tol(t->cover[j], r->cover[j], 1e-9);
		if (r->col[j] < 0) {
			ck_assert_double_eq_tol(t->value[j], r->value[j], 1e-12);
			continue;
		}
		ck_assert_double_eq(t->value[j], r->value[j]); /* the same threshold */
		ck_assert_int_eq(t->left[j], r->left[j]);
		ck_assert_int_eq(t->right[j], r->left[j] + 1);
	}
}

static const struct {
	double l1;
	unsigned depth, leaves, min_rows;
} configs[] = { { 0.0, 0, 12, 5 }, { 0.7, 0, 8, 3 }, { 0.0, 2, 16, 1 }, { 0.0, 0, 31, 20 } };

START_TEST(exact_greedy_reference)
{
	struct fit_gbdt_params p;
	struct fit_gbdt_problem prob;
	struct fit_gbdt_model *m;
	struct ref r;
	struct gx g;
	size_t n = 240;
	double *grad = malloc(n * sizeof(double)), base = 0.0;

	gx_make(&g, n, 4, 0, NULL, 0.0, 11);
	for (size_t i = 0; i < n; i++)
		g.y[i] = sin(3.0 * g.num[i]) + g.num[n + i] * g.num[n + i] +
			 0.3 * g.num[2 * n + i] + 0.1 * g.num[3 * n + i];
	prob = gx_problem(&g, n, 0, 0);
	fit_gbdt_params_init(&p);
	p.trees = 1;
	p.learning_rate = 0.3;
	p.l1 = configs[_i].l1;
	p.max_depth = configs[_i].depth;
	p.max_leaves = configs[_i].leaves;
	p.min_leaf_rows = configs[_i].min_rows;
	m = gx_train(&prob, &p);
	for (size_t i = 0; i < n; i++)
		base += g.y[i];
	base /= (double)n;
	for (size_t i = 0; i < n; i++) /* the squared loss's gradient, rounded to float as fitd's */
		grad[i] = (double)(float)(base - g.y[i]);
	r = (struct ref){ .g = &g,
			  .grad = grad,
			  .l1 = p.l1,
			  .l2 = p.l2,
			  .min_rows = p.min_leaf_rows,
			  .lr = p.learning_rate,
			  .max_depth = p.max_depth,
			  .max_leaves = p.max_leaves };
	ref_thresholds(&r, n);
	ref_grow(&r, n);
	compare(&r, m, base);
	for (size_t j = 0; j < g.nnum; j++)
		free(r.thr[j]);
	for (size_t j = 0; j < r.nowned; j++)
		free(r.owned[j]);
	free(grad);
	fit_gbdt_free(m);
	gx_free(&g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_gbdt_ref");
	TCase *tc = tcase_create("ref");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, exact_greedy_reference, 0, sizeof(configs) / sizeof(configs[0]));
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

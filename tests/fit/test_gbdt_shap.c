/*
 * test_gbdt_shap.c - TreeSHAP against brute force: the Shapley values of
 * the path-dependent value function (at a split on a column of S follow the
 * row, else average the children weighted by their covers), enumerated over
 * all 2^M subsets of at most 8 columns, match fit_gbdt_shap() to 1e-9, and
 * every row's contributions plus bias add up to its raw margin, for
 * regression, binary and multi-class models with missing values, subset
 * and one-vs-rest categorical splits and a level the model never saw.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/gbdt_fixture.h"

/* The rule prediction follows, written again from the description and the frame. */
static int goes_left(const struct fit_gbdt_desc *d, const struct fit_gbdt_tree *t, size_t j,
		     const struct fit_frame *f, size_t row)
{
	const struct fit_gbdt_column *mc = &d->columns[t->column[j]];
	const struct fit_column *fc = &f->cols[fit_frame_find(f, mc->name)];
	size_t l;

	if (mc->type == FIT_COL_NUMERIC)
		return isnan(fc->num[row]) ? t->default_left[j] : fc->num[row] <= t->value[j];
	if (fc->cat[row] < 0)
		return t->default_left[j];
	for (l = 0; l < mc->nlevels; l++)
		if (strcmp(mc->levels[l], fc->levels[fc->cat[row]]) == 0)
			break;
	if (l == mc->nlevels)
		return t->default_left[j];
	return (int)((d->cat_bits[t->cat[j] + l / 32] >> (l % 32)) & 1);
}

/* v(S) of one tree below node j. */
static double value(const struct fit_gbdt_desc *d, const struct fit_gbdt_tree *t, size_t j,
		    unsigned set, const struct fit_frame *f, size_t row)
{
	int32_t c = t->column[j], l = t->left[j], r = t->right[j];

	if (c == FIT_GBDT_LEAF)
		return t->value[j];
	if (set >> c & 1)
		return value(d, t, goes_left(d, t, j, f, row) ? (size_t)l : (size_t)r, set, f, row);
	return (t->cover[l] * value(d, t, (size_t)l, set, f, row) +
		t->cover[r] * value(d, t, (size_t)r, set, f, row)) /
	       t->cover[j];
}

/* Shapley values of a row by enumeration: phi (noutputs x (M + 1)), bias last. */
static void brute_force(const struct fit_gbdt_desc *d, const struct fit_frame *f, size_t row,
			double *phi)
{
	size_t m = d->ncolumns, k = d->noutputs, nsets = (size_t)1 << m;
	double *v = malloc(nsets * sizeof(double)), fact[17] = { 1.0 };

	for (size_t i = 1; i <= m; i++)
		fact[i] = fact[i - 1] * (double)i;
	memset(phi, 0, k * (m + 1) * sizeof(double));
	for (size_t c = 0; c < k; c++) {
		memset(v, 0, nsets * sizeof(double));
		for (size_t t = c; t < d->ntrees; t += k)
			for (unsigned s = 0; s < nsets; s++)
				v[s] += value(d, &d->trees[t], 0, s, f, row);
		for (size_t i = 0; i < m; i++)
			for (unsigned s = 0; s < nsets; s++) {
				size_t size = (size_t)__builtin_popcount(s);

				if (s >> i & 1)
					continue;
				phi[c * (m + 1) + i] += fact[size] * fact[m - size - 1] / fact[m] *
							(v[s | 1u << i] - v[s]);
			}
		phi[c * (m + 1) + m] = d->base[c] + v[0];
	}
	free(v);
}

/* A small model over nnum numeric inputs and two categorical ones, missing values included. */
static struct fit_gbdt_model *make_model(struct gx *g, size_t nclasses, size_t nnum, uint64_t seed)
{
	size_t levels[2] = { 9, 3 }, n = 1500;
	struct fit_gbdt_params p;
	struct fit_gbdt_problem prob;

	gx_make(g, n, nnum, 2, levels, 0.15, seed);
	for (size_t i = 0; i < n; i++) {
		double s = (isnan(g->num[i]) ? -0.8 : g->num[i]) *
			       (g->cat[i] % 3 == 1 ? 2.0 : -1.0) +
			   g->num[n + i] * g->num[2 * n + i] + (g->cat[n + i] == 2) -
			   0.4 * (g->cat[i] < 0);

		g->y[i] = isnan(s) ? 0.3 : s;
		g->label[i] = nclasses ? (int32_t)((size_t)(fabs(g->y[i]) * 3.0) % nclasses) : 0;
	}
	prob = gx_problem(g, n, 0, nclasses);
	fit_gbdt_params_init(&p);
	p.trees = 6;
	p.max_leaves = 16;
	p.min_leaf_rows = 10;
	p.learning_rate = 0.3;
	return gx_train(&prob, &p);
}

/* Every row's contributions add up to its margin; 40 rows match brute force. */
static void check_model(size_t nclasses, size_t nnum, uint64_t seed)
{
	struct gx g;
	struct fit_gbdt_model *m = make_model(&g, nclasses, nnum, seed);
	const struct fit_gbdt_desc *d = fit_gbdt_desc(m);
	size_t n = g.n, k = d->noutputs, cols = d->ncolumns + 1;
	struct fit_frame *f = gx_frame_with_unseen(&g, 0, 4); /* c0's level 4 becomes unseen */
	double *z = malloc(n * k * sizeof(double)), *phi = malloc(n * k * cols * sizeof(double));
	double *want = malloc(k * cols * sizeof(double));

	ck_assert_int_eq(fit_gbdt_predict(m, f, NULL, n, 2, z, NULL), 0);
	ck_assert_int_eq(fit_gbdt_shap(m, f, NULL, n, 2, phi, NULL), 0);
	for (size_t i = 0; i < n * k; i++) {
		double sum = 0.0;

		for (size_t j = 0; j < cols; j++)
			sum += phi[i * cols + j];
		ck_assert_msg(fabs(sum - z[i]) < 1e-9, "row %zu: %.15g vs %.15g", i / k, sum, z[i]);
	}
	for (size_t row = 0; row < n; row += n / 40) {
		brute_force(d, f, row, want);
		for (size_t j = 0; j < k * cols; j++)
			ck_assert_msg(fabs(phi[row * k * cols + j] - want[j]) < 1e-9,
				      "row %zu entry %zu: %.15g vs %.15g", row, j,
				      phi[row * k * cols + j], want[j]);
	}
	free(z), free(phi), free(want);
	fit_frame_free(f);
	fit_gbdt_free(m);
	gx_free(&g);
}

START_TEST(regression_8_columns)
{
	check_model(0, 6, 60);
}
END_TEST

START_TEST(binary)
{
	check_model(2, 4, 61);
}
END_TEST

START_TEST(multiclass)
{
	check_model(3, 5, 62);
}
END_TEST

/* Deep trees repeat columns along a path, which TreeSHAP unwinds. */
START_TEST(repeated_columns)
{
	struct fit_gbdt_params p;
	struct fit_gbdt_problem prob;
	struct fit_gbdt_model *m;
	const struct fit_gbdt_desc *d;
	double phi[3], want[3];
	struct gx g;
	size_t n = 2000;

	gx_make(&g, n, 2, 0, NULL, 0.0, 63);
	for (size_t i = 0; i < n; i++)
		g.y[i] = sin(6.0 * g.num[i]) + g.num[n + i];
	prob = gx_problem(&g, n, 0, 0);
	fit_gbdt_params_init(&p);
	p.trees = 3;
	p.max_leaves = 40;
	p.min_leaf_rows = 5;
	m = gx_train(&prob, &p);
	d = fit_gbdt_desc(m);
	for (size_t row = 0; row < 200; row += 7) {
		ck_assert_int_eq(fit_gbdt_shap(m, g.frame, &row, 1, 1, phi, NULL), 0);
		brute_force(d, g.frame, row, want);
		for (size_t j = 0; j < 3; j++)
			ck_assert_double_eq_tol(phi[j], want[j], 1e-9);
	}
	fit_gbdt_free(m);
	gx_free(&g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_gbdt_shap");
	TCase *tc = tcase_create("shap");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, regression_8_columns);
	tcase_add_test(tc, binary);
	tcase_add_test(tc, multiclass);
	tcase_add_test(tc, repeated_columns);
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

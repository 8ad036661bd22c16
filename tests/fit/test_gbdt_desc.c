/*
 * test_gbdt_desc.c - a tree model taken apart and put back: a deep copy of
 * its description rebuilds into a model that predicts (and explains)
 * bit-identically and describes itself with the same bytes; a damaged
 * description (an index out of range, a cycle, a number that is not finite,
 * levels out of order, ...) is refused with FITD_EFORMAT.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/gbdt_fixture.h"

/* A multi-class model over numeric, missing and categorical inputs. */
static struct fit_gbdt_model *trained(struct gx *g, size_t nclasses)
{
	size_t levels[2] = { 12, 300 }, n = 2000;
	struct fit_gbdt_params p;
	struct fit_gbdt_problem prob;

	gx_make(g, n, 3, 2, levels, 0.15, 40);
	for (size_t i = 0; i < n; i++) {
		double s = (isnan(g->num[i]) ? 0.7 : g->num[i]) + (g->cat[i] % 3 == 0) +
			   0.5 * (g->cat[n + i] % 5 == 1);

		g->label[i] = nclasses ? (int32_t)((size_t)(fabs(s) * 3.0) % nclasses) : 0;
		g->y[i] = s;
	}
	prob = gx_problem(g, 1500, 500, nclasses);
	fit_gbdt_params_init(&p);
	p.trees = 15;
	p.max_leaves = 12;
	p.min_leaf_rows = 10;
	p.subsample = 0.8;
	p.threads = 2;
	return gx_train(&prob, &p);
}

START_TEST(round_trip)
{
	static const size_t classes[] = { 0, 2, 4 };

	for (size_t c = 0; c < 3; c++) {
		struct gx g;
		struct fit_gbdt_model *m = trained(&g, classes[c]), *back = NULL;
		struct gx_copy *cp = gx_copy_new(fit_gbdt_desc(m));
		struct fitd_error err = { 0 };
		size_t k = fit_gbdt_desc(m)->noutputs, nc = fit_gbdt_desc(m)->ncolumns;
		unsigned char *a, *b;
		size_t na, nb;
		double *z1, *z2, *s1, *s2;

		ck_assert_int_eq(fit_gbdt_rebuild(&cp->d, &back, &err), 0);
		gx_copy_free(cp); /* the rebuilt model owns copies */
		na = gx_serialize(fit_gbdt_desc(m), 0, &a);
		nb = gx_serialize(fit_gbdt_desc(back), 0, &b);
		ck_assert_uint_eq(na, nb);
		ck_assert(memcmp(a, b, na) == 0);
		z1 = gx_predict(m, g.frame, g.n, 2);
		z2 = gx_predict(back, g.frame, g.n, 1);
		ck_assert(memcmp(z1, z2, g.n * k * sizeof(double)) == 0);
		s1 = malloc(100 * k * (nc + 1) * sizeof(double));
		s2 = malloc(100 * k * (nc + 1) * sizeof(double));
		ck_assert_int_eq(fit_gbdt_shap(m, g.frame, g.rows, 100, 2, s1, NULL), 0);
		ck_assert_int_eq(fit_gbdt_shap(back, g.frame, g.rows, 100, 1, s2, NULL), 0);
		ck_assert(memcmp(s1, s2, 100 * k * (nc + 1) * sizeof(double)) == 0);
		free(a), free(b), free(z1), free(z2), free(s1), free(s2);
		fit_gbdt_free(back);
		fit_gbdt_free(m);
		gx_free(&g);
	}
}
END_TEST

/* The first split node of tree t on a categorical column, or -1. */
static int cat_split(const struct fit_gbdt_desc *d, size_t t)
{
	for (size_t j = 0; j < d->trees[t].nnodes; j++) {
		int32_t c = d->trees[t].column[j];

		if (c >= 0 && d->columns[c].type == FIT_COL_CATEGORICAL)
			return (int)j;
	}
	return -1;
}

/* One way of damaging a copied description: c is the copy, last the last node of tree 0, cs
 * its first categorical split. */
typedef void (*damage_fn)(struct gx_copy *c, size_t last, int cs);

#define DAMAGE(name, body)                                       \
	static void name(struct gx_copy *c, size_t last, int cs) \
	{                                                        \
		(void)last, (void)cs;                            \
		body;                                            \
	}

DAMAGE(column_out_of_range, c->column[0][0] = (int32_t)c->d.ncolumns)
DAMAGE(child_before_parent, c->left[0][0] = 0)
DAMAGE(child_out_of_range, c->right[0][0] = (int32_t)c->trees[0].nnodes)
DAMAGE(leaf_not_finite, c->value[0][last] = NAN)
DAMAGE(cover_zero, c->cover[0][last] = 0.0)
DAMAGE(cover_negative, c->cover[0][0] = -1.0)
DAMAGE(gain_infinite, c->gain[0][0] = INFINITY)
DAMAGE(default_left_two, c->default_left[0][0] = 2)
DAMAGE(base_not_finite, c->base[0] = NAN)
DAMAGE(trees_not_a_multiple, c->d.ntrees -= 1)
DAMAGE(one_class, c->d.nclasses = 1)
DAMAGE(bad_params, c->d.params.max_bins = 0)
DAMAGE(column_without_name, c->columns[0].name = NULL)
DAMAGE(unknown_type, c->columns[3].type = (enum fit_col_type)7)
DAMAGE(levels_out_of_order, {
	char *t = c->levels[3][0];

	c->levels[3][0] = c->levels[3][1];
	c->levels[3][1] = t;
})
DAMAGE(bitset_out_of_range, c->cat[0][cs] = (uint32_t)c->d.ncat_words)
DAMAGE(outputs_mismatch, c->d.noutputs += 1)
DAMAGE(two_parents, /* the root's right child becomes its left child's child */
       c->right[0][0] = c->left[0][c->left[0][0]] > 0 ? c->left[0][c->left[0][0]] : 1)
DAMAGE(empty_tree, c->trees[1].nnodes = 0)
DAMAGE(numeric_with_levels, c->columns[0].nlevels = 3)
DAMAGE(loss_unresolved, c->d.params.loss = FIT_LOSS_AUTO)
DAMAGE(missing_array, c->trees[0].cover = NULL)
DAMAGE(missing_levels, c->columns[3].levels = NULL)
DAMAGE(missing_base, c->d.base = NULL)

static const struct {
	const char *what;
	damage_fn fn;
} damages[] = {
	{ "column out of range", column_out_of_range },
	{ "child before its parent", child_before_parent },
	{ "child out of range", child_out_of_range },
	{ "leaf value not finite", leaf_not_finite },
	{ "zero cover", cover_zero },
	{ "negative cover", cover_negative },
	{ "infinite gain", gain_infinite },
	{ "default_left 2", default_left_two },
	{ "base not finite", base_not_finite },
	{ "trees not a multiple of outputs", trees_not_a_multiple },
	{ "one class", one_class },
	{ "bad parameters", bad_params },
	{ "column without a name", column_without_name },
	{ "unknown column type", unknown_type },
	{ "levels out of order", levels_out_of_order },
	{ "bitset out of range", bitset_out_of_range },
	{ "outputs and classes disagree", outputs_mismatch },
	{ "a node with two parents", two_parents },
	{ "a tree without nodes", empty_tree },
	{ "a numeric column with levels", numeric_with_levels },
	{ "loss AUTO", loss_unresolved },
	{ "a tree array missing", missing_array },
	{ "levels missing", missing_levels },
	{ "base missing", missing_base },
};

START_TEST(damaged)
{
	struct gx g;
	struct fit_gbdt_model *m = trained(&g, 4);
	const struct fit_gbdt_desc *d = fit_gbdt_desc(m);
	int cs = cat_split(d, 0);

	ck_assert_int_ge(cs, 0);
	ck_assert_int_gt(d->trees[0].left[0], 0);
	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
		struct gx_copy *c = gx_copy_new(d);
		struct fit_gbdt_model *back = (void *)1;
		struct fitd_error err = { 0 };
		int rc;

		damages[i].fn(c, c->trees[0].nnodes - 1, cs);
		rc = fit_gbdt_rebuild(&c->d, &back, &err);
		ck_assert_msg(rc == FITD_EFORMAT, "%s: rc %d (%s)", damages[i].what, rc,
			      err.message);
		ck_assert_ptr_null(back);
		ck_assert_str_eq(err.code, "bad_model");
		gx_copy_free(c);
	}
	fit_gbdt_free(m);
	gx_free(&g);
}
END_TEST

/* Prediction matches columns by name: another column order and extra columns change nothing. */
START_TEST(columns_by_name)
{
	struct gx g;
	struct fit_gbdt_model *m = trained(&g, 0);
	struct fit_frame_builder *b;
	struct fit_frame *f;
	double *z1, *z2;
	char name[32];

	ck_assert_int_eq(fit_frame_builder_new(g.n, 6, &b), 0);
	fit_frame_builder_column(b, 0, "extra", FIT_COL_NUMERIC);
	for (size_t j = 0; j < 2; j++) { /* categorical first, levels in another order of use */
		fit_frame_builder_column(b, 1 + j, j ? "c1" : "c0", FIT_COL_CATEGORICAL);
		for (size_t i = g.n; i-- > 0;) {
			int32_t c = g.cat[j * g.n + i];
			int len = snprintf(name, sizeof(name), "L%05d", (int)c);

			if (c >= 0)
				fit_frame_builder_set_cat(b, 1 + j, i, name, (size_t)len);
		}
	}
	for (size_t j = 0; j < 3; j++) {
		snprintf(name, sizeof(name), "x%zu", 2 - j);
		fit_frame_builder_column(b, 3 + j, name, FIT_COL_NUMERIC);
		for (size_t i = 0; i < g.n; i++)
			fit_frame_builder_set_num(b, 3 + j, i, g.num[(2 - j) * g.n + i]);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	z1 = gx_predict(m, g.frame, g.n, 1);
	z2 = gx_predict(m, f, g.n, 2);
	ck_assert(memcmp(z1, z2, g.n * sizeof(double)) == 0);
	free(z1), free(z2);
	fit_frame_free(f);
	fit_gbdt_free(m);
	gx_free(&g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_gbdt_desc");
	TCase *tc = tcase_create("desc");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, damaged);
	tcase_add_test(tc, columns_by_name);
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

/*
 * test_gbdt_det.c - a tree model does not depend on the number of threads:
 * the same problem, parameters and seed trained with 1, 2 and 3 threads
 * give byte-identical descriptions and bit-identical margins, for
 * regression (squared, huber, absolute), binary and multi-class models
 * (both ways of sharing a round's trees among threads), with row and input
 * sampling, missing values, categorical inputs and early stopping.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/gbdt_fixture.h"

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

static Suite *suite(void)
{
	Suite *s = suite_create("fit_gbdt_det");
	TCase *tc = tcase_create("det");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, same_for_any_thread_count, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, seed_matters);
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

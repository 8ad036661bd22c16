/*
 * test_parity.c - accuracy parity with scikit-learn on the fixed split: for
 * each row of fixture_parity.h (written by tests/bench/fit_parity.py) train
 * fitd's model of the same family with comparable settings and require an
 * accuracy at most 0.01 below scikit-learn's, or an RMSE at most 5% above.
 * Networks are compared on the mean over seeds 0..4 (one test row is 2.5% of
 * wine's test set, so a single seed of either side decides nothing), each
 * seed running the epochs scikit-learn ran for it (its loss-tolerance rule
 * stops it early; fitd has no such rule). Prints both scores. Needs no Python
 * at test time.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/model.h"

#include "tests/fit/fixture_parity.h"

/* fitd's settings for each family: those of the scikit-learn estimator. */
static struct fit_params family_params(const char *family, enum fit_task task)
{
	struct fit_params p;

	fit_params_init(&p);
	p.reg = FIT_REG_L2;
	p.tol = 1e-8;
	if (strcmp(family, "linear") == 0) { /* LinearRegression */
		p.model = FIT_MODEL_LINEAR;
		p.optimizer = FIT_OPT_NEWTON;
		p.reg = FIT_REG_NONE;
	} else if (strcmp(family, "logistic") == 0) { /* LogisticRegression(C=1) */
		p.model = FIT_MODEL_LOGISTIC;
		p.optimizer = FIT_OPT_NEWTON;
		p.svm_c = 1.0;
	} else if (strcmp(family, "svm") == 0) { /* LinearSVC(C=1, squared_hinge) */
		p.model = FIT_MODEL_SVM;
		p.loss = FIT_LOSS_SQUARED_HINGE;
		p.optimizer = FIT_OPT_NEWTON;
		p.svm_c = 1.0;
	} else { /* MLP*((64,), relu, adam, lr 1e-3, batch 32, alpha 1e-4, 200 epochs) */
		p.model = FIT_MODEL_MLP;
		p.optimizer = FIT_OPT_ADAM;
		p.learning_rate = 1e-3;
		p.batch_size = 32;
		p.epochs = 200;
		p.hidden_units[0] = 64;
		p.penalty = 1e-4 / 32; /* scikit-learn's alpha is divided by the batch size */
		p.seed = 0;
		p.threads = 2;
	}
	(void)task;
	return p;
}

START_TEST(test_parity)
{
	const struct parity_ref *r = &parity_refs[_i];
	struct fit_frame *f = th_csv(r->file);
	size_t *train, *test, ntrain, ntest, *feat;
	struct fit_problem prob;
	size_t seeds = r->epochs[0] > 0 ? sizeof(r->epochs) / sizeof(r->epochs[0]) : 1;
	double score = 0.0;
	int ok;

	th_split(f->nrows, &train, &ntrain, &test, &ntest);
	ck_assert_uint_eq(ntest, r->ntest);
	prob = th_problem(f, r->target, r->task, train, ntrain, NULL, 0, &feat);
	for (size_t s = 0; s < seeds; s++) {
		struct fit_params p = family_params(r->family, r->task);
		struct fit_model *m;
		double one;

		if (r->epochs[0] > 0) {
			p.epochs = r->epochs[s];
			p.seed = s;
		}
		m = th_train(&prob, &p);
		ck_assert_int_eq(fit_model_score(m, f, test, ntest, r->metric, 2, &one, NULL), 0);
		score += one / (double)seeds;
		fit_model_free(m);
	}
	ok = r->metric == FIT_METRIC_RMSE ? score <= 1.05 * r->sklearn : score >= r->sklearn - 0.01;
	printf("parity %-18s %-9s %-8s fitd %.6f sklearn %.6f %s\n", r->file, r->family,
	       fit_metric_name(r->metric), score, r->sklearn, ok ? "ok" : "WORSE");
	ck_assert_msg(ok, "%s %s: fitd %s %g, scikit-learn %g", r->file, r->family,
		      fit_metric_name(r->metric), score, r->sklearn);
	free(train);
	free(test);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_parity");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_parity, 0, sizeof(parity_refs) / sizeof(parity_refs[0]));
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

/*
 * test_logistic.c - logistic regression and linear SVMs: the binary and
 * multinomial optima against scikit-learn's (fixture_logistic.h), first-order
 * methods reaching the same optimum, SVM solvers agreeing, probabilities,
 * class targets (categorical, integer-valued, bad ones) and unseen classes.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/fixture_logistic.h"
#include "tests/fit/helpers.h"
#include "worker/fit/metric.h"
#include "worker/fit/model.h"

static struct fit_params logistic(enum fit_optimizer opt)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_LOGISTIC;
	p.optimizer = opt;
	p.reg = FIT_REG_L2;
	p.svm_c = 1.0;
	p.tol = 1e-10;
	p.epochs = 500;
	return p;
}

/*
 * C * sum(log loss) + |W|^2 / 2 in double on the frame's rows, for weights w
 * (k rows of d) and intercepts b over the model's standardization.
 */
static double objective(const struct fit_model *m, const struct fit_frame *f, size_t target,
			const double *w, const double *b)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	size_t k = d->layers[0].nout, nf = d->layers[0].nin;
	double sum = 0.0, reg = 0.0;

	for (size_t i = 0; i < f->nrows; i++) {
		double z[16], mx = -INFINITY, s = 0.0;
		int32_t y = f->cols[target].cat[i];

		for (size_t c = 0; c < k; c++) {
			z[c] = b[c];
			for (size_t j = 0, col = 0; j < nf; j++, col++) {
				const struct fit_prep_column *pc = &d->columns[j];

				col += col == target;
				z[c] += w[c * nf + j] * (f->cols[col].num[i] - pc->center) /
					pc->scale;
			}
			mx = fmax(mx, z[c]);
		}
		if (k == 1) {
			sum += log1p(exp(-fabs(z[0]))) + fmax(z[0], 0.0) - (y == 1 ? z[0] : 0.0);
			continue;
		}
		for (size_t c = 0; c < k; c++)
			s += exp(z[c] - mx);
		sum += mx + log(s) - z[y];
	}
	for (size_t j = 0; j < k * nf; j++)
		reg += w[j] * w[j];
	return sum + 0.5 * reg;
}

static void check_fixture(const char *file, const char *target, const double *coef,
			  const double *icpt, size_t k, size_t d)
{
	static const enum fit_optimizer opts[] = { FIT_OPT_NEWTON, FIT_OPT_LBFGS };
	struct fit_frame *f = th_csv(file);
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, target, FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);

	for (size_t o = 0; o < 2; o++) {
		struct fit_params p = logistic(opts[o]);
		struct fit_model *m = th_train(&prob, &p);
		const struct fit_layer_desc *L = &fit_model_desc(m)->layers[0];
		double ours, ref, maxdiff = 0.0;

		ck_assert_uint_eq(L->nout, k);
		ck_assert_uint_eq(L->nin, d);
		ck_assert_int_eq(fit_model_desc(m)->report.converged, 1);
		for (size_t j = 0; j < k * d; j++)
			maxdiff = fmax(maxdiff, fabs(L->weights[j] - coef[j]));
		for (size_t c = 0; c < k; c++)
			maxdiff = fmax(maxdiff, fabs(L->bias[c] - icpt[c]));
		ours = objective(m, f, prob.target, L->weights, L->bias);
		ref = objective(m, f, prob.target, coef, icpt);
		/* float32 features move the optimum a little: objectives agree to 1e-7 */
		ck_assert_msg(fabs(ours - ref) <= 1e-7 * ref, "%s %s: objective %.12g vs %.12g",
			      file, fit_optimizer_name(opts[o]), ours, ref);
		ck_assert_msg(maxdiff < 2e-3, "%s %s: weights differ by %g", file,
			      fit_optimizer_name(opts[o]), maxdiff);
		fit_model_free(m);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}

START_TEST(test_binary_matches_sklearn)
{
	check_fixture("breast_cancer.csv", "diagnosis", bc_coef[0], bc_intercept, 1, 30);
}
END_TEST

START_TEST(test_multinomial_matches_sklearn)
{
	check_fixture("iris.csv", "species", iris_coef[0], iris_intercept, 3, 4);
}
END_TEST

START_TEST(test_first_order_reaches_optimum)
{
	static const enum fit_optimizer opts[] = { FIT_OPT_GD, FIT_OPT_ADAM };
	struct fit_frame *f = th_csv("iris.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);

	for (size_t o = 0; o < 2; o++) {
		struct fit_params p = logistic(opts[o]);
		struct fit_model *m;
		const struct fit_layer_desc *L;
		double ours, ref;

		p.learning_rate = opts[o] == FIT_OPT_GD ? 2.0 : 0.01;
		p.batch_size = 0;
		p.epochs = 20000;
		m = th_train(&prob, &p);
		L = &fit_model_desc(m)->layers[0];
		ours = objective(m, f, prob.target, L->weights, L->bias);
		ref = objective(m, f, prob.target, iris_coef[0], iris_intercept);
		ck_assert_msg(ours - ref <= 1e-5 * ref, "%s: %.10g vs %.10g",
			      fit_optimizer_name(opts[o]), ours, ref);
		fit_model_free(m);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_svm_solvers_agree)
{
	struct fit_frame *f = th_csv("wine.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "cultivar", FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);
	struct fit_params p = logistic(FIT_OPT_NEWTON);
	struct fit_model *a, *b;
	const struct fit_layer_desc *La, *Lb;
	double acc;

	p.model = FIT_MODEL_SVM;
	p.loss = FIT_LOSS_SQUARED_HINGE;
	a = th_train(&prob, &p);
	p.optimizer = FIT_OPT_LBFGS;
	p.epochs = 5000;
	b = th_train(&prob, &p);
	La = &fit_model_desc(a)->layers[0];
	Lb = &fit_model_desc(b)->layers[0];
	ck_assert_uint_eq(La->nout, 3); /* one-vs-rest */
	for (size_t j = 0; j < La->nout * La->nin; j++)
		ck_assert_msg(fabs(La->weights[j] - Lb->weights[j]) < 1e-4, "w%zu %g vs %g", j,
			      La->weights[j], Lb->weights[j]);
	ck_assert_int_eq(fit_model_score(a, f, rows, f->nrows, FIT_METRIC_ACCURACY, 1, &acc, NULL),
			 0);
	ck_assert_msg(acc == 1.0, "training accuracy %g", acc);
	fit_model_free(a);
	fit_model_free(b);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_hinge_svm_learns)
{
	static const enum fit_optimizer opts[] = { FIT_OPT_SGD, FIT_OPT_ADAM };
	struct fit_frame *f = th_csv("breast_cancer.csv");
	size_t *train, *test, ntrain, ntest, *feat;
	struct fit_problem prob;

	th_split(f->nrows, &train, &ntrain, &test, &ntest);
	prob = th_problem(f, "diagnosis", FIT_TASK_CLASSIFICATION, train, ntrain, NULL, 0, &feat);
	for (size_t o = 0; o < 2; o++) {
		struct fit_params p = logistic(opts[o]);
		struct fit_model *m;
		double acc;

		p.model = FIT_MODEL_SVM;
		p.loss = FIT_LOSS_HINGE;
		p.learning_rate = 0.01;
		p.epochs = 50;
		m = th_train(&prob, &p);
		ck_assert_int_eq(
		    fit_model_score(m, f, test, ntest, FIT_METRIC_ACCURACY, 1, &acc, NULL), 0);
		ck_assert_msg(acc > 0.95, "%s accuracy %g", fit_optimizer_name(opts[o]), acc);
		fit_model_free(m);
	}
	free(train);
	free(test);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_probabilities)
{
	struct fit_frame *f = th_csv("wine.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "cultivar", FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);
	struct fit_params p = logistic(FIT_OPT_LBFGS);
	struct fit_model *m = th_train(&prob, &p);
	double *v = malloc(f->nrows * 3 * sizeof(double));
	int32_t *lab = malloc(f->nrows * sizeof(int32_t));
	const struct fit_model_desc *d = fit_model_desc(m);

	ck_assert_uint_eq(fit_model_noutputs(m), 3);
	ck_assert_uint_eq(d->nclasses, 3);
	ck_assert_str_eq(d->classes[0], "class_0");
	ck_assert_str_eq(d->classes[2], "class_2");
	ck_assert_int_eq(fit_model_predict(m, f, NULL, f->nrows, 2, v, lab, NULL), 0);
	for (size_t i = 0; i < f->nrows; i++) {
		double s = v[3 * i] + v[3 * i + 1] + v[3 * i + 2];
		size_t best = 0;

		ck_assert(fabs(s - 1.0) < 1e-12);
		for (size_t c = 1; c < 3; c++)
			best = v[3 * i + c] > v[3 * i + best] ? c : best;
		ck_assert_int_eq(lab[i], (int32_t)best);
	}
	free(v);
	free(lab);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_class_targets)
{
	static const char *names[] = { "x", "y" };
	double data[2 * 40];
	size_t *rows = th_rows(40), feat = 0;
	struct fit_params p = logistic(FIT_OPT_NEWTON);
	struct fit_problem prob = { NULL, 1, &feat, 1, rows, 40, NULL, 0, FIT_TASK_CLASSIFICATION };
	struct fitd_error err = { 0 };
	struct fit_frame *f;
	struct fit_model *m = NULL;
	double v[3];

	for (size_t i = 0; i < 40; i++) {
		data[i] = (double)i;
		data[40 + i] = i < 13 ? -1.0 : i < 26 ? 4.0 : 10.0; /* integer classes */
	}
	f = th_frame_num(40, 2, names, data);
	prob.frame = f;
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_desc(m)->nclasses, 3);
	ck_assert_str_eq(fit_model_desc(m)->classes[0], "-1");
	ck_assert_str_eq(fit_model_desc(m)->classes[2], "10");
	ck_assert_int_eq(fit_model_score(m, f, rows, 40, FIT_METRIC_ACCURACY, 1, v, NULL), 0);
	ck_assert(v[0] > 0.9);
	fit_model_free(m);
	fit_frame_free(f);
	data[40 + 5] = 0.5; /* not an integer */
	f = th_frame_num(40, 2, names, data);
	prob.frame = f;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.code, "bad_target");
	fit_frame_free(f);
	for (size_t i = 0; i < 40; i++)
		data[40 + i] = i < 20 ? 2.0 : NAN; /* one class, rest missing */
	f = th_frame_num(40, 2, names, data);
	prob.frame = f;
	ck_assert_int_eq(fit_model_train(&prob, &p, NULL, &m, &err), FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.code, "one_class");
	fit_frame_free(f);
	free(rows);
}
END_TEST

START_TEST(test_unseen_validation_class)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t train[100], valid[50], *feat;
	struct fit_problem prob;
	struct fit_params p = logistic(FIT_OPT_LBFGS);
	struct fit_model *m;
	double acc;

	/* Train on setosa and versicolor only; validate on all three. */
	for (size_t i = 0; i < 100; i++)
		train[i] = i;
	for (size_t i = 0; i < 50; i++)
		valid[i] = 3 * i;
	prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, train, 100, valid, 50, &feat);
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_desc(m)->nclasses, 2);
	ck_assert_int_eq(fit_model_score(m, f, valid, 50, FIT_METRIC_ACCURACY, 1, &acc, NULL), 0);
	/* the 16 virginica rows count as misses */
	ck_assert_msg(fabs(acc - 34.0 / 50.0) < 1e-12, "accuracy %g", acc);
	ck_assert(fabs(acc - fit_model_desc(m)->report.valid_score) < 1e-12);
	fit_model_free(m);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_softmax_threads_bit_identical)
{
	static const char *names[] = { "a", "b", "c", "d", "y" };
	size_t n = 7000, *rows = th_rows(n), *feat;
	double *data = malloc(n * 5 * sizeof(double));
	uint64_t s = 42;
	struct fit_frame *f;
	struct fit_problem prob;
	double w[3][15];

	for (size_t i = 0; i < n * 4; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		data[i] = (double)(s >> 11) * 0x1.0p-53 - 0.5;
	}
	for (size_t i = 0; i < n; i++)
		data[4 * n + i] = data[i] + data[n + i] > 0.2 ? 2 : data[2 * n + i] > 0 ? 1 : 0;
	f = th_frame_num(n, 5, names, data);
	prob = th_problem(f, "y", FIT_TASK_CLASSIFICATION, rows, n, NULL, 0, &feat);
	for (int o = 0; o < 2; o++) {
		for (int t = 0; t < 3; t++) {
			struct fit_params p = logistic(o ? FIT_OPT_NEWTON : FIT_OPT_LBFGS);
			struct fit_model *m;
			const struct fit_layer_desc *L;

			p.threads = 1 << t;
			p.epochs = 8;
			m = th_train(&prob, &p);
			L = &fit_model_desc(m)->layers[0];
			memcpy(w[t], L->weights, 12 * sizeof(double));
			memcpy(w[t] + 12, L->bias, 3 * sizeof(double));
			fit_model_free(m);
		}
		ck_assert(memcmp(w[0], w[1], sizeof(w[0])) == 0);
		ck_assert(memcmp(w[0], w[2], sizeof(w[0])) == 0);
	}
	free(data);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_logistic");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_binary_matches_sklearn);
	tcase_add_test(tc, test_multinomial_matches_sklearn);
	tcase_add_test(tc, test_first_order_reaches_optimum);
	tcase_add_test(tc, test_svm_solvers_agree);
	tcase_add_test(tc, test_hinge_svm_learns);
	tcase_add_test(tc, test_probabilities);
	tcase_add_test(tc, test_class_targets);
	tcase_add_test(tc, test_unseen_validation_class);
	tcase_add_test(tc, test_softmax_threads_bit_identical);
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

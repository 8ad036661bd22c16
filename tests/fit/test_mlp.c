/*
 * test_mlp.c - the float32 GEMM (every transpose combination, edge tiles,
 * k and n beyond one block, alpha and beta, bit-identical across thread
 * counts) and the networks: learning, dropout off at prediction (predictions
 * equal a plain double forward pass over the described weights), thread-count
 * determinism with dropout on, and rebuilding.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/gemm.h"
#include "worker/fit/model.h"

static uint64_t st = 1;

static float frand(void)
{
	st = st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((double)(st >> 11) * 0x1.0p-53 - 0.5);
}

START_TEST(test_gemm_matches_naive)
{
	static const size_t sizes[][3] = {
		{ 1, 1, 1 },	{ 7, 13, 5 },	{ 33, 70, 300 }, { 130, 2100, 17 }, { 9, 40, 513 },
		{ 70, 1, 300 }, { 1, 70, 300 }, { 1, 256, 37 },	 { 64, 256, 1 },
	};
	enum fit_gemm_op ta = (enum fit_gemm_op)(_i & 1), tb = (enum fit_gemm_op)(_i >> 1);

	ck_assert_str_ne(fit_gemm_kernel_name(), "");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
		size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
		float *a = malloc((ta ? k : m) * lda * sizeof(float));
		float *b = malloc((tb ? n : k) * ldb * sizeof(float));
		float *c[3], *c0 = malloc(m * ldc * sizeof(float));

		for (size_t i = 0; i < (ta ? k : m) * lda; i++)
			a[i] = frand();
		for (size_t i = 0; i < (tb ? n : k) * ldb; i++)
			b[i] = frand();
		for (size_t i = 0; i < m * ldc; i++)
			c0[i] = frand();
		for (int beta0 = 0; beta0 < 2; beta0++) {
			float alpha = 1.5f, beta = beta0 ? 0.0f : -0.75f;

			for (int t = 0; t < 3; t++) {
				c[t] = malloc(m * ldc * sizeof(float));
				for (size_t i = 0; i < m * ldc; i++)
					c[t][i] = beta0 ? NAN : c0[i]; /* beta 0 must not read C */
				ck_assert_int_eq(fit_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb,
							  beta, c[t], ldc, t + 1, NULL),
						 0);
			}
			for (size_t i = 0; i < m; i++)
				for (size_t j = 0; j < n; j++) {
					double want = 0.0, mag = 0.0;

					for (size_t p = 0; p < k; p++) {
						double x = ta ? a[p * lda + i] : a[i * lda + p];
						double y = tb ? b[j * ldb + p] : b[p * ldb + j];

						want += x * y;
						mag += fabs(x * y);
					}
					want = alpha * want +
					       (beta0 ? 0.0 : beta * c0[i * ldc + j]);
					ck_assert_msg(
					    fabs(c[0][i * ldc + j] - want) <= 1e-5 * (mag + 1.0),
					    "%zux%zux%zu ta=%d tb=%d C(%zu,%zu) %g want %g", m, n,
					    k, ta, tb, i, j, c[0][i * ldc + j], want);
				}
			ck_assert(memcmp(c[0], c[1], m * ldc * sizeof(float)) == 0);
			ck_assert(memcmp(c[0], c[2], m * ldc * sizeof(float)) == 0);
			for (int t = 0; t < 3; t++)
				free(c[t]);
		}
		free(a);
		free(b);
		free(c0);
	}
}
END_TEST

START_TEST(test_gemm_rows_independent)
{
	/* A row of C does not depend on the rows around it (edge or inner tile). */
	size_t k = 300, n = 45;
	float *a = malloc(37 * k * sizeof(float)), *b = malloc(n * k * sizeof(float));
	float *c = malloc(37 * n * sizeof(float)), one[45];

	for (size_t i = 0; i < 37 * k; i++)
		a[i] = frand();
	for (size_t i = 0; i < n * k; i++)
		b[i] = frand();
	fit_gemm(FIT_GEMM_N, FIT_GEMM_T, 37, n, k, 1.0f, a, k, b, k, 0.0f, c, n, 2, NULL);
	for (size_t r = 0; r < 37; r++) {
		fit_gemm(FIT_GEMM_N, FIT_GEMM_T, 1, n, k, 1.0f, a + r * k, k, b, k, 0.0f, one, n, 1,
			 NULL);
		ck_assert(memcmp(one, c + r * n, sizeof(one)) == 0);
	}
	free(a);
	free(b);
	free(c);
}
END_TEST

static struct fit_params mlp_params(void)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_MLP;
	p.optimizer = FIT_OPT_ADAM;
	p.learning_rate = 0.01;
	p.batch_size = 16;
	p.epochs = 200;
	p.hidden_layers = 1;
	p.hidden_units[0] = 32;
	p.seed = 3;
	return p;
}

START_TEST(test_mlp_learns)
{
	static const char *files[] = { "iris.csv", "wine.csv" };
	static const char *targets[] = { "species", "cultivar" };

	for (int d = 0; d < 2; d++) {
		struct fit_frame *f = th_csv(files[d]);
		size_t *train, *test, ntrain, ntest, *feat;
		struct fit_problem prob;
		struct fit_params p = mlp_params();
		struct fit_model *m;
		double acc;

		th_split(f->nrows, &train, &ntrain, &test, &ntest);
		prob = th_problem(f, targets[d], FIT_TASK_CLASSIFICATION, train, ntrain, NULL, 0,
				  &feat);
		m = th_train(&prob, &p);
		ck_assert_int_eq(
		    fit_model_score(m, f, test, ntest, FIT_METRIC_ACCURACY, 1, &acc, NULL), 0);
		ck_assert_msg(acc > 0.9, "%s accuracy %g", files[d], acc);
		fit_model_free(m);
		free(train);
		free(test);
		free(feat);
		fit_frame_free(f);
	}
}
END_TEST

START_TEST(test_mlp_regression)
{
	struct fit_frame *f = th_csv("seed_linear.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "y", FIT_TASK_REGRESSION, rows, f->nrows, NULL, 0,
					     &feat);
	struct fit_params p = mlp_params();
	struct fit_model *m;
	double rmse;

	p.activation = FIT_ACT_TANH;
	p.hidden_layers = 2;
	p.hidden_units[1] = 8;
	m = th_train(&prob, &p);
	ck_assert_int_eq(fit_model_score(m, f, rows, f->nrows, FIT_METRIC_RMSE, 1, &rmse, NULL), 0);
	ck_assert_msg(rmse < 0.15, "rmse %g", rmse); /* the noise is about 0.1 */
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

/* A plain double forward pass over the described layers, inputs preprocessed by hand. */
static void forward_desc(const struct fit_model_desc *d, const struct fit_frame *f, size_t row,
			 double *out)
{
	double a[2][128];
	size_t nin = 0;

	for (size_t j = 0; j < d->ncolumns; j++) {
		const struct fit_prep_column *c = &d->columns[j];

		a[0][nin++] = (f->cols[j].num[row] - c->center) / c->scale;
	}
	for (size_t l = 0; l < d->nlayers; l++) {
		const struct fit_layer_desc *L = &d->layers[l];
		double *in = a[l % 2], *o = a[(l + 1) % 2];

		for (size_t u = 0; u < L->nout; u++) {
			double z = L->bias[u];

			for (size_t i = 0; i < L->nin; i++)
				z += L->weights[u * L->nin + i] * in[i];
			o[u] = l + 1 < d->nlayers ? fmax(z, 0.0) : z;
		}
	}
	for (size_t u = 0; u < d->layers[d->nlayers - 1].nout; u++)
		out[u] = a[d->nlayers % 2][u];
}

START_TEST(test_dropout_off_at_prediction)
{
	struct fit_frame *f = th_csv("iris.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "species", FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);
	struct fit_params p = mlp_params();
	struct fit_model *m, *plain;
	double v1[150 * 3], v2[150 * 3];

	p.dropout = 0.5;
	p.epochs = 30;
	m = th_train(&prob, &p);
	p.dropout = 0.0;
	plain = th_train(&prob, &p);
	/* Training with dropout changed the weights... */
	ck_assert(memcmp(fit_model_desc(m)->layers[0].weights,
			 fit_model_desc(plain)->layers[0].weights, 4 * sizeof(double)) != 0);
	/* ...but predicting is deterministic, */
	ck_assert_int_eq(fit_model_predict(m, f, NULL, 150, 1, v1, NULL, NULL), 0);
	ck_assert_int_eq(fit_model_predict(m, f, NULL, 150, 2, v2, NULL, NULL), 0);
	ck_assert(memcmp(v1, v2, sizeof(v1)) == 0);
	/* and it is the plain forward pass over the weights: no mask, no scaling. */
	for (size_t i = 0; i < 150; i++) {
		double z[3], mx, s = 0.0;

		forward_desc(fit_model_desc(m), f, i, z);
		mx = fmax(z[0], fmax(z[1], z[2]));
		for (int c = 0; c < 3; c++)
			s += exp(z[c] - mx);
		for (int c = 0; c < 3; c++)
			ck_assert_msg(fabs(exp(z[c] - mx) / s - v1[3 * i + c]) < 1e-5,
				      "row %zu class %d: %g vs %g", i, c, exp(z[c] - mx) / s,
				      v1[3 * i + c]);
	}
	fit_model_free(m);
	fit_model_free(plain);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_mlp_threads_bit_identical)
{
	struct fit_frame *f = th_csv("digits.csv");
	size_t *rows = th_rows(f->nrows), *feat, nw;
	struct fit_problem prob = th_problem(f, "digit", FIT_TASK_CLASSIFICATION, rows, 1500,
					     rows + 1500, f->nrows - 1500, &feat);
	double *w[3];
	static const enum fit_optimizer opts[] = { FIT_OPT_ADAM, FIT_OPT_GD };

	for (int o = 0; o < 2; o++) {
		for (int t = 0; t < 3; t++) {
			struct fit_params p = mlp_params();
			struct fit_model *m;
			const struct fit_model_desc *d;

			p.optimizer = opts[o];
			p.threads = 1 << t;
			p.epochs = 3;
			p.dropout = 0.2;
			p.hidden_layers = 2;
			p.hidden_units[0] = 40;
			p.hidden_units[1] = 20;
			p.batch_size = 300; /* blocks of 64, 64, 64, 64, 44 */
			p.patience = 2;
			m = th_train(&prob, &p);
			d = fit_model_desc(m);
			nw = d->layers[0].nout * d->layers[0].nin;
			w[t] = malloc(nw * sizeof(double));
			memcpy(w[t], d->layers[0].weights, nw * sizeof(double));
			fit_model_free(m);
		}
		ck_assert_msg(memcmp(w[0], w[1], nw * sizeof(double)) == 0 &&
				  memcmp(w[0], w[2], nw * sizeof(double)) == 0,
			      "%s: weights differ across 1, 2, 4 threads",
			      fit_optimizer_name(opts[o]));
		for (int t = 0; t < 3; t++)
			free(w[t]);
	}
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_mlp_rebuild)
{
	struct fit_frame *f = th_csv("wine.csv");
	size_t *rows = th_rows(f->nrows), *feat;
	struct fit_problem prob = th_problem(f, "cultivar", FIT_TASK_CLASSIFICATION, rows, f->nrows,
					     NULL, 0, &feat);
	struct fit_params p = mlp_params();
	struct fit_model *m, *again = NULL;
	double *a = malloc(f->nrows * 3 * sizeof(double)),
	       *b = malloc(f->nrows * 3 * sizeof(double));

	p.epochs = 10;
	p.hidden_layers = 3;
	p.hidden_units[1] = 9;
	p.hidden_units[2] = 5;
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_desc(m)->nlayers, 4);
	ck_assert_int_eq(fit_model_rebuild(fit_model_desc(m), &again, NULL), 0);
	ck_assert_int_eq(fit_model_predict(m, f, NULL, f->nrows, 1, a, NULL, NULL), 0);
	ck_assert_int_eq(fit_model_predict(again, f, NULL, f->nrows, 2, b, NULL, NULL), 0);
	ck_assert(memcmp(a, b, f->nrows * 3 * sizeof(double)) == 0);
	fit_model_free(m);
	fit_model_free(again);
	free(a);
	free(b);
	free(rows);
	free(feat);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_mlp");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_gemm_matches_naive, 0, 4);
	tcase_add_test(tc, test_gemm_rows_independent);
	tcase_add_test(tc, test_mlp_learns);
	tcase_add_test(tc, test_mlp_regression);
	tcase_add_test(tc, test_dropout_off_at_prediction);
	tcase_add_test(tc, test_mlp_threads_bit_identical);
	tcase_add_test(tc, test_mlp_rebuild);
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

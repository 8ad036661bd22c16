/*
 * fit_bench.c - times the numeric core on a generated table, for
 * tests/bench/fit_bench.sh, which runs the Python peers on the same file and
 * prints the ratios.
 *
 *   fit_bench stream
 *       memory read bandwidth of a stream-like loop (2 threads), GB/s
 *   fit_bench logistic FILE OUT [newton|lbfgs] [tol] [runs]
 *       L2 logistic regression, C = 1, intercept unpenalized, 2 threads:
 *       best of runs fit times (preprocessing included), the time of the
 *       preprocessing alone (fitting it and writing the float32 matrix, as
 *       fit_model_train() does), passes, GB/s of the solver; weights to OUT
 *   fit_bench mlp FILE EPOCHS
 *       one hidden layer of 256 relu units, adam, batch 256: time per epoch
 *       (the best of 3 fits) and GFLOP/s
 *   fit_bench svm FILE OUT hinge|squared_hinge C TOL
 *       the linear svm by dcd, one thread, up to 1000000 iterations: its
 *       fit time, iterations and objective; weights to OUT (for
 *       tests/bench/svm_dcd.sh)
 *
 * FILE is a numeric CSV whose last column is the target (gentable's
 * x0..x{D-1},target). Loading it is not timed.
 * Output lines are "key value" pairs the shell script reads.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/clock.h"
#include "worker/fit/gemm.h"
#include "worker/fit/internal.h"
#include "worker/fit/model.h"

#define THREADS 2

static int stream(void)
{
	size_t n = (size_t)1 << 27; /* 512 MiB of floats */
	float *a = malloc(n * sizeof(float));
	double best = 1e30, sink = 0.0;

	if (a == NULL)
		return 1;
#pragma omp parallel for num_threads(THREADS) schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(i & 7);
	for (int r = 0; r < 5; r++) {
		double t0 = fitd_clock_s(), s = 0.0;

#pragma omp parallel for num_threads(THREADS) schedule(static) reduction(+ : s)
		for (size_t i = 0; i < n; i += 16) {
			float x = 0.0f;

			for (int j = 0; j < 16; j++)
				x += a[i + j];
			s += x;
		}
		sink += s;
		if (fitd_clock_s() - t0 < best)
			best = fitd_clock_s() - t0;
	}
	printf("stream_read_gbs %.2f\n", (double)n * sizeof(float) / best / 1e9);
	free(a);
	return sink < 0;
}

/* Reads a numeric CSV with a header into a frame (not timed). */
static struct fit_frame *load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL, *p;
	size_t cap = 0, ncols = 1, nrows = 0, rcap = 1 << 16;
	double **col;
	char **names;
	struct fit_frame_builder *b;
	struct fit_frame *frame = NULL;

	if (f == NULL || getline(&line, &cap, f) <= 0)
		return NULL;
	for (p = line; *p; p++)
		ncols += *p == ',';
	names = calloc(ncols, sizeof(*names));
	col = calloc(ncols, sizeof(*col));
	p = line;
	for (size_t j = 0; j < ncols; j++) {
		size_t len = strcspn(p, ",\r\n");

		names[j] = strndup(p, len);
		p += len + 1;
		col[j] = malloc(rcap * sizeof(double));
	}
	while (getline(&line, &cap, f) > 0) {
		if (nrows == rcap) {
			rcap *= 2;
			for (size_t j = 0; j < ncols; j++)
				col[j] = realloc(col[j], rcap * sizeof(double));
		}
		p = line;
		for (size_t j = 0; j < ncols; j++) {
			col[j][nrows] = strtod(p, &p);
			p++;
		}
		nrows++;
	}
	fclose(f);
	free(line);
	if (fit_frame_builder_new(nrows, ncols, &b) == 0) {
		for (size_t j = 0; j < ncols; j++)
			fit_frame_builder_adopt_num(b, j, names[j], col[j]);
		fit_frame_builder_finish(b, &frame);
	}
	for (size_t j = 0; j < ncols; j++)
		free(names[j]);
	free(names);
	free(col);
	return frame;
}

static struct fit_problem problem(const struct fit_frame *f, size_t **rows, size_t **feat)
{
	struct fit_problem prob = { f,	      f->ncols - 1, NULL, f->ncols - 1,		  NULL,
				    f->nrows, NULL,	    0,	  FIT_TASK_CLASSIFICATION };

	*rows = malloc(f->nrows * sizeof(size_t));
	*feat = malloc(f->ncols * sizeof(size_t));
	for (size_t i = 0; i < f->nrows; i++)
		(*rows)[i] = i;
	for (size_t j = 0; j + 1 < f->ncols; j++)
		(*feat)[j] = j;
	prob.features = *feat;
	prob.train = *rows;
	return prob;
}

static struct fit_model *train(const struct fit_problem *prob, const struct fit_params *p,
			       double *seconds)
{
	struct fit_model *m = NULL;
	struct fitd_error err = { 0 };
	double t0 = fitd_clock_s();

	if (fit_model_train(prob, p, NULL, &m, &err) != 0) {
		fprintf(stderr, "fit_bench: %s\n", err.message);
		exit(1);
	}
	*seconds = fitd_clock_s() - t0;
	return m;
}

/* What fit_model_train() spends before its solver: preprocessing fit and matrix. */
static double prep_seconds(const struct fit_problem *prob, const struct fit_params *p)
{
	struct fit__prep prep;
	struct fit__bind bind;
	double t0 = fitd_clock_s(), t;
	float *x;
	int32_t *code;

	if (fit__prep_fit(prob->frame, prob->features, prob->nfeatures, prob->train, prob->ntrain,
			  p, &prep, NULL) != 0 ||
	    fit__bind_init(&prep, prob->frame, &bind, NULL) != 0)
		exit(1);
	x = fit__alloc(prob->ntrain * prep.xld * sizeof(float));
	code = malloc((prob->ntrain * prep.ncat + 1) * sizeof(int32_t));
	if (x == NULL || code == NULL)
		exit(1);
	fit__prep_rows(&prep, &bind, prob->train, prob->ntrain, x, code, p->threads);
	t = fitd_clock_s() - t0;
	free(x);
	free(code);
	fit__bind_release(&bind);
	fit__prep_release(&prep);
	return t;
}

/* A binary linear model to path: per feature center, scale, weight; then the intercept. */
static int write_weights(const struct fit_model_desc *desc, const char *path)
{
	FILE *o = fopen(path, "w");

	if (o == NULL)
		return 1;
	for (size_t j = 0; j < desc->layers[0].nin; j++)
		fprintf(o, "%.17g %.17g %.17g\n", desc->columns[j].center, desc->columns[j].scale,
			desc->layers[0].weights[j]);
	fprintf(o, "%.17g\n", desc->layers[0].bias[0]);
	return fclose(o) != 0;
}

static int logistic(const char *path, const char *out, const char *solver, double tol, int runs)
{
	struct fit_frame *f = load(path);
	size_t *rows, *feat, d;
	struct fit_problem prob;
	struct fit_params p;
	struct fit_model *m = NULL;
	const struct fit_model_desc *desc;
	double secs = 1e30, prep = 1e30, bytes;

	if (f == NULL)
		return 1;
	prob = problem(f, &rows, &feat);
	fit_params_init(&p);
	p.model = FIT_MODEL_LOGISTIC;
	p.optimizer = strcmp(solver, "lbfgs") == 0 ? FIT_OPT_LBFGS : FIT_OPT_NEWTON;
	p.reg = FIT_REG_L2;
	p.svm_c = 1.0;
	p.tol = tol;
	p.epochs = 1000;
	p.threads = THREADS;
	for (int r = 0; r < runs; r++) {
		double t, q = prep_seconds(&prob, &p);

		fit_model_free(m);
		m = train(&prob, &p, &t);
		secs = t < secs ? t : secs;
		prep = q < prep ? q : prep;
	}
	desc = fit_model_desc(m);
	d = desc->layers[0].nin;
	bytes = (double)f->nrows * (double)((d + 7) / 8 * 8) * sizeof(float);
	printf("fit_seconds %.4f\n", secs);
	printf("prep_seconds %.4f\n", prep);
	printf("solver_seconds %.4f\n", secs - prep);
	printf("iterations %u\n", desc->report.epochs);
	printf("passes %llu\n", (unsigned long long)desc->report.passes);
	printf("matrix_mb %.1f\n", bytes / 1e6);
	printf("gbs %.2f\n", (double)desc->report.passes * bytes / (secs - prep) / 1e9);
	if (write_weights(desc, out) != 0)
		return 1;
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
	return 0;
}

static int mlp(const char *path, unsigned epochs)
{
	struct fit_frame *f = load(path);
	size_t *rows, *feat, d, h = 256;
	struct fit_problem prob;
	struct fit_params p;
	struct fit_model *m;
	double secs, flops;

	if (f == NULL)
		return 1;
	prob = problem(f, &rows, &feat);
	fit_params_init(&p);
	p.model = FIT_MODEL_MLP;
	p.optimizer = FIT_OPT_ADAM;
	p.learning_rate = 1e-3;
	p.batch_size = 256;
	p.epochs = epochs;
	p.hidden_layers = 1;
	p.hidden_units[0] = (unsigned)h;
	p.reg = FIT_REG_L2;
	p.penalty = 1e-4 / 256;
	p.threads = THREADS;
	m = train(&prob, &p, &secs);
	for (int r = 1; r < 3; r++) { /* the best of 3: the cores may be shared */
		double s;

		fit_model_free(train(&prob, &p, &s));
		secs = s < secs ? s : secs;
	}
	d = fit_model_desc(m)->layers[0].nin;
	/* forward and weight gradient of layer 1; forward, both gradients of layer 2 */
	flops = 2.0 * (double)f->nrows * ((double)d * h * 2 + (double)h * 1 * 3);
	printf("gemm_kernel %s\n", fit_gemm_kernel_name());
	printf("fit_seconds %.4f\n", secs);
	printf("epoch_seconds %.4f\n", secs / epochs);
	printf("gflops %.1f\n", flops * epochs / secs / 1e9);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
	return 0;
}

static int svm(const char *path, const char *out, const char *loss, double c, double tol)
{
	struct fit_frame *f = load(path);
	size_t *rows, *feat;
	struct fit_problem prob;
	struct fit_params p;
	struct fit_model *m;
	const struct fit_model_desc *desc;
	double secs;
	int rc;

	if (f == NULL)
		return 1;
	prob = problem(f, &rows, &feat);
	fit_params_init(&p);
	p.model = FIT_MODEL_SVM;
	p.optimizer = FIT_OPT_DCD;
	p.loss = strcmp(loss, "hinge") == 0 ? FIT_LOSS_HINGE : FIT_LOSS_SQUARED_HINGE;
	p.reg = FIT_REG_L2;
	p.svm_c = c;
	p.tol = tol;
	p.epochs = 1000000;
	m = train(&prob, &p, &secs);
	desc = fit_model_desc(m);
	printf("fit_seconds %.6f\n", secs);
	printf("iterations %u\n", desc->report.epochs);
	printf("converged %d\n", desc->report.converged);
	printf("train_loss %.17g\n", desc->report.train_loss);
	rc = write_weights(desc, out);
	fit_model_free(m);
	free(rows);
	free(feat);
	fit_frame_free(f);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "stream") == 0)
		return stream();
	if (argc >= 4 && strcmp(argv[1], "logistic") == 0)
		return logistic(argv[2], argv[3], argc > 4 ? argv[4] : "newton",
				argc > 5 ? strtod(argv[5], NULL) : 1e-3,
				argc > 6 ? (int)strtol(argv[6], NULL, 10) : 1);
	if (argc >= 4 && strcmp(argv[1], "mlp") == 0)
		return mlp(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 7 && strcmp(argv[1], "svm") == 0)
		return svm(argv[2], argv[3], argv[4], strtod(argv[5], NULL), strtod(argv[6], NULL));
	fprintf(stderr, "usage: fit_bench stream | logistic FILE OUT [newton|lbfgs] [tol] [runs] | "
			"mlp FILE EPOCHS | svm FILE OUT hinge|squared_hinge C TOL\n");
	return 2;
}

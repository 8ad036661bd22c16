/*
 * gbdt_bench.c - fitd's side of the tree benchmark (tests/bench/gbdt.sh):
 * trains the gradient-boosted trees of worker/fit on a gbdt_gen table and
 * prints what the script compares with XGBoost and scikit-learn.
 *
 *   gbdt_bench FILE THREADS TREES
 *
 * Settings: TREES rounds, 31 leaves, learning rate 0.1, 255 bins, l2 1,
 * 20 rows per leaf, no sampling, no early stopping. The first ntrain rows of
 * the table train, the others test. Loading the table is not timed; the
 * training time includes binning, as the peers' fit() does. Prints
 * "key value" lines: train_seconds, tree_seconds (per round), train_cpu_seconds
 * (every thread's CPU time, steadier than the clock on a shared machine), metric and its
 * value (auc, mlogloss or rmse on the test rows), predict_rows_per_second
 * (best of three over the test rows, raw margins), load_rss_mb (peak before
 * training: the frame, the targets and the list of rows), train_rss_mb (peak when training returns, the model included),
 * peak_rss_mb (at the end, prediction included), binned_mb (the binned
 * matrix training makes: a byte per training row and input) and work_mb
 * (the fit's working memory as planned, see fit_gbdt_memory_estimate()).
 * Memory figures are MiB.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon/base/clock.h"
#include "worker/fit/gbdt.h"
#include "worker/fit/metric.h"

struct table {
	struct fit_frame *frame;
	size_t ntrain, nclasses;
	double *y;
	int32_t *label;
};

/* CPU seconds this process used (every thread). */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double peak_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

static int read_all(FILE *f, void *p, size_t size, size_t n)
{
	return fread(p, size, n, f) == n ? 0 : -1;
}

/* Declares column j of the builder from the file's column header and data. */
static int load_column(FILE *f, struct fit_frame_builder *b, size_t j, uint8_t type,
		       uint32_t levels, const char *name, size_t n)
{
	int32_t *code, *map;
	double *v;
	char lv[16];

	if (type == 0) {
		v = malloc(n * sizeof(double));
		if (v == NULL || read_all(f, v, 8, n) || fit_frame_builder_own(b, v) ||
		    fit_frame_builder_adopt_num(b, j, name, v))
			return -1;
		return 0;
	}
	map = malloc(levels * sizeof(int32_t));
	if (map == NULL || fit_frame_builder_column(b, j, name, FIT_COL_CATEGORICAL))
		return -1;
	for (uint32_t l = 0; l < levels; l++) {
		int len = snprintf(lv, sizeof(lv), "L%u", l);

		if (fit_frame_builder_level(b, j, lv, (size_t)len, &map[l]))
			return -1;
	}
	code = fit_frame_builder_codes(b, j);
	if (code == NULL || read_all(f, code, 4, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		code[i] = code[i] < 0 ? -1 : map[code[i]];
	free(map);
	return 0;
}

static int load(const char *path, struct table *t)
{
	FILE *f = fopen(path, "rb");
	uint64_t head[4];
	char magic[8], (*names)[28] = NULL;
	uint8_t *type = NULL;
	uint32_t *levels = NULL;
	struct fit_frame_builder *b = NULL;
	int rc = -1;

	if (f == NULL || read_all(f, magic, 1, 8) || memcmp(magic, "FITDGB01", 8) ||
	    read_all(f, head, 8, 4))
		goto out;
	names = calloc(head[1], sizeof(*names));
	type = calloc(head[1], 1);
	levels = calloc(head[1], sizeof(uint32_t));
	for (uint64_t j = 0; names && type && levels && j < head[1]; j++)
		if (read_all(f, &type[j], 1, 1) || read_all(f, &levels[j], 4, 1) ||
		    read_all(f, names[j], 1, 27))
			goto out;
	if (names == NULL || fit_frame_builder_new(head[0], head[1], &b))
		goto out;
	for (uint64_t j = 0; j < head[1]; j++)
		if (load_column(f, b, j, type[j], levels[j], names[j], head[0]))
			goto out;
	t->ntrain = head[2];
	t->nclasses = head[3];
	t->y = head[3] ? NULL : malloc(head[0] * sizeof(double));
	t->label = head[3] ? malloc(head[0] * sizeof(int32_t)) : NULL;
	if (head[3] ? read_all(f, t->label, 4, head[0]) : read_all(f, t->y, 8, head[0]))
		goto out;
	rc = fit_frame_builder_finish(b, &t->frame);
	b = NULL;
out:
	fit_frame_builder_free(b);
	free(names);
	free(type);
	free(levels);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* The test metric from raw margins z (n x k). */
static double score(const struct table *t, const double *z, size_t n, size_t k, const char **name)
{
	size_t nt = t->ntrain, c = t->nclasses;
	double *prob = malloc(n * (c ? c : 1) * sizeof(double)), out = NAN, se = 0.0;

	for (size_t i = 0; c == 0 && i < n; i++)
		se += (z[i] - t->y[nt + i]) * (z[i] - t->y[nt + i]);
	*name = c == 0 ? "rmse" : c == 2 ? "auc" : "mlogloss";
	if (c == 0) {
		free(prob);
		return sqrt(se / (double)n);
	}
	for (size_t i = 0; i < n; i++) {
		double m = z[i * k], s = 0.0;

		if (c == 2) {
			prob[2 * i + 1] = 1.0 / (1.0 + exp(-z[i]));
			prob[2 * i] = 1.0 - prob[2 * i + 1];
			continue;
		}
		for (size_t j = 1; j < k; j++)
			m = z[i * k + j] > m ? z[i * k + j] : m;
		for (size_t j = 0; j < k; j++)
			s += prob[i * k + j] = exp(z[i * k + j] - m);
		for (size_t j = 0; j < k; j++)
			prob[i * k + j] /= s;
	}
	fit_metric_classification(c == 2 ? FIT_METRIC_AUC : FIT_METRIC_LOG_LOSS, n, c,
				  t->label + nt, prob, &out, NULL);
	free(prob);
	return out;
}

/* Trains on the first ntrain rows; exits on failure. */
static struct fit_gbdt_model *train(const struct table *t, int threads, unsigned trees,
				    size_t *rows, double *secs, double *cpu)
{
	struct fit_gbdt_params p;
	struct fit_gbdt_model *m = NULL;
	struct fitd_error err = { 0 };
	size_t *feat = malloc(t->frame->ncols * sizeof(size_t));
	double t0 = fitd_clock_s(), c0 = cpu_seconds();

	for (size_t j = 0; j < t->frame->ncols; j++)
		feat[j] = j;
	fit_gbdt_params_init(&p);
	p.threads = threads;
	p.trees = trees;
	struct fit_gbdt_problem prob = { t->frame, feat, t->frame->ncols, rows, t->ntrain,
					 NULL,	   0,	 t->nclasses,	  t->y, t->label };
	if (fit_gbdt_train(&prob, &p, NULL, &m, &err) != 0) {
		fprintf(stderr, "gbdt_bench: %s\n", err.message);
		exit(1);
	}
	*secs = fitd_clock_s() - t0;
	*cpu = cpu_seconds() - c0;
	free(feat);
	return m;
}

int main(int argc, char **argv)
{
	struct table t = { 0 };
	struct fit_gbdt_model *m;
	size_t *rows, n, nt, k;
	double train_s, train_cpu, best = 1e30, *z, load_mb, train_mb;
	const char *metric;
	unsigned trees;

	if (argc != 4 || load(argv[1], &t) != 0) {
		fprintf(stderr, "usage: gbdt_bench FILE THREADS TREES (a gbdt_gen table)\n");
		return 2;
	}
	n = t.frame->nrows;
	nt = t.ntrain;
	trees = (unsigned)atoi(argv[3]);
	rows = malloc(n * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		rows[i] = i;
	load_mb = peak_mb();
	m = train(&t, atoi(argv[2]), trees, rows, &train_s, &train_cpu);
	train_mb = peak_mb();
	k = fit_gbdt_desc(m)->noutputs;
	z = malloc((n - nt) * k * sizeof(double));
	for (int r = 0; r < 3; r++) {
		double t0 = fitd_clock_s();

		fit_gbdt_predict(m, t.frame, rows + nt, n - nt, atoi(argv[2]), z, NULL);
		best = fitd_clock_s() - t0 < best ? fitd_clock_s() - t0 : best;
	}
	printf("train_seconds %.3f\n", train_s);
	printf("tree_seconds %.5f\n", train_s / trees);
	printf("train_cpu_seconds %.3f\n", train_cpu);
	printf("metric_value %.5f\n", score(&t, z, n - nt, k, &metric));
	printf("metric %s\n", metric);
	printf("predict_rows_per_second %.0f\n", (double)(n - nt) / best);
	printf("load_rss_mb %.0f\n", load_mb);
	printf("train_rss_mb %.0f\n", train_mb);
	printf("peak_rss_mb %.0f\n", peak_mb());
	printf("binned_mb %.2f\n", (double)nt * (double)t.frame->ncols / 1048576.0);
	printf("work_mb %.1f\n", (double)fit_gbdt_desc(m)->report.work_bytes / 1048576.0);
	fit_gbdt_free(m);
	return 0;
}

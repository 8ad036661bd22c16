/*
 * cat_bench.c - one fit on a table with a wide categorical column: 100,000
 * rows of a 5,000-level "city", three numeric columns and a 0/1 target that
 * depends on the city and one numeric column; 80,000 rows train, 20,000
 * validate. Prints the training time and the validation accuracy; run it
 * under /usr/bin/time -v for the peak memory.
 *
 *   cat_bench [logistic|mlp [epochs]]      T=threads (default 2)
 *
 * logistic: lbfgs, 50 iterations at most; mlp: one hidden layer of 64
 * units, adam, batch 256, 3 epochs unless given. Every level is kept
 * (min_level_count 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "worker/fit/model.h"

static uint64_t st = 7;
static double urand(void)
{
	st = st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(st >> 11) * 0x1.0p-53;
}

int main(int argc, char **argv)
{
	const size_t N = 100000, L = 5000;
	struct fit_frame_builder *b;
	struct fit_frame *f;
	struct fit_params p;
	struct fit_model *m;
	struct fitd_error err = { 0 };
	size_t feat[4] = { 0, 1, 2, 3 }, *rows = malloc(N * sizeof(size_t));
	char name[16];
	double acc;
	struct timespec t0, t1;
	int mlp = argc > 1 && strcmp(argv[1], "mlp") == 0;

	fit_frame_builder_new(N, 5, &b);
	fit_frame_builder_column(b, 0, "city", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 1, "a", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "b", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 3, "c", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 4, "y", FIT_COL_CATEGORICAL);
	for (size_t i = 0; i < N; i++) {
		size_t city = (size_t)(urand() * L);
		double a = urand() - 0.5, t = a + ((city * 2654435761u) % 7 < 3 ? 0.5 : -0.5);

		rows[i] = i;
		snprintf(name, sizeof(name), "c%zu", city);
		fit_frame_builder_set_cat(b, 0, i, name, strlen(name));
		fit_frame_builder_set_num(b, 1, i, a);
		fit_frame_builder_set_num(b, 2, i, urand());
		fit_frame_builder_set_num(b, 3, i, urand());
		fit_frame_builder_set_cat(b, 4, i, t + 0.3 * (urand() - 0.5) > 0 ? "1" : "0", 1);
	}
	fit_frame_builder_finish(b, &f);
	struct fit_problem prob = {
		f, 4, feat, 4, rows, 80000, rows + 80000, 20000, FIT_TASK_CLASSIFICATION
	};
	fit_params_init(&p);
	p.threads = getenv("T") ? atoi(getenv("T")) : 2;
	p.min_level_count = 1;
	if (mlp) {
		p.model = FIT_MODEL_MLP;
		p.optimizer = FIT_OPT_ADAM;
		p.hidden_layers = 1;
		p.hidden_units[0] = 64;
		p.epochs = argc > 2 ? (unsigned)atoi(argv[2]) : 3;
		p.batch_size = 256;
		p.learning_rate = 0.01;
	} else {
		p.model = FIT_MODEL_LOGISTIC;
		p.optimizer = FIT_OPT_LBFGS;
		p.epochs = 50;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fit_model_train(&prob, &p, NULL, &m, &err) != 0) {
		fprintf(stderr, "train: %s\n", err.message);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fit_model_score(m, f, rows + 80000, 20000, FIT_METRIC_ACCURACY, 2, &acc, NULL);
	printf("%s: train %.2f s, validation accuracy %.4f, epochs %u\n", mlp ? "mlp" : "logistic",
	       (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), acc,
	       fit_model_desc(m)->report.epochs);
	fit_model_free(m);
	fit_frame_free(f);
	free(rows);
	return 0;
}

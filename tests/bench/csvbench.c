/*
 * csvbench.c - times store_csv_parse_file() on one file.
 *
 *   csvbench FILE [THREADS [REPEATS [DELIMITER]]]
 *
 * Defaults: 2 threads, best of 3, commas; DELIMITER is one of , ; | tab
 * (or its name, as store_csv_delimiter_parse() reads it).
 *
 * Prints one line: "fitd <best seconds> rows=<n> cols=<d> numeric=<k>".
 * Each repeat parses the whole file and frees the frame; the best wall time
 * is reported, as the pandas side of tests/bench/ingest.sh does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store/csv.h"
#include "daemon/base/clock.h"

int main(int argc, char **argv)
{
	struct store_csv_options opt = { .threads = 2 };
	struct fitd_error err = { 0 };
	struct fit_frame *frame = NULL;
	double best = 1e300;
	size_t numeric = 0, rows = 0, cols = 0;
	int repeats = 3;

	if (argc < 2 || argc > 5) {
		fprintf(stderr, "usage: csvbench FILE [THREADS [REPEATS [DELIMITER]]]\n");
		return 2;
	}
	if (argc > 2)
		opt.threads = (int)strtol(argv[2], NULL, 10);
	if (argc > 3)
		repeats = (int)strtol(argv[3], NULL, 10);
	if (argc > 4 && (opt.delimiter = store_csv_delimiter_parse(argv[4])) == 0) {
		fprintf(stderr, "csvbench: '%s' is not a delimiter\n", argv[4]);
		return 2;
	}
	for (int i = 0; i < repeats; i++) {
		double t0 = fitd_clock_s(), dt;

		if (store_csv_parse_file(argv[1], &opt, &frame, &err) != FITD_OK) {
			fprintf(stderr, "csvbench: %s: %s\n", err.code, err.message);
			return 1;
		}
		dt = fitd_clock_s() - t0;
		best = dt < best ? dt : best;
		rows = frame->nrows;
		cols = frame->ncols;
		numeric = 0;
		for (size_t c = 0; c < cols; c++)
			numeric += frame->cols[c].type == FIT_COL_NUMERIC;
		fit_frame_free(frame);
	}
	printf("fitd %.4f rows=%zu cols=%zu numeric=%zu\n", best, rows, cols, numeric);
	return 0;
}

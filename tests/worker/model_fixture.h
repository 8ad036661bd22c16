/*
 * model_fixture.h - the table the stored model documents of
 * tests/data/model_*_b2d2635.json were trained on (by fitd at commit
 * b2d2635, which wrote one-hot columns as a dense block): two numeric
 * columns (one with missing values) and two categorical ones, one of 12
 * levels with a rare level folded into "other" and missing values, and a
 * target of three classes.
 */
#ifndef TESTS_WORKER_MODEL_FIXTURE_H
#define TESTS_WORKER_MODEL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "worker/fit/frame.h"

#define FIX_N 200

/* The table; NULL when the builder fails. */
static inline struct fit_frame *fixture_table(void)
{
	static const char *const colors[] = { "blue", "green", "red" };
	struct fit_frame_builder *b = NULL;
	struct fit_frame *f = NULL;
	char level[8];

	if (fit_frame_builder_new(FIX_N, 5, &b) != 0)
		return NULL;
	fit_frame_builder_column(b, 0, "x1", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 1, "x2", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "city", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 3, "color", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 4, "y", FIT_COL_CATEGORICAL);
	for (size_t i = 0; i < FIX_N; i++) {
		double x1 = (double)(i % 37) / 37.0, x2 = (double)((i * 7) % 41) / 41.0;
		size_t city = i % 97 == 5 ? 11 : (i * 5) % 11;
		double t = sin(3 * x1) + x2 + (city % 3 == 0 ? 0.4 : -0.1) + 0.1 * (double)(i % 3);
		const char *k = t > 1.2 ? "hi" : t > 0.6 ? "mid" : "lo";

		fit_frame_builder_set_num(b, 0, i, x1);
		fit_frame_builder_set_num(b, 1, i, i % 9 == 0 ? NAN : x2);
		snprintf(level, sizeof(level), "l%02zu", city);
		if (i % 23 != 0)
			fit_frame_builder_set_cat(b, 2, i, level, strlen(level));
		fit_frame_builder_set_cat(b, 3, i, colors[i % 3], strlen(colors[i % 3]));
		fit_frame_builder_set_cat(b, 4, i, k, strlen(k));
	}
	return fit_frame_builder_finish(b, &f) == 0 ? f : NULL;
}

#endif

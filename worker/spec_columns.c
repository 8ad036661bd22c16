/*
 * spec_columns.c - the facts about a numeric column that the job spec's
 * validator needs to infer the task: whether every value is an integer and
 * how many distinct values it has (counted up to WORKER_DISTINCT_CAP). See
 * spec.h. Nothing keeps them: each caller computes them when it needs them,
 * one sort of a copy of the column each time (the API for every numeric
 * column of the dataset on each job it validates, the worker for the target
 * when it loads a job's data).
 */
#include "worker/spec.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void worker_column_numeric_facts(const double *values, size_t n, struct worker_column_info *info)
{
	double *v = malloc((n ? n : 1) * sizeof(*v));
	size_t m = 0, distinct = 0;
	bool integer = true;

	info->integer_valued = false;
	info->distinct = WORKER_DISTINCT_CAP;
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (isnan(values[i]))
			continue;
		integer = integer && values[i] == floor(values[i]) && fabs(values[i]) < 0x1p53;
		v[m++] = values[i];
	}
	qsort(v, m, sizeof(*v), cmp_double);
	for (size_t i = 0; i < m && distinct < WORKER_DISTINCT_CAP; i++)
		if (i == 0 || v[i] != v[i - 1])
			distinct++;
	free(v);
	info->integer_valued = integer;
	info->distinct = distinct;
}

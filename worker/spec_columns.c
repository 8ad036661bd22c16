/*
 * spec_columns.c - the facts about a numeric column that the job spec's
 * validator needs to infer the task: whether every value is an integer and
 * how many distinct values it has (counted up to WORKER_DISTINCT_CAP). See
 * spec.h.
 *
 * They are computed once per dataset, when it is uploaded (the table is in
 * memory then), and kept in the store with it (worker/spec_facts.c), so a
 * submission reads them instead of the dataset file. One pass over the
 * column: the distinct values go into a small open-addressing set, which
 * stops growing at the cap, and the pass stops early once the column is
 * known to be fractional with the cap reached (the usual continuous
 * column decides within its first thousand values).
 */
#include "worker/spec.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Slots of the set: a power of two over twice the cap, so probes stay short. */
#define SET_SLOTS 4096
#define SET_EMPTY 0x7ff8dead00000001ULL /* a NaN: no value put in the set has these bits */

_Static_assert(SET_SLOTS >= 2 * WORKER_DISTINCT_CAP, "the set must stay at most half full");

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Adds x (not NaN) to the set; true when it was not there yet. */
static bool set_add(uint64_t *set, double x)
{
	uint64_t bits;
	size_t i;

	if (x == 0)
		x = 0; /* -0.0 and 0.0 are one value */
	memcpy(&bits, &x, sizeof(bits));
	for (i = mix(bits) & (SET_SLOTS - 1); set[i] != SET_EMPTY; i = (i + 1) & (SET_SLOTS - 1))
		if (set[i] == bits)
			return false;
	set[i] = bits;
	return true;
}

int worker_column_numeric_facts(const double *values, size_t n, struct worker_column_info *info)
{
	uint64_t *set = malloc(SET_SLOTS * sizeof(*set));
	size_t distinct = 0;
	bool integer = true;

	if (set == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < SET_SLOTS; i++)
		set[i] = SET_EMPTY;
	for (size_t i = 0; i < n; i++) {
		double x = values[i];

		if (isnan(x))
			continue;
		integer = integer && x == floor(x) && fabs(x) < 0x1p53;
		if (distinct < WORKER_DISTINCT_CAP)
			distinct += set_add(set, x);
		else if (!integer)
			break; /* nothing left to learn */
	}
	free(set);
	info->integer_valued = integer;
	info->distinct = distinct;
	return FITD_OK;
}

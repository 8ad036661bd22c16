/*
 * search_check.h - what the searcher's tests share: a column fixture, spec
 * construction that fails the test on error, a checker of the trial
 * parameters contract (against the numeric core's own fit_params_check()
 * and the normalized space), and a small scheduler simulation that runs
 * trials in parallel slots, finishes them in a seeded random order, feeds
 * the history in shuffled order and can "restart" the searcher mid-run.
 */
#ifndef TESTS_WORKER_SEARCH_CHECK_H
#define TESTS_WORKER_SEARCH_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "worker/search/search.h"
#include "worker/spec.h"

/* Columns: x1, x2 (continuous), species (3 levels), y (continuous), label (0/1). */
extern const struct worker_column_info check_cols[];
extern const size_t check_ncols;

/* Parses text against check_cols and nrows; fails the test on error. */
struct worker_spec *check_spec(const char *text, size_t nrows);

/*
 * Builds the searcher, with the data's shape check_shape when a test sets
 * it (each test runs in its own process); fails the test on error.
 */
extern const struct search_shape *check_shape;
struct search *check_search(const struct worker_spec *spec);

/*
 * Fails the test unless params follows the contract of search.h for task:
 * only the keys that apply, values the numeric core accepts, and numbers
 * inside the normalized space.
 */
void check_params(const json_t *params, const struct worker_spec *spec);

/* The score of a trial after epoch epochs (epoch = its "epochs": final). */
typedef double (*check_objective_fn)(const json_t *params, unsigned epoch);

struct check_trial {
	size_t idx;
	enum search_trial_state state;
	json_t *params;
	bool has_score;
	double score;
	double rungs[20];
	size_t nrungs;
	unsigned stopped_at; /* pruned: the epoch */
};

struct check_run {
	struct check_trial *trials;
	size_t n;
};

/*
 * Runs spec's search with `parallel` slots until it stops (or `limit`
 * trials), finishing a random running trial (seeded by order_seed) each
 * step. When restart_at > 0 the spec and searcher are rebuilt from the
 * normalized JSON once that many trials exist. Pruning decisions are
 * checked to be the same when asked with the history at the trial's start
 * and at its end.
 */
void check_run(const struct worker_spec *spec, unsigned parallel, size_t limit,
	       check_objective_fn objective, unsigned order_seed, size_t restart_at,
	       struct check_run *out);

/* Fails unless both runs created the same trials with the same params, states and scores. */
void check_runs_equal(const struct check_run *a, const struct check_run *b);

/* The best final score of a run (higher is better). */
double check_run_best(const struct check_run *r);

void check_run_release(struct check_run *r);

#endif

/*
 * spec.h - the job spec: validating a request body against its dataset,
 * filling every default, and the normalized form stored with the job.
 *
 * worker_spec_parse() checks a POST /v1/jobs body strictly: an unknown key
 * anywhere or a wrong JSON type is FITD_EFORMAT (HTTP 400, codes
 * "unknown_field", "wrong_type"; an integer field takes a whole number
 * written as a real, 30.0, but a fraction there, 30.5, is the wrong type);
 * a well-formed but unusable value is
 * FITD_EUNPROCESSABLE (422: "missing_field", "out_of_range",
 * "unknown_value", "duplicate_value", "unknown_column",
 * "invalid_combination", "grid_too_large", "too_few_classes"). Every
 * message starts with the path of the field ("space.mlp.units: unknown key").
 *
 * worker_spec_to_json() gives the normalized spec: every field present and
 * every default filled in. worker_spec_from_json() reads it back (after a
 * restart) into an identical object without the dataset at hand.
 *
 * Defaults and rules:
 *
 *   task        "auto": a categorical target is classification (one of more
 *               than 20 levels that are more than half its rows is refused:
 *               no classes, most often a numeric column with a stray text
 *               value); a numeric
 *               target is classification when all its values are integers
 *               and it has 2 distinct values, or at most 20 distinct values
 *               that are fewer than 5% of the rows with a target; otherwise
 *               regression. "classification" needs a categorical or
 *               integer-valued target with 2 to WORKER_MAX_CLASSES classes,
 *               "regression" a numeric one with 2 or more distinct values.
 *   metric      accuracy (classification), rmse (regression)
 *   validation  {"method":"holdout","fraction":0.2} above 10,000 rows with
 *               a target, {"method":"cv","folds":5,"repeats":3} below 1,000
 *               (repeated folds: a long search on a small table would
 *               otherwise overfit the noise of one split), else
 *               {"method":"cv","folds":5} (fewer folds on a table of 2 to 4
 *               rows, one row per fold); folds 2..20, repeats 1..10 (1 when
 *               the spec gives cv without it) with folds * repeats <= 20,
 *               fraction 0.05..0.5
 *   early_stopping  {"patience":10}; false turns it off, true is the default
 *   space       see worker/search/space.h
 *   search      algorithm "auto"; max_trials 1..10000 and max_seconds
 *               1..604800 (seconds, fractions allowed, so 2.5 is two and
 *               a half): when neither is given 50 and 600, when one is
 *               given the other is null (unbounded), and null given
 *               explicitly is unbounded (not both); for grid a missing
 *               max_trials is the grid's size; parallel_trials and
 *               threads_per_trial "auto" or 1..256; seed 0; patience and
 *               goal null; max_attempts 3 (1..10); ensemble "auto" (the
 *               final model is a greedy ensemble of the best trials when
 *               it scores better out of fold; true: whenever selection
 *               keeps two members or more), false turns ensembles off;
 *               refit true (the final setting fitted again on every
 *               training row), false keeps the best trial's model of its
 *               first fold (the holdout's training rows): no second fit,
 *               and no ensemble ("ensemble": true with it is rejected)
 *
 * A struct worker_spec is immutable once built and safe to read from any
 * thread. Strings returned by accessors live as long as the spec.
 */
#ifndef WORKER_SPEC_H
#define WORKER_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/fit/params.h"
#include "daemon/base/status.h"

struct search_space;

#define WORKER_MAX_FOLDS    20
#define WORKER_MAX_TRIALS   10000
#define WORKER_MAX_SECONDS  604800
#define WORKER_MAX_CLASSES  1000
#define WORKER_DISTINCT_CAP (WORKER_MAX_CLASSES + 1) /* distinct values counted up to this */
#define WORKER_MAX_PARALLEL 256

/*
 * What the validator needs to know about one column of the dataset,
 * computed once at upload and kept in the store with it (spec_facts.h);
 * name is borrowed for the call.
 */
struct worker_column_info {
	const char *name;
	bool numeric;
	size_t nlevels;	     /* categorical: number of levels */
	size_t missing;	     /* rows without a value */
	bool integer_valued; /* numeric: every value present is an integer */
	size_t distinct;     /* numeric: distinct values present, at most WORKER_DISTINCT_CAP */
};

/*
 * Fills integer_valued and distinct of *info from a numeric column of n
 * values (NAN = missing) in one pass. FITD_ENOMEM, with *info untouched,
 * when its scratch set (32 KiB) cannot be allocated: a fact is never
 * guessed. Thread-safe.
 */
int worker_column_numeric_facts(const double *values, size_t n, struct worker_column_info *info);

enum worker_validation {
	WORKER_VALIDATION_CV,
	WORKER_VALIDATION_HOLDOUT,
};

enum worker_algorithm {
	WORKER_ALGORITHM_AUTO,
	WORKER_ALGORITHM_RANDOM,
	WORKER_ALGORITHM_GRID,
	WORKER_ALGORITHM_TPE,
	WORKER_ALGORITHM_ASHA,
};

/* The "search" part of a spec as plain values; 0 means unbounded or "auto". */
struct worker_search_options {
	enum worker_algorithm algorithm;
	unsigned max_trials;	    /* 0: unbounded */
	double max_seconds;	    /* 0: unbounded; may have a fraction */
	unsigned parallel_trials;   /* 0: auto */
	unsigned threads_per_trial; /* 0: auto */
	uint64_t seed;
	unsigned patience; /* 0: no patience rule */
	bool has_goal;
	double goal; /* in the metric's units */
	unsigned max_attempts;
	bool ensemble;	      /* "auto" or true; false: always a single model */
	bool ensemble_always; /* true: the ensemble even when it scores no better */
	bool refit;	      /* false: the best trial's first-fold model is the job's model */
};

struct worker_spec;

/*
 * Validates body (a job spec) against the dataset's ncols columns and nrows
 * rows and returns the normalized spec in *out (NULL on error). Does not
 * check that the dataset id exists: the caller found cols with it.
 * FITD_ENOMEM when memory runs out; the other codes are listed above.
 */
int worker_spec_parse(const json_t *body, const struct worker_column_info *cols, size_t ncols,
		      size_t nrows, struct worker_spec **out, struct fitd_error *err);

/*
 * Reads a normalized spec (worker_spec_to_json()'s output) back. The same
 * checks apply except those that need the dataset; "task" must be resolved
 * and "validation" present. Errors as for worker_spec_parse().
 */
int worker_spec_from_json(const json_t *normalized, struct worker_spec **out,
			  struct fitd_error *err);

/* The normalized spec: a new reference, NULL only when memory runs out. */
json_t *worker_spec_to_json(const struct worker_spec *spec);

/* NULL is allowed. */
void worker_spec_free(struct worker_spec *spec);

const char *worker_spec_dataset(const struct worker_spec *spec);
const char *worker_spec_target(const struct worker_spec *spec);
enum fit_task worker_spec_task(const struct worker_spec *spec);
enum fit_metric worker_spec_metric(const struct worker_spec *spec);
bool worker_spec_higher_is_better(const struct worker_spec *spec);

/* Excluded columns: count, and name i (NULL past the end). */
size_t worker_spec_exclude_count(const struct worker_spec *spec);
const char *worker_spec_exclude(const struct worker_spec *spec, size_t i);

/* The method; *folds and *repeats (cv) or *fraction (holdout) are set, the others zeroed. */
enum worker_validation worker_spec_validation(const struct worker_spec *spec, unsigned *folds,
					      unsigned *repeats, double *fraction);

/* Early stopping inside a fit: epochs without improvement, 0 when off. */
unsigned worker_spec_early_patience(const struct worker_spec *spec);

/*
 * The labeled rows from which gbdt stops early; below them it fits every
 * tree on every training row (early_stopping.gbdt_min_rows).
 */
int64_t worker_spec_gbdt_min_rows(const struct worker_spec *spec);

const struct worker_search_options *worker_spec_search(const struct worker_spec *spec);
const struct search_space *worker_spec_space(const struct worker_spec *spec);

/* "auto", "random", "grid", "tpe", "asha". */
const char *worker_algorithm_name(enum worker_algorithm a);

#endif

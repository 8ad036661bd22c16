/*
 * spec_json.c - the normalized job spec: every field of a built spec written
 * back as JSON, with every default filled in (what the store keeps and
 * GET /v1/jobs/{id} shows), and the accessors the scheduler and the
 * searcher read a spec through. See spec.h.
 *
 * Integers are written as JSON integers whatever form the request gave
 * them in (30.0 is 30), so equal specs normalize to equal text; a duration
 * keeps its fraction (max_seconds 2.5).
 */
#include "worker/spec_internal.h"

#include <math.h>

#include "worker/fit/metric.h"

/* ---- the normalized spec ---- */

static json_t *int_or_null(unsigned v)
{
	return v ? json_integer(v) : json_null();
}

/* Seconds: an integer when whole (as before fractions were taken), else the number as given. */
static json_t *seconds_or_null(double v)
{
	if (v == 0)
		return json_null();
	return v == floor(v) ? json_integer((json_int_t)v) : json_real(v);
}

static json_t *int_or_auto(unsigned v)
{
	return v ? json_integer(v) : json_string("auto");
}

static json_t *ensemble_json(const struct worker_search_options *o)
{
	if (o->ensemble_always)
		return json_true();
	return o->ensemble ? json_string("auto") : json_false();
}

static json_t *search_json(const struct worker_search_options *o)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:i, s:o, s:b}", "algorithm",
			 worker_algorithm_name(o->algorithm), "max_trials",
			 int_or_null(o->max_trials), "max_seconds", seconds_or_null(o->max_seconds),
			 "parallel_trials", int_or_auto(o->parallel_trials), "threads_per_trial",
			 int_or_auto(o->threads_per_trial), "seed", (json_int_t)o->seed, "patience",
			 int_or_null(o->patience), "goal",
			 o->has_goal ? json_real(o->goal) : json_null(), "max_attempts",
			 (int)o->max_attempts, "ensemble", ensemble_json(o), "refit", o->refit);
}

json_t *worker_spec_to_json(const struct worker_spec *spec)
{
	json_t *exclude = json_array();
	json_t *validation, *early;

	for (size_t i = 0; exclude != NULL && i < spec->nexclude; i++)
		json_array_append_new(exclude, json_string(spec->exclude[i]));
	if (spec->validation == WORKER_VALIDATION_CV)
		validation = json_pack("{s:s, s:i, s:i}", "method", "cv", "folds", (int)spec->folds,
				       "repeats", (int)spec->repeats);
	else
		validation = json_pack("{s:s, s:f}", "method", "holdout", "fraction",
				       spec->fraction);
	early = spec->early_patience
		    ? json_pack("{s:i, s:I}", "patience", (int)spec->early_patience,
				"gbdt_min_rows", (json_int_t)spec->gbdt_min_rows)
		    : json_false();
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "dataset", spec->dataset,
			 "target", spec->target, "task", fit_task_name(spec->task),
			 "exclude_columns", exclude, "metric", fit_metric_name(spec->metric),
			 "validation", validation, "early_stopping", early, "space",
			 search_space_to_json(&spec->space), "search", search_json(&spec->search));
}

/* ---- accessors ---- */

const char *worker_spec_dataset(const struct worker_spec *spec)
{
	return spec->dataset;
}

const char *worker_spec_target(const struct worker_spec *spec)
{
	return spec->target;
}

enum fit_task worker_spec_task(const struct worker_spec *spec)
{
	return spec->task;
}

enum fit_metric worker_spec_metric(const struct worker_spec *spec)
{
	return spec->metric;
}

bool worker_spec_higher_is_better(const struct worker_spec *spec)
{
	return fit_metric_higher_is_better(spec->metric) != 0;
}

size_t worker_spec_exclude_count(const struct worker_spec *spec)
{
	return spec->nexclude;
}

const char *worker_spec_exclude(const struct worker_spec *spec, size_t i)
{
	return i < spec->nexclude ? spec->exclude[i] : NULL;
}

enum worker_validation worker_spec_validation(const struct worker_spec *spec, unsigned *folds,
					      unsigned *repeats, double *fraction)
{
	if (folds != NULL)
		*folds = spec->folds;
	if (repeats != NULL)
		*repeats = spec->repeats;
	if (fraction != NULL)
		*fraction = spec->fraction;
	return spec->validation;
}

unsigned worker_spec_early_patience(const struct worker_spec *spec)
{
	return spec->early_patience;
}

int64_t worker_spec_gbdt_min_rows(const struct worker_spec *spec)
{
	return spec->gbdt_min_rows;
}

const struct worker_search_options *worker_spec_search(const struct worker_spec *spec)
{
	return &spec->search;
}

const struct search_space *worker_spec_space(const struct worker_spec *spec)
{
	return &spec->space;
}

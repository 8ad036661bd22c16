/*
 * spec_internal.h - the job spec's fields, shared by spec.c (which builds a
 * spec from a request body or a stored normalized spec) and spec_json.c
 * (which writes the normalized spec and reads the fields back). Nothing
 * outside those files includes it; see spec.h for the contract.
 */
#ifndef WORKER_SPEC_INTERNAL_H
#define WORKER_SPEC_INTERNAL_H

#include "worker/search/space.h"
#include "worker/spec.h"

struct worker_spec {
	char *dataset;
	char *target;
	enum fit_task task;
	char **exclude;
	size_t nexclude;
	enum fit_metric metric;
	enum worker_validation validation;
	unsigned folds;
	unsigned repeats;
	double fraction;
	unsigned early_patience; /* 0: early_stopping false */
	int64_t gbdt_min_rows;	 /* gbdt stops early only from this many labeled rows */
	struct search_space space;
	struct worker_search_options search;
};

#endif

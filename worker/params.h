/*
 * params.h - a trial's parameters, as proposed by the searcher in JSON, turned
 * into the numeric core's struct fit_params.
 *
 * The JSON object holds only the keys that apply (search.h): model,
 * optimizer, learning_rate, batch_size, epochs, regularization (a fit_reg
 * name: none, l1, l2, elasticnet, dropout), penalty, l1_ratio, loss,
 * huber_delta, C, hidden_layers (an array of unit counts), activation and
 * dropout; for gbdt trees, max_leaves, max_depth, min_child_weight,
 * min_leaf_rows, min_split_gain, subsample, colsample and max_bins (into
 * struct fit_params_gbdt). Everything else (metric, patience, seed, threads) comes from the
 * job. Regularization dropout is given to the trainer as none with the
 * rate, the same fit, so that the model document names only weight
 * penalties.
 */
#ifndef WORKER_PARAMS_H
#define WORKER_PARAMS_H

#include <jansson.h>

#include "worker/fit/params.h"
#include "daemon/base/status.h"

struct worker_fit_context {
	enum fit_task task;
	enum fit_metric metric;
	unsigned patience; /* early stopping; 0 = off */
	uint64_t seed;
	int threads;
};

/*
 * Fills *out from params and ctx and checks it with fit_params_check().
 * FITD_EUNPROCESSABLE naming the key for a value of the wrong type or an
 * unknown name, or with the core's reason for an unusable combination.
 */
int worker_params_from_json(const json_t *params, const struct worker_fit_context *ctx,
			    struct fit_params *out, struct fitd_error *err);

#endif

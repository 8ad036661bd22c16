/*
 * predict.h - scoring rows with a trained model, shared by the API
 * (POST /v1/models/{id}/predict) and the offline `fitd predict`.
 */
#ifndef WORKER_PREDICT_H
#define WORKER_PREDICT_H

#include <jansson.h>
#include <stdbool.h>

#include "store/csv.h"
#include "worker/fit/model.h"

/*
 * The columns prediction input may name: the model's inputs, and its
 * target and the columns its job excluded (excluded: the model
 * document's "excluded_columns", an array of names, or NULL), which may be
 * given (a row of the training table) and are ignored. Any other is
 * refused, so that a misspelt or foreign column is said rather than scored
 * as missing.
 */
bool worker_predict_column_known(const struct fit_model_desc *d, const json_t *excluded,
				 const char *name);

/* The model's input columns as "a, b, c" into buf, cut with ", …" when they do not fit. */
void worker_predict_inputs_text(const struct fit_model_desc *d, char *buf, size_t cap);

/*
 * Parses CSV text into a frame for the model: categorical columns of the
 * model stay categorical whatever their values look like. Every header
 * column must be known (worker_predict_column_known() with excluded: FITD_EFORMAT
 * unknown_column, naming it) once every input is there; a missing input
 * is left to fit_model_predict(), which says so (missing_column). A
 * value that is not a number in a numeric input is FITD_EFORMAT
 * wrong_type, naming its row, column and text. opt
 * gives the limits; its categorical list is replaced.
 */
int worker_predict_frame_csv(const struct fit_model *m, const json_t *excluded, const char *csv,
			     size_t len, const struct store_csv_options *opt,
			     struct fit_frame **out, struct fitd_error *err);

/*
 * Predicts every row of frame on `threads` threads and returns
 * {"predictions": [...]} for regression, or {"predictions": [label, ...],
 * "classes": [...], "probabilities": [[p, ...], ...]} for classification.
 */
int worker_predict(const struct fit_model *m, const struct fit_frame *frame, int threads,
		   json_t **out, struct fitd_error *err);

/* Rows one request may explain, and the network passes (mlp) it may cost. */
#define WORKER_EXPLAIN_MAX_ROWS	 1000
#define WORKER_EXPLAIN_MAX_EVALS (1u << 20)

/*
 * Adds to a predictions answer (worker_predict()'s) the rows' per-column
 * contributions (fit_model_contributions()):
 *
 *   "contributions": {
 *     "columns": [input column, ...],
 *     "outputs": [the target] | [classes[1]] | [every class],
 *     "link": "identity" | "logit" | "softmax",
 *     "values": [ per row [ per output [ c_column ..., bias ] ] ],
 *     "margins": [ per row [ per output margin ] ]
 *   }
 *
 * where a row's values of an output sum to its margin: the prediction
 * (identity), the log-odds of outputs[0] (logit) or the class's softmax
 * input. With limit nonzero the frame may have at most
 * WORKER_EXPLAIN_MAX_ROWS rows and, for an mlp, cost at most
 * WORKER_EXPLAIN_MAX_EVALS network passes (fit_model_explain_cost() a row):
 * FITD_EUNPROCESSABLE "too_many_rows" otherwise. FITD_ENOMEM; the answer is
 * unchanged on error.
 */
int worker_explain(const struct fit_model *m, const struct fit_frame *frame, int threads, int limit,
		   json_t *answer, struct fitd_error *err);

#endif

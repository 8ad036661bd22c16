/*
 * predict.h - scoring rows with a trained model, shared by the API
 * (POST /v1/models/{id}/predict) and the offline `fitd predict`.
 */
#ifndef WORKER_PREDICT_H
#define WORKER_PREDICT_H

#include <jansson.h>

#include "store/csv.h"
#include "worker/fit/model.h"

/*
 * Parses CSV text into a frame holding the model's input columns by name
 * (other columns are read and ignored): categorical columns of the model
 * stay categorical whatever their values look like. opt gives the limits;
 * its categorical list is replaced.
 */
int worker_predict_frame_csv(const struct fit_model *m, const char *csv, size_t len,
			     const struct store_csv_options *opt, struct fit_frame **out,
			     struct fitd_error *err);

/*
 * Predicts every row of frame on `threads` threads and returns
 * {"predictions": [...]} for regression, or {"predictions": [label, ...],
 * "classes": [...], "probabilities": [[p, ...], ...]} for classification.
 */
int worker_predict(const struct fit_model *m, const struct fit_frame *frame, int threads,
		   json_t **out, struct fitd_error *err);

#endif

/*
 * predict.c - CSV rows to a frame for a model, and predictions to JSON;
 * see predict.h.
 */
#include "worker/predict.h"

#include <stdlib.h>

#include "worker/json.h"

int worker_predict_frame_csv(const struct fit_model *m, const char *csv, size_t len,
			     const struct store_csv_options *opt, struct fit_frame **out,
			     struct fitd_error *err)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	struct store_csv_options o = *opt;
	const char **cats = calloc(d->ncolumns + 1, sizeof(*cats));
	int rc;

	if (cats == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "categorical column list");
	o.ncategorical = 0;
	for (size_t i = 0; i < d->ncolumns; i++)
		if (d->columns[i].type == FIT_COL_CATEGORICAL)
			cats[o.ncategorical++] = d->columns[i].name;
	o.categorical = cats;
	rc = store_csv_parse(csv ? csv : "", len, &o, out, err);
	free(cats);
	return rc;
}

/* The answer, or NULL when memory runs out (never one with rows missing). */
static json_t *to_json(const struct fit_model_desc *d, const double *values, const int32_t *labels,
		       size_t nrows)
{
	json_t *pred = json_array(), *prob, *classes;

	if (d->task == FIT_TASK_REGRESSION) {
		for (size_t i = 0; i < nrows && pred != NULL; i++)
			pred = worker_json_append(pred, json_real(values[i]));
		return json_pack("{s:o}", "predictions", pred);
	}
	prob = json_array();
	classes = json_array();
	for (size_t i = 0; i < nrows && pred != NULL && prob != NULL; i++) {
		json_t *row = json_array();

		pred = worker_json_append(pred, json_string(d->classes[labels[i]]));
		for (size_t k = 0; k < d->nclasses && row != NULL; k++)
			row = worker_json_append(row, json_real(values[i * d->nclasses + k]));
		prob = worker_json_append(prob, row);
	}
	for (size_t k = 0; k < d->nclasses && classes != NULL; k++)
		classes = worker_json_append(classes, json_string(d->classes[k]));
	return json_pack("{s:o, s:o, s:o}", "predictions", pred, "classes", classes,
			 "probabilities", prob);
}

int worker_predict(const struct fit_model *m, const struct fit_frame *frame, int threads,
		   json_t **out, struct fitd_error *err)
{
	double *values = calloc(frame->nrows * fit_model_noutputs(m) + 1, sizeof(*values));
	int32_t *labels = calloc(frame->nrows + 1, sizeof(*labels));
	int rc = FITD_OK;

	*out = NULL;
	if (values == NULL || labels == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "prediction buffers");
	if (rc == FITD_OK)
		rc = fit_model_predict(m, frame, NULL, frame->nrows, threads, values, labels, err);
	if (rc == FITD_OK) {
		*out = to_json(fit_model_desc(m), values, labels, frame->nrows);
		if (*out == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "predictions: out of memory");
	}
	free(values);
	free(labels);
	return rc;
}

/*
 * predict.c - CSV rows to a frame for a model, predictions and their
 * explanations to JSON; see predict.h.
 */
#include "worker/predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/explain.h"

#include "worker/json.h"

bool worker_predict_column_known(const struct fit_model_desc *d, const json_t *excluded,
				 const char *name)
{
	const json_t *e;
	size_t i;

	if (d->target != NULL && strcmp(d->target, name) == 0)
		return true;
	for (size_t c = 0; c < d->ncolumns; c++)
		if (strcmp(d->columns[c].name, name) == 0)
			return true;
	json_array_foreach(excluded, i, e)
	{
		if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
			return true;
	}
	return false;
}

void worker_predict_inputs_text(const struct fit_model_desc *d, char *buf, size_t cap)
{
	static const char more[] = ", \xe2\x80\xa6"; /* ", …" */
	size_t used = 0;

	buf[0] = '\0';
	for (size_t c = 0; c < d->ncolumns; c++) {
		const char *name = d->columns[c].name;
		size_t need = (c ? 2 : 0) + strlen(name);

		if (used + need + sizeof(more) > cap) {
			snprintf(buf + used, cap - used, "%s", c ? more : more + 2);
			return;
		}
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", c ? ", " : "", name);
	}
}

/* Whether every input of the model is a column of f. */
static bool has_inputs(const struct fit_model_desc *d, const struct fit_frame *f)
{
	for (size_t c = 0; c < d->ncolumns; c++)
		if (fit_frame_find(f, d->columns[c].name) < 0)
			return false;
	return true;
}

/* Refuses a header column the model does not know. */
static int check_header(const struct fit_model_desc *d, const json_t *excluded,
			const struct fit_frame *f, struct fitd_error *err)
{
	char inputs[112];

	for (size_t c = 0; c < f->ncols; c++) {
		if (worker_predict_column_known(d, excluded, f->cols[c].name))
			continue;
		worker_predict_inputs_text(d, inputs, sizeof(inputs));
		return fitd_error_set(err, FITD_EFORMAT, "unknown_column",
				      "header column %zu ('%.40s') is not a column of the model: "
				      "its inputs are %s, and its target '%.40s' may be given",
				      c + 1, f->cols[c].name, inputs, d->target);
	}
	return FITD_OK;
}

/* Whether a CSV field reads as a number (csv.h's grammar, spaces and tabs around it). */
static bool number_text(const char *s)
{
	const char *p;
	size_t digits = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	p = s + (*s == '+' || *s == '-');
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p += 1 + (p[1] == '+' || p[1] == '-');
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' && isfinite(strtod(s, NULL));
}

/*
 * Refuses text in a column the model takes numbers in, naming the first
 * row that holds some; the frame typed that column categorical, which the
 * core would only call a missing numeric column. Every input is in f
 * (has_inputs()).
 */
static int check_numbers(const struct fit_model_desc *d, const struct fit_frame *f,
			 struct fitd_error *err)
{
	for (size_t c = 0; c < d->ncolumns; c++) {
		const struct fit_column *fc = &f->cols[fit_frame_find(f, d->columns[c].name)];
		size_t row = 0;

		if (d->columns[c].type != FIT_COL_NUMERIC || fc->type != FIT_COL_CATEGORICAL ||
		    fc->nlevels == 0)
			continue;
		while (row < f->nrows &&
		       (fc->cat[row] < 0 || number_text(fc->levels[fc->cat[row]])))
			row++;
		if (row == f->nrows) /* every value reads as a number here: name a level */
			return fitd_error_set(err, FITD_EFORMAT, "wrong_type",
					      "column '%.64s': '%.64s' is not a number, and the "
					      "model takes numbers in this column",
					      fc->name, fc->levels[0]);
		return fitd_error_set(err, FITD_EFORMAT, "wrong_type",
				      "row %zu, column '%.64s': '%.64s' is not a number, and the "
				      "model takes numbers in this column",
				      row + 1, fc->name, fc->levels[fc->cat[row]]);
	}
	return FITD_OK;
}

int worker_predict_frame_csv(const struct fit_model *m, const json_t *excluded, const char *csv,
			     size_t len, const struct store_csv_options *opt,
			     struct fit_frame **out, struct fitd_error *err)
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
	/* A missing input is said first, by the core (missing_column). */
	if (rc == FITD_OK && has_inputs(d, *out)) {
		rc = check_header(d, excluded, *out, err);
		if (rc == FITD_OK)
			rc = check_numbers(d, *out, err);
	}
	if (rc != FITD_OK && *out != NULL) {
		fit_frame_free(*out);
		*out = NULL;
	}
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

/* The rows an explanation may cover, with limit; 0 when none are allowed. */
static size_t explain_cap(const struct fit_model *m)
{
	size_t by_evals = WORKER_EXPLAIN_MAX_EVALS / fit_model_explain_cost(m);

	return by_evals < WORKER_EXPLAIN_MAX_ROWS ? by_evals : WORKER_EXPLAIN_MAX_ROWS;
}

/* The names of a model's raw outputs and their link. */
static json_t *outputs_json(const struct fit_model_desc *d, size_t k, const char **link)
{
	json_t *a = json_array();

	*link = d->task == FIT_TASK_REGRESSION ? "identity" : k == 1 ? "logit" : "softmax";
	if (d->task == FIT_TASK_REGRESSION)
		return worker_json_append(a, json_string(d->target));
	for (size_t c = k == 1 ? 1 : 0; c < d->nclasses && a != NULL; c++)
		a = worker_json_append(a, json_string(d->classes[c]));
	return a;
}

/*
 * values (n x k x w) as nested arrays, per row, per output; w 0: one number
 * per output (n x k). NULL when memory runs out.
 */
static json_t *rows_json(const double *v, size_t n, size_t k, size_t w)
{
	json_t *rows = json_array();

	for (size_t i = 0; i < n && rows != NULL; i++) {
		json_t *row = json_array();

		for (size_t o = 0; o < k && row != NULL; o++) {
			json_t *out = w == 0 ? json_real(v[i * k + o]) : json_array();

			for (size_t j = 0; j < w && out != NULL; j++)
				out = worker_json_append(out, json_real(v[(i * k + o) * w + j]));
			row = worker_json_append(row, out);
		}
		rows = worker_json_append(rows, row);
	}
	return rows;
}

static json_t *contributions_json(const struct fit_model *m, const double *c, const double *z,
				  size_t n)
{
	const struct fit_model_desc *d = fit_model_desc(m);
	size_t k = fit_model_nmargins(m), w = d->ncolumns + 1;
	json_t *cols = json_array(), *outputs;
	const char *link;

	for (size_t j = 0; j < d->ncolumns && cols != NULL; j++)
		cols = worker_json_append(cols, json_string(d->columns[j].name));
	outputs = outputs_json(d, k, &link); /* before the link is read */
	return json_pack("{s:o, s:o, s:s, s:o, s:o}", "columns", cols, "outputs", outputs, "link",
			 link, "values", rows_json(c, n, k, w), "margins", rows_json(z, n, k, 0));
}

int worker_explain(const struct fit_model *m, const struct fit_frame *frame, int threads, int limit,
		   json_t *answer, struct fitd_error *err)
{
	size_t n = frame->nrows, k = fit_model_nmargins(m);
	size_t w = fit_model_desc(m)->ncolumns + 1, cap = explain_cap(m);
	double *c, *z;
	json_t *o = NULL;
	int rc;

	if (limit && n > cap)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "too_many_rows",
				      "%zu rows to explain exceed the limit of %zu for this model",
				      n, cap);
	c = calloc(n * k * w + 1, sizeof(double));
	z = calloc(n * k + 1, sizeof(double));
	rc = c != NULL && z != NULL ? FITD_OK
				    : fitd_error_set(err, FITD_ENOMEM, NULL, "explanation buffers");
	if (rc == FITD_OK)
		rc = fit_model_contributions(m, frame, NULL, n, threads, c, err);
	if (rc == FITD_OK)
		rc = fit_model_margins(m, frame, NULL, n, threads, z, err);
	if (rc == FITD_OK) {
		o = contributions_json(m, c, z, n);
		/* json_object_set_new() takes the reference even when it fails. */
		if (o == NULL || json_object_set_new(answer, "contributions", o) != 0)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "contributions: out of memory");
	}
	free(c);
	free(z);
	return rc;
}

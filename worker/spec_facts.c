/*
 * spec_facts.c - a dataset's column facts between the table, the store and
 * the spec validator; see spec_facts.h.
 */
#include "worker/spec_facts.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"

/* The facts of every column of f, names copied; FITD_ENOMEM. */
static int describe(const struct fit_frame *f, struct store_column **out, struct fitd_error *err)
{
	struct store_column *cols = calloc(f->ncols ? f->ncols : 1, sizeof(*cols));
	int rc = cols ? FITD_OK : FITD_ENOMEM;

	for (size_t c = 0; rc == FITD_OK && c < f->ncols; c++) {
		const struct fit_column *col = &f->cols[c];
		struct worker_column_info info = { 0 };

		cols[c].name = strdup(col->name);
		cols[c].numeric = col->type == FIT_COL_NUMERIC;
		cols[c].levels = (int64_t)col->nlevels;
		cols[c].missing = (int64_t)col->missing;
		if (cols[c].name == NULL)
			rc = FITD_ENOMEM;
		else if (cols[c].numeric)
			rc = worker_column_numeric_facts(col->num, f->nrows, &info);
		cols[c].integer_valued = info.integer_valued;
		cols[c].distinct = (int64_t)info.distinct;
	}
	if (rc != FITD_OK) {
		store_columns_free(cols, f->ncols);
		return fitd_error_set(err, rc, NULL, "column facts: out of memory");
	}
	*out = cols;
	return FITD_OK;
}

int worker_dataset_facts_upload(struct store_upload *up, const struct fit_frame *frame,
				struct fitd_error *err)
{
	struct store_column *cols = NULL;
	int rc = describe(frame, &cols, err);

	if (rc == FITD_OK)
		rc = store_upload_set_columns(up, cols, frame->ncols, err);
	store_columns_free(cols, frame->ncols);
	return rc;
}

static int not_found(const char *id, struct fitd_error *err)
{
	return fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
			      "dataset: no dataset with id '%.64s'", id);
}

/*
 * A dataset uploaded before its facts were kept: reads its file once,
 * keeps the facts, and gives them in *cols (*n of them).
 */
static int describe_file(struct store *s, const char *id, struct store_column **cols, size_t *n,
			 struct fitd_error *err)
{
	struct store_column *got = NULL;
	struct fit_frame *frame = NULL;
	char path[PATH_MAX];
	int rc = store_dataset_path(s, id, path, sizeof(path), err);

	if (rc == FITD_OK && (rc = fit_frame_load(path, &frame, err)) != FITD_OK &&
	    rc != FITD_ENOMEM)
		rc = not_found(id, err);
	if (rc == FITD_OK)
		rc = describe(frame, &got, err);
	if (rc == FITD_OK)
		rc = store_dataset_set_columns(s, id, got, frame->ncols, err);
	if (rc == FITD_ENOTFOUND)
		rc = not_found(id, err); /* deleted meanwhile */
	if (rc == FITD_OK) {
		fitd_log_info("dataset_described", "id=%s cols=%zu", id, frame->ncols);
		*cols = got;
		*n = frame->ncols;
		got = NULL;
	}
	store_columns_free(got, frame ? frame->ncols : 0);
	fit_frame_free(frame);
	return rc;
}

int worker_dataset_facts_load(struct store *s, const char *id, struct worker_dataset_facts *out,
			      struct fitd_error *err)
{
	struct store_column *cols = NULL;
	int64_t rows = 0;
	size_t n = 0;
	int rc = store_dataset_columns(s, id, &rows, &cols, &n, err);

	memset(out, 0, sizeof(*out));
	if (rc == FITD_ENOTFOUND)
		return not_found(id, err);
	if (rc == FITD_OK && cols == NULL)
		rc = describe_file(s, id, &cols, &n, err);
	if (rc == FITD_OK) {
		out->cols = calloc(n ? n : 1, sizeof(*out->cols));
		if (out->cols == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "column facts: out of memory");
	}
	if (rc != FITD_OK) {
		store_columns_free(cols, n);
		return rc;
	}
	for (size_t c = 0; c < n; c++)
		out->cols[c] = (struct worker_column_info){
			.name = cols[c].name,
			.numeric = cols[c].numeric,
			.nlevels = (size_t)cols[c].levels,
			.missing = (size_t)cols[c].missing,
			.integer_valued = cols[c].integer_valued,
			.distinct = (size_t)cols[c].distinct,
		};
	out->ncols = n;
	out->nrows = (size_t)rows;
	out->stored = cols;
	return FITD_OK;
}

void worker_dataset_facts_release(struct worker_dataset_facts *f)
{
	store_columns_free(f->stored, f->ncols);
	free(f->cols);
	memset(f, 0, sizeof(*f));
}

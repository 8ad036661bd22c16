/*
 * columns.c - the column facts of datasets (schema 5): one dataset_columns
 * row per column, with what a job spec is validated against (name, type,
 * levels, missing values, whether the values are integers, how many
 * distinct ones), so that a submission reads a few rows instead of the
 * dataset file.
 *
 * An upload commits its facts in the transaction of the dataset's row
 * (store__columns_insert() from datasets.c), so a dataset never exists
 * with half of them. A dataset uploaded before schema 5 has none; the
 * first job on it describes it and keeps them with
 * store_dataset_set_columns(). Deleting the dataset deletes them (ON DELETE
 * CASCADE).
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdlib.h>
#include <string.h>

void store_columns_free(struct store_column *cols, size_t n)
{
	if (cols == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(cols[i].name);
	free(cols);
}

int store__columns_insert(sqlite3 *db, const char *id, const struct store_column *cols, size_t n,
			  struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(
	    db,
	    "INSERT INTO dataset_columns (dataset_id, idx, name, is_numeric, levels,"
	    " missing, integer_valued, distinct_values)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    &st, err);

	for (size_t i = 0; rc == FITD_OK && i < n; i++) {
		const struct store_column *c = &cols[i];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, c->numeric);
		sqlite3_bind_int64(st, 5, c->levels);
		sqlite3_bind_int64(st, 6, c->missing);
		sqlite3_bind_int(st, 7, c->integer_valued);
		sqlite3_bind_int64(st, 8, c->distinct);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store__sqlite_error(db, sqlite3_errcode(db), "insert column facts",
						 err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Fills c from the current row's columns 2..7 (name onwards); FITD_ENOMEM. */
static int column_from_row(sqlite3_stmt *st, struct store_column *c, struct fitd_error *err)
{
	c->name = store__column_strdup(st, 2);
	if (c->name == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "column facts: out of memory");
	c->numeric = sqlite3_column_int(st, 3) != 0;
	c->levels = sqlite3_column_int64(st, 4);
	c->missing = sqlite3_column_int64(st, 5);
	c->integer_valued = sqlite3_column_int(st, 6) != 0;
	c->distinct = sqlite3_column_int64(st, 7);
	return FITD_OK;
}

/*
 * Reads the rows of st (the dataset's rows and cols, then the facts of one
 * column, or NULLs when none are kept) into *rows and *cols. *rows stays
 * negative when there is no row. Facts that do not cover every column
 * count as none kept.
 */
static int read_columns(sqlite3 *db, sqlite3_stmt *st, int64_t *rows, struct store_column **cols,
			size_t *n, struct fitd_error *err)
{
	struct store_column *out = NULL;
	size_t got = 0, want = 0;
	bool whole = true;
	int rc;

	while ((rc = store__step_row(db, st, "read column facts", err)) == FITD_OK) {
		if (*rows < 0) {
			*rows = sqlite3_column_int64(st, 0);
			want = (size_t)sqlite3_column_int64(st, 1);
			whole = sqlite3_column_type(st, 2) != SQLITE_NULL;
			out = whole ? calloc(want ? want : 1, sizeof(*out)) : NULL;
			if (whole && out == NULL) {
				rc = fitd_error_set(err, FITD_ENOMEM, NULL,
						    "column facts: out of memory");
				break;
			}
		}
		if (!whole || got == want) {
			whole = false;
			continue;
		}
		rc = column_from_row(st, &out[got], err);
		if (rc != FITD_OK)
			break;
		got++;
	}
	if (rc == FITD_ENOTFOUND && (!whole || got != want)) {
		store_columns_free(out, got);
		out = NULL;
		got = 0;
	}
	if (rc != FITD_ENOTFOUND) {
		store_columns_free(out, got);
		return rc;
	}
	*cols = out;
	*n = got;
	return FITD_OK;
}

int store_dataset_columns(struct store *s, const char *id, int64_t *rows,
			  struct store_column **cols, size_t *n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_dataset_columns(s, id, rows, cols, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT d.rows, d.cols, c.name, c.is_numeric, c.levels, c.missing,"
				" c.integer_valued, c.distinct_values FROM datasets d"
				" LEFT JOIN dataset_columns c ON c.dataset_id = d.id"
				" WHERE d.id = ? ORDER BY c.idx",
				&st, err);

	*rows = -1;
	*cols = NULL;
	*n = 0;
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = read_columns(db, st, rows, cols, n, err);
	}
	if (rc == FITD_OK && *rows < 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

/* In the write transaction: the dataset's column count and whether its facts are kept. */
static int dataset_cols(sqlite3 *db, const char *id, int64_t *cols, bool *kept,
			struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT cols, EXISTS (SELECT 1 FROM dataset_columns"
				" WHERE dataset_id = ?1) FROM datasets WHERE id = ?1",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read dataset", err);
	if (rc == FITD_OK) {
		*cols = sqlite3_column_int64(st, 0);
		*kept = sqlite3_column_int(st, 1) != 0;
	} else if (rc == FITD_ENOTFOUND) {
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	}
	sqlite3_finalize(st);
	return rc;
}

static int set_columns(sqlite3 *db, const char *id, const struct store_column *cols, size_t n,
		       struct fitd_error *err)
{
	int64_t ncols = 0;
	bool kept = false;
	int rc = dataset_cols(db, id, &ncols, &kept, err);

	if (rc == FITD_OK && ncols != (int64_t)n)
		rc = fitd_error_set(err, FITD_EINVAL, NULL,
				    "dataset '%s' has %lld columns, not %zu", id, (long long)ncols,
				    n);
	if (rc == FITD_OK && !kept)
		rc = store__columns_insert(db, id, cols, n, err);
	return rc;
}

int store_dataset_set_columns(struct store *s, const char *id, const struct store_column *cols,
			      size_t n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_dataset_set_columns(s, id, cols, n, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s, set_columns(db, id, cols, n, err), err);
}

/*
 * jobs_delete.c - deleting a finished job, and finding the jobs retention
 * deletes.
 *
 * One transaction checks that the job has ended, deletes its model rows
 * except those an alias holds, then the job's row: its trials and events
 * go with it (ON DELETE CASCADE) and the models kept for an alias lose
 * their job (ON DELETE SET NULL; schema 4). After the commit the model
 * files are removed (store__model_files_remove()), so a crash in between
 * leaves only orphan files, which the next store_open() sweeps. The job's
 * out-of-fold prediction files (oof.c) go with it. The job's dataset is
 * not touched.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The models of a job an alias holds ("IN") or not ("NOT IN"), in creation order. */
#define JOB_MODELS(in)                                                                        \
	"SELECT id FROM models WHERE job_id = ? AND id " in " (SELECT model_id FROM aliases)" \
	" ORDER BY seq"

void store_job_deletion_release(struct store_job_deletion *d)
{
	if (d == NULL)
		return;
	free(d->kept);
	memset(d, 0, sizeof(*d));
}

/* FITD_ENOTFOUND job_not_found, or FITD_ECONFLICT job_not_finished unless the job has ended. */
static int job_ended(sqlite3 *db, const char *id, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	const char *state;
	int rc = store__prepare(db, "SELECT state FROM jobs WHERE id = ?", &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read job", err);
	state = rc == FITD_OK ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job with id '%s'",
				    id);
	else if (state != NULL && (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0))
		rc = fitd_error_set(err, FITD_ECONFLICT, "job_not_finished",
				    "job %s is %s; cancel it and wait for it to end first", id,
				    state);
	sqlite3_finalize(st);
	return rc;
}

/* Runs sql with the job id bound to ?1, appending the ids it reads to ids when not NULL. */
static int job_sql(sqlite3 *db, const char *sql, const char *id, struct fitd_buf *ids,
		   struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, sql, &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (ids != NULL)
		rc = store__collect_ids(db, st, ids, err);
	else if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "delete job", err);
	sqlite3_finalize(st);
	return rc;
}

/* The deletion itself; gone and kept receive the model ids. */
static int delete_in_tx(sqlite3 *db, const char *id, struct fitd_buf *gone, struct fitd_buf *kept,
			struct fitd_error *err)
{
	int rc = job_ended(db, id, err);

	if (rc == FITD_OK)
		rc = job_sql(db, JOB_MODELS("NOT IN"), id, gone, err);
	if (rc == FITD_OK)
		rc = job_sql(db, JOB_MODELS("IN"), id, kept, err);
	if (rc == FITD_OK)
		rc = job_sql(db,
			     "DELETE FROM models WHERE job_id = ?1"
			     " AND id NOT IN (SELECT model_id FROM aliases)",
			     id, NULL, err);
	if (rc == FITD_OK)
		rc = job_sql(db, "DELETE FROM jobs WHERE id = ?1", id, NULL, err);
	return rc;
}

int store_job_delete(struct store *s, const char *id, struct store_job_deletion *out,
		     struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_delete(s, id, out, err);
	struct fitd_buf gone, kept;
	sqlite3 *db;
	int rc;

	/* A model id takes STORE_ID_MAX bytes; a job has at most a few per trial. */
	fitd_buf_init(&gone, (size_t)64 << 20);
	fitd_buf_init(&kept, (size_t)STORE_ALIASES_MAX * STORE_ID_MAX);
	rc = store__write_begin(s, &db, err);
	if (rc == FITD_OK)
		rc = store__write_end(s, delete_in_tx(db, id, &gone, &kept, err), err);
	if (rc == FITD_OK) {
		store__model_files_remove(s, (const char(*)[STORE_ID_MAX])(void *)gone.data,
					  gone.len / STORE_ID_MAX);
		store_oof_remove_job(s, id);
		if (out != NULL) {
			out->models_deleted = gone.len / STORE_ID_MAX;
			out->nkept = kept.len / STORE_ID_MAX;
			out->kept = (char(*)[STORE_ID_MAX])fitd_buf_take(&kept);
		}
	}
	fitd_buf_release(&gone);
	fitd_buf_release(&kept);
	return rc;
}

/* One expired job: its id and when it ended, as store_job_expired() hands them out. */
struct expired {
	char id[STORE_ID_MAX];
	int64_t finished_at;
};

/* Reads the rows of st into list (struct expired records). */
static int read_expired(sqlite3 *db, sqlite3_stmt *st, struct fitd_buf *list,
			struct fitd_error *err)
{
	const unsigned char *id;
	struct expired *e;
	int rc;

	while ((rc = store__step_row(db, st, "expired jobs", err)) == FITD_OK) {
		e = fitd_buf_grow(list, sizeof(*e));
		if (e == NULL)
			return fitd_error_set(err, fitd_buf_status(list), NULL, "expired jobs");
		id = sqlite3_column_text(st, 0);
		snprintf(e->id, sizeof(e->id), "%s", id ? (const char *)id : "");
		e->finished_at = sqlite3_column_int64(st, 1);
	}
	return rc == FITD_ENOTFOUND ? FITD_OK : rc;
}

/* Splits list into the two arrays store_job_expired() returns; FITD_ENOMEM when they cannot be made. */
static int split_expired(const struct fitd_buf *list, char (**ids)[STORE_ID_MAX],
			 int64_t **finished_at, size_t n, struct fitd_error *err)
{
	const struct expired *e = (const struct expired *)(const void *)list->data;

	*ids = n ? malloc(n * STORE_ID_MAX) : NULL;
	*finished_at = n ? malloc(n * sizeof(int64_t)) : NULL;
	if (n > 0 && (*ids == NULL || *finished_at == NULL)) {
		free(*ids);
		free(*finished_at);
		*ids = NULL;
		*finished_at = NULL;
		return fitd_error_set(err, FITD_ENOMEM, NULL, "expired jobs");
	}
	for (size_t i = 0; i < n; i++) {
		memcpy((*ids)[i], e[i].id, STORE_ID_MAX);
		(*finished_at)[i] = e[i].finished_at;
	}
	return FITD_OK;
}

int store_job_expired(struct store *s, int64_t finished_before, size_t limit,
		      char (**ids)[STORE_ID_MAX], int64_t **finished_at, size_t *n,
		      struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_expired(s, finished_before, limit, ids, finished_at, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	struct fitd_buf list;
	int64_t *times = NULL;
	int rc = store__prepare(
	    db,
	    "SELECT id, finished_at FROM jobs WHERE finished_at IS NOT NULL"
	    " AND finished_at < ? AND state IN ('succeeded','failed','cancelled')"
	    " ORDER BY finished_at LIMIT ?",
	    &st, err);

	*ids = NULL;
	*n = 0;
	fitd_buf_init(&list, limit * sizeof(struct expired));
	if (rc == FITD_OK) {
		sqlite3_bind_int64(st, 1, finished_before);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
		rc = read_expired(db, st, &list, err);
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	if (rc == FITD_OK)
		rc = split_expired(&list, ids, &times, list.len / sizeof(struct expired), err);
	if (rc == FITD_OK)
		*n = list.len / sizeof(struct expired);
	if (finished_at != NULL)
		*finished_at = times;
	else
		free(times);
	fitd_buf_release(&list);
	return rc;
}

/*
 * events.c - the per-job event log that SSE streams replay.
 *
 * Event ids come from one AUTOINCREMENT sequence, so they only grow, across
 * jobs and restarts; a client resumes with Last-Event-ID and sees every
 * later event once.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdlib.h>
#include <string.h>

void store_event_release(struct store_event *e)
{
	if (e == NULL)
		return;
	free(e->type);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

int store_event_add(struct store *s, const char *job_id, const char *type, const char *data_json,
		    int64_t *id, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_event_add(s, job_id, type, data_json, id, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s, store__event_insert(db, job_id, type, data_json, id, err), err);
}

int store_event_list(struct store *s, const char *job_id, int64_t after_id, size_t limit,
		     struct store_event **out, size_t *n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_event_list(s, job_id, after_id, limit, out, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	struct store_event *items = NULL;
	size_t count = 0;
	int rc = store__prepare(db,
				"SELECT id, type, data, created_at FROM events"
				" WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
				&st, err);

	*out = NULL;
	*n = 0;
	if (rc != FITD_OK)
		goto out;
	sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	items = calloc(limit ? limit : 1, sizeof(*items));
	if (items == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "event list");
	while (rc == FITD_OK && count < limit &&
	       (rc = store__step_row(db, st, "list events", err)) == FITD_OK) {
		struct store_event *e = &items[count++];

		e->id = sqlite3_column_int64(st, 0);
		e->type = store__column_strdup(st, 1);
		e->data = store__column_strdup(st, 2);
		e->created_at = sqlite3_column_int64(st, 3);
		if (e->type == NULL || e->data == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "event row");
	}
	if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	if (rc != FITD_OK) {
		while (count > 0)
			store_event_release(&items[--count]);
		free(items);
		goto out;
	}
	*out = items;
	*n = count;
out:
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

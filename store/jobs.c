/*
 * jobs.c - job rows and their state machine:
 *
 *   queued -> running -> succeeded | failed | cancelled
 *   queued -> cancelled
 *
 * Every transition is one transaction together with its job_state event, so
 * an SSE client replaying events sees exactly the committed history.
 */
#include "store/internal.h"
#include "store/pg.h"
#include "daemon/base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TERMINAL_TRIALS "('completed','pruned','failed','timeout','interrupted')"

#define JOB_SELECT                                                                              \
	"SELECT j.id, j.dataset_id, j.state, j.target, j.task, j.metric, j.spec,"               \
	" j.cancel_requested, j.created_at, j.started_at, j.finished_at, j.elapsed_ms,"         \
	" j.best_trial, j.best_score, j.best_model_id,"                                         \
	" (SELECT params FROM trials t WHERE t.job_id = j.id AND t.idx = j.best_trial),"        \
	" j.error_code, j.error_message,"                                                       \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id AND t.state IN " TERMINAL_TRIALS \
	"),"                                                                                    \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id AND t.state = 'running'),"       \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id), j.runtime,"                    \
	" j.best_detail FROM jobs j"

static void copy_id(char dst[STORE_ID_MAX], sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, STORE_ID_MAX, "%s", t ? (const char *)t : "");
}

/* FITD_ENOMEM (with *j released) when a string cannot be copied. */
static int job_from_row(sqlite3_stmt *st, void *item, struct fitd_error *err)
{
	struct store_job *j = item;
	bool oom;

	memset(j, 0, sizeof(*j));
	copy_id(j->id, st, 0);
	copy_id(j->dataset_id, st, 1);
	j->state = (enum store_job_state)store_job_state_parse(
	    (const char *)sqlite3_column_text(st, 2));
	j->target = store__column_strdup(st, 3);
	j->task = store__column_strdup(st, 4);
	j->metric = store__column_strdup(st, 5);
	j->spec_json = store__column_strdup(st, 6);
	oom = !j->target || !j->task || !j->metric || !j->spec_json;
	j->cancel_requested = sqlite3_column_int(st, 7) != 0;
	j->created_at = sqlite3_column_int64(st, 8);
	j->started_at = sqlite3_column_int64(st, 9);
	j->finished_at = sqlite3_column_int64(st, 10);
	j->elapsed_ms = sqlite3_column_int64(st, 11);
	j->best_trial = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1
								   : sqlite3_column_int64(st, 12);
	j->best_score = sqlite3_column_double(st, 13);
	copy_id(j->best_model_id, st, 14);
	j->best_params = store__column_text_or_null(st, 15, &oom);
	j->error_code = store__column_text_or_null(st, 16, &oom);
	j->error_message = store__column_text_or_null(st, 17, &oom);
	j->trials_done = sqlite3_column_int64(st, 18);
	j->trials_running = sqlite3_column_int64(st, 19);
	j->trials_total = sqlite3_column_int64(st, 20);
	j->runtime_json = store__column_text_or_null(st, 21, &oom);
	j->best_detail = store__column_text_or_null(st, 22, &oom);
	if (oom) {
		store_job_release(j);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "job row");
	}
	return FITD_OK;
}

static void job_release_item(void *item)
{
	store_job_release(item);
}

void store_job_release(struct store_job *j)
{
	if (j == NULL)
		return;
	free(j->target);
	free(j->task);
	free(j->metric);
	free(j->spec_json);
	free(j->runtime_json);
	free(j->best_detail);
	free(j->best_params);
	free(j->error_code);
	free(j->error_message);
	memset(j, 0, sizeof(*j));
}

/* Reads one job on db (reader or writer). */
static int job_read(sqlite3 *db, const char *id, struct store_job *out, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, JOB_SELECT " WHERE j.id = ?", &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read job", err);
	if (rc == FITD_OK)
		rc = job_from_row(st, out, err);
	else if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job with id '%s'",
				    id);
	sqlite3_finalize(st);
	return rc;
}

int store_job_get(struct store *s, const char *id, struct store_job *out, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_get(s, id, out, err);
	sqlite3 *db = store__read_begin(s);
	int rc = job_read(db, id, out, err);

	store__read_end(s, db);
	return rc;
}

int store__event_insert(sqlite3 *db, const char *job_id, const char *type, const char *data,
			int64_t *id, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"INSERT INTO events (job_id, type, data, created_at)"
				" VALUES (?, ?, ?, ?)",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, store_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "insert event", err);
	else if (id != NULL)
		*id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return rc;
}

/* The job_state event of a transition, inside the caller's transaction. */
static int state_event(sqlite3 *db, const char *job_id, enum store_job_state st, const char *code,
		       struct fitd_error *err)
{
	char data[160];

	snprintf(data, sizeof(data), "{\"job\":\"%s\",\"state\":\"%s\"%s%s%s}", job_id,
		 store_job_state_name(st), code ? ",\"error\":\"" : "", code ? code : "",
		 code ? "\"" : "");
	return store__event_insert(db, job_id, "job_state", data, NULL, err);
}

/*
 * The job in which owner (NULL: none) used an idempotency key, or
 * FITD_ENOTFOUND. The ifnull matches index jobs_by_key.
 */
static int job_by_key(sqlite3 *db, const char *owner, const char *key, char id[STORE_ID_MAX],
		      char **spec, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT id, spec FROM jobs"
				" WHERE ifnull(owner, '') = ifnull(?, '') AND idempotency_key = ?",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read idempotency key", err);
	if (rc == FITD_OK) {
		copy_id(id, st, 0);
		*spec = store__column_strdup(st, 1);
		if (*spec == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "idempotent job");
	}
	sqlite3_finalize(st);
	return rc;
}

/* FITD_ELIMIT when the job's owner has its cap of live jobs already. */
static int owner_cap(sqlite3 *db, const struct store_job_new *in, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t live = 0;
	int rc;

	if (in->owner == NULL || in->max_owner_active <= 0)
		return FITD_OK;
	rc = store__prepare(db,
			    "SELECT count(*) FROM jobs WHERE owner = ?"
			    " AND state IN ('queued','running')",
			    &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, in->owner, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "count the owner's jobs", err);
	if (rc == FITD_OK)
		live = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != FITD_OK && rc != FITD_ENOTFOUND)
		return rc;
	if (live >= in->max_owner_active)
		return fitd_error_set(err, FITD_ELIMIT, "too_many_jobs",
				      "token '%s' has %lld queued or running jobs, the most it may "
				      "have; wait for one to end or cancel one",
				      in->owner, (long long)live);
	return FITD_OK;
}

static int job_insert(sqlite3 *db, const struct store_job_new *in, const char *id,
		      struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = owner_cap(db, in, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(db, "SELECT 1 FROM datasets WHERE id = ?", &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, in->dataset_id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read dataset", err);
	if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", in->dataset_id);
	sqlite3_finalize(st);
	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(db,
			    "INSERT INTO jobs (id, dataset_id, state, target, task, metric, spec,"
			    " idempotency_key, max_attempts, created_at, owner)"
			    " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
			    &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->dataset_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, in->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, in->task, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, in->metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, in->spec_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, in->idempotency_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, in->max_attempts > 0 ? in->max_attempts : 3);
	sqlite3_bind_int64(st, 9, store_now_ms());
	sqlite3_bind_text(st, 10, in->owner, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "insert job", err);
	sqlite3_finalize(st);
	if (rc == FITD_OK)
		rc = state_event(db, id, STORE_JOB_QUEUED, NULL, err);
	return rc;
}

int store__key_rule(int rc, const char *id, const char *old_spec, const char *spec, bool *existed,
		    struct fitd_error *err)
{
	if (rc == FITD_ENOTFOUND)
		return FITD_OK;
	if (rc != FITD_OK)
		return rc;
	*existed = true;
	if (strcmp(old_spec, spec) != 0)
		return fitd_error_set(err, FITD_ECONFLICT, "idempotency_key_reused",
				      "Idempotency-Key was used for job %s with another spec", id);
	return FITD_OK;
}

int store_job_create(struct store *s, const struct store_job_new *in, struct store_job *out,
		     bool *existed, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_create(s, in, out, existed, err);
	char id[STORE_ID_MAX];
	char *old_spec = NULL;
	bool filled;
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	*existed = false;
	if (rc != FITD_OK)
		return rc;
	if (in->idempotency_key != NULL) {
		rc = job_by_key(db, in->owner, in->idempotency_key, id, &old_spec, err);
		rc = store__key_rule(rc, id, old_spec, in->spec_json, existed, err);
		free(old_spec);
	}
	if (rc == FITD_OK && !*existed) {
		store_id_new("job", id);
		rc = job_insert(db, in, id, err);
	}
	if (rc == FITD_OK)
		rc = job_read(db, id, out, err);
	filled = rc == FITD_OK;
	rc = store__write_end(s, rc, err);
	if (rc != FITD_OK && filled) /* the commit failed after the read */
		store_job_release(out);
	return rc;
}

static const struct store__list_kind job_list = {
	.page_sql = JOB_SELECT " WHERE (?1 IS NULL OR j.seq > (SELECT seq FROM jobs WHERE id = ?1))"
			       " AND (?3 IS NULL OR j.state = ?3) ORDER BY j.seq LIMIT ?2",
	.cursor_sql = "SELECT 1 FROM jobs WHERE id = ?",
	.noun = "job",
	.what = "list jobs",
	.size = sizeof(struct store_job),
	.from_row = job_from_row,
	.release = job_release_item,
};

int store_job_list(struct store *s, int state, const char *after, size_t limit,
		   struct store_job **out, size_t *n, bool *more, struct fitd_error *err)
{
	const char *filter = state >= 0 ? store_job_state_name((enum store_job_state)state) : NULL;
	void *items;
	int rc;

	if (s->pg != NULL)
		return store__pg_job_list(s, state, after, limit, out, n, more, err);
	rc = store__list(s, &job_list, after, filter, limit, &items, n, more, err);

	*out = items;
	return rc;
}

/* Runs an UPDATE with the job id bound to ?1 and, where used, the time to ?2. */
static int job_update(sqlite3 *db, const char *sql, const char *id, int *changed,
		      struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, sql, &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "update job", err);
	*changed = sqlite3_changes(db);
	sqlite3_finalize(st);
	return rc;
}

static int cancel_in_tx(sqlite3 *db, const char *id, struct store_job *out, struct fitd_error *err)
{
	struct store_job j;
	int changed = 0;
	int rc = job_read(db, id, &j, err);

	if (rc != FITD_OK)
		return rc;
	if (j.state == STORE_JOB_QUEUED) {
		rc = job_update(db,
				"UPDATE jobs SET state = 'cancelled', cancel_requested = 1,"
				" finished_at = ?2 WHERE id = ?1",
				id, &changed, err);
		if (rc == FITD_OK)
			rc = state_event(db, id, STORE_JOB_CANCELLED, NULL, err);
	} else if (j.state == STORE_JOB_RUNNING) {
		rc = job_update(db, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", id,
				&changed, err);
	} else {
		rc = fitd_error_set(err, FITD_ESTATE, "job_finished", "job %s already %s", id,
				    store_job_state_name(j.state));
	}
	store_job_release(&j);
	if (rc == FITD_OK)
		rc = job_read(db, id, out, err);
	return rc;
}

int store_job_cancel(struct store *s, const char *id, struct store_job *out, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_cancel(s, id, out, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);
	bool filled;

	if (rc != FITD_OK)
		return rc;
	rc = cancel_in_tx(db, id, out, err);
	filled = rc == FITD_OK;
	rc = store__write_end(s, rc, err);
	if (rc != FITD_OK && filled) /* the commit failed after the read */
		store_job_release(out);
	return rc;
}

int store_job_active(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
		     struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_active(s, limit, ids, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	struct fitd_buf list;
	char *id;
	int rc = store__prepare(db,
				"SELECT id FROM jobs WHERE state IN ('queued', 'running') "
				"ORDER BY state <> 'running', seq LIMIT ?",
				&st, err);

	fitd_buf_init(&list, limit < SIZE_MAX / STORE_ID_MAX ? limit * STORE_ID_MAX : SIZE_MAX);
	if (rc == FITD_OK)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	while (rc == FITD_OK && (rc = store__step_row(db, st, "active jobs", err)) == FITD_OK) {
		id = fitd_buf_grow(&list, STORE_ID_MAX);
		if (id == NULL)
			rc = fitd_error_set(err, fitd_buf_status(&list), NULL, "active jobs");
		else
			copy_id(id, st, 0);
	}
	if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	sqlite3_finalize(st);
	store__read_end(s, db);
	if (rc == FITD_OK) {
		*n = list.len / STORE_ID_MAX;
		*ids = (char(*)[STORE_ID_MAX])fitd_buf_take(&list);
	}
	fitd_buf_release(&list);
	return rc;
}

/* Sets runtime (?3) and, for a start, the state; ?1 id, ?2 now. */
static int job_runtime(sqlite3 *db, const char *sql, const char *id, const char *runtime,
		       int *changed, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, sql, &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_now_ms());
	sqlite3_bind_text(st, 3, runtime, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "update job", err);
	*changed = sqlite3_changes(db);
	sqlite3_finalize(st);
	return rc;
}

int store_job_start(struct store *s, const char *id, const char *runtime_json,
		    struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_start(s, id, runtime_json, err);
	sqlite3 *db;
	int changed = 0;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	rc = job_runtime(db,
			 "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, ?2),"
			 " runtime = ?3 WHERE id = ?1 AND state = 'queued'",
			 id, runtime_json, &changed, err);
	if (rc == FITD_OK && changed == 0)
		rc = fitd_error_set(err, FITD_ESTATE, "job_not_queued", "job %s is not queued", id);
	if (rc == FITD_OK)
		rc = state_event(db, id, STORE_JOB_RUNNING, NULL, err);
	return store__write_end(s, rc, err);
}

int store_job_set_runtime(struct store *s, const char *id, const char *runtime_json,
			  struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_set_runtime(s, id, runtime_json, err);
	sqlite3 *db;
	int changed = 0;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	rc = job_runtime(db, "UPDATE jobs SET runtime = ?3 WHERE id = ?1 AND ?2 > 0", id,
			 runtime_json, &changed, err);
	return store__write_end(s, rc, err);
}

static int finish_in_tx(sqlite3 *db, const char *id, enum store_job_state st, const char *code,
			const char *message, struct fitd_error *err)
{
	sqlite3_stmt *q = NULL;
	int rc = store__prepare(
	    db,
	    "UPDATE jobs SET state = ?2, finished_at = ?3, error_code = ?4,"
	    " error_message = ?5 WHERE id = ?1 AND state IN ('queued', 'running')",
	    &q, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, store_job_state_name(st), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, store_now_ms());
	sqlite3_bind_text(q, 4, code, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, message, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "finish job", err);
	else if (sqlite3_changes(db) == 0)
		rc = fitd_error_set(err, FITD_ESTATE, "job_finished", "job %s already ended", id);
	sqlite3_finalize(q);
	if (rc == FITD_OK)
		rc = state_event(db, id, st, code, err);
	return rc;
}

int store_job_finish(struct store *s, const char *id, enum store_job_state st, const char *code,
		     const char *message, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_finish(s, id, st, code, message, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s, finish_in_tx(db, id, st, code, message, err), err);
}

int store_job_add_elapsed(struct store *s, const char (*ids)[STORE_ID_MAX], const int64_t *ms,
			  size_t n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_add_elapsed(s, ids, ms, n, err);
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc;

	if (n == 0)
		return FITD_OK;
	rc = store__write_begin(s, &db, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(db, "UPDATE jobs SET elapsed_ms = elapsed_ms + ? WHERE id = ?", &st,
			    err);
	for (size_t i = 0; rc == FITD_OK && i < n; i++) {
		sqlite3_bind_int64(st, 1, ms[i]);
		sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store__sqlite_error(db, sqlite3_errcode(db), "add elapsed", err);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return store__write_end(s, rc, err);
}

int store__model_insert(sqlite3 *db, const char *model_id, const char *job_id, int64_t trial,
			int64_t bytes, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"INSERT INTO models (id, job_id, trial_idx, bytes, created_at)"
				" VALUES (?, ?, ?, ?, ?)",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, model_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job_id, -1, SQLITE_STATIC);
	if (trial >= 0)
		sqlite3_bind_int64(st, 3, trial);
	sqlite3_bind_int64(st, 4, bytes);
	sqlite3_bind_int64(st, 5, store_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "insert model", err);
	sqlite3_finalize(st);
	return rc;
}

static int set_model_in_tx(sqlite3 *db, const char *job_id, const char *model_id, int64_t bytes,
			   int64_t trial, double score, const char *detail, const char *data,
			   struct fitd_error *err)
{
	int changed = 0;
	sqlite3_stmt *st = NULL;
	int rc = store__model_insert(db, model_id, job_id, -1, bytes, err);

	if (rc == FITD_OK)
		rc = store__prepare(
		    db,
		    "UPDATE jobs SET best_model_id = ?, best_trial = ?, best_score = ?,"
		    " best_detail = ? WHERE id = ?",
		    &st, err);
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, model_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, trial);
		sqlite3_bind_double(st, 3, score);
		if (detail != NULL)
			sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_text(st, 5, job_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store__sqlite_error(db, sqlite3_errcode(db), "set model", err);
		changed = sqlite3_changes(db);
		sqlite3_finalize(st);
	}
	if (rc == FITD_OK && changed == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job %s", job_id);
	if (rc == FITD_OK)
		rc = store__event_insert(db, job_id, "new_best", data, NULL, err);
	return rc;
}

int store_job_set_model(struct store *s, const char *job_id, const char *model_id,
			int64_t model_bytes, int64_t trial, double score, const char *detail_json,
			const char *data_json, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_set_model(s, job_id, model_id, model_bytes, trial, score,
					       detail_json, data_json, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s,
				set_model_in_tx(db, job_id, model_id, model_bytes, trial, score,
						detail_json, data_json, err),
				err);
}

int store_job_set_detail(struct store *s, const char *job_id, const char *detail_json,
			 struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_set_detail(s, job_id, detail_json, err);
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(db, "UPDATE jobs SET best_detail = ? WHERE id = ?", &st, err);
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, detail_json, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, job_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store__sqlite_error(db, sqlite3_errcode(db), "set detail", err);
		else if (sqlite3_changes(db) == 0)
			rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job %s",
					    job_id);
		sqlite3_finalize(st);
	}
	return store__write_end(s, rc, err);
}

int store_job_exists(struct store *s, const char *id, bool *exists, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_exists(s, id, exists, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, "SELECT 1 FROM jobs WHERE id = ?", &st, err);

	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = store__step_row(db, st, "read job", err);
		*exists = rc == FITD_OK;
		if (rc == FITD_ENOTFOUND)
			rc = FITD_OK;
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

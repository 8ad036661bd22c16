/*
 * store.c - opening and closing the store, its connections and the writer
 * discipline; see store.h for the contract.
 *
 * Pragmas: WAL, synchronous=FULL (a commit survives power loss, which is what
 * the 2xx answers promise), foreign_keys=ON, a busy timeout. The writer is
 * the only connection allowed to checkpoint: readers open read-only and have
 * automatic checkpoints turned off, which also keeps away the WAL-reset bug
 * of SQLite 3.40 that needs two concurrent writers or checkpointers.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "daemon/base/clock.h"

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store__sqlite_error(sqlite3 *db, int sqlrc, const char *what, struct fitd_error *err)
{
	int base = sqlrc & 0xff;

	if (base == SQLITE_FULL)
		return fitd_error_set(err, FITD_ENOSPC, NULL, "%s: database or disk is full", what);
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return fitd_error_set(err, FITD_EUNAVAILABLE, NULL, "%s: database busy", what);
	if (base == SQLITE_NOMEM)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "%s: out of memory", what);
	return fitd_error_set(err, FITD_ESTORE, NULL, "%s: %s", what,
			      db ? sqlite3_errmsg(db) : sqlite3_errstr(sqlrc));
}

int store__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct fitd_error *err)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return store__sqlite_error(db, rc, "prepare", err);
	return FITD_OK;
}

int store__exec(sqlite3 *db, const char *sql, struct fitd_error *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return store__sqlite_error(db, rc, "exec", err);
	return FITD_OK;
}

char *store__column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *text = sqlite3_column_text(st, col);

	/* NULL text from a non-NULL value means SQLite ran out of memory converting it. */
	if (text == NULL && sqlite3_column_type(st, col) != SQLITE_NULL)
		return NULL;
	return strdup(text ? (const char *)text : "");
}

char *store__column_text_or_null(sqlite3_stmt *st, int col, bool *oom)
{
	char *copy;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	copy = store__column_strdup(st, col);
	*oom |= copy == NULL;
	return copy;
}

int store__step_row(sqlite3 *db, sqlite3_stmt *st, const char *what, struct fitd_error *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return FITD_OK;
	if (rc == SQLITE_DONE)
		return FITD_ENOTFOUND;
	return store__sqlite_error(db, rc, what, err);
}

static int cursor_check(sqlite3 *db, const struct store__list_kind *kind, const char *after,
			struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, kind->cursor_sql, &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read cursor", err);
	if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_EINVAL, "invalid_cursor", "'after' names no %s: '%s'",
				    kind->noun, after);
	sqlite3_finalize(st);
	return rc;
}

/* store__list's work inside its read transaction, on the prepared page st. */
static int list_rows(sqlite3 *db, const struct store__list_kind *kind, sqlite3_stmt *st,
		     const char *after, size_t limit, void **out, size_t *n, bool *more,
		     struct fitd_error *err)
{
	char *items = NULL;
	size_t count = 0;
	bool past = false;
	int rc = after != NULL ? cursor_check(db, kind, after, err) : FITD_OK;

	if (rc != FITD_OK)
		return rc;
	items = calloc(limit + 1, kind->size);
	if (items == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "%s", kind->what);
	while ((rc = store__step_row(db, st, kind->what, err)) == FITD_OK) {
		if (count == limit) {
			past = true;
			break;
		}
		rc = kind->from_row(st, items + count * kind->size, err);
		if (rc != FITD_OK)
			break;
		count++;
	}
	if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	if (rc != FITD_OK) {
		while (count > 0)
			kind->release(items + --count * kind->size);
		free(items);
		return rc;
	}
	*out = items;
	*n = count;
	*more = past;
	return FITD_OK;
}

int store__list(struct store *s, const struct store__list_kind *kind, const char *after,
		const char *filter, size_t limit, void **out, size_t *n, bool *more,
		struct fitd_error *err)
{
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, kind->page_sql, &st, err);

	*out = NULL;
	*n = 0;
	*more = false;
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1);
		sqlite3_bind_text(st, 3, filter, -1, SQLITE_STATIC);
		rc = list_rows(db, kind, st, after, limit, out, n, more, err);
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

int store__write_begin(struct store *s, sqlite3 **db, struct fitd_error *err)
{
	int rc;

	pthread_mutex_lock(&s->writer_lock);
	/* Timed from here: waiting for the lock is queueing, not the transaction. */
	s->write_start_ns = fitd_clock_ns();
	rc = sqlite3_exec(s->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = store__sqlite_error(s->writer, rc, "begin", err);
		pthread_mutex_unlock(&s->writer_lock);
		return rc;
	}
	*db = s->writer;
	return FITD_OK;
}

int store__write_end(struct store *s, int rc, struct fitd_error *err)
{
	int sqlrc;

	if (rc == FITD_OK) {
		sqlrc = sqlite3_exec(s->writer, "COMMIT", NULL, NULL, NULL);
		if (sqlrc != SQLITE_OK)
			rc = store__sqlite_error(s->writer, sqlrc, "commit", err);
	}
	/* A ROLLBACK that could not even be prepared (out of memory) is tried again. */
	for (int i = 0; i < 3 && rc != FITD_OK && sqlite3_get_autocommit(s->writer) == 0; i++)
		sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
	fitd_metrics_store_write(s->metrics, fitd_clock_ns() - s->write_start_ns);
	pthread_mutex_unlock(&s->writer_lock);
	return rc;
}

sqlite3 *store__read_begin(struct store *s)
{
	struct store_reader *r;

	pthread_mutex_lock(&s->readers_lock);
	while (s->free_reader == NULL)
		pthread_cond_wait(&s->readers_free, &s->readers_lock);
	r = s->free_reader;
	s->free_reader = r->next;
	pthread_mutex_unlock(&s->readers_lock);
	sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
	return r->db;
}

void store__read_end(struct store *s, sqlite3 *db)
{
	struct store_reader *r = NULL;

	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	for (int i = 0; i < s->nreaders; i++)
		if (s->readers[i].db == db)
			r = &s->readers[i];
	pthread_mutex_lock(&s->readers_lock);
	r->next = s->free_reader;
	s->free_reader = r;
	pthread_cond_signal(&s->readers_free);
	pthread_mutex_unlock(&s->readers_lock);
}

static char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);

	if (p != NULL)
		snprintf(p, len, "%s/%s", dir, name);
	return p;
}

static int open_db(struct store *s, bool readonly, sqlite3 **out, struct fitd_error *err)
{
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	/*
	 * auto_vacuum before journal_mode: on a new file only the first write
	 * fixes it. journal_size_limit truncates a WAL grown past 64 MiB (a
	 * large deletion, a vacuum) back to that once it has been checkpointed.
	 */
	static const char writer_pragmas[] = "PRAGMA auto_vacuum=INCREMENTAL;"
					     "PRAGMA journal_mode=WAL;"
					     "PRAGMA synchronous=FULL;"
					     "PRAGMA foreign_keys=ON;"
					     "PRAGMA wal_autocheckpoint=1000;"
					     "PRAGMA journal_size_limit=67108864;";
	static const char reader_pragmas[] = "PRAGMA foreign_keys=ON;"
					     "PRAGMA wal_autocheckpoint=0;";
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(s->db_path, &db, flags, NULL);

	if (rc != SQLITE_OK) {
		rc = store__sqlite_error(db, rc, "open database", err);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, s->busy_timeout_ms);
	rc = store__exec(db, readonly ? reader_pragmas : writer_pragmas, err);
	if (rc != FITD_OK) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return FITD_OK;
}

static int make_layout(struct store *s, struct fitd_error *err)
{
	int rc = store_files_mkdirs(s->state_dir, err);

	if (rc == FITD_OK)
		rc = store_files_mkdirs(s->datasets_dir, err);
	if (rc == FITD_OK)
		rc = store_files_mkdirs(s->models_dir, err);
	if (rc == FITD_OK)
		rc = store_files_mkdirs(s->tmp_dir, err);
	if (rc == FITD_OK)
		rc = store_files_clear_dir(s->tmp_dir, err);
	return rc;
}

static int open_readers(struct store *s, int n, struct fitd_error *err)
{
	s->readers = calloc((size_t)n, sizeof(*s->readers));
	if (s->readers == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "reader pool");
	for (int i = 0; i < n; i++) {
		int rc = open_db(s, true, &s->readers[i].db, err);

		if (rc != FITD_OK)
			return rc;
		s->nreaders = i + 1;
		s->readers[i].next = s->free_reader;
		s->free_reader = &s->readers[i];
	}
	return FITD_OK;
}

static int open_sqlite(struct store *s, const struct store_options *opt, struct fitd_error *err)
{
	int rc;

	if (opt->location != NULL && opt->location[0] != '\0')
		return fitd_error_set(err, FITD_EINVAL, "invalid_store",
				      "store '%.80s' is neither empty (SQLite in the state "
				      "directory) nor a postgresql:// URI",
				      opt->location);
	rc = open_db(s, false, &s->writer, err);
	if (rc == FITD_OK)
		rc = store__migrate(s, err);
	if (rc == FITD_OK)
		rc = open_readers(s, opt->readers > 0 ? opt->readers : 4, err);
	if (rc == FITD_OK)
		rc = store__models_sweep(s, err);
	if (rc == FITD_OK)
		rc = store__disk_measure(s, err);
	return rc;
}

static int open_pg(struct store *s, const struct store_options *opt, struct fitd_error *err)
{
	int rc = store__pg_open(s, opt, err);

	if (rc == FITD_OK)
		rc = store__pg_migrate(s, err);
	if (rc == FITD_OK)
		rc = store__pg_models_sweep(s, err);
	if (rc == FITD_OK)
		rc = store__pg_disk_measure(s, err);
	return rc;
}

int store_open(const struct store_options *opt, struct store **out, struct fitd_error *err)
{
	struct store *s;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "store");
	pthread_mutex_init(&s->writer_lock, NULL);
	pthread_mutex_init(&s->readers_lock, NULL);
	pthread_cond_init(&s->readers_free, NULL);
	s->busy_timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
	s->metrics = opt->metrics;
	s->state_dir = strdup(opt->state_dir);
	s->db_path = path_join(opt->state_dir, "fitd.db");
	s->datasets_dir = path_join(opt->state_dir, "datasets");
	s->models_dir = path_join(opt->state_dir, "models");
	s->tmp_dir = path_join(opt->state_dir, "tmp");

	if (s->state_dir == NULL || s->db_path == NULL || s->datasets_dir == NULL ||
	    s->models_dir == NULL || s->tmp_dir == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "store paths");
	else
		rc = make_layout(s, err);
	if (rc == FITD_OK && store__pg_location(opt->location))
		rc = open_pg(s, opt, err);
	else if (rc == FITD_OK)
		rc = open_sqlite(s, opt, err);
	if (rc == FITD_OK)
		store__oof_sweep(s);
	if (rc != FITD_OK) {
		store_close(s);
		return rc;
	}
	*out = s;
	return FITD_OK;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	store__pg_close(s);
	for (int i = 0; i < s->nreaders; i++)
		sqlite3_close(s->readers[i].db);
	if (s->writer != NULL) {
		sqlite3_wal_checkpoint_v2(s->writer, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		if (sqlite3_close(s->writer) != SQLITE_OK)
			fitd_log_error("store_close", "reason=\"%s\"", sqlite3_errmsg(s->writer));
	}
	free(s->readers);
	pthread_cond_destroy(&s->readers_free);
	pthread_mutex_destroy(&s->readers_lock);
	pthread_mutex_destroy(&s->writer_lock);
	free(s->state_dir);
	free(s->db_path);
	free(s->datasets_dir);
	free(s->models_dir);
	free(s->tmp_dir);
	free(s);
}

const char *store_state_dir(const struct store *s)
{
	return s->state_dir;
}

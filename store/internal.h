/*
 * internal.h - what the store's .c files share and nothing outside store/
 * may use: the connections, the writer lock and statement helpers.
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

struct store_reader {
	sqlite3 *db;
	struct store_reader *next; /* free list; guarded by store.readers_lock */
};

struct store {
	char *state_dir;
	char *db_path;
	char *datasets_dir;
	char *models_dir;
	char *tmp_dir;

	pthread_mutex_t writer_lock;  /* held for the whole of each write transaction */
	sqlite3 *writer;	      /* guarded by writer_lock */
	int64_t write_start_ns;	      /* the open transaction's start; guarded by writer_lock */
	struct fitd_metrics *metrics; /* may be NULL */

	pthread_mutex_t readers_lock;
	pthread_cond_t readers_free;
	struct store_reader *readers;	  /* all of them, array of nreaders */
	struct store_reader *free_reader; /* guarded by readers_lock */
	int nreaders;
	int busy_timeout_ms;
};

/* Locks the writer and begins an IMMEDIATE transaction; *db is the writer. */
int store__write_begin(struct store *s, sqlite3 **db, struct fitd_error *err);

/*
 * Commits when rc is FITD_OK, otherwise rolls back; unlocks the writer.
 * Returns rc, or the commit's failure.
 */
int store__write_end(struct store *s, int rc, struct fitd_error *err);

/* Takes a read-only connection (waiting for a free one) and begins a read transaction. */
sqlite3 *store__read_begin(struct store *s);

/* Ends the read transaction and gives the connection back. */
void store__read_end(struct store *s, sqlite3 *db);

/* Prepares sql on db; FITD_ESTORE with SQLite's message on failure. */
int store__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct fitd_error *err);

/* Maps a failed SQLite result code to a fitd status with a message. */
int store__sqlite_error(sqlite3 *db, int sqlrc, const char *what, struct fitd_error *err);

/*
 * Duplicates column col of the current row as a heap string ("" for SQL
 * NULL); NULL only when memory runs out.
 */
char *store__column_strdup(sqlite3_stmt *st, int col);

/* A copy of the text of column col, NULL for SQL NULL; sets *oom when memory runs out. */
char *store__column_text_or_null(sqlite3_stmt *st, int col, bool *oom);

/*
 * Steps st: FITD_OK on a row, FITD_ENOTFOUND (err untouched) when there are
 * no more rows, otherwise SQLite's failure mapped with the message "what".
 */
int store__step_row(sqlite3 *db, sqlite3_stmt *st, const char *what, struct fitd_error *err);

/* Executes sql (no rows expected). */
int store__exec(sqlite3 *db, const char *sql, struct fitd_error *err);

/* Inserts an event inside the caller's write transaction; *id may be NULL. */
int store__event_insert(sqlite3 *db, const char *job_id, const char *type, const char *data,
			int64_t *id, struct fitd_error *err);

/* Inserts the row that makes a model file visible, inside the caller's transaction. */
int store__model_insert(sqlite3 *db, const char *model_id, const char *job_id, int64_t trial,
			int64_t bytes, struct fitd_error *err);

/* Removes model files no committed row points at; runs at open. */
int store__models_sweep(struct store *s, struct fitd_error *err);

/* Brings the database up to STORE_SCHEMA_VERSION; runs on the writer. */
int store__migrate(struct store *s, struct fitd_error *err);

#endif

/*
 * internal.h - what the store's .c files share and nothing outside store/
 * may use: the connections, the writer lock and statement helpers.
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "store/store.h"
#include "daemon/base/buf.h"

struct store_pg;

struct store_reader {
	sqlite3 *db;
	struct store_reader *next; /* free list; guarded by store.readers_lock */
};

struct store {
	struct store_pg *pg; /* the PostgreSQL engine (store/pg.h); NULL: SQLite */
	char *state_dir;
	char *db_path;
	char *datasets_dir;
	char *models_dir;
	char *tmp_dir;

	pthread_mutex_t writer_lock;  /* held for the whole of each write transaction */
	sqlite3 *writer;	      /* guarded by writer_lock */
	int64_t write_start_ns;	      /* the open transaction's start; guarded by writer_lock */
	struct fitd_metrics *metrics; /* may be NULL */
	char node[STORE_NODE_MAX];    /* "" until store_set_node(); read-only after */

	pthread_mutex_t readers_lock;
	pthread_cond_t readers_free;
	struct store_reader *readers;	  /* all of them, array of nreaders */
	struct store_reader *free_reader; /* guarded by readers_lock */
	int nreaders;
	int busy_timeout_ms;

	/* Bytes of the files of datasets/ and models/, kept as they come and go (disk.c). */
	_Atomic int64_t datasets_bytes;
	_Atomic int64_t models_bytes;
	atomic_uint_least64_t model_deletions; /* see store_model_deletions() */
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

/*
 * The Idempotency-Key rule, given what the engine's lookup of the owner's
 * key returned (rc FITD_OK with the job's id and spec when one has it):
 * the same spec is that job again (*existed), another spec a conflict, no
 * job nothing to say (FITD_OK, *existed untouched); other errors pass.
 */
int store__key_rule(int rc, const char *id, const char *old_spec, const char *spec, bool *existed,
		    struct fitd_error *err);

/* What store__list needs to know of the rows it lists. */
struct store__list_kind {
	/*
	 * The page: ?1 is the cursor (NULL for the first page), ?2 the row
	 * count to read (limit + 1), ?3 the filter (NULL for none).
	 */
	const char *page_sql;
	const char *cursor_sql; /* finds the cursor's row: "SELECT 1 FROM jobs WHERE id = ?" */
	const char *noun;	/* "job", in the invalid_cursor message */
	const char *what;	/* "list jobs", in the other messages */
	size_t size;		/* of one item */
	/* Fills item from the current row; on failure leaves nothing allocated. */
	int (*from_row)(sqlite3_stmt *st, void *item, struct fitd_error *err);
	void (*release)(void *item);
};

/*
 * One page of a list read by cursor, in one read transaction: checks that
 * after (may be NULL) names a row, then reads at most limit rows of the
 * kind's page after it, filtered by filter (may be NULL). On success *out
 * is a malloc'd array of *n items, for the caller to release one by one and
 * then free, and *more says whether a row past limit exists. On error *out
 * is NULL, *n 0 and *more false, with nothing left allocated; an unknown
 * cursor is FITD_EINVAL "invalid_cursor".
 */
int store__list(struct store *s, const struct store__list_kind *kind, const char *after,
		const char *filter, size_t limit, void **out, size_t *n, bool *more,
		struct fitd_error *err);

/* Executes sql (no rows expected). */
int store__exec(sqlite3 *db, const char *sql, struct fitd_error *err);

/* Inserts an event inside the caller's write transaction; *id may be NULL. */
int store__event_insert(sqlite3 *db, const char *job_id, const char *type, const char *data,
			int64_t *id, struct fitd_error *err);

/* Inserts the row that makes a model file visible, inside the caller's transaction. */
int store__model_insert(sqlite3 *db, const char *model_id, const char *job_id, int64_t trial,
			int64_t bytes, struct fitd_error *err);

/*
 * Inserts the facts of the n columns of dataset id (rows 0..n-1 of
 * dataset_columns) inside the caller's write transaction.
 */
int store__columns_insert(sqlite3 *db, const char *id, const struct store_column *cols, size_t n,
			  struct fitd_error *err);

/* Removes model files no committed row points at; runs at open. */
int store__models_sweep(struct store *s, struct fitd_error *err);

/*
 * Removes the out-of-fold folders of jobs that are gone (a crash between a
 * job's deletion and its folder's); none is fine (oof.c).
 */
void store__oof_sweep(struct store *s);

/*
 * Appends the first column (an id) of each row of st to ids, a struct
 * fitd_buf of char[STORE_ID_MAX] records; FITD_ENOMEM or the step's error.
 */
int store__collect_ids(sqlite3 *db, sqlite3_stmt *st, struct fitd_buf *ids, struct fitd_error *err);

/*
 * Inside the caller's write transaction: deletes model id when it has no
 * job and no alias holds it (an alias letting go of a model whose job was
 * deleted); *dropped tells whether it did.
 */
int store__model_drop_orphan(sqlite3 *db, const char *id, bool *dropped, struct fitd_error *err);

/*
 * After the commit that deleted their rows: counts the deletions (see
 * store_model_deletions()), then removes the n model files and fsyncs the
 * directory. A file that cannot be removed only leaks space until the next
 * store_open() sweeps it.
 */
void store__model_files_remove(struct store *s, const char (*ids)[STORE_ID_MAX], size_t n);

/* Adds delta bytes to the count of datasets/ (which 'd') or models/ ('m'). */
void store__disk_add(struct store *s, char which, int64_t delta);

/* Measures datasets/ and models/ once (at open, after the sweep). */
int store__disk_measure(struct store *s, struct fitd_error *err);

/* Brings the database up to STORE_SCHEMA_VERSION; runs on the writer. */
int store__migrate(struct store *s, struct fitd_error *err);

#endif

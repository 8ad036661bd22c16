/*
 * disk.c - what the state directory weighs, and giving the database's free
 * pages back to the file system.
 *
 * The dataset and model files are measured once at open (a walk of the two
 * directories) and from then on counted as the store publishes and removes
 * them, in two atomics, so GET /metrics and /readyz never walk a directory.
 * The database's size is two stat() calls (the file and its WAL), exact at
 * any moment.
 *
 * Deleting rows only moves their pages to SQLite's free list. The database
 * runs in incremental auto-vacuum mode (schema.c), so store_vacuum() can
 * truncate those pages off the end of the file: the retention timer calls
 * it in steps of a bounded number of pages, leaving the writer lock to
 * others between steps. In WAL mode the moved pages reach the database
 * file at a checkpoint, which store_vacuum() runs passively after each
 * step; journal_size_limit (store.c) then trims the WAL itself.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

void store_disk_usage(struct store *s, struct store_disk *out)
{
	char wal[PATH_MAX];

	snprintf(wal, sizeof(wal), "%s-wal", s->db_path);
	/* On PostgreSQL the database is on the server: not this node's disk. */
	out->database = s->pg != NULL ? 0 : file_size(s->db_path) + file_size(wal);
	out->datasets = atomic_load_explicit(&s->datasets_bytes, memory_order_relaxed);
	out->models = atomic_load_explicit(&s->models_bytes, memory_order_relaxed);
}

void store__disk_add(struct store *s, char which, int64_t delta)
{
	atomic_fetch_add_explicit(which == 'd' ? &s->datasets_bytes : &s->models_bytes, delta,
				  memory_order_relaxed);
}

/* The sizes of the regular files directly in dir, temporary ones included. */
static int dir_bytes(const char *dir, int64_t *total, struct fitd_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;

	*total = 0;
	if (d == NULL)
		return store_files_errno(err, errno, "opendir", dir);
	while ((de = readdir(d)) != NULL)
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			*total += (int64_t)st.st_size;
	closedir(d);
	return FITD_OK;
}

int store__disk_measure(struct store *s, struct fitd_error *err)
{
	int64_t datasets = 0, models = 0;
	int rc = dir_bytes(s->datasets_dir, &datasets, err);

	if (rc == FITD_OK)
		rc = dir_bytes(s->models_dir, &models, err);
	if (rc == FITD_OK) {
		atomic_store(&s->datasets_bytes, datasets);
		atomic_store(&s->models_bytes, models);
	}
	return rc;
}

/* The integer a one-row pragma reads on db; -1 when it cannot be read. */
static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_vacuum(struct store *s, int64_t max_pages, int64_t *freed, int64_t *left,
		 struct fitd_error *err)
{
	char sql[64];
	int64_t before, after;
	int rc = FITD_OK, sqlrc;

	if (s->pg != NULL) {
		/* PostgreSQL's autovacuum gives space back on its own. */
		if (freed != NULL)
			*freed = 0;
		if (left != NULL)
			*left = 0;
		return FITD_OK;
	}
	pthread_mutex_lock(&s->writer_lock);
	before = pragma_int(s->writer, "PRAGMA freelist_count");
	after = before;
	if (before > 0 && pragma_int(s->writer, "PRAGMA auto_vacuum") == 2) {
		/* Outside BEGIN: the pragma runs as its own write transaction. */
		snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%lld)",
			 (long long)(max_pages > 0 ? max_pages : 0));
		sqlrc = sqlite3_exec(s->writer, sql, NULL, NULL, NULL);
		if (sqlrc != SQLITE_OK)
			rc = store__sqlite_error(s->writer, sqlrc, "incremental vacuum", err);
		after = pragma_int(s->writer, "PRAGMA freelist_count");
		sqlite3_wal_checkpoint_v2(s->writer, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	pthread_mutex_unlock(&s->writer_lock);
	if (freed != NULL)
		*freed = before > after && after >= 0 ? before - after : 0;
	if (left != NULL)
		*left = after > 0 ? after : 0;
	return rc;
}

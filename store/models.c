/*
 * models.c - model files: written durably under a new id before the row
 * that points at them is committed, read back whole for serving, and
 * deleted the other way round: the row first, then the file.
 *
 * A model file whose row never committed (a crash between the two steps, or
 * a trial result fenced off as stale) or whose row was deleted (a crash
 * before the file went) is an orphan; store__models_sweep() removes
 * orphans at start.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_model_write(struct store *s, const char *text, size_t len, char id[STORE_ID_MAX],
		      struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_model_write(s, text, len, id, err);
	char tmp[PATH_MAX], final[PATH_MAX];
	size_t done = 0;
	int fd, rc = FITD_OK;

	store_id_new("mdl", id);
	snprintf(final, sizeof(final), "%s/%s", s->models_dir, id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->models_dir, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	while (rc == FITD_OK && done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = store_files_errno(err, errno, "write", tmp);
		else
			done += (size_t)w;
	}
	if (rc == FITD_OK)
		rc = store_files_publish(fd, tmp, final, err);
	close(fd);
	if (rc != FITD_OK)
		unlink(tmp);
	else
		store__disk_add(s, 'm', (int64_t)len);
	return rc;
}

static bool model_row_exists(struct store *s, const char *id)
{
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (store__prepare(db, "SELECT 1 FROM models WHERE id = ?", &st, NULL) == FITD_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return found;
}

int store_model_read(struct store *s, const char *id, char **text, size_t *len,
		     struct fitd_error *err)
{
	char path[PATH_MAX];
	struct stat sb;
	char *buf = NULL;
	size_t done = 0;
	int fd, rc = FITD_OK;

	*text = NULL;
	if (!store_id_valid("mdl", id) || (s->pg == NULL && !model_row_exists(s, id)))
		return fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				      "no model with id '%s'", id);
	if (s->pg != NULL)
		return store__pg_model_read(s, id, text, len, err);
	snprintf(path, sizeof(path), "%s/%s", s->models_dir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = store_files_errno(err, errno, "open", path);
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "model of %lld bytes",
				    (long long)sb.st_size);
		goto out;
	}
	while (done < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)sb.st_size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = store_files_errno(err, r < 0 ? errno : EIO, "read", path);
			goto out;
		}
		done += (size_t)r;
	}
	buf[done] = '\0';
	*text = buf;
	*len = done;
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int store__models_sweep(struct store *s, struct fitd_error *err)
{
	DIR *d = opendir(s->models_dir);
	struct dirent *de;

	if (d == NULL)
		return store_files_errno(err, errno, "opendir", s->models_dir);
	while ((de = readdir(d)) != NULL) {
		bool tmp = de->d_name[0] == '.' && strstr(de->d_name, ".tmp") != NULL;

		if (de->d_name[0] == '.' && !tmp)
			continue;
		if (tmp || !store_id_valid("mdl", de->d_name) || !model_row_exists(s, de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return FITD_OK;
}

uint64_t store_model_deletions(struct store *s)
{
	return atomic_load_explicit(&s->model_deletions, memory_order_acquire);
}

int store__collect_ids(sqlite3 *db, sqlite3_stmt *st, struct fitd_buf *ids, struct fitd_error *err)
{
	const unsigned char *text;
	char *id;
	int rc;

	while ((rc = store__step_row(db, st, "read ids", err)) == FITD_OK) {
		id = fitd_buf_grow(ids, STORE_ID_MAX);
		if (id == NULL)
			return fitd_error_set(err, fitd_buf_status(ids), NULL, "model ids");
		text = sqlite3_column_text(st, 0);
		snprintf(id, STORE_ID_MAX, "%s", text ? (const char *)text : "");
	}
	return rc == FITD_ENOTFOUND ? FITD_OK : rc;
}

int store__model_drop_orphan(sqlite3 *db, const char *id, bool *dropped, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"DELETE FROM models WHERE id = ?1 AND job_id IS NULL"
				" AND NOT EXISTS (SELECT 1 FROM aliases WHERE model_id = ?1)",
				&st, err);

	*dropped = false;
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "delete model", err);
	else
		*dropped = sqlite3_changes(db) > 0;
	sqlite3_finalize(st);
	return rc;
}

void store__model_files_remove(struct store *s, const char (*ids)[STORE_ID_MAX], size_t n)
{
	char path[PATH_MAX];
	struct stat sb;
	size_t removed = 0;

	if (n == 0)
		return;
	atomic_fetch_add_explicit(&s->model_deletions, 1, memory_order_release);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->models_dir, ids[i]);
		if (stat(path, &sb) != 0 || unlink(path) != 0)
			continue;
		store__disk_add(s, 'm', -(int64_t)sb.st_size);
		removed++;
	}
	if (removed > 0)
		store_files_sync_dir(s->models_dir, NULL);
}

/* FITD_ECONFLICT model_in_use when an alias or a job's best holds model id. */
static int model_free_to_go(sqlite3 *db, const char *id, struct fitd_error *err)
{
	const char *kind, *holder;
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT 'alias', name FROM aliases WHERE model_id = ?1"
				" UNION ALL SELECT state, id FROM jobs WHERE best_model_id = ?1"
				" LIMIT 1",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "model holders", err);
	kind = rc == FITD_OK ? (const char *)sqlite3_column_text(st, 0) : NULL;
	holder = rc == FITD_OK ? (const char *)sqlite3_column_text(st, 1) : NULL;
	if (rc == FITD_OK && kind != NULL && strcmp(kind, "alias") == 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "model_in_use",
				    "model %s is held by alias '%s'; point the alias at another "
				    "model or delete it first",
				    id, holder ? holder : "?");
	else if (rc == FITD_OK)
		rc = fitd_error_set(err, FITD_ECONFLICT, "model_in_use",
				    "model %s is the best model of job %s (%s); deleting the job "
				    "removes it",
				    id, holder ? holder : "?", kind ? kind : "?");
	else if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	sqlite3_finalize(st);
	return rc;
}

static int model_delete_row(sqlite3 *db, const char *id, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = model_free_to_go(db, id, err);

	if (rc == FITD_OK)
		rc = store__prepare(db, "DELETE FROM models WHERE id = ?", &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "delete model", err);
	else if (sqlite3_changes(db) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_not_found", "no model with id '%s'",
				    id);
	sqlite3_finalize(st);
	return rc;
}

int store_model_delete(struct store *s, const char *id, struct fitd_error *err)
{
	char ids[1][STORE_ID_MAX];
	sqlite3 *db;
	int rc;

	if (!store_id_valid("mdl", id))
		return fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				      "no model with id '%.64s'", id);
	if (s->pg != NULL)
		return store__pg_model_delete(s, id, err);
	snprintf(ids[0], sizeof(ids[0]), "%s", id);
	rc = store__write_begin(s, &db, err);
	if (rc == FITD_OK)
		rc = store__write_end(s, model_delete_row(db, id, err), err);
	if (rc == FITD_OK)
		store__model_files_remove(s, (const char(*)[STORE_ID_MAX])ids, 1);
	return rc;
}

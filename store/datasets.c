/*
 * datasets.c - dataset rows and files, and the upload that creates them.
 *
 * An upload streams the request body into tmp/ (its space reserved up front
 * with fallocate, hashed as it arrives), parses it, writes the dataset file
 * under a temporary name in datasets/, fsyncs and renames it, fsyncs the
 * directory, and only then commits the row. A crash at any point before the
 * commit leaves at most an orphan file that no row points at: tmp/ is
 * cleared at start and orphans in datasets/ are never listed. Deletion goes
 * the other way: the row first, then the file. The column facts the caller
 * gives an upload (columns.c) are committed in the row's transaction.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sha256.h"

#define DATASET_COLUMNS "id, name, rows, cols, bytes, sha256, columns, created_at"

struct store_upload {
	struct store *store;
	int fd;
	char path[PATH_MAX];
	uint64_t expected;
	uint64_t received;
	struct store_sha256 sha;
	struct fit_frame *frame;
	struct store_column *cols; /* the facts to commit with the row, or NULL */
	size_t ncols;
};

void store_dataset_release(struct store_dataset *d)
{
	if (d == NULL)
		return;
	free(d->name);
	free(d->columns_json);
	d->name = NULL;
	d->columns_json = NULL;
}

/* FITD_ENOMEM (with *d released) when a string cannot be copied. */
static int dataset_from_row(sqlite3_stmt *st, void *item, struct fitd_error *err)
{
	struct store_dataset *d = item;

	snprintf(d->id, sizeof(d->id), "%s", (const char *)sqlite3_column_text(st, 0));
	d->name = store__column_strdup(st, 1);
	d->rows = sqlite3_column_int64(st, 2);
	d->cols = sqlite3_column_int64(st, 3);
	d->bytes = sqlite3_column_int64(st, 4);
	snprintf(d->sha256, sizeof(d->sha256), "%s", (const char *)sqlite3_column_text(st, 5));
	d->columns_json = store__column_strdup(st, 6);
	d->created_at = sqlite3_column_int64(st, 7);
	if (d->name == NULL || d->columns_json == NULL) {
		store_dataset_release(d);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "dataset row");
	}
	return FITD_OK;
}

static void dataset_release_item(void *item)
{
	store_dataset_release(item);
}

int store_dataset_get(struct store *s, const char *id, struct store_dataset *out,
		      struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_dataset_get(s, id, out, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, "SELECT " DATASET_COLUMNS " FROM datasets WHERE id = ?", &st,
				err);

	if (rc != FITD_OK)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read dataset", err);
	if (rc == FITD_OK)
		rc = dataset_from_row(st, out, err);
	else if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
out:
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

static const struct store__list_kind dataset_list = {
	.page_sql = "SELECT " DATASET_COLUMNS " FROM datasets"
		    " WHERE ?1 IS NULL OR seq > (SELECT seq FROM datasets WHERE id = ?1)"
		    " ORDER BY seq LIMIT ?2",
	.cursor_sql = "SELECT 1 FROM datasets WHERE id = ?",
	.noun = "dataset",
	.what = "list datasets",
	.size = sizeof(struct store_dataset),
	.from_row = dataset_from_row,
	.release = dataset_release_item,
};

int store_dataset_list(struct store *s, const char *after, size_t limit, struct store_dataset **out,
		       size_t *n, bool *more, struct fitd_error *err)
{
	void *items;
	int rc;

	if (s->pg != NULL)
		return store__pg_dataset_list(s, after, limit, out, n, more, err);
	rc = store__list(s, &dataset_list, after, NULL, limit, &items, n, more, err);

	*out = items;
	return rc;
}

int store_dataset_path(const struct store *s, const char *id, char *buf, size_t cap,
		       struct fitd_error *err)
{
	int n;

	/* The PostgreSQL engine's cache changes under a const store: only its pool is used. */
	if (s->pg != NULL)
		return store__pg_dataset_path((struct store *)s, id, buf, cap, err);
	n = snprintf(buf, cap, "%s/%s", s->datasets_dir, id);
	if (n < 0 || (size_t)n >= cap)
		return fitd_error_set(err, FITD_EINVAL, NULL, "dataset path too long");
	return FITD_OK;
}

/* The size of the file at path, 0 when it cannot be read. */
static int64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Removes a dataset file and takes it off the count of datasets/; false when it was not there. */
static bool remove_file(struct store *s, const char *path)
{
	int64_t bytes = file_bytes(path);

	if (unlink(path) != 0)
		return false;
	store__disk_add(s, 'd', -bytes);
	return true;
}

static int delete_row(sqlite3 *db, const char *id, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT count(*) FROM jobs WHERE dataset_id = ?"
				" AND state IN ('queued', 'running')",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "dataset_in_use",
				    "dataset '%s' is used by %lld queued or running job(s)", id,
				    (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(db, "DELETE FROM datasets WHERE id = ?", &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "delete dataset", err);
	else if (sqlite3_changes(db) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	sqlite3_finalize(st);
	return rc;
}

int store_dataset_delete(struct store *s, const char *id, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_dataset_delete(s, id, err);
	char path[PATH_MAX];
	sqlite3 *db;
	int rc = store_dataset_path(s, id, path, sizeof(path), err);

	if (rc != FITD_OK)
		return rc;
	rc = store__write_begin(s, &db, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__write_end(s, delete_row(db, id, err), err);
	if (rc != FITD_OK)
		return rc;
	/* The row is gone, so the file is unreachable: a failure here only leaks space. */
	if (remove_file(s, path))
		store_files_sync_dir(s->datasets_dir, NULL);
	return FITD_OK;
}

int store_upload_begin(struct store *s, uint64_t expected_bytes, struct store_upload **out,
		       struct fitd_error *err)
{
	struct store_upload *up;
	char id[STORE_ID_MAX];
	int rc;

	*out = NULL;
	up = calloc(1, sizeof(*up));
	if (up == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "upload");
	up->store = s;
	up->expected = expected_bytes;
	up->fd = -1;
	store_sha256_init(&up->sha);
	store_id_new("upload", id);
	snprintf(up->path, sizeof(up->path), "%s/%s.csv", s->tmp_dir, id);
	up->fd = open(up->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (up->fd < 0) {
		rc = store_files_errno(err, errno, "create", up->path);
		goto fail;
	}
	if (expected_bytes > 0) {
		rc = posix_fallocate(up->fd, 0, (off_t)expected_bytes);
		if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
			rc = store_files_errno(err, rc, "reserve space for", "upload");
			goto fail;
		}
	}
	*out = up;
	return FITD_OK;
fail:
	store_upload_free(up);
	return rc;
}

int store_upload_write(struct store_upload *up, const void *data, size_t len,
		       struct fitd_error *err)
{
	const char *p = data;
	size_t left = len;

	while (left > 0) {
		ssize_t w = write(up->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return store_files_errno(err, errno, "write", "upload");
		p += w;
		left -= (size_t)w;
	}
	store_sha256_update(&up->sha, data, len);
	up->received += len;
	return FITD_OK;
}

int store_upload_parse(struct store_upload *up, const struct store_csv_options *opt,
		       const struct fit_frame **frame, struct fitd_error *err)
{
	int rc;

	/* fallocate may have reserved more than arrived; parse only what did. */
	if (ftruncate(up->fd, (off_t)up->received) != 0)
		return store_files_errno(err, errno, "truncate", up->path);
	rc = store_csv_parse_file(up->path, opt, &up->frame, err);
	if (rc == FITD_OK)
		*frame = up->frame;
	return rc;
}

int store_upload_set_columns(struct store_upload *up, const struct store_column *cols, size_t n,
			     struct fitd_error *err)
{
	struct store_column *copy;
	size_t i;

	if (up->frame == NULL || n != up->frame->ncols)
		return fitd_error_set(err, FITD_EINVAL, NULL, "column facts: %zu for %zu columns",
				      n, up->frame ? up->frame->ncols : 0);
	copy = calloc(n ? n : 1, sizeof(*copy));
	for (i = 0; copy != NULL && i < n; i++) {
		copy[i] = cols[i];
		copy[i].name = strdup(cols[i].name);
		if (copy[i].name == NULL)
			break;
	}
	if (copy == NULL || i < n) {
		store_columns_free(copy, i);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "column facts: out of memory");
	}
	store_columns_free(up->cols, up->ncols);
	up->cols = copy;
	up->ncols = n;
	return FITD_OK;
}

static int insert_row(sqlite3 *db, const struct store_dataset *d, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"INSERT INTO datasets (" DATASET_COLUMNS ")"
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, d->rows);
	sqlite3_bind_int64(st, 4, d->cols);
	sqlite3_bind_int64(st, 5, d->bytes);
	sqlite3_bind_text(st, 6, d->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->columns_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, d->created_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "insert dataset", err);
	sqlite3_finalize(st);
	return rc;
}

/* The dataset's row and, when the upload has them, its column facts. */
static int insert_dataset(sqlite3 *db, const struct store_upload *up, const struct store_dataset *d,
			  struct fitd_error *err)
{
	int rc = insert_row(db, d, err);

	if (rc == FITD_OK && up->cols != NULL)
		rc = store__columns_insert(db, d->id, up->cols, up->ncols, err);
	return rc;
}

static int write_dataset_file(struct store_upload *up, const char *id, struct fitd_error *err)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, rc;

	rc = store_dataset_path(up->store, id, final, sizeof(final), err);
	if (rc != FITD_OK)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", up->store->datasets_dir, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	rc = fit_frame_write(up->frame, fd, err);
	if (rc == FITD_OK)
		rc = store_files_publish(fd, tmp, final, err);
	if (rc == FITD_OK)
		store__disk_add(up->store, 'd', file_bytes(final));
	close(fd);
	if (rc != FITD_OK)
		unlink(tmp);
	return rc;
}

/*
 * The PostgreSQL engine: the file goes to the cache under a temporary name
 * (a copy only, so no fsync), then the engine stores it with the row.
 */
static int commit_pg(struct store_upload *up, struct store_dataset *d, struct fitd_error *err)
{
	struct store *s = up->store;
	char tmp[PATH_MAX];
	int fd, rc;

	rc = store_files_mkdirs(store__pg_cache_dir(s), err);
	if (rc != FITD_OK)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", store__pg_cache_dir(s), d->id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	rc = fit_frame_write(up->frame, fd, err);
	close(fd);
	if (rc != FITD_OK) {
		unlink(tmp);
		return rc;
	}
	return store__pg_dataset_commit(s, tmp, d, up->cols, up->ncols, err);
}

int store_upload_commit(struct store_upload *up, const char *name, const char *columns_json,
			struct store_dataset *out, struct fitd_error *err)
{
	struct store_dataset d = { 0 };
	char path[PATH_MAX];
	sqlite3 *db;
	int rc;

	/* Copied first: once the row is committed nothing may fail. */
	d.name = strdup(name);
	d.columns_json = strdup(columns_json);
	if (d.name == NULL || d.columns_json == NULL) {
		store_dataset_release(&d);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "dataset description");
	}
	store_id_new("ds", d.id);
	d.rows = (int64_t)up->frame->nrows;
	d.cols = (int64_t)up->frame->ncols;
	d.bytes = (int64_t)up->received;
	store_sha256_final_hex(&up->sha, d.sha256);
	d.created_at = store_now_ms();

	if (up->store->pg != NULL) {
		rc = commit_pg(up, &d, err);
		if (rc == FITD_OK)
			*out = d;
		else
			store_dataset_release(&d);
		return rc;
	}
	rc = write_dataset_file(up, d.id, err);
	if (rc != FITD_OK) {
		store_dataset_release(&d);
		return rc;
	}
	rc = store__write_begin(up->store, &db, err);
	if (rc == FITD_OK)
		rc = store__write_end(up->store, insert_dataset(db, up, &d, err), err);
	if (rc != FITD_OK) {
		if (store_dataset_path(up->store, d.id, path, sizeof(path), NULL) == FITD_OK)
			remove_file(up->store, path);
		store_dataset_release(&d);
		return rc;
	}
	*out = d;
	return FITD_OK;
}

void store_upload_free(struct store_upload *up)
{
	if (up == NULL)
		return;
	if (up->fd >= 0) {
		close(up->fd);
		unlink(up->path);
	}
	fit_frame_free(up->frame);
	store_columns_free(up->cols, up->ncols);
	free(up);
}

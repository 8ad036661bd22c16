/*
 * pg_datasets.c - datasets and their column facts on PostgreSQL, and the
 * local cache of dataset files.
 *
 * An upload writes the dataset file (worker/fit/frame.h format) under a
 * temporary name in STATE/cache/, then one transaction commits its row, its
 * column facts and the file itself as 1 MiB bytea chunks, with the file's
 * sha256 on the row; only then is the file renamed to cache/<sha256>. Any
 * node that needs the file and has no copy (store__pg_dataset_path())
 * fetches the chunks into a temporary file, checks size and checksum, and
 * renames it into the cache. Identical files share one cache entry; the
 * entry goes when this node deletes the last dataset that uses it.
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

#define CHUNK_BYTES (1 << 20)

#define DATASET_COLUMNS "id, name, rows, cols, bytes, sha256, columns, created_at"

static int dataset_from_row(const PGresult *r, int row, void *item, struct fitd_error *err)
{
	struct store_dataset *d = item;

	store__pg_copy_id(d->id, r, row, 0);
	d->name = store__pg_strdup(r, row, 1);
	d->rows = store__pg_get_i64(r, row, 2);
	d->cols = store__pg_get_i64(r, row, 3);
	d->bytes = store__pg_get_i64(r, row, 4);
	snprintf(d->sha256, sizeof(d->sha256), "%s", PQgetvalue(r, row, 5));
	d->columns_json = store__pg_strdup(r, row, 6);
	d->created_at = store__pg_get_i64(r, row, 7);
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

int store__pg_dataset_get(struct store *s, const char *id, struct store_dataset *out,
			  struct fitd_error *err)
{
	static const char sql[] = "SELECT " DATASET_COLUMNS " FROM datasets WHERE id = $1";
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 1, &id, &r, "read dataset", err);
	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	else if (rc == FITD_OK)
		rc = dataset_from_row(r, 0, out, err);
	PQclear(r);
	store__pg_give(s, c);
	return rc;
}

static const struct pg_list_kind dataset_list = {
	.page_sql = "SELECT " DATASET_COLUMNS " FROM datasets"
		    " WHERE ($1::text IS NULL OR seq > (SELECT seq FROM datasets WHERE id = $1))"
		    " AND $3::text IS NULL ORDER BY seq LIMIT $2",
	.cursor_sql = "SELECT 1 FROM datasets WHERE id = $1",
	.noun = "dataset",
	.what = "list datasets",
	.size = sizeof(struct store_dataset),
	.from_row = dataset_from_row,
	.release = dataset_release_item,
};

int store__pg_dataset_list(struct store *s, const char *after, size_t limit,
			   struct store_dataset **out, size_t *n, bool *more,
			   struct fitd_error *err)
{
	void *items;
	int rc = store__pg_list(s, &dataset_list, after, NULL, limit, &items, n, more, err);

	*out = items;
	return rc;
}

/* cache/<sha256> into buf; FITD_EINVAL when it does not fit. */
static int cache_path(struct store *s, const char *sha, char *buf, size_t cap,
		      struct fitd_error *err)
{
	int n = snprintf(buf, cap, "%s/%s", s->pg->cache_dir, sha);

	if (n < 0 || (size_t)n >= cap)
		return fitd_error_set(err, FITD_EINVAL, NULL, "dataset path too long");
	return FITD_OK;
}

/* The file's checksum and size as stored; FITD_ENOTFOUND dataset_not_found. */
static int file_facts(struct pg_conn *c, const char *id, char sha[STORE_SHA256_HEX], int64_t *bytes,
		      struct fitd_error *err)
{
	static const char sql[] = "SELECT file_sha256, file_bytes FROM datasets WHERE id = $1";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "read dataset", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	if (rc == FITD_OK) {
		snprintf(sha, STORE_SHA256_HEX, "%s", PQgetvalue(r, 0, 0));
		*bytes = store__pg_get_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

static int write_all(int fd, const char *p, size_t len, const char *path, struct fitd_error *err)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return store_files_errno(err, errno, "write", path);
		p += w;
		len -= (size_t)w;
	}
	return FITD_OK;
}

/* Writes the chunks of dataset id to fd, checking their size and checksum. */
static int fetch_chunks(struct pg_conn *c, const char *id, int fd, const char *tmp, const char *sha,
			int64_t bytes, struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT data FROM dataset_chunks WHERE dataset_id = $1 AND n = $2";
	struct store_sha256 h;
	char nbuf[24], got[STORE_SHA256_HEX];
	int64_t total = 0;
	int rc = FITD_OK;

	store_sha256_init(&h);
	for (int64_t n = 0; rc == FITD_OK; n++) {
		const char *v[2] = { id, store__pg_i64(nbuf, n) };
		PGresult *r = NULL;

		rc = store__pg_run(c, sql, 2, v, NULL, NULL, true, &r, "fetch dataset", err);
		if (rc == FITD_OK && PQntuples(r) == 0) {
			PQclear(r);
			break;
		}
		if (rc == FITD_OK) {
			size_t len = (size_t)PQgetlength(r, 0, 0);

			store_sha256_update(&h, PQgetvalue(r, 0, 0), len);
			total += (int64_t)len;
			rc = write_all(fd, PQgetvalue(r, 0, 0), len, tmp, err);
		}
		PQclear(r);
	}
	if (rc != FITD_OK)
		return rc;
	store_sha256_final_hex(&h, got);
	if (total != bytes || strcmp(got, sha) != 0)
		return fitd_error_set(err, FITD_EIO, "dataset_corrupt",
				      "dataset %s: the stored file does not match its checksum",
				      id);
	return FITD_OK;
}

/* Fetches dataset id's file into the cache as path. */
static int fetch(struct store *s, struct pg_conn *c, const char *id, const char *path,
		 const char *sha, int64_t bytes, struct fitd_error *err)
{
	char tmp[PATH_MAX], rnd[STORE_ID_MAX];
	int fd, rc;

	store_id_new("fetch", rnd);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->pg->cache_dir, rnd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	rc = fetch_chunks(c, id, fd, tmp, sha, bytes, err);
	/* Two threads may fetch one file at once: both renames give the same bytes. */
	if (rc == FITD_OK)
		rc = store_files_publish(fd, tmp, path, err);
	close(fd);
	if (rc != FITD_OK)
		unlink(tmp);
	return rc;
}

int store__pg_dataset_path(struct store *s, const char *id, char *buf, size_t cap,
			   struct fitd_error *err)
{
	char sha[STORE_SHA256_HEX];
	struct pg_conn *c;
	struct stat st;
	int64_t bytes = 0;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = file_facts(c, id, sha, &bytes, err);
	if (rc == FITD_OK)
		rc = cache_path(s, sha, buf, cap, err);
	if (rc == FITD_OK && (stat(buf, &st) != 0 || st.st_size != bytes))
		rc = fetch(s, c, id, buf, sha, bytes, err);
	store__pg_give(s, c);
	return rc;
}

int store__pg_dataset_delete(struct store *s, const char *id, struct fitd_error *err)
{
	static const char lock_sql[] =
	    "SELECT file_sha256, file_bytes FROM datasets WHERE id = $1 FOR UPDATE";
	static const char busy_sql[] = "SELECT count(*) FROM jobs WHERE dataset_id = $1"
				       " AND state IN ('queued', 'running')";
	static const char del_sql[] = "DELETE FROM datasets WHERE id = $1";
	static const char left_sql[] = "SELECT count(*) FROM datasets WHERE file_sha256 = $1";
	char sha[STORE_SHA256_HEX] = "", path[PATH_MAX];
	int64_t bytes = 0, users = 0, left = 1;
	const char *v[1] = { id };
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	/* The row lock waits for a job being created on it (FOR SHARE there) to commit. */
	rc = store__pg_exec(c, lock_sql, 1, v, &r, "delete dataset", err);
	if (rc == FITD_OK && PQntuples(r) > 0) {
		snprintf(sha, sizeof(sha), "%s", PQgetvalue(r, 0, 0));
		bytes = store__pg_get_i64(r, 0, 1);
	}
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK)
		rc = store__pg_exec(c, busy_sql, 1, v, &r, "delete dataset", err);
	if (rc == FITD_OK)
		users = store__pg_get_i64(r, 0, 0);
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK && users > 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "dataset_in_use",
				    "dataset '%s' is used by %lld queued or running job(s)", id,
				    (long long)users);
	else if (rc == FITD_OK && sha[0] == '\0')
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, del_sql, 1, v, NULL, "delete dataset", err);
	v[0] = sha;
	if (rc == FITD_OK)
		rc = store__pg_exec(c, left_sql, 1, v, &r, "delete dataset", err);
	if (rc == FITD_OK)
		left = store__pg_get_i64(r, 0, 0);
	PQclear(r);
	r = NULL;
	rc = store__pg_end(s, c, rc, err);
	if (rc != FITD_OK)
		return rc;
	store__disk_add(s, 'd', -bytes);
	/* The row is gone: a cache file left behind only takes space. */
	if (left == 0 && cache_path(s, sha, path, sizeof(path), NULL) == FITD_OK)
		unlink(path);
	return FITD_OK;
}

/* ---- column facts ---- */

static int columns_insert(struct pg_conn *c, const char *id, const struct store_column *cols,
			  size_t n, struct fitd_error *err)
{
	static const char sql[] =
	    "INSERT INTO dataset_columns (dataset_id, idx, name, is_numeric, levels,"
	    " missing, integer_valued, distinct_values) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
	int rc = FITD_OK;

	for (size_t i = 0; rc == FITD_OK && i < n; i++) {
		const struct store_column *col = &cols[i];
		char b[4][24];
		const char *v[8] = { id,
				     store__pg_i64(b[0], (int64_t)i),
				     col->name,
				     col->numeric ? "t" : "f",
				     store__pg_i64(b[1], col->levels),
				     store__pg_i64(b[2], col->missing),
				     col->integer_valued ? "t" : "f",
				     store__pg_i64(b[3], col->distinct) };

		rc = store__pg_cmd(c, sql, 8, v, NULL, "insert column facts", err);
	}
	return rc;
}

/* Reads the facts of r's rows (rows, cols, then one column's facts or NULLs). */
static int read_columns(const PGresult *r, int64_t *rows, struct store_column **cols, size_t *n,
			struct fitd_error *err)
{
	int nrows = PQntuples(r);
	size_t want;
	struct store_column *out;

	if (nrows == 0)
		return FITD_OK; /* *rows stays negative: no such dataset */
	*rows = store__pg_get_i64(r, 0, 0);
	want = (size_t)store__pg_get_i64(r, 0, 1);
	/* Facts that do not cover every column count as none kept. */
	if (PQgetisnull(r, 0, 2) || (size_t)nrows != want)
		return FITD_OK;
	out = calloc(want ? want : 1, sizeof(*out));
	if (out == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "column facts: out of memory");
	for (size_t i = 0; i < want; i++) {
		struct store_column *col = &out[i];

		col->name = store__pg_strdup(r, (int)i, 2);
		if (col->name == NULL) {
			store_columns_free(out, i);
			return fitd_error_set(err, FITD_ENOMEM, NULL,
					      "column facts: out of memory");
		}
		col->numeric = store__pg_get_bool(r, (int)i, 3);
		col->levels = store__pg_get_i64(r, (int)i, 4);
		col->missing = store__pg_get_i64(r, (int)i, 5);
		col->integer_valued = store__pg_get_bool(r, (int)i, 6);
		col->distinct = store__pg_get_i64(r, (int)i, 7);
	}
	*cols = out;
	*n = want;
	return FITD_OK;
}

int store__pg_dataset_columns(struct store *s, const char *id, int64_t *rows,
			      struct store_column **cols, size_t *n, struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT d.rows, d.cols, c.name, c.is_numeric, c.levels, c.missing,"
	    " c.integer_valued, c.distinct_values FROM datasets d"
	    " LEFT JOIN dataset_columns c ON c.dataset_id = d.id WHERE d.id = $1 ORDER BY c.idx";
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc;

	*rows = -1;
	*cols = NULL;
	*n = 0;
	rc = store__pg_take(s, &c, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 1, &id, &r, "read column facts", err);
	if (rc == FITD_OK)
		rc = read_columns(r, rows, cols, n, err);
	if (rc == FITD_OK && *rows < 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	PQclear(r);
	store__pg_give(s, c);
	return rc;
}

static int set_columns(struct pg_conn *c, const char *id, const struct store_column *cols, size_t n,
		       struct fitd_error *err)
{
	static const char sql[] = "SELECT cols, EXISTS (SELECT 1 FROM dataset_columns"
				  " WHERE dataset_id = $1) FROM datasets WHERE id = $1 FOR UPDATE";
	PGresult *r = NULL;
	int64_t ncols = 0;
	bool kept = false;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "read dataset", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", id);
	else if (rc == FITD_OK) {
		ncols = store__pg_get_i64(r, 0, 0);
		kept = store__pg_get_bool(r, 0, 1);
	}
	PQclear(r);
	if (rc == FITD_OK && ncols != (int64_t)n)
		rc = fitd_error_set(err, FITD_EINVAL, NULL,
				    "dataset '%s' has %lld columns, not %zu", id, (long long)ncols,
				    n);
	if (rc == FITD_OK && !kept)
		rc = columns_insert(c, id, cols, n, err);
	return rc;
}

int store__pg_dataset_set_columns(struct store *s, const char *id, const struct store_column *cols,
				  size_t n, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, set_columns(c, id, cols, n, err), err);
}

/* ---- commit of an upload ---- */

int store__pg_dataset_chunks(struct pg_conn *c, const char *id, const char *path,
			     char sha[STORE_SHA256_HEX], int64_t *bytes, struct fitd_error *err)
{
	static const char sql[] = "INSERT INTO dataset_chunks (dataset_id, n, data)"
				  " VALUES ($1, $2, $3)";
	static const int fmts[3] = { 0, 0, 1 };
	struct store_sha256 h;
	char *chunk = malloc(CHUNK_BYTES);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int64_t n = 0;
	int rc = FITD_OK;

	*bytes = 0;
	store_sha256_init(&h);
	if (chunk == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "dataset chunk");
	else if (fd < 0)
		rc = store_files_errno(err, errno, "open", path);
	while (rc == FITD_OK) {
		ssize_t got = read(fd, chunk, CHUNK_BYTES);
		char nbuf[24];
		const char *v[3] = { id, store__pg_i64(nbuf, n), chunk };
		int lens[3] = { 0, 0, (int)got };

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = store_files_errno(err, errno, "read", path);
		if (got <= 0)
			break;
		store_sha256_update(&h, chunk, (size_t)got);
		*bytes += got;
		rc = store__pg_run(c, sql, 3, v, lens, fmts, false, NULL, "store dataset", err);
		n++;
	}
	if (rc == FITD_OK)
		store_sha256_final_hex(&h, sha);
	if (fd >= 0)
		close(fd);
	free(chunk);
	return rc;
}

static int commit_in_tx(struct pg_conn *c, const char *path, const struct store_dataset *d,
			const struct store_column *cols, size_t ncols, char sha[STORE_SHA256_HEX],
			int64_t *bytes, struct fitd_error *err)
{
	static const char insert_sql[] =
	    "INSERT INTO datasets (" DATASET_COLUMNS ", file_sha256, file_bytes)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, fitd_now_ms(), '', 0) RETURNING created_at";
	static const char file_sql[] =
	    "UPDATE datasets SET file_sha256 = $2, file_bytes = $3 WHERE id = $1";
	char b[3][24];
	const char *v[7] = { d->id,
			     d->name,
			     store__pg_i64(b[0], d->rows),
			     store__pg_i64(b[1], d->cols),
			     store__pg_i64(b[2], d->bytes),
			     d->sha256,
			     d->columns_json };
	int rc = store__pg_cmd(c, insert_sql, 7, v, NULL, "insert dataset", err);

	if (rc == FITD_OK && cols != NULL)
		rc = columns_insert(c, d->id, cols, ncols, err);
	if (rc == FITD_OK)
		rc = store__pg_dataset_chunks(c, d->id, path, sha, bytes, err);
	v[1] = sha;
	v[2] = store__pg_i64(b[0], *bytes);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, file_sql, 3, v, NULL, "insert dataset", err);
	return rc;
}

int store__pg_dataset_commit(struct store *s, const char *path, struct store_dataset *d,
			     const struct store_column *cols, size_t ncols, struct fitd_error *err)
{
	static const char when_sql[] = "SELECT created_at FROM datasets WHERE id = $1";
	char sha[STORE_SHA256_HEX], final[PATH_MAX];
	const char *v[1] = { d->id };
	struct pg_conn *c;
	PGresult *r = NULL;
	int64_t bytes = 0;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc == FITD_OK) {
		rc = commit_in_tx(c, path, d, cols, ncols, sha, &bytes, err);
		if (rc == FITD_OK)
			rc = store__pg_exec(c, when_sql, 1, v, &r, "insert dataset", err);
		if (rc == FITD_OK)
			d->created_at = store__pg_get_i64(r, 0, 0);
		PQclear(r);
		rc = store__pg_end(s, c, rc, err);
	}
	if (rc != FITD_OK) {
		unlink(path);
		return rc;
	}
	store__disk_add(s, 'd', bytes);
	/* Committed: the cache entry is only a copy, so failing to keep it is no error. */
	if (cache_path(s, sha, final, sizeof(final), NULL) != FITD_OK || rename(path, final) != 0)
		unlink(path);
	return FITD_OK;
}

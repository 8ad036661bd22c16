/*
 * pg_models.c - models, aliases and deleting jobs on PostgreSQL (models.c,
 * aliases.c and jobs_delete.c say what each function promises).
 *
 * A model's text is stored by store_model_write() in its own committed
 * transaction (model_files and 1 MiB bytea model_chunks, with its sha256);
 * the models row that makes it visible comes later with the trial's result
 * or the job's refit, as on SQLite. A file no row ever pointed at (a result
 * fenced off as stale, a crash) is swept when it is an hour old: younger
 * ones may belong to another node's trial still on its way. Reading checks
 * the checksum. Deleting a model deletes its row and its file in one
 * transaction; no file is left on any disk to clean up afterwards.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "store/sha256.h"

#define CHUNK_BYTES (1 << 20)

#define ALIAS_COLUMNS "name, model_id, created_at, updated_at"

int store__pg_model_file_insert(struct pg_conn *c, const char *id, const char *text, size_t len,
				struct fitd_error *err)
{
	static const char file_sql[] = "INSERT INTO model_files (id, sha256, bytes, created_at)"
				       " VALUES ($1, $2, $3, fitd_now_ms())";
	static const char chunk_sql[] = "INSERT INTO model_chunks (model_id, n, data)"
					" VALUES ($1, $2, $3)";
	static const int fmts[3] = { 0, 0, 1 };
	struct store_sha256 h;
	char sha[STORE_SHA256_HEX], b[2][24];
	const char *v[3] = { id, sha, store__pg_i64(b[0], (int64_t)len) };
	int rc;

	store_sha256_init(&h);
	store_sha256_update(&h, text, len);
	store_sha256_final_hex(&h, sha);
	rc = store__pg_cmd(c, file_sql, 3, v, NULL, "store model", err);
	for (size_t off = 0, n = 0; rc == FITD_OK && (off < len || n == 0); n++) {
		size_t part = len - off < CHUNK_BYTES ? len - off : CHUNK_BYTES;
		const char *cv[3] = { id, store__pg_i64(b[1], (int64_t)n), text + off };
		int lens[3] = { 0, 0, (int)part };

		rc = store__pg_run(c, chunk_sql, 3, cv, lens, fmts, false, NULL, "store model",
				   err);
		off += part;
	}
	return rc;
}

int store__pg_model_write(struct store *s, const char *text, size_t len, char id[STORE_ID_MAX],
			  struct fitd_error *err)
{
	struct pg_conn *c;
	int rc;

	store_id_new("mdl", id);
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, store__pg_model_file_insert(c, id, text, len, err), err);
	if (rc == FITD_OK)
		store__disk_add(s, 'm', (int64_t)len);
	return rc;
}

/* Reads the chunks of a committed model into *text, checking size and checksum. */
static int read_chunks(struct pg_conn *c, const char *id, char **text, size_t *len,
		       struct fitd_error *err)
{
	static const char file_sql[] = "SELECT f.sha256, f.bytes FROM models m"
				       " JOIN model_files f ON f.id = m.id WHERE m.id = $1";
	static const char chunk_sql[] = "SELECT data FROM model_chunks WHERE model_id = $1"
					" ORDER BY n";
	struct store_sha256 h;
	char sha[STORE_SHA256_HEX], got[STORE_SHA256_HEX];
	PGresult *r = NULL;
	size_t bytes = 0, done = 0;
	char *buf = NULL;
	int rc = store__pg_exec(c, file_sql, 1, &id, &r, "read model", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_not_found", "no model with id '%s'",
				    id);
	if (rc == FITD_OK) {
		snprintf(sha, sizeof(sha), "%s", PQgetvalue(r, 0, 0));
		bytes = (size_t)store__pg_get_i64(r, 0, 1);
	}
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK)
		rc = store__pg_run(c, chunk_sql, 1, &id, NULL, NULL, true, &r, "read model", err);
	if (rc == FITD_OK && (buf = malloc(bytes + 1)) == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "model of %zu bytes", bytes);
	store_sha256_init(&h);
	for (int i = 0; rc == FITD_OK && i < PQntuples(r); i++) {
		size_t part = (size_t)PQgetlength(r, i, 0);

		if (part > bytes - done)
			break;
		memcpy(buf + done, PQgetvalue(r, i, 0), part);
		store_sha256_update(&h, buf + done, part);
		done += part;
	}
	PQclear(r);
	if (rc == FITD_OK) {
		store_sha256_final_hex(&h, got);
		if (done != bytes || strcmp(got, sha) != 0)
			rc = fitd_error_set(err, FITD_EIO, "model_corrupt",
					    "model %s: the stored file does not match its checksum",
					    id);
	}
	if (rc != FITD_OK) {
		free(buf);
		return rc;
	}
	buf[done] = '\0';
	*text = buf;
	*len = done;
	return FITD_OK;
}

int store__pg_model_read(struct store *s, const char *id, char **text, size_t *len,
			 struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, true, err);

	*text = NULL;
	if (rc != FITD_OK)
		return rc;
	rc = read_chunks(c, id, text, len, err);
	rc = store__pg_end(s, c, rc, err);
	if (rc != FITD_OK) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

/* Deletes the row and the file of model id (no alias may hold it); *bytes its size. */
static int model_rows_delete(struct pg_conn *c, const char *id, int64_t *bytes,
			     struct fitd_error *err)
{
	static const char row_sql[] = "DELETE FROM models WHERE id = $1";
	static const char file_sql[] = "DELETE FROM model_files WHERE id = $1 RETURNING bytes";
	PGresult *r = NULL;
	int rc = store__pg_cmd(c, row_sql, 1, &id, NULL, "delete model", err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, file_sql, 1, &id, &r, "delete model", err);
	if (rc == FITD_OK)
		*bytes += PQntuples(r) > 0 ? store__pg_get_i64(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

int store__pg_model_drop_orphan(struct pg_conn *c, const char *id, bool *dropped, int64_t *bytes,
				struct fitd_error *err)
{
	static const char sql[] = "SELECT 1 FROM models WHERE id = $1 AND job_id IS NULL"
				  " AND NOT EXISTS (SELECT 1 FROM aliases WHERE model_id = $1)"
				  " FOR UPDATE";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "delete model", err);

	*dropped = rc == FITD_OK && PQntuples(r) > 0;
	PQclear(r);
	if (*dropped)
		rc = model_rows_delete(c, id, bytes, err);
	return rc;
}

/* After the commit that deleted n models: the counter caches look at, and the bytes. */
static void models_gone(struct store *s, size_t n, int64_t bytes)
{
	if (n == 0)
		return;
	atomic_fetch_add_explicit(&s->model_deletions, 1, memory_order_release);
	store__disk_add(s, 'm', -bytes);
}

static int model_free_to_go(struct pg_conn *c, const char *id, struct fitd_error *err)
{
	static const char sql[] = "SELECT 'alias', name FROM aliases WHERE model_id = $1"
				  " UNION ALL SELECT state, id FROM jobs WHERE best_model_id = $1"
				  " LIMIT 1";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "model holders", err);

	if (rc == FITD_OK && PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "alias") == 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "model_in_use",
				    "model %s is held by alias '%s'; point the alias at another "
				    "model or delete it first",
				    id, PQgetvalue(r, 0, 1));
	else if (rc == FITD_OK && PQntuples(r) > 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "model_in_use",
				    "model %s is the best model of job %s (%s); deleting the job "
				    "removes it",
				    id, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

static int model_delete_in_tx(struct pg_conn *c, const char *id, int64_t *bytes,
			      struct fitd_error *err)
{
	static const char lock_sql[] = "SELECT 1 FROM models WHERE id = $1 FOR UPDATE";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, lock_sql, 1, &id, &r, "delete model", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = FITD_ENOTFOUND;
	PQclear(r);
	if (rc == FITD_OK)
		rc = model_free_to_go(c, id, err);
	/* Checked after the holders, as SQLite's DELETE reports a missing row last. */
	if (rc == FITD_ENOTFOUND)
		return fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				      "no model with id '%s'", id);
	if (rc == FITD_OK)
		rc = model_rows_delete(c, id, bytes, err);
	return rc;
}

int store__pg_model_delete(struct store *s, const char *id, struct fitd_error *err)
{
	struct pg_conn *c;
	int64_t bytes = 0;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, model_delete_in_tx(c, id, &bytes, err), err);
	if (rc == FITD_OK)
		models_gone(s, 1, bytes);
	return rc;
}

/* ---- aliases ---- */

static int alias_from_row(const PGresult *r, int row, void *item, struct fitd_error *err)
{
	struct store_alias *a = item;

	(void)err;
	snprintf(a->name, sizeof(a->name), "%s", PQgetvalue(r, row, 0));
	store__pg_copy_id(a->model_id, r, row, 1);
	a->created_at = store__pg_get_i64(r, row, 2);
	a->updated_at = store__pg_get_i64(r, row, 3);
	return FITD_OK;
}

static void alias_release_item(void *item)
{
	(void)item;
}

static int alias_read(struct pg_conn *c, const char *name, struct store_alias *out,
		      struct fitd_error *err)
{
	static const char sql[] = "SELECT " ALIAS_COLUMNS " FROM aliases WHERE name = $1";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &name, &r, "read alias", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "alias_not_found", "no alias named '%s'",
				    name);
	else if (rc == FITD_OK)
		rc = alias_from_row(r, 0, out, err);
	PQclear(r);
	return rc;
}

int store__pg_alias_get(struct store *s, const char *name, struct store_alias *out,
			struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = alias_read(c, name, out, err);
	store__pg_give(s, c);
	return rc;
}

static const struct pg_list_kind alias_list = {
	.page_sql = "SELECT " ALIAS_COLUMNS " FROM aliases"
		    " WHERE ($1::text IS NULL OR name > $1) AND $3::text IS NULL"
		    " ORDER BY name LIMIT $2",
	.cursor_sql = "SELECT 1 FROM aliases WHERE name = $1",
	.noun = "alias",
	.what = "list aliases",
	.size = sizeof(struct store_alias),
	.from_row = alias_from_row,
	.release = alias_release_item,
};

int store__pg_alias_list(struct store *s, const char *after, size_t limit, struct store_alias **out,
			 size_t *n, bool *more, struct fitd_error *err)
{
	void *items;
	int rc = store__pg_list(s, &alias_list, after, NULL, limit, &items, n, more, err);

	*out = items;
	return rc;
}

static int set_checks(struct pg_conn *c, const char *model_id, bool creating,
		      struct fitd_error *err)
{
	/* The table lock keeps two creations from both passing the cap. */
	static const char sql[] = "SELECT (SELECT count(*) FROM models WHERE id = $1),"
				  " (SELECT count(*) FROM aliases)";
	static const char lock_sql[] = "LOCK TABLE aliases IN SHARE ROW EXCLUSIVE MODE";
	PGresult *r = NULL;
	int64_t count = 0;
	int rc = store__pg_cmd(c, lock_sql, 0, NULL, NULL, "lock aliases", err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, sql, 1, &model_id, &r, "read model", err);
	if (rc == FITD_OK && store__pg_get_i64(r, 0, 0) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				    "no model with id '%.64s'", model_id);
	else if (rc == FITD_OK)
		count = store__pg_get_i64(r, 0, 1);
	PQclear(r);
	if (rc == FITD_OK && creating && count >= STORE_ALIASES_MAX)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "too_many_aliases",
				    "%lld aliases exist, the most fitd keeps; delete one first",
				    (long long)count);
	return rc;
}

static int set_in_tx(struct pg_conn *c, const char *name, const char *model_id,
		     struct store_alias *out, bool *created, char previous[STORE_ID_MAX],
		     bool *dropped, int64_t *bytes, struct fitd_error *err)
{
	static const char upsert_sql[] =
	    "INSERT INTO aliases (name, model_id, created_at, updated_at)"
	    " VALUES ($1, $2, fitd_now_ms(), fitd_now_ms()) ON CONFLICT (name) DO UPDATE"
	    " SET model_id = excluded.model_id, updated_at = excluded.updated_at";
	const char *v[2] = { name, model_id };
	struct fitd_error scratch = { 0 };
	struct store_alias old;
	int rc = alias_read(c, name, &old, &scratch);

	*created = rc == FITD_ENOTFOUND;
	previous[0] = '\0';
	if (rc == FITD_OK)
		snprintf(previous, STORE_ID_MAX, "%s", old.model_id);
	else if (rc != FITD_ENOTFOUND)
		return fitd_error_set(err, rc, scratch.code, "%s", scratch.message);
	rc = set_checks(c, model_id, *created, err);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, upsert_sql, 2, v, NULL, "set alias", err);
	if (rc == FITD_OK && previous[0] != '\0' && strcmp(previous, model_id) != 0)
		rc = store__pg_model_drop_orphan(c, previous, dropped, bytes, err);
	if (rc == FITD_OK)
		rc = alias_read(c, name, out, err);
	return rc;
}

int store__pg_alias_set(struct store *s, const char *name, const char *model_id,
			struct store_alias *out, bool *created, char previous[STORE_ID_MAX],
			struct fitd_error *err)
{
	bool dropped = false;
	int64_t bytes = 0;
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(
	    s, c, set_in_tx(c, name, model_id, out, created, previous, &dropped, &bytes, err), err);
	if (rc == FITD_OK && dropped)
		models_gone(s, 1, bytes);
	return rc;
}

static int delete_in_tx(struct pg_conn *c, const char *name, struct store_alias *out, bool *dropped,
			int64_t *bytes, struct fitd_error *err)
{
	static const char sql[] = "DELETE FROM aliases WHERE name = $1";
	int rc = alias_read(c, name, out, err);

	if (rc == FITD_OK)
		rc = store__pg_cmd(c, sql, 1, &name, NULL, "delete alias", err);
	if (rc == FITD_OK)
		rc = store__pg_model_drop_orphan(c, out->model_id, dropped, bytes, err);
	return rc;
}

int store__pg_alias_delete(struct store *s, const char *name, struct store_alias *out,
			   struct fitd_error *err)
{
	struct store_alias was;
	bool dropped = false;
	int64_t bytes = 0;
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, delete_in_tx(c, name, &was, &dropped, &bytes, err), err);
	if (rc == FITD_OK && dropped)
		models_gone(s, 1, bytes);
	if (rc == FITD_OK && out != NULL)
		*out = was;
	return rc;
}

/* ---- deleting jobs ---- */

/* Appends column 0 of r's rows to ids (char[STORE_ID_MAX] records). */
static int add_ids(const PGresult *r, struct fitd_buf *ids, struct fitd_error *err)
{
	for (int i = 0; i < PQntuples(r); i++) {
		char *id = fitd_buf_grow(ids, STORE_ID_MAX);

		if (id == NULL)
			return fitd_error_set(err, fitd_buf_status(ids), NULL, "model ids");
		store__pg_copy_id(id, r, i, 0);
	}
	return FITD_OK;
}

static int job_ended(struct pg_conn *c, const char *id, struct fitd_error *err)
{
	static const char sql[] = "SELECT state FROM jobs WHERE id = $1 FOR UPDATE";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "read job", err);
	const char *state = rc == FITD_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : NULL;

	if (rc == FITD_OK && state == NULL)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job with id '%s'",
				    id);
	else if (state != NULL && (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0))
		rc = fitd_error_set(err, FITD_ECONFLICT, "job_not_finished",
				    "job %s is %s; cancel it and wait for it to end first", id,
				    state);
	PQclear(r);
	return rc;
}

static int job_delete_in_tx(struct pg_conn *c, const char *id, struct fitd_buf *gone,
			    struct fitd_buf *kept, int64_t *bytes, struct fitd_error *err)
{
	static const char gone_sql[] = "SELECT id FROM models WHERE job_id = $1 AND id NOT IN"
				       " (SELECT model_id FROM aliases) ORDER BY seq";
	static const char kept_sql[] = "SELECT id FROM models WHERE job_id = $1 AND id IN"
				       " (SELECT model_id FROM aliases) ORDER BY seq";
	static const char job_sql[] = "DELETE FROM jobs WHERE id = $1";
	static const char oof_sql[] = "DELETE FROM trial_oof WHERE job_id = $1";
	PGresult *r = NULL;
	int rc = job_ended(c, id, err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, gone_sql, 1, &id, &r, "delete job", err);
	if (rc == FITD_OK)
		rc = add_ids(r, gone, err);
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK)
		rc = store__pg_exec(c, kept_sql, 1, &id, &r, "delete job", err);
	if (rc == FITD_OK)
		rc = add_ids(r, kept, err);
	PQclear(r);
	for (size_t i = 0; rc == FITD_OK && i < gone->len / STORE_ID_MAX; i++)
		rc = model_rows_delete(c, gone->data + i * STORE_ID_MAX, bytes, err);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, oof_sql, 1, &id, NULL, "delete job", err);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, job_sql, 1, &id, NULL, "delete job", err);
	return rc;
}

int store__pg_job_delete(struct store *s, const char *id, struct store_job_deletion *out,
			 struct fitd_error *err)
{
	struct fitd_buf gone, kept;
	struct pg_conn *c;
	int64_t bytes = 0;
	int rc;

	fitd_buf_init(&gone, (size_t)64 << 20);
	fitd_buf_init(&kept, (size_t)STORE_ALIASES_MAX * STORE_ID_MAX);
	rc = store__pg_begin(s, &c, false, err);
	if (rc == FITD_OK)
		rc = store__pg_end(s, c, job_delete_in_tx(c, id, &gone, &kept, &bytes, err), err);
	if (rc == FITD_OK) {
		models_gone(s, gone.len / STORE_ID_MAX, bytes);
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

int store__pg_job_expired(struct store *s, int64_t finished_before, size_t limit,
			  char (**ids)[STORE_ID_MAX], int64_t **finished_at, size_t *n,
			  struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT id, finished_at FROM jobs WHERE finished_at IS NOT NULL"
	    " AND finished_at < $1 AND state IN ('succeeded','failed','cancelled')"
	    " ORDER BY finished_at LIMIT $2";
	char b[2][24];
	const char *v[2] = { store__pg_i64(b[0], finished_before),
			     store__pg_i64(b[1], limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	int64_t *times = NULL;
	struct pg_conn *c;
	PGresult *r = NULL;
	size_t rows = 0;
	int rc = store__pg_take(s, &c, err);

	*ids = NULL;
	*n = 0;
	if (finished_at != NULL)
		*finished_at = NULL;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 2, v, &r, "expired jobs", err);
	store__pg_give(s, c);
	rows = rc == FITD_OK ? (size_t)PQntuples(r) : 0;
	if (rows > 0) {
		*ids = malloc(rows * STORE_ID_MAX);
		times = malloc(rows * sizeof(*times));
		if (*ids == NULL || times == NULL) {
			free(*ids);
			*ids = NULL;
			free(times);
			times = NULL;
			rows = 0;
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "expired jobs");
		}
	}
	for (size_t i = 0; i < rows; i++) {
		store__pg_copy_id((*ids)[i], r, (int)i, 0);
		times[i] = store__pg_get_i64(r, (int)i, 1);
	}
	PQclear(r);
	*n = rows;
	if (finished_at != NULL)
		*finished_at = times;
	else
		free(times);
	return rc;
}

int store__pg_models_sweep(struct store *s, struct fitd_error *err)
{
	static const char sql[] =
	    "DELETE FROM model_files f WHERE created_at < fitd_now_ms() - 3600000"
	    " AND NOT EXISTS (SELECT 1 FROM models m WHERE m.id = f.id)";
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_cmd(c, sql, 0, NULL, NULL, "sweep models", err), err);
}

int store__pg_disk_measure(struct store *s, struct fitd_error *err)
{
	static const char sql[] = "SELECT (SELECT coalesce(sum(file_bytes), 0) FROM datasets),"
				  " (SELECT coalesce(sum(bytes), 0) FROM model_files)";
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 0, NULL, &r, "measure", err);
	store__pg_give(s, c);
	if (rc == FITD_OK) {
		atomic_store(&s->datasets_bytes, store__pg_get_i64(r, 0, 0));
		atomic_store(&s->models_bytes, store__pg_get_i64(r, 0, 1));
	}
	PQclear(r);
	return rc;
}

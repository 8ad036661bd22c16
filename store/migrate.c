/*
 * migrate.c - `fitd migrate`: a single-node state (SQLite in a state
 * directory) copied into an empty PostgreSQL fitd schema.
 *
 * How it works: the source is opened with SQLite's exclusive locking mode
 * and BEGIN EXCLUSIVE, which fails at once while a daemon has the database
 * open (its connections hold the WAL's shared locks) and keeps one from
 * opening it until the copy is done; it is only read, then rolled back.
 * (A lock file beside the database would need every daemon to take it;
 * SQLite's own lock is already taken by every daemon there is.)
 * The target is opened as a daemon would open it (store_open() with a
 * throw-away state directory, which creates the schema when the database
 * is empty) and everything is written in one transaction that first locks
 * the tables and checks that no fitd data is there: a second run, or a run
 * on a database a daemon already uses, changes nothing.
 *
 * Rows are copied table by table, each column as the text SQLite gives
 * (REALs as text that reads back to the same double, so scores and the
 * leaderboard stay bit for bit), keeping ids, seqs, timestamps and states.
 * SQLite's event ids are global and PostgreSQL's per job: the ids are kept
 * (increasing within each job, with gaps) and each job's counter starts at
 * its last one, so a client's Last-Event-ID means the same on both.
 * Running trials become queued with no lease, as a restart does.
 */
#include "store/migrate.h"
#include "store/internal.h"
#include "store/pg.h"
#include "store/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COLS 24

struct copy {
	sqlite3 *db;	       /* the source, under its exclusive lock */
	struct pg_conn *c;     /* the target, in its transaction */
	const char *state_dir; /* the source's */
	struct store_migration *m;
};

/* One table: each row the select gives is inserted with $1..$ncols. */
struct table {
	const char *select; /* SQLite */
	const char *insert; /* PostgreSQL */
	int ncols;
	size_t count; /* offset of its counter in struct store_migration */
	/* Runs before (needs) or after (adds to) the row's insert; may be NULL. */
	int (*before)(struct copy *cp, sqlite3_stmt *st, struct fitd_error *err);
	int (*after)(struct copy *cp, sqlite3_stmt *st, struct fitd_error *err);
};

/* Reads the whole file at path into *text; FITD_ENOTFOUND when it is missing. */
static int read_file(const char *path, char **text, size_t *len, struct fitd_error *err)
{
	struct stat sb;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = FITD_OK;

	*text = NULL;
	*len = 0;
	if (fd < 0 && errno == ENOENT)
		return FITD_ENOTFOUND;
	if (fd < 0)
		return store_files_errno(err, errno, "open", path);
	if (fstat(fd, &sb) != 0)
		rc = store_files_errno(err, errno, "stat", path);
	else if ((uint64_t)sb.st_size > (uint64_t)INT32_MAX)
		rc = fitd_error_set(err, FITD_ETOOBIG, NULL, "%s is too large to move", path);
	else if ((*text = malloc((size_t)sb.st_size + 1)) == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "%s", path);
	while (rc == FITD_OK && done < (size_t)sb.st_size) {
		ssize_t got = read(fd, *text + done, (size_t)sb.st_size - done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = store_files_errno(err, errno, "read", path);
		else if (got == 0)
			rc = fitd_error_set(err, FITD_EIO, NULL, "%s shrank while read", path);
		else
			done += (size_t)got;
	}
	close(fd);
	if (rc != FITD_OK) {
		free(*text);
		*text = NULL;
		return rc;
	}
	*len = done;
	return FITD_OK;
}

/* After a dataset's row: its file (STATE/datasets/ID) as chunks, with checksum and size. */
static int dataset_file(struct copy *cp, sqlite3_stmt *st, struct fitd_error *err)
{
	static const char sql[] = "UPDATE datasets SET file_sha256 = $2, file_bytes = $3"
				  " WHERE id = $1";
	const char *id = (const char *)sqlite3_column_text(st, 1);
	char path[PATH_MAX], sha[STORE_SHA256_HEX], b[24];
	int64_t bytes = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/datasets/%s", cp->state_dir, id);
	rc = store__pg_dataset_chunks(cp->c, id, path, sha, &bytes, err);
	if (rc == FITD_OK) {
		const char *v[3] = { id, sha, store__pg_i64(b, bytes) };

		rc = store__pg_cmd(cp->c, sql, 3, v, NULL, "move dataset", err);
	}
	return rc;
}

/* Before a model's row: its file (STATE/models/ID) as chunks, which the row points at. */
static int model_file(struct copy *cp, sqlite3_stmt *st, struct fitd_error *err)
{
	const char *id = (const char *)sqlite3_column_text(st, 1);
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/models/%s", cp->state_dir, id);
	rc = read_file(path, &text, &len, err);
	if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_file_missing",
				    "model %s has no file %s; the source is damaged", id, path);
	if (rc == FITD_OK)
		rc = store__pg_model_file_insert(cp->c, id, text, len, err);
	free(text);
	return rc;
}

/* After a completed trial's row: its out-of-fold file, when it was kept, as a row. */
static int trial_oof(struct copy *cp, sqlite3_stmt *st, struct fitd_error *err)
{
	static const char sql[] = "INSERT INTO trial_oof (job_id, idx, data) VALUES ($1, $2, $3)";
	static const int fmts[3] = { 0, 0, 1 };
	const char *job = (const char *)sqlite3_column_text(st, 0);
	const char *idx = (const char *)sqlite3_column_text(st, 1);
	const char *state = (const char *)sqlite3_column_text(st, 2);
	char path[PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(state, "completed") != 0)
		return FITD_OK;
	snprintf(path, sizeof(path), "%s/oof/%s/%s.f32", cp->state_dir, job, idx);
	rc = read_file(path, &data, &len, err);
	if (rc == FITD_ENOTFOUND) /* only the best trials' files are kept */
		return FITD_OK;
	if (rc == FITD_OK) {
		const char *v[3] = { job, idx, data };
		int lens[3] = { 0, 0, (int)len };

		rc = store__pg_run(cp->c, sql, 3, v, lens, fmts, false, NULL, "move oof", err);
		if (rc == FITD_OK)
			cp->m->oof++;
	}
	free(data);
	return rc;
}

static const struct table tables[] = {
	{ "SELECT seq, id, name, rows, cols, bytes, sha256, columns, created_at"
	  " FROM datasets ORDER BY seq",
	  "INSERT INTO datasets (seq, id, name, rows, cols, bytes, sha256, columns, created_at,"
	  " file_sha256, file_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 0)",
	  9, offsetof(struct store_migration, datasets), NULL, dataset_file },
	{ "SELECT dataset_id, idx, name, is_numeric, levels, missing, integer_valued,"
	  " distinct_values FROM dataset_columns ORDER BY dataset_id, idx",
	  "INSERT INTO dataset_columns (dataset_id, idx, name, is_numeric, levels, missing,"
	  " integer_valued, distinct_values) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	  8, offsetof(struct store_migration, columns), NULL, NULL },
	{ "SELECT seq, id, dataset_id, state, target, task, metric, spec, idempotency_key, owner,"
	  " cancel_requested, max_attempts, runtime, created_at, started_at, finished_at,"
	  " elapsed_ms, best_trial, best_score, best_model_id, best_detail, error_code,"
	  " error_message FROM jobs ORDER BY seq",
	  "INSERT INTO jobs (seq, id, dataset_id, state, target, task, metric, spec,"
	  " idempotency_key, owner, cancel_requested, max_attempts, runtime, created_at,"
	  " started_at, finished_at, elapsed_ms, best_trial, best_score, best_model_id,"
	  " best_detail, error_code, error_message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
	  " $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
	  23, offsetof(struct store_migration, jobs), NULL, NULL },
	{ "SELECT job_id, idx, CASE state WHEN 'running' THEN 'queued' ELSE state END, params,"
	  " attempt, generation, score, score_std, epochs, duration_ms, result, error_code,"
	  " error_message, CASE state WHEN 'running' THEN NULL ELSE started_at END, finished_at"
	  " FROM trials ORDER BY job_id, idx",
	  "INSERT INTO trials (job_id, idx, state, params, attempt, generation, score, score_std,"
	  " epochs, duration_ms, result, error_code, error_message, started_at, finished_at)"
	  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
	  15, offsetof(struct store_migration, trials), NULL, trial_oof },
	{ "SELECT job_id, id, type, data, created_at FROM events ORDER BY id",
	  "INSERT INTO events (job_id, id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)", 5,
	  offsetof(struct store_migration, events), NULL, NULL },
	{ "SELECT seq, id, job_id, trial_idx, bytes, created_at FROM models ORDER BY seq",
	  "INSERT INTO models (seq, id, job_id, trial_idx, bytes, created_at)"
	  " VALUES ($1, $2, $3, $4, $5, $6)",
	  6, offsetof(struct store_migration, models), model_file, NULL },
	{ "SELECT name, model_id, created_at, updated_at FROM aliases ORDER BY name",
	  "INSERT INTO aliases (name, model_id, created_at, updated_at) VALUES ($1, $2, $3, $4)", 4,
	  offsetof(struct store_migration, aliases), NULL, NULL },
};

/* Inserts the current row of st with the table's insert. */
static int insert_row(struct copy *cp, const struct table *t, sqlite3_stmt *st,
		      struct fitd_error *err)
{
	const char *v[MAX_COLS];
	char f[MAX_COLS][32];

	for (int i = 0; i < t->ncols; i++) {
		int type = sqlite3_column_type(st, i);

		if (type == SQLITE_NULL)
			v[i] = NULL;
		else if (type == SQLITE_FLOAT)
			v[i] = store__pg_f64(f[i], sqlite3_column_double(st, i));
		else
			v[i] = (const char *)sqlite3_column_text(st, i);
	}
	return store__pg_cmd(cp->c, t->insert, t->ncols, v, NULL, "move rows", err);
}

static int copy_table(struct copy *cp, const struct table *t, struct fitd_error *err)
{
	int64_t *count = (int64_t *)(void *)((char *)cp->m + t->count);
	sqlite3_stmt *st = NULL;
	bool more = true;
	int rc = store__prepare(cp->db, t->select, &st, err);

	while (rc == FITD_OK && more) {
		rc = store__step_row(cp->db, st, "read source", err);
		more = rc == FITD_OK;
		if (rc == FITD_ENOTFOUND) /* no more rows; a hook's FITD_ENOTFOUND is an error */
			rc = FITD_OK;
		if (more && t->before != NULL)
			rc = t->before(cp, st, err);
		if (more && rc == FITD_OK)
			rc = insert_row(cp, t, st, err);
		if (more && rc == FITD_OK && t->after != NULL)
			rc = t->after(cp, st, err);
		if (more && rc == FITD_OK)
			(*count)++;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Locks the target's tables and refuses (FITD_ECONFLICT) when fitd data is there. */
static int target_empty(struct pg_conn *c, struct fitd_error *err)
{
	static const char lock_sql[] =
	    "LOCK TABLE datasets, jobs, model_files, aliases, trial_oof IN EXCLUSIVE MODE";
	static const char count_sql[] =
	    "SELECT (SELECT count(*) FROM datasets) + (SELECT count(*) FROM jobs)"
	    " + (SELECT count(*) FROM model_files) + (SELECT count(*) FROM aliases)"
	    " + (SELECT count(*) FROM trial_oof)";
	PGresult *r = NULL;
	int rc = store__pg_cmd(c, lock_sql, 0, NULL, NULL, "lock target", err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, count_sql, 0, NULL, &r, "read target", err);
	if (rc == FITD_OK && store__pg_get_i64(r, 0, 0) > 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "target_not_empty",
				    "the target database already holds fitd data (%lld rows of"
				    " datasets, jobs, models and aliases); nothing was changed",
				    (long long)store__pg_get_i64(r, 0, 0));
	PQclear(r);
	return rc;
}

/* After the rows: each job's event counter at its last id; the serials past the seqs. */
static int finish_target(struct pg_conn *c, struct fitd_error *err)
{
	static const char counters_sql[] =
	    "INSERT INTO event_counters (job_id, last) SELECT j.id,"
	    " coalesce((SELECT max(e.id) FROM events e WHERE e.job_id = j.id), 0) FROM jobs j";
	static const char serials_sql[] =
	    "SELECT setval(pg_get_serial_sequence('datasets', 'seq'),"
	    "  (SELECT coalesce(max(seq), 0) + 1 FROM datasets), false),"
	    " setval(pg_get_serial_sequence('jobs', 'seq'),"
	    "  (SELECT coalesce(max(seq), 0) + 1 FROM jobs), false),"
	    " setval(pg_get_serial_sequence('models', 'seq'),"
	    "  (SELECT coalesce(max(seq), 0) + 1 FROM models), false)";
	int rc = store__pg_cmd(c, counters_sql, 0, NULL, NULL, "move event counters", err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, serials_sql, 0, NULL, NULL, "move serials", err);
	return rc;
}

/* Opens STATE/fitd.db under SQLite's exclusive lock, checking its schema version. */
static int source_open(const char *state_dir, sqlite3 **db, struct fitd_error *err)
{
	char path[PATH_MAX];
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int rc, sqlrc;

	*db = NULL;
	snprintf(path, sizeof(path), "%s/fitd.db", state_dir);
	if (stat(path, &sb) != 0)
		return fitd_error_set(err, FITD_ENOTFOUND, "source_not_found",
				      "%s has no fitd.db: not a fitd state directory", state_dir);
	sqlrc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (sqlrc != SQLITE_OK)
		return store__sqlite_error(*db, sqlrc, "open source", err);
	sqlrc = sqlite3_exec(*db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE", NULL, NULL,
			     NULL);
	if (sqlrc == SQLITE_BUSY || sqlrc == SQLITE_LOCKED)
		return fitd_error_set(err, FITD_ESTATE, "source_in_use",
				      "%s is in use (a fitd daemon has it open); stop it first",
				      path);
	if (sqlrc != SQLITE_OK)
		return store__sqlite_error(*db, sqlrc, "lock source", err);
	rc = store__prepare(*db, "SELECT version FROM schema_version", &st, err);
	if (rc == FITD_OK)
		rc = store__step_row(*db, st, "read source schema", err);
	if (rc == FITD_OK && sqlite3_column_int(st, 0) != STORE_SCHEMA_VERSION)
		rc = fitd_error_set(err, FITD_ESCHEMA, "source_schema",
				    "%s is at schema version %d, this fitd's is %d; start this fitd"
				    " on it once, stop it, then migrate",
				    path, sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	else if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ESCHEMA, "source_schema", "%s has no schema version",
				    path);
	sqlite3_finalize(st);
	return rc;
}

static void source_close(sqlite3 *db)
{
	if (db != NULL)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* Removes the throw-away state directory store_open() laid out (all empty). */
static void scratch_remove(const char *dir)
{
	static const char *const subdirs[] = { "tmp", "cache", "datasets", "models", "oof" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);

		if (n > 0 && (size_t)n < sizeof(path))
			rmdir(path);
	}
	rmdir(dir);
}

static int copy_all(struct copy *cp, struct fitd_error *err)
{
	static const char running_sql[] = "SELECT count(*) FROM trials WHERE state = 'running'";
	sqlite3_stmt *st = NULL;
	int rc = target_empty(cp->c, err);

	for (size_t i = 0; rc == FITD_OK && i < sizeof(tables) / sizeof(tables[0]); i++)
		rc = copy_table(cp, &tables[i], err);
	if (rc == FITD_OK)
		rc = finish_target(cp->c, err);
	if (rc == FITD_OK)
		rc = store__prepare(cp->db, running_sql, &st, err);
	if (rc == FITD_OK)
		rc = store__step_row(cp->db, st, "read source", err);
	if (rc == FITD_OK)
		cp->m->requeued = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

int store_migrate(const char *state_dir, const char *location, struct store_migration *out,
		  struct fitd_error *err)
{
	struct store_migration m = { 0 };
	struct copy cp = { .state_dir = state_dir, .m = &m };
	struct store *s = NULL;
	char scratch[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	int n, rc = FITD_OK;

	if (!store__pg_location(location))
		return fitd_error_set(err, FITD_EINVAL, "invalid_target",
				      "the target must be a postgresql:// URI");
	n = snprintf(scratch, sizeof(scratch), "%s/fitd-migrate.XXXXXX",
		     tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(scratch))
		return fitd_error_set(err, FITD_EINVAL, NULL, "TMPDIR is too long");
	if (mkdtemp(scratch) == NULL)
		return store_files_errno(err, errno, "mkdtemp", scratch);
	rc = source_open(state_dir, &cp.db, err);
	if (rc == FITD_OK) {
		struct store_options opt = { .state_dir = scratch, .location = location };

		rc = store_open(&opt, &s, err);
	}
	if (rc == FITD_OK)
		rc = store__pg_begin(s, &cp.c, false, err);
	if (rc == FITD_OK)
		rc = store__pg_end(s, cp.c, copy_all(&cp, err), err);
	store_close(s);
	source_close(cp.db);
	scratch_remove(scratch);
	if (rc == FITD_OK)
		*out = m;
	return rc;
}

/*
 * schema.c - the database schema as an ordered list of migrations.
 *
 * schema_version holds one row: the number of migrations applied. At start
 * the writer applies the missing ones, each in its own transaction together
 * with the version bump, so a crash mid-migration leaves the previous version
 * intact. A database at a version above STORE_SCHEMA_VERSION was written by a
 * newer fitd and is refused rather than guessed at.
 *
 * Migrations run with foreign keys off, as SQLite's way of changing a
 * table's constraints (create a new table, copy, drop the old, rename) must
 * not let the drop cascade to the rows pointing at it; each migration's
 * transaction checks every foreign key before it commits instead.
 *
 * Migrations are append-only: never edit one that has shipped.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>

#include "daemon/base/clock.h"
#include "daemon/base/log.h"

static const char *const migrations[] = {
	/* 1: datasets, jobs, trials, events, models */
	"CREATE TABLE datasets ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  rows INTEGER NOT NULL,"
	"  cols INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  columns TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE jobs ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  dataset_id TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('queued','running','succeeded','failed','cancelled')),"
	"  target TEXT NOT NULL,"
	"  task TEXT NOT NULL,"
	"  metric TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  idempotency_key TEXT UNIQUE,"
	"  cancel_requested INTEGER NOT NULL DEFAULT 0,"
	"  max_attempts INTEGER NOT NULL DEFAULT 3,"
	"  runtime TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  elapsed_ms INTEGER NOT NULL DEFAULT 0,"
	"  best_trial INTEGER,"
	"  best_score REAL,"
	"  best_model_id TEXT,"
	"  error_code TEXT,"
	"  error_message TEXT);"
	"CREATE INDEX jobs_by_state ON jobs (state, seq);"
	"CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);"
	"CREATE TABLE trials ("
	"  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('queued','running','completed',"
	"    'pruned','failed','timeout','interrupted')),"
	"  params TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  generation INTEGER NOT NULL DEFAULT 0,"
	"  owner TEXT,"
	"  lease_until INTEGER,"
	"  score REAL,"
	"  score_std REAL,"
	"  epochs INTEGER,"
	"  duration_ms INTEGER,"
	"  result TEXT,"
	"  error_code TEXT,"
	"  error_message TEXT,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  PRIMARY KEY (job_id, idx)) WITHOUT ROWID;"
	"CREATE INDEX trials_by_state ON trials (state, job_id);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	"  type TEXT NOT NULL,"
	"  data TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX events_by_job ON events (job_id, id);"
	"CREATE TABLE models ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  job_id TEXT NOT NULL REFERENCES jobs (id),"
	"  trial_idx INTEGER,"
	"  bytes INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);",
	/* 2: the name of the token that submitted a job, for the per-token cap */
	"ALTER TABLE jobs ADD COLUMN owner TEXT;"
	"CREATE INDEX jobs_by_owner ON jobs (owner, state);",
	/*
	 * 3: an idempotency key is unique per owner, not across all of them, so
	 * one token can neither read nor block another's job through a key.
	 * SQLite cannot drop a column's UNIQUE in place, so jobs is rebuilt
	 * (create, copy, drop, rename) with the columns of 1 and 2 in their
	 * order, carrying over its AUTOINCREMENT high-water mark. ifnull makes
	 * the jobs of no owner (no token file) one owner, as NULLs are
	 * distinct in a UNIQUE index; a token's name is never empty.
	 */
	"CREATE TABLE jobs_new ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  dataset_id TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('queued','running','succeeded','failed','cancelled')),"
	"  target TEXT NOT NULL,"
	"  task TEXT NOT NULL,"
	"  metric TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  idempotency_key TEXT,"
	"  cancel_requested INTEGER NOT NULL DEFAULT 0,"
	"  max_attempts INTEGER NOT NULL DEFAULT 3,"
	"  runtime TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  elapsed_ms INTEGER NOT NULL DEFAULT 0,"
	"  best_trial INTEGER,"
	"  best_score REAL,"
	"  best_model_id TEXT,"
	"  error_code TEXT,"
	"  error_message TEXT,"
	"  owner TEXT);"
	"INSERT INTO jobs_new SELECT * FROM jobs;"
	"DELETE FROM sqlite_sequence WHERE name = 'jobs_new';"
	"UPDATE sqlite_sequence SET name = 'jobs_new' WHERE name = 'jobs';"
	"DROP TABLE jobs;"
	"ALTER TABLE jobs_new RENAME TO jobs;"
	"CREATE INDEX jobs_by_state ON jobs (state, seq);"
	"CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);"
	"CREATE INDEX jobs_by_owner ON jobs (owner, state);"
	"CREATE UNIQUE INDEX jobs_by_key ON jobs (ifnull(owner, ''), idempotency_key);",
	/*
	 * 4: deleting. A model an alias holds outlives its job, so models.job_id
	 * becomes nullable and is set NULL when the job goes (SQLite cannot
	 * change a foreign key in place: models is rebuilt as jobs was in 3).
	 * aliases name models; the foreign key keeps a model an alias points
	 * at from being deleted under it. jobs_by_finished finds the jobs
	 * retention removes without a scan. Turning incremental auto-vacuum
	 * on cannot be done in a transaction; store_open() does it once
	 * after the migrations (auto_vacuum() below).
	 */
	"CREATE TABLE models_new ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  job_id TEXT REFERENCES jobs (id) ON DELETE SET NULL,"
	"  trial_idx INTEGER,"
	"  bytes INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"INSERT INTO models_new SELECT * FROM models;"
	"DELETE FROM sqlite_sequence WHERE name = 'models_new';"
	"UPDATE sqlite_sequence SET name = 'models_new' WHERE name = 'models';"
	"DROP TABLE models;"
	"ALTER TABLE models_new RENAME TO models;"
	"CREATE INDEX models_by_job ON models (job_id);"
	"CREATE TABLE aliases ("
	"  name TEXT PRIMARY KEY,"
	"  model_id TEXT NOT NULL REFERENCES models (id),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX aliases_by_model ON aliases (model_id);"
	"CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;",
	/*
	 * 5: the facts of each dataset column that a job spec is validated
	 * against (columns.c), kept at upload so a submission never reads the
	 * dataset file. Datasets uploaded before have none until their first
	 * job describes them (worker/spec_facts.c).
	 */
	"CREATE TABLE dataset_columns ("
	"  dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  is_numeric INTEGER NOT NULL,"
	"  levels INTEGER NOT NULL,"
	"  missing INTEGER NOT NULL,"
	"  integer_valued INTEGER NOT NULL,"
	"  distinct_values INTEGER NOT NULL,"
	"  PRIMARY KEY (dataset_id, idx)) WITHOUT ROWID;",
	/*
	 * 6: what a job's final model is and why (JSON: best.kind "single" or
	 * "ensemble", the ensemble's members and weights, the out-of-fold
	 * scores); NULL until the final model is set, and for jobs before.
	 */
	"ALTER TABLE jobs ADD COLUMN best_detail TEXT;",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION, "STORE_SCHEMA_VERSION must count migrations");

static int read_version(sqlite3 *db, int *version, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, "SELECT version FROM schema_version", &st, err);

	if (rc != FITD_OK)
		return rc;
	*version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return FITD_OK;
}

/* FITD_ESCHEMA when a row points at a row that does not exist. */
static int check_foreign_keys(sqlite3 *db, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, "PRAGMA foreign_key_check", &st, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__step_row(db, st, "check foreign keys", err);
	if (rc == FITD_OK)
		rc = fitd_error_set(err, FITD_ESCHEMA, NULL,
				    "a row of %s points at a missing row of %s",
				    (const char *)sqlite3_column_text(st, 0),
				    (const char *)sqlite3_column_text(st, 2));
	else if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	sqlite3_finalize(st);
	return rc;
}

static int apply(struct store *s, int target, struct fitd_error *err)
{
	sqlite3 *db;
	char bump[96];
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__exec(db, migrations[target - 1], err);
	if (rc == FITD_OK)
		rc = check_foreign_keys(db, err);
	if (rc == FITD_OK) {
		snprintf(bump, sizeof(bump), "UPDATE schema_version SET version = %d", target);
		rc = store__exec(db, bump, err);
	}
	return store__write_end(s, rc, err);
}

/*
 * Incremental auto-vacuum lets store_vacuum() give freed pages back to the
 * file system. A new database has it from the pragma store.c sets before
 * the first write; one made before schema 4 gets it from a VACUUM, which
 * rewrites the file once and needs about its size free meanwhile. A
 * failure is logged, not fatal: the store works without it (deleting then
 * only reuses pages) and the next open tries again.
 */
static void auto_vacuum(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int mode = -1, rc;
	int64_t t0;

	if (store__prepare(s->writer, "PRAGMA auto_vacuum", &st, NULL) == FITD_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		mode = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (mode == 2) /* incremental */
		return;
	t0 = fitd_clock_ns();
	rc = sqlite3_exec(s->writer, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		fitd_log_info("vacuumed", "reason=auto_vacuum ms=%lld",
			      (long long)((fitd_clock_ns() - t0) / 1000000));
	else
		fitd_log_warn("vacuum_skipped", "reason=\"%s\" retry=next_start",
			      sqlite3_errmsg(s->writer));
}

int store__migrate(struct store *s, struct fitd_error *err)
{
	int version = 0;
	int rc;

	rc = store__exec(s->writer,
			 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
			 "INSERT INTO schema_version SELECT 0"
			 " WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
			 err);
	if (rc == FITD_OK)
		rc = read_version(s->writer, &version, err);
	if (rc != FITD_OK)
		return rc;
	if (version > STORE_SCHEMA_VERSION)
		return fitd_error_set(err, FITD_ESCHEMA, NULL,
				      "database %s is at schema version %d but this fitd knows "
				      "only up to %d; run a newer fitd or restore a backup",
				      s->db_path, version, STORE_SCHEMA_VERSION);
	rc = store__exec(s->writer, "PRAGMA foreign_keys=OFF", err);
	for (int v = version + 1; v <= NMIGRATIONS && rc == FITD_OK; v++)
		rc = apply(s, v, err);
	if (rc == FITD_OK)
		rc = store__exec(s->writer, "PRAGMA foreign_keys=ON", err);
	if (rc == FITD_OK)
		auto_vacuum(s);
	return rc;
}

int store_schema_version(struct store *s, int *version, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_schema_version(s, version, err);
	sqlite3 *db = store__read_begin(s);
	int rc = read_version(db, version, err);

	store__read_end(s, db);
	return rc;
}

/*
 * pg_schema.c - the PostgreSQL schema, made for several daemons sharing one
 * database even where one daemon uses it today.
 *
 * The versions count as on SQLite (schema.c): a PostgreSQL database starts
 * at version 6 with everything SQLite reached in six steps, and a later
 * migration gets the same number on both engines. Migrations run in one
 * transaction under an advisory lock, so daemons starting together migrate
 * once and never see half a schema; a database at a higher version is
 * refused (FITD_ESCHEMA).
 *
 * What differs from SQLite, and why:
 * - Times are ms since the epoch from the database's clock (fitd_now_ms()),
 *   never a host's: hosts drift. Leases are timestamptz (lease_expires_at)
 *   compared with now() only.
 * - trials carry attempt (claims counted against max_attempts), generation
 *   (the fencing token a completion presents), lease_owner and
 *   lease_expires_at; jobs carry a proposer lease (lease_owner,
 *   lease_expires_at, epoch) for the node that proposes its trials.
 * - Event ids are per job: event_counters holds one row per job whose
 *   UPDATE ... RETURNING gives the next id in the inserting transaction, so
 *   ids are assigned in commit order and a reader polling "id > last" never
 *   skips one that commits late (a sequence could).
 * - Dataset and model files live in the database as 1 MiB bytea chunks
 *   with their sha256, so any node can load them; a node keeps dataset
 *   	  files in STATE/cache/ by checksum and checks the checksum when it
 *   fetches one.
  * - Alias names compare byte by byte (COLLATE "C"), as SQLite's do, so
 *   lists come in the same order whatever the database's locale.
 * - A trial's out-of-fold predictions (oof.c) are a trial_oof row (float32
 *   in the byte order of the nodes, which must share it), so the node that
 *   ends a job can build its ensemble from trials other nodes ran. No
 *   foreign key, as the files had none: a row whose job is gone is swept
 *   at open.
 *
 * Append-only: never edit a migration that has shipped.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct migration {
	int version;
	const char *sql;
};

static const struct migration migrations[] = {
	{ 6, "CREATE FUNCTION fitd_now_ms() RETURNS bigint LANGUAGE sql STABLE"
	     "  AS 'SELECT floor(extract(epoch FROM now()) * 1000)::bigint';"
	     "CREATE TABLE datasets ("
	     "  seq bigserial PRIMARY KEY,"
	     "  id text NOT NULL UNIQUE,"
	     "  name text NOT NULL,"
	     "  rows bigint NOT NULL,"
	     "  cols bigint NOT NULL,"
	     "  bytes bigint NOT NULL,"
	     "  sha256 text NOT NULL,"
	     "  columns text NOT NULL,"
	     "  created_at bigint NOT NULL,"
	     "  file_sha256 text NOT NULL,"
	     "  file_bytes bigint NOT NULL);"
	     "CREATE TABLE dataset_chunks ("
	     "  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,"
	     "  n integer NOT NULL,"
	     "  data bytea NOT NULL,"
	     "  PRIMARY KEY (dataset_id, n));"
	     "CREATE TABLE dataset_columns ("
	     "  dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,"
	     "  idx bigint NOT NULL,"
	     "  name text NOT NULL,"
	     "  is_numeric boolean NOT NULL,"
	     "  levels bigint NOT NULL,"
	     "  missing bigint NOT NULL,"
	     "  integer_valued boolean NOT NULL,"
	     "  distinct_values bigint NOT NULL,"
	     "  PRIMARY KEY (dataset_id, idx));"
	     "CREATE TABLE jobs ("
	     "  seq bigserial PRIMARY KEY,"
	     "  id text NOT NULL UNIQUE,"
	     "  dataset_id text NOT NULL,"
	     "  state text NOT NULL CHECK (state IN"
	     "    ('queued','running','succeeded','failed','cancelled')),"
	     "  target text NOT NULL,"
	     "  task text NOT NULL,"
	     "  metric text NOT NULL,"
	     "  spec text NOT NULL,"
	     "  idempotency_key text,"
	     "  owner text,"
	     "  cancel_requested boolean NOT NULL DEFAULT false,"
	     "  max_attempts bigint NOT NULL DEFAULT 3,"
	     "  runtime text,"
	     "  created_at bigint NOT NULL,"
	     "  started_at bigint,"
	     "  finished_at bigint,"
	     "  elapsed_ms bigint NOT NULL DEFAULT 0,"
	     "  best_trial bigint,"
	     "  best_score double precision,"
	     "  best_model_id text,"
	     "  best_detail text,"
	     "  error_code text,"
	     "  error_message text,"
	     "  lease_owner text,"
	     "  lease_expires_at timestamptz,"
	     "  epoch bigint NOT NULL DEFAULT 0);"
	     "CREATE INDEX jobs_by_state ON jobs (state, seq);"
	     "CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);"
	     "CREATE INDEX jobs_by_owner ON jobs (owner, state);"
	     "CREATE UNIQUE INDEX jobs_by_key ON jobs (coalesce(owner, ''), idempotency_key);"
	     "CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;"
	     "CREATE TABLE event_counters ("
	     "  job_id text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,"
	     "  last bigint NOT NULL DEFAULT 0);"
	     "CREATE TABLE events ("
	     "  job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	     "  id bigint NOT NULL,"
	     "  type text NOT NULL,"
	     "  data text NOT NULL,"
	     "  created_at bigint NOT NULL,"
	     "  PRIMARY KEY (job_id, id));"
	     "CREATE TABLE trials ("
	     "  job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	     "  idx bigint NOT NULL,"
	     "  state text NOT NULL CHECK (state IN ('queued','running','completed',"
	     "    'pruned','failed','timeout','interrupted')),"
	     "  params text NOT NULL,"
	     "  attempt bigint NOT NULL DEFAULT 0,"
	     "  generation bigint NOT NULL DEFAULT 0,"
	     "  lease_owner text,"
	     "  lease_expires_at timestamptz,"
	     "  score double precision,"
	     "  score_std double precision,"
	     "  epochs bigint,"
	     "  duration_ms bigint,"
	     "  result text,"
	     "  error_code text,"
	     "  error_message text,"
	     "  started_at bigint,"
	     "  finished_at bigint,"
	     "  PRIMARY KEY (job_id, idx));"
	     "CREATE INDEX trials_by_state ON trials (state, job_id);"
	     "CREATE INDEX trials_queued ON trials (job_id, idx) WHERE state = 'queued';"
	     "CREATE INDEX trials_leases ON trials (lease_expires_at) WHERE state = 'running';"
	     "CREATE TABLE model_files ("
	     "  id text PRIMARY KEY,"
	     "  sha256 text NOT NULL,"
	     "  bytes bigint NOT NULL,"
	     "  created_at bigint NOT NULL);"
	     "CREATE TABLE model_chunks ("
	     "  model_id text NOT NULL REFERENCES model_files (id) ON DELETE CASCADE,"
	     "  n integer NOT NULL,"
	     "  data bytea NOT NULL,"
	     "  PRIMARY KEY (model_id, n));"
	     "CREATE TABLE models ("
	     "  seq bigserial PRIMARY KEY,"
	     "  id text NOT NULL UNIQUE REFERENCES model_files (id),"
	     "  job_id text REFERENCES jobs (id) ON DELETE SET NULL,"
	     "  trial_idx bigint,"
	     "  bytes bigint NOT NULL,"
	     "  created_at bigint NOT NULL);"
	     "CREATE INDEX models_by_job ON models (job_id);"
	     "CREATE TABLE aliases ("
	     "  name text COLLATE \"C\" PRIMARY KEY,"
	     "  model_id text NOT NULL REFERENCES models (id),"
	     "  created_at bigint NOT NULL,"
	     "  updated_at bigint NOT NULL);"
	     "CREATE INDEX aliases_by_model ON aliases (model_id);"
	     "CREATE TABLE trial_oof ("
	     "  job_id text NOT NULL,"
	     "  idx bigint NOT NULL,"
	     "  data bytea NOT NULL,"
	     "  PRIMARY KEY (job_id, idx));" },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* Any constant, the same in every fitd: the lock daemons migrate under. */
#define MIGRATE_LOCK "7463617466"

static int simple(PGconn *conn, const char *sql, const char *what, struct fitd_error *err)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
		     ? FITD_OK
		     : store__pg_error(conn, r, what, err);

	PQclear(r);
	return rc;
}

static int read_version(struct pg_conn *c, int *version, struct fitd_error *err)
{
	static const char sql[] = "SELECT max(version) FROM schema_version";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 0, NULL, &r, "read schema version", err);

	if (rc == FITD_OK)
		*version = PQntuples(r) > 0 ? (int)store__pg_get_i64(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

static int migrate_in_tx(struct pg_conn *c, struct fitd_error *err)
{
	char bump[96];
	int version = 0;
	int rc = simple(c->conn,
			"SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
			"CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);",
			"lock schema", err);

	if (rc == FITD_OK)
		rc = read_version(c, &version, err);
	if (rc != FITD_OK)
		return rc;
	if (version > STORE_SCHEMA_VERSION)
		return fitd_error_set(err, FITD_ESCHEMA, NULL,
				      "database is at schema version %d but this fitd knows only "
				      "up to %d; run a newer fitd or restore a backup",
				      version, STORE_SCHEMA_VERSION);
	for (size_t i = 0; rc == FITD_OK && i < NMIGRATIONS; i++) {
		if (migrations[i].version <= version)
			continue;
		rc = simple(c->conn, migrations[i].sql, "migrate", err);
		snprintf(bump, sizeof(bump),
			 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
			 migrations[i].version);
		if (rc == FITD_OK)
			rc = simple(c->conn, bump, "migrate", err);
	}
	return rc;
}

int store__pg_migrate(struct store *s, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, migrate_in_tx(c, err), err);
}

int store__pg_schema_version(struct store *s, int *version, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = read_version(c, version, err);
	store__pg_give(s, c);
	return rc;
}

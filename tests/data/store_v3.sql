-- A database at schema version 3: the schema as fitd made it before the
-- column facts of migration 4, dumped with sqlite3 .dump, and rows written
-- by hand: two datasets without facts, one of them used by a queued job.
-- test_store.c migrates it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES(3);
CREATE TABLE datasets (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  name TEXT NOT NULL,  rows INTEGER NOT NULL,  cols INTEGER NOT NULL,  bytes INTEGER NOT NULL,  sha256 TEXT NOT NULL,  columns TEXT NOT NULL,  created_at INTEGER NOT NULL);
INSERT INTO datasets VALUES(1,'ds_00000000000000000001','t',2,2,12,'0000000000000000000000000000000000000000000000000000000000000000','[]',1764400000000);
INSERT INTO datasets VALUES(2,'ds_00000000000000000002','u',3,3,30,'1111111111111111111111111111111111111111111111111111111111111111','[]',1764400000010);
CREATE TABLE trials (  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,  idx INTEGER NOT NULL,  state TEXT NOT NULL CHECK (state IN ('queued','running','completed',    'pruned','failed','timeout','interrupted')),  params TEXT NOT NULL,  attempt INTEGER NOT NULL DEFAULT 0,  generation INTEGER NOT NULL DEFAULT 0,  owner TEXT,  lease_until INTEGER,  score REAL,  score_std REAL,  epochs INTEGER,  duration_ms INTEGER,  result TEXT,  error_code TEXT,  error_message TEXT,  started_at INTEGER,  finished_at INTEGER,  PRIMARY KEY (job_id, idx)) WITHOUT ROWID;
CREATE TABLE events (  id INTEGER PRIMARY KEY AUTOINCREMENT,  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,  type TEXT NOT NULL,  data TEXT NOT NULL,  created_at INTEGER NOT NULL);
INSERT INTO events VALUES(1,'job_000000000000000000d1','job_state','{"job":"job_000000000000000000d1","state":"queued"}',1764400000011);
CREATE TABLE models (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  job_id TEXT NOT NULL REFERENCES jobs (id),  trial_idx INTEGER,  bytes INTEGER NOT NULL,  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS "jobs" (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  dataset_id TEXT NOT NULL,  state TEXT NOT NULL CHECK (state IN    ('queued','running','succeeded','failed','cancelled')),  target TEXT NOT NULL,  task TEXT NOT NULL,  metric TEXT NOT NULL,  spec TEXT NOT NULL,  idempotency_key TEXT,  cancel_requested INTEGER NOT NULL DEFAULT 0,  max_attempts INTEGER NOT NULL DEFAULT 3,  runtime TEXT,  created_at INTEGER NOT NULL,  started_at INTEGER,  finished_at INTEGER,  elapsed_ms INTEGER NOT NULL DEFAULT 0,  best_trial INTEGER,  best_score REAL,  best_model_id TEXT,  error_code TEXT,  error_message TEXT,  owner TEXT);
INSERT INTO jobs VALUES(1,'job_000000000000000000d1','ds_00000000000000000002','queued','y','regression','rmse','{"n":1}',NULL,0,3,NULL,1764400000011,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('events',1);
INSERT INTO sqlite_sequence VALUES('datasets',2);
INSERT INTO sqlite_sequence VALUES('jobs',1);
CREATE INDEX trials_by_state ON trials (state, job_id);
CREATE INDEX events_by_job ON events (job_id, id);
CREATE INDEX jobs_by_state ON jobs (state, seq);
CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);
CREATE INDEX jobs_by_owner ON jobs (owner, state);
CREATE UNIQUE INDEX jobs_by_key ON jobs (ifnull(owner, ''), idempotency_key);
COMMIT;

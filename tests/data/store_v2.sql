-- A database at schema version 2: the schema as fitd 0.1.0 made it, dumped
-- with sqlite3 .dump, and rows written by hand: jobs of two owners and of
-- none with idempotency keys, rows that point at a job, and a jobs sequence
-- ahead of its rows (as after a deletion). test_store.c migrates it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES(2);
CREATE TABLE datasets (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  name TEXT NOT NULL,  rows INTEGER NOT NULL,  cols INTEGER NOT NULL,  bytes INTEGER NOT NULL,  sha256 TEXT NOT NULL,  columns TEXT NOT NULL,  created_at INTEGER NOT NULL);
INSERT INTO datasets VALUES(1,'ds_00000000000000000001','t',2,2,12,'0000000000000000000000000000000000000000000000000000000000000000','[]',1764400000000);
CREATE TABLE jobs (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  dataset_id TEXT NOT NULL,  state TEXT NOT NULL CHECK (state IN    ('queued','running','succeeded','failed','cancelled')),  target TEXT NOT NULL,  task TEXT NOT NULL,  metric TEXT NOT NULL,  spec TEXT NOT NULL,  idempotency_key TEXT UNIQUE,  cancel_requested INTEGER NOT NULL DEFAULT 0,  max_attempts INTEGER NOT NULL DEFAULT 3,  runtime TEXT,  created_at INTEGER NOT NULL,  started_at INTEGER,  finished_at INTEGER,  elapsed_ms INTEGER NOT NULL DEFAULT 0,  best_trial INTEGER,  best_score REAL,  best_model_id TEXT,  error_code TEXT,  error_message TEXT, owner TEXT);
INSERT INTO jobs VALUES(1,'job_000000000000000000a1','ds_00000000000000000001','succeeded','y','regression','rmse','{"n":1}','k1',0,3,NULL,1764400000001,1764400000002,1764400000003,0,0,0.5,'mdl_000000000000000000a1',NULL,NULL,'alice');
INSERT INTO jobs VALUES(2,'job_000000000000000000b1','ds_00000000000000000001','queued','y','regression','rmse','{"n":2}','k2',0,3,NULL,1764400000004,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'bob');
INSERT INTO jobs VALUES(3,'job_000000000000000000c1','ds_00000000000000000001','queued','y','regression','rmse','{"n":3}','k3',0,3,NULL,1764400000005,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO jobs VALUES(4,'job_000000000000000000a2','ds_00000000000000000001','cancelled','y','regression','rmse','{"n":4}',NULL,0,3,NULL,1764400000006,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'alice');
CREATE TABLE trials (  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,  idx INTEGER NOT NULL,  state TEXT NOT NULL CHECK (state IN ('queued','running','completed',    'pruned','failed','timeout','interrupted')),  params TEXT NOT NULL,  attempt INTEGER NOT NULL DEFAULT 0,  generation INTEGER NOT NULL DEFAULT 0,  owner TEXT,  lease_until INTEGER,  score REAL,  score_std REAL,  epochs INTEGER,  duration_ms INTEGER,  result TEXT,  error_code TEXT,  error_message TEXT,  started_at INTEGER,  finished_at INTEGER,  PRIMARY KEY (job_id, idx)) WITHOUT ROWID;
INSERT INTO trials VALUES('job_000000000000000000a1',0,'completed','{"model":"linear"}',1,1,NULL,NULL,0.5,NULL,10,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE events (  id INTEGER PRIMARY KEY AUTOINCREMENT,  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,  type TEXT NOT NULL,  data TEXT NOT NULL,  created_at INTEGER NOT NULL);
INSERT INTO events VALUES(1,'job_000000000000000000a1','job_state','{"job":"job_000000000000000000a1","state":"queued"}',1764400000001);
INSERT INTO events VALUES(2,'job_000000000000000000a1','job_state','{"job":"job_000000000000000000a1","state":"succeeded"}',1764400000003);
CREATE TABLE models (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  id TEXT NOT NULL UNIQUE,  job_id TEXT NOT NULL REFERENCES jobs (id),  trial_idx INTEGER,  bytes INTEGER NOT NULL,  created_at INTEGER NOT NULL);
INSERT INTO models VALUES(1,'mdl_000000000000000000a1','job_000000000000000000a1',0,100,1764400000003);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('events',2);
INSERT INTO sqlite_sequence VALUES('datasets',1);
INSERT INTO sqlite_sequence VALUES('jobs',10);
INSERT INTO sqlite_sequence VALUES('models',1);
CREATE INDEX jobs_by_state ON jobs (state, seq);
CREATE INDEX jobs_by_dataset ON jobs (dataset_id, state);
CREATE INDEX trials_by_state ON trials (state, job_id);
CREATE INDEX events_by_job ON events (job_id, id);
CREATE INDEX jobs_by_owner ON jobs (owner, state);
COMMIT;

/*
 * store.h - fitd's durable state, on one of two engines chosen at
 * store_open() (store_options.location); the rest of fitd does not know
 * which. By default one SQLite database in WAL mode plus the dataset and
 * model files beside it, under the state directory:
 *
 *   STATE/fitd.db        datasets and their column facts, jobs, trials, events,
 *                        models, aliases
 *   STATE/datasets/ID    dataset files (worker/fit/frame.h format)
 *   STATE/models/ID      model files
 *   STATE/tmp/           uploads in progress; emptied at every start
 *
 * Exactly one connection writes: every write takes the writer lock, runs in
 * BEGIN IMMEDIATE and commits before the call returns, so a caller that got
 * FITD_OK may acknowledge. Checkpoints run only on the writer. Reads use a
 * small pool of read-only connections, so readers never wait on a writer.
 *
 * With a postgresql:// location (store/pg.h, pg_*.c) the same contract
 * holds on a PostgreSQL database: every write is one transaction committed
 * before the call returns, dataset and model files are stored in the
 * database, and the state directory keeps tmp/ and cache/. A call
 * that cannot reach the database fails with FITD_EUNAVAILABLE.
 *
 * All functions are safe to call from any thread. Strings returned inside
 * result structs are owned by the struct and freed by its _release().
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/csv.h"
#include "store/files.h"
#include "worker/fit/frame.h"
#include "daemon/base/status.h"

/* The newest schema this binary knows; a database at a higher version is refused. */
#define STORE_SCHEMA_VERSION 6

struct store;
struct fitd_metrics;

struct store_options {
	const char *state_dir; /* created if missing */
	/*
	 * Where the database is: NULL or "" for SQLite in state_dir (the
	 * default), or a "postgresql://" (or "postgres://") URI. With
	 * PostgreSQL the state directory still holds tmp/ for uploads, cache/
	 	 * (dataset files fetched from the database, by checksum); out-of-fold
	 * predictions are rows there too.
	 */
	const char *location;
	int readers;		      /* read-only connections; 0 means 4 */
	int busy_timeout_ms;	      /* 0 means 5000 */
	struct fitd_metrics *metrics; /* times each write transaction; NULL: none */
};

/*
 * Creates the state directory layout, opens the database, applies pending
 * migrations and clears tmp/. Fails with FITD_ESCHEMA when the database was
 * written by a newer fitd. On error *out is NULL and nothing stays open.
 *
 * A database made without incremental auto-vacuum (by a fitd before
 * schema 4) is rewritten once with VACUUM to switch it on, which needs
 * free space about its size for a while; when that fails the store opens
 * all the same (logged as event=vacuum_skipped) and tries again at the
 * next open. Then the dataset and model files are measured once for
 * store_disk_usage().
 */
int store_open(const struct store_options *opt, struct store **out, struct fitd_error *err);

/* Checkpoints the WAL into the database and closes every connection; NULL is allowed. */
void store_close(struct store *s);

const char *store_state_dir(const struct store *s);

/* The schema version the database is at. */
int store_schema_version(struct store *s, int *version, struct fitd_error *err);

/* Milliseconds since the Unix epoch, the unit of every *_at field. */
int64_t store_now_ms(void);

/* ---- datasets ---- */

struct store_dataset {
	char id[STORE_ID_MAX];
	char *name;
	int64_t rows;
	int64_t cols;
	int64_t bytes;	    /* size of the uploaded CSV (as written to the upload, so inflated) */
	char sha256[65];    /* of the uploaded CSV, likewise; lowercase hex */
	char *columns_json; /* JSON array of column objects, made by the caller at commit */
	int64_t created_at; /* ms since the epoch */
};

void store_dataset_release(struct store_dataset *d);

/* FITD_ENOTFOUND when no dataset has this id. */
int store_dataset_get(struct store *s, const char *id, struct store_dataset *out,
		      struct fitd_error *err);

/*
 * Up to limit datasets in creation order, starting after the dataset whose
 * id is after (NULL: from the first). *out is a heap array of *n entries to
 * release one by one, then free(). *more tells whether rows remain.
 * FITD_EINVAL when after names no dataset.
 */
int store_dataset_list(struct store *s, const char *after, size_t limit, struct store_dataset **out,
		       size_t *n, bool *more, struct fitd_error *err);

/*
 * Deletes the row, then the file. FITD_ECONFLICT while a queued or running
 * job uses the dataset, FITD_ENOTFOUND when there is no such dataset.
 */
int store_dataset_delete(struct store *s, const char *id, struct fitd_error *err);

/*
 * Writes the dataset file's path into buf; FITD_EINVAL when it does not fit.
 * On PostgreSQL the file is a local copy in STATE/cache/ named by its
 * checksum, fetched from the database first when this node has none (and
 * checked: FITD_EIO "dataset_corrupt" when it does not match); there
 * FITD_ENOTFOUND when no dataset has this id, FITD_EUNAVAILABLE when the
 * database cannot be reached.
 */
int store_dataset_path(const struct store *s, const char *id, char *buf, size_t cap,
		       struct fitd_error *err);

/* ---- column facts: what a job spec is validated against, kept with the dataset ---- */

/*
 * One column of a dataset as the job spec's validator sees it (worker/spec.h
 * says how the facts are computed). They are kept so that a submission
 * never reads the dataset file.
 */
struct store_column {
	char *name;
	bool numeric;
	int64_t levels;	     /* categorical: its levels */
	int64_t missing;     /* rows without a value */
	bool integer_valued; /* numeric: every value present is an integer */
	int64_t distinct;    /* numeric: distinct values present, as counted (up to a cap) */
};

/* Frees an array of n columns and their names; NULL is allowed. */
void store_columns_free(struct store_column *cols, size_t n);

/*
 * The rows of dataset id and the facts of its columns in column order:
 * *cols a heap array of *n (store_columns_free()), or NULL with *n 0 when
 * none are kept (a dataset uploaded before schema 5, not yet described).
 * One read transaction. FITD_ENOTFOUND ("dataset_not_found") when there is
 * no such dataset; FITD_ENOMEM when memory runs out.
 */
int store_dataset_columns(struct store *s, const char *id, int64_t *rows,
			  struct store_column **cols, size_t *n, struct fitd_error *err);

/*
 * Keeps the facts of the n columns of dataset id, in column order, unless
 * it has them already (then nothing changes: they are the same facts).
 * FITD_ENOTFOUND when the dataset is gone, FITD_EINVAL when n is not its
 * column count.
 */
int store_dataset_set_columns(struct store *s, const char *id, const struct store_column *cols,
			      size_t n, struct fitd_error *err);

/* ---- uploads: a CSV streamed to tmp/, parsed, then published as a dataset ---- */

struct store_upload;

/*
 * Creates a temporary file for an upload of expected_bytes and reserves that
 * space, so a full disk fails here with FITD_ENOSPC before any byte arrives.
 */
int store_upload_begin(struct store *s, uint64_t expected_bytes, struct store_upload **out,
		       struct fitd_error *err);

/* Appends a chunk of the body and hashes it. */
int store_upload_write(struct store_upload *up, const void *data, size_t len,
		       struct fitd_error *err);

/*
 * Parses the whole body as CSV. On success *frame points at the parsed table,
 * owned by the upload, so the caller can describe its columns before commit.
 */
int store_upload_parse(struct store_upload *up, const struct store_csv_options *opt,
		       const struct fit_frame **frame, struct fitd_error *err);

/*
 * Gives a parsed upload the facts of its columns (copied), to commit with
 * its row. FITD_EINVAL unless n is the parsed table's column count;
 * FITD_ENOMEM. An upload committed without them makes a dataset without
 * facts, described at its first job instead.
 */
int store_upload_set_columns(struct store_upload *up, const struct store_column *cols, size_t n,
			     struct fitd_error *err);

/*
 * Writes the dataset file (temp, fsync, rename, fsync dir), then commits its
 * row and its column facts (when given) in one transaction; only then is the
 * dataset visible. Fills *out on success.
 */
int store_upload_commit(struct store_upload *up, const char *name, const char *columns_json,
			struct store_dataset *out, struct fitd_error *err);

/* Removes whatever the upload left in tmp/ and frees it; NULL is allowed. */
void store_upload_free(struct store_upload *up);

/* ---- jobs ---- */

enum store_job_state {
	STORE_JOB_QUEUED,
	STORE_JOB_RUNNING,
	STORE_JOB_SUCCEEDED,
	STORE_JOB_FAILED,
	STORE_JOB_CANCELLED,
};

#define STORE_JOB_NSTATES 5

const char *store_job_state_name(enum store_job_state st);
/* Returns the state or -1 for an unknown name. */
int store_job_state_parse(const char *name);

struct store_job {
	char id[STORE_ID_MAX];
	char dataset_id[STORE_ID_MAX];
	enum store_job_state state;
	char *target;
	char *task;
	char *metric;
	char *spec_json;    /* the normalized spec with every default */
	char *runtime_json; /* what the scheduler chose (parallelism), JSON; NULL until it runs */
	char *best_detail;  /* the final model's kind and why, JSON; NULL until it is set */
	bool cancel_requested;
	int64_t created_at;
	int64_t started_at;  /* 0 until it first runs */
	int64_t finished_at; /* 0 until terminal */
	int64_t elapsed_ms;  /* running time, across restarts */
	int64_t best_trial;  /* -1 when no trial has completed */
	double best_score;
	char best_model_id[STORE_ID_MAX]; /* "" when none */
	char *best_params;		  /* JSON text or NULL */
	char *error_code;		  /* NULL unless failed */
	char *error_message;
	int64_t trials_done; /* in a terminal trial state */
	int64_t trials_running;
	int64_t trials_total; /* rows created so far */
};

void store_job_release(struct store_job *j);

struct store_job_new {
	const char *dataset_id;
	const char *target;
	const char *task;
	const char *metric;
	const char *spec_json;
	const char *idempotency_key; /* NULL for none */
	int64_t max_attempts;	     /* claims a trial may take before it is failed */
	const char *owner;	     /* the token's name; NULL when no token file is used */
	int64_t max_owner_active;    /* with owner: cap on its queued and running jobs; 0: none */
};

/*
 * Inserts a queued job and its first job_state event in one transaction.
 * With an idempotency key the same owner (or, for NULL, no owner) already
 * used for the same spec, returns that job with *existed true; for another
 * spec, FITD_ECONFLICT. Other owners' keys are never seen. FITD_ENOTFOUND when
 * the dataset no longer exists; FITD_ELIMIT (code too_many_jobs) when the
 * owner already has max_owner_active queued or running jobs.
 */
int store_job_create(struct store *s, const struct store_job_new *in, struct store_job *out,
		     bool *existed, struct fitd_error *err);

int store_job_get(struct store *s, const char *id, struct store_job *out, struct fitd_error *err);

/* Whether a job with this id exists (one indexed read; read-only connection). */
int store_job_exists(struct store *s, const char *id, bool *exists, struct fitd_error *err);

/* Like store_dataset_list, optionally only jobs in state (pass -1 for all). */
int store_job_list(struct store *s, int state, const char *after, size_t limit,
		   struct store_job **out, size_t *n, bool *more, struct fitd_error *err);

/*
 * Cancels a job: a queued job becomes cancelled at once; a running one gets
 * cancel_requested, which the scheduler acts on. FITD_ESTATE for a job that
 * already ended. Fills *out with the job after the change.
 */
int store_job_cancel(struct store *s, const char *id, struct store_job *out,
		     struct fitd_error *err);

/*
 * The ids of running jobs, then of queued ones, each oldest first, at most
 * limit of them; a heap array of n ids to free() (NULL when n is 0).
 */
int store_job_active(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
		     struct fitd_error *err);

/*
 * queued -> running, started_at set on the first start, with a job_state
 * event; runtime_json records the effective parallelism.
 */
int store_job_start(struct store *s, const char *id, const char *runtime_json,
		    struct fitd_error *err);

/* Replaces the runtime JSON of a job (on resume after a restart). */
int store_job_set_runtime(struct store *s, const char *id, const char *runtime_json,
			  struct fitd_error *err);

/*
 * running -> succeeded, failed or cancelled, with a job_state event. code and
 * message describe a failure (NULL otherwise).
 */
int store_job_finish(struct store *s, const char *id, enum store_job_state st, const char *code,
		     const char *message, struct fitd_error *err);

/* The number of jobs in each state, indexed by enum store_job_state (read-only connection). */
int store_job_count_by_state(struct store *s, int64_t counts[STORE_JOB_NSTATES],
			     struct fitd_error *err);

/*
 * Adds running time to jobs (one transaction for all). On PostgreSQL a
 * running job's time is never less than the time on the database's clock
 * since it started, as store_job_get() reads it too: a job taken over
 * counts the time it had no live holder, so its deadline does not move.
 */
int store_job_add_elapsed(struct store *s, const char (*ids)[STORE_ID_MAX], const int64_t *ms,
			  size_t n, struct fitd_error *err);

/*
 * Points the job at a refit model of trial (whose score becomes the job's
 * best score), with what it is and why in detail_json (NULL: nothing
 * said) and a new_best event carrying data_json.
 */
int store_job_set_model(struct store *s, const char *job_id, const char *model_id,
			int64_t model_bytes, int64_t trial, double score, const char *detail_json,
			const char *data_json, struct fitd_error *err);

/*
 * Says what the job's final model is and why (detail_json as in
 * store_job_set_model) when no refit made it: the model stays as it is.
 */
int store_job_set_detail(struct store *s, const char *job_id, const char *detail_json,
			 struct fitd_error *err);

/* ---- trials ---- */

enum store_trial_state {
	STORE_TRIAL_QUEUED,
	STORE_TRIAL_RUNNING,
	STORE_TRIAL_COMPLETED,
	STORE_TRIAL_PRUNED,
	STORE_TRIAL_FAILED,
	STORE_TRIAL_TIMEOUT,
	STORE_TRIAL_INTERRUPTED,
};

#define STORE_TRIAL_NSTATES 7

const char *store_trial_state_name(enum store_trial_state st);
int store_trial_state_parse(const char *name);

struct store_trial {
	char job_id[STORE_ID_MAX];
	int64_t idx;
	enum store_trial_state state;
	char *params; /* JSON text */
	int64_t attempt;
	int64_t generation;
	bool has_score;
	double score; /* the metric's mean over folds, in its own units */
	double score_std;
	int64_t epochs;
	int64_t duration_ms;
	char *result; /* JSON text with per-fold detail, or NULL */
	char *error_code;
	char *error_message;
	int64_t started_at;
	int64_t finished_at;
};

void store_trial_release(struct store_trial *t);

/*
 * Claims trial idx of a job in one transaction: creates it with params_json
 * when it does not exist, or takes it when queued; state=running,
 * attempt+1, generation+1, owner and lease; a trial_started event.
 * *generation receives the fencing token to present at completion.
 * FITD_ESTATE when the trial exists and is not queued.
 */
int store_trial_claim(struct store *s, const char *job_id, int64_t idx, const char *params_json,
		      const char *owner, int64_t lease_ms, int64_t *generation,
		      struct fitd_error *err);

struct store_trial_outcome {
	enum store_trial_state state; /* completed, pruned, failed, timeout, interrupted, queued */
	bool has_score;
	double score;
	double score_std;
	int64_t epochs;
	int64_t duration_ms;
	const char *result_json; /* may be NULL */
	const char *error_code;	 /* may be NULL */
	const char *error_message;
	bool new_best;	      /* also make this the job's best */
	const char *model_id; /* with new_best: a published model file, or NULL */
	int64_t model_bytes;
	/*
	 * A shared store: new_best holds only when the score beats the job's
	 * stored best (another node may have recorded a better one since), in
	 * the way higher_is_better says; else the model row is kept and the
	 * new_best event left out. Ignored on SQLite.
	 */
	bool higher_is_better;
	const char *event_json;	     /* data of the trial_finished event */
	const char *best_event_json; /* data of the new_best event when new_best */
};

/*
 * Completes a running trial presenting the generation it claimed; an
 * outcome of state queued gives it back (graceful stop: the attempt is not
 * counted). FITD_ECONFLICT when the generation is stale (another claim
 * took the trial since, or it ended otherwise), in which case nothing
 * changes. The outcome the trial already holds under generation (a retried
 * commit whose answer was lost had gone through) is FITD_OK and writes
 * nothing again.
 */
int store_trial_finish(struct store *s, const char *job_id, int64_t idx, int64_t generation,
		       const struct store_trial_outcome *o, struct fitd_error *err);

/*
 * Every trial of a job from index from on, in index order (the searcher's
 * history; from 0 for all): a heap array of *n trials to release one by
 * one, then free() (NULL when *n is 0).
 */
int store_trial_all(struct store *s, const char *job_id, int64_t from, struct store_trial **out,
		    size_t *n, struct fitd_error *err);

/*
 * The leaderboard: completed trials best first (higher_is_better says which
 * way), then the others by index; paginated by offset. *out as for
 * store_trial_all(); *more tells whether rows remain.
 */
int store_trial_board(struct store *s, const char *job_id, bool higher_is_better, size_t offset,
		      size_t limit, struct store_trial **out, size_t *n, bool *more,
		      struct fitd_error *err);

/* The number of trials in each state, indexed by enum store_trial_state (read-only connection). */
/* How a job's finished trials were spent on one model family. */
struct store_family {
	char model[16];	     /* the trials' "model" parameter */
	int64_t trials;	     /* finished trials (any terminal state) */
	int64_t duration_ms; /* their running time, summed */
	bool has_best;	     /* some trial of the family completed with a score */
	double best;	     /* the best such score (higher_is_better says which way) */
};

/*
 * Per model family, the finished trials of a job, sorted by model name
 * (read-only connection): a heap array of *n entries to free() (NULL when
 * *n is 0). The counts sum to the job's trials_done.
 */
int store_trial_families(struct store *s, const char *job_id, bool higher_is_better,
			 struct store_family **out, size_t *n, struct fitd_error *err);

int store_trial_count_by_state(struct store *s, int64_t counts[STORE_TRIAL_NSTATES],
			       struct fitd_error *err);

/* Extends the lease of every running trial owned by owner. */
int store_trial_heartbeat(struct store *s, const char *owner, int64_t lease_ms,
			  struct fitd_error *err);

/*
 * After a restart: every running trial goes back to queued, or to failed
 * when it has used its job's max_attempts (a poison trial must not crash
 * the daemon forever). Counts go to *requeued and *failed.
 */
int store_trial_recover(struct store *s, int64_t *requeued, int64_t *failed,
			struct fitd_error *err);

/* ---- several daemons on one database ---- */

/*
 * True when other daemons may share this store (PostgreSQL): a job is then
 * led by the node holding its lease (store_job_lease()), which proposes its
 * trials and ends it, not by every daemon that sees it active; its trials
 * run on every node (store_trial_offer()). False on SQLite, where nothing
 * below changes.
 */
bool store_shared(const struct store *s);

/*
 * The daemon is stopping: a call that finds the database unreachable fails
 * at once instead of waiting out the reconnect back-off, and after one such
 * failure every call that needs a new connection fails at once, so a node
 * cut from its database stops within a connect timeout (the leases it
 * cannot give back expire). Any thread; nothing changes on SQLite.
 */
void store_stopping(struct store *s);

/*
 * This daemon's node id (at most STORE_NODE_MAX - 1 bytes), set before the
 * worker starts: the owner of its job and trial leases. On PostgreSQL it is
 * also the fence of its job writes: once another node holds a job's lease,
 * this node's store_job_finish(), store_job_set_model(),
 * store_job_set_detail() and store_job_add_elapsed() of that job change
 * nothing (FITD_ECONFLICT job_lease_lost, counted as refused stale writes),
 * and store_trial_recover() re-queues only the running trials this node
 * left, and those whose lease expired. A transaction left
 * open longer than lease_ms (at least 5 s; a node stopped in the middle of
 * one) is ended by the server, so its locks do not keep the job from the
 * others. Only while no other thread uses the store. FITD_EINVAL for an
 * empty or too long id.
 */
#define STORE_NODE_MAX 96
int store_set_node(struct store *s, const char *node, int64_t lease_ms, struct fitd_error *err);

/* The node id given to store_set_node(), "" before. */
const char *store_node(const struct store *s);

/* A job this node holds the lease of, as store_job_lease() returns it. */
struct store_held {
	char id[STORE_ID_MAX];
	bool cancel_requested;
};

/*
 * The jobs this node runs (PostgreSQL; on SQLite store_job_active() with no
 * cancel flag). In one transaction: renews the leases node holds, by
 * lease_ms from the database's clock; then takes, up to limit held in all,
 * queued or running jobs nobody holds or whose lease expired (FOR UPDATE
 * SKIP LOCKED, so nodes never take the same job; epoch + 1 on each take);
 * the running trials of a job taken that its previous holder ran, and
 * those whose trial lease expired, go back to queued with a new
 * generation (or fail past max_attempts), so the node that ran them can
 * record nothing of them, and their count is added to *rescued; so do the
 * running trials of any job whose trial lease expired (their node died
 * while another holds the job). Trials other live nodes run go on. *out gets
 * the held jobs, running first, each oldest first, with their cancel flag:
 * a heap array of *n to free() (NULL when *n is 0). A job the caller runs
 * that is not in it was taken by another node.
 */
int store_job_lease(struct store *s, const char *node, int64_t lease_ms, size_t limit,
		    struct store_held **out, size_t *n, int64_t *rescued, struct fitd_error *err);

/*
 * Gives up the leases of the jobs node holds (it stops, its trials given
 * back), so other nodes take them at their next pass rather than after
 * the lease; *released gets their number. Nothing on SQLite.
 */
int store_job_unlease(struct store *s, const char *node, int64_t *released, struct fitd_error *err);

/*
 * Trials of one job on every node (PostgreSQL). The node holding a job's
 * lease proposes its trials; besides claiming one directly
 * (store_trial_claim()) it may offer one: trial idx written as queued with
 * its parameters, for any node to take. FITD_ESTATE when the trial exists,
 * FITD_ECONFLICT job_lease_lost when another node holds the job. On SQLite
 * (one node, which claims directly) FITD_EINVAL.
 */
int store_trial_offer(struct store *s, const char *job_id, int64_t idx, const char *params_json,
		      const char *owner, struct fitd_error *err);

/*
 * The running jobs without a cancel request that have queued trials, oldest
 * first, at most limit: a heap array of *n ids to free() (NULL when *n is
 * 0). Read-only. None on SQLite.
 */
int store_trial_offered(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
			struct fitd_error *err);

/*
 * Takes the queued trial of job_id with the lowest index for owner, under a
 * lease of lease_ms from the database's clock (FOR UPDATE SKIP LOCKED, so
 * two nodes never take the same one): as store_trial_claim() it becomes
 * running with attempt + 1 and generation + 1 and a trial_started event.
 * Only while the job is running without a cancel request. *idx, *generation
 * and *params_json (a heap string to free()) describe it. FITD_ENOTFOUND
 * when there is none to take; on SQLite always.
 */
int store_trial_take(struct store *s, const char *job_id, const char *owner, int64_t lease_ms,
		     int64_t *idx, int64_t *generation, char **params_json, struct fitd_error *err);

/*
 * The proposer ends a job's search early (a deadline, a cancel, a failure):
 * its offered trials no node took yet (queued, never attempted) are
 * deleted, and the trials other nodes than owner run end in state st
 * (timeout or interrupted) with a new generation, so the nodes running them
 * can record nothing more, each with a trial_finished event. *ended counts
 * both. Nothing on SQLite.
 */
int store_trial_withdraw(struct store *s, const char *job_id, const char *owner,
			 enum store_trial_state st, int64_t *ended, struct fitd_error *err);

/*
 * Appends a trial_progress event for trial idx of job_id while that trial
 * is running under generation; FITD_ECONFLICT stale_generation (nothing
 * written, counted) once it was claimed again or rescued. On SQLite
 * store_event_add().
 */
int store_trial_progress(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			 const char *data_json, struct fitd_error *err);

/* ---- events ---- */

struct store_event {
	int64_t id;
	char *type;
	char *data; /* JSON text */
	int64_t created_at;
};

void store_event_release(struct store_event *e);

/* Appends an event in its own transaction; *id receives its id when not NULL. */
int store_event_add(struct store *s, const char *job_id, const char *type, const char *data_json,
		    int64_t *id, struct fitd_error *err);

/* Up to limit events of a job with id > after_id, in id order. */
int store_event_list(struct store *s, const char *job_id, int64_t after_id, size_t limit,
		     struct store_event **out, size_t *n, struct fitd_error *err);

/* ---- models ---- */

/*
 * Writes a model file durably (temp, fsync, rename, fsync dir) under a new
 * id; the row that makes it visible is committed later by
 * store_trial_finish() or store_job_set_model(). A file never committed is
 * removed at the next start.
 */
int store_model_write(struct store *s, const char *text, size_t len, char id[STORE_ID_MAX],
		      struct fitd_error *err);

/* Reads a committed model file; *text is a NUL-terminated heap string. */
int store_model_read(struct store *s, const char *id, char **text, size_t *len,
		     struct fitd_error *err);

/*
 * Counts the deletions of model rows so far (any cause: a model, a job,
 * retention, an alias letting go). It only grows; a cache of parsed models
 * that saw another value must look again before it serves one. Bumped after
 * the commit and before the files go, so a caller that sees the old value
 * after a delete returned cannot exist. Lock-free, any thread.
 */
uint64_t store_model_deletions(struct store *s);

/* ---- deleting jobs and models ---- */

/* What store_job_delete() removed and what it kept. */
struct store_job_deletion {
	size_t models_deleted;	    /* rows, then files, removed */
	char (*kept)[STORE_ID_MAX]; /* models an alias holds, which stay; heap, NULL when none */
	size_t nkept;
};

void store_job_deletion_release(struct store_job_deletion *d);

/*
 * Deletes a finished job with its trials, events and models in one
 * transaction, then removes the model files (a crash between the two
 * leaves orphan files that the next store_open() removes). A model that
 * an alias holds stays, readable by id, without a job; it goes when no
 * alias holds it any more (store_alias_set(), store_alias_delete()).
 * FITD_ENOTFOUND (job_not_found) when there is no such job; FITD_ECONFLICT
 * (job_not_finished) while it is queued or running. On success *out (when
 * not NULL) tells what happened, for the caller to release.
 */
int store_job_delete(struct store *s, const char *id, struct store_job_deletion *out,
		     struct fitd_error *err);

/*
 * Deletes a model's row, then its file. FITD_ENOTFOUND (model_not_found);
 * FITD_ECONFLICT (model_in_use, the message naming the holder) while an
 * alias points at it or while it is a job's best model (deleting the job
 * removes it).
 */
int store_model_delete(struct store *s, const char *id, struct fitd_error *err);

/*
 * Jobs that ended (succeeded, failed or cancelled) before finished_before
 * (ms since the epoch), oldest first, at most limit of them: a heap array
 * of *n ids to free() (NULL when *n is 0), with when each ended in
 * *finished_at (same length; NULL allowed). Read-only connection.
 */
int store_job_expired(struct store *s, int64_t finished_before, size_t limit,
		      char (**ids)[STORE_ID_MAX], int64_t **finished_at, size_t *n,
		      struct fitd_error *err);

/* ---- aliases: names that point at a model, switched atomically ---- */

#define STORE_ALIAS_NAME_MAX 64	   /* bytes of a name */
#define STORE_ALIASES_MAX    10000 /* aliases in all */

/*
 * True for a valid alias name: 1 to STORE_ALIAS_NAME_MAX characters of
 * a-z 0-9 . _ -, the first a letter or digit ([a-z0-9][a-z0-9._-]{0,63}).
 */
bool store_alias_name_valid(const char *name);

struct store_alias {
	char name[STORE_ALIAS_NAME_MAX + 1];
	char model_id[STORE_ID_MAX];
	int64_t created_at;
	int64_t updated_at; /* the last time it was pointed at a model */
};

/*
 * Points alias name at model_id, creating it or switching it in one
 * transaction, so every later read sees either the old model or the new
 * one. *created tells which; previous receives the model it pointed at
 * before ("" when created). A model it let go of that has no job any more
 * (store_job_delete() kept it for the alias) and no other alias is
 * deleted, row then file. FITD_EINVAL (invalid_name) for a bad name,
 * FITD_ENOTFOUND (model_not_found) for an unknown model,
 * FITD_EUNPROCESSABLE (too_many_aliases) for a new alias past
 * STORE_ALIASES_MAX. Fills *out with the alias as stored.
 */
int store_alias_set(struct store *s, const char *name, const char *model_id,
		    struct store_alias *out, bool *created, char previous[STORE_ID_MAX],
		    struct fitd_error *err);

/* FITD_ENOTFOUND (alias_not_found); FITD_EINVAL (invalid_name). Read-only connection. */
int store_alias_get(struct store *s, const char *name, struct store_alias *out,
		    struct fitd_error *err);

/*
 * Up to limit aliases in name order after the alias named after (NULL:
 * from the first); *out a heap array of *n to free(), *more whether more
 * remain. FITD_EINVAL (invalid_cursor) when after names no alias.
 */
int store_alias_list(struct store *s, const char *after, size_t limit, struct store_alias **out,
		     size_t *n, bool *more, struct fitd_error *err);

/*
 * Deletes an alias; *out (when not NULL) receives it as it was. The model
 * it let go of goes too when it has no job and no other alias, as for
 * store_alias_set(). FITD_ENOTFOUND (alias_not_found), FITD_EINVAL
 * (invalid_name).
 */
int store_alias_delete(struct store *s, const char *name, struct store_alias *out,
		       struct fitd_error *err);

/* ---- disk use and giving space back ---- */

/* Bytes the state directory holds, by kind (file sizes, as ls -l shows them). */
struct store_disk {
	int64_t database; /* fitd.db and its WAL */
	int64_t datasets; /* the files of datasets/ */
	int64_t models;	  /* the files of models/ */
};

/*
 * The state's sizes without walking a directory: the database's two files
 * are stat()ed, the dataset and model files counted as the store writes and
 * removes them (measured once at open; uploads in progress in tmp/ are not
 * counted). Lock-free but for the stat() calls; any thread.
 */
void store_disk_usage(struct store *s, struct store_disk *out);

/*
 * Gives free pages of the database back to the file system: PRAGMA
 * incremental_vacuum of at most max_pages pages (0: all) on the writer,
 * then a passive checkpoint so the file itself shrinks once no reader
 * holds the old pages. *freed (may be NULL) receives the pages given back,
 * and *left those still free, so a caller can go on in steps that leave
 * the writer to others between them. A database without auto-vacuum
 * (store_open() could not switch it on) gives nothing back.
 */
int store_vacuum(struct store *s, int64_t max_pages, int64_t *freed, int64_t *left,
		 struct fitd_error *err);

/* ---- out-of-fold predictions (oof.c) ---- */

/*
 * A completed trial's predictions of the rows its validation folds held
 * out (float32: per row the class probabilities or the regression value),
  * kept as STATE/oof/JOB/TRIAL.f32 for the job's ensemble (on PostgreSQL a
 * trial_oof row instead, which any node can read). Any thread may call
 * them.
 */

/* The file's path into buf; FITD_EINVAL when it does not fit. */
int store_oof_path(const struct store *s, const char *job_id, int64_t idx, char *buf, size_t cap);

/*
 * Writes n values durably (temp, fsync, rename, fsync dir), replacing the
 * trial's file. FITD_ENOSPC, FITD_EIO, FITD_ETOOBIG. On PostgreSQL the
 * write is fenced like the trial's result: a trial the store has that no
 * longer runs under generation (claimed again, ended) is left as it is and
 * the write gets FITD_ECONFLICT stale_generation, counted in the metrics.
 */
int store_oof_write(const struct store *s, const char *job_id, int64_t idx, int64_t generation,
		    const float *v, size_t n, struct fitd_error *err);

/*
 * Reads the trial's values into *out (malloc'd, the caller frees) and their
 * count into *n. FITD_ENOTFOUND when there is no file, FITD_EFORMAT for a
 * size that is not whole values, FITD_EIO, FITD_ENOMEM.
 */
int store_oof_read(const struct store *s, const char *job_id, int64_t idx, float **out, size_t *n,
		   struct fitd_error *err);

/* Removes the trial's file; none is fine. */
void store_oof_remove(const struct store *s, const char *job_id, int64_t idx);

/* Removes the job's folder of files; none is fine. */
void store_oof_remove_job(const struct store *s, const char *job_id);

#endif

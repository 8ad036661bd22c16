/*
 * pg.h - what the PostgreSQL engine's files (store/pg_*.c) share and nothing
 * outside store/ may use: the connection pool, statement helpers and one
 * store__pg_* entry per public store function. store.c and its neighbours
 * call the entry when struct store has an engine (s->pg != NULL); the rest
 * of fitd sees only store.h and never learns which engine is below.
 *
 * Why a dispatch at the top of each public function rather than a vtable:
 * the SQLite code stays exactly as it was (its tests keep proving it), a
 * reader of store_job_create() sees at once where the PostgreSQL path goes,
 * and there is no table of forty function pointers to keep in step.
 */
#ifndef STORE_PG_H
#define STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/sha256.h"
#include "store/store.h"

/* One connection of the pool; used by one thread at a time (whoever took it). */
struct pg_conn {
	struct store_pg *pg;   /* its pool */
	PGconn *conn;	       /* NULL until the first connect */
	const char **prepared; /* the SQL texts prepared on conn; statement "f<i>" is [i] */
	size_t nprepared, cap;
	bool in_tx;	      /* a transaction is open (no silent retry then) */
	bool timed;	      /* it is a write transaction, timed into the metrics */
	int64_t start_ns;     /* the write transaction's start, for the metrics */
	struct pg_conn *next; /* free list; guarded by store_pg.lock */
};

struct store_pg {
	char *uri;	  /* the postgresql:// location as given */
	char *cache_dir;  /* STATE/cache: dataset files by checksum */
	int timeout_ms;	  /* how long a connection is tried again before FITD_EUNAVAILABLE */
	const char *node; /* the store's node id (store.node), named in notifications */
	/*
	 * idle_in_transaction_session_timeout of every connection: a node
	 * stopped inside a transaction (SIGSTOP, a hung host) would hold its
	 * row locks for ever and FOR UPDATE SKIP LOCKED would skip its job
	 * for ever; the server ends such a session after this long instead.
	 */
	int idle_tx_ms;
	atomic_bool down;     /* a reconnect gave up: one attempt each until one works */
	atomic_bool stopping; /* store_stopping(): no attempt while down */
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct pg_conn *conns; /* all of them, array of nconns */
	struct pg_conn *free;  /* guarded by lock */
	int nconns;
};

/* True when location names a PostgreSQL database (postgresql:// or postgres://). */
bool store__pg_location(const char *location);

/*
 * Opens the pool on opt->location, brings the schema up to date (under an
 * advisory lock, so several daemons starting at once migrate once) and
 * counts the stored bytes. Fills s->pg; on error leaves what it made for
 * store_close().
 */
int store__pg_open(struct store *s, const struct store_options *opt, struct fitd_error *err);

/* STATE/cache, where dataset files are kept by checksum. */
const char *store__pg_cache_dir(struct store *s);

/*
 * Sets idle_tx_ms and applies it to the connections already open; only
 * while no other thread uses the store (before the worker and the API).
 */
void store__pg_set_idle_tx(struct store *s, int ms);

/* Closes every connection and frees s->pg; NULL-safe on s->pg. */
void store__pg_close(struct store *s);

/*
 * Takes a connection (waiting for a free one) and makes sure it is
 * connected, reconnecting with back-off for up to timeout_ms
 * (FITD_EUNAVAILABLE then, with the connection given back).
 */
int store__pg_take(struct store *s, struct pg_conn **c, struct fitd_error *err);

/* Gives a connection back, rolling back a transaction left open. */
void store__pg_give(struct store *s, struct pg_conn *c);

/* store__pg_take() and BEGIN (the read-only snapshot for readonly). */
int store__pg_begin(struct store *s, struct pg_conn **c, bool readonly, struct fitd_error *err);

/*
 * Commits when rc is FITD_OK, otherwise rolls back; gives the connection
 * back. Returns rc or the commit's failure. Write transactions are timed
 * into the store metrics.
 */
int store__pg_end(struct store *s, struct pg_conn *c, int rc, struct fitd_error *err);

/*
 * Runs sql, a string with static storage (it is prepared once per
 * connection and found again by its address), with n text parameters
 * (NULL for SQL NULL). lens/fmts (both NULL or both set) pass binary
 * parameters; binary_result asks for binary columns. On success *res (when
 * not NULL; else cleared) holds the result for the caller to PQclear().
 * Outside a transaction, a statement that finds the connection lost is
 * tried once more on a new connection.
 */
int store__pg_run(struct pg_conn *c, const char *sql, int n, const char *const *v, const int *lens,
		  const int *fmts, bool binary_result, PGresult **res, const char *what,
		  struct fitd_error *err);

/* store__pg_run() with text parameters and text results. */
int store__pg_exec(struct pg_conn *c, const char *sql, int n, const char *const *v, PGresult **res,
		   const char *what, struct fitd_error *err);

/* store__pg_exec() of a command; *changed (may be NULL) receives the rows it touched. */
int store__pg_cmd(struct pg_conn *c, const char *sql, int n, const char *const *v, int64_t *changed,
		  const char *what, struct fitd_error *err);

/* Maps a failed result (or a lost connection when res is NULL) to a status. */
int store__pg_error(PGconn *conn, const PGresult *res, const char *what, struct fitd_error *err);

/* Integer parameter text: writes v into buf (24 bytes) and returns buf. */
const char *store__pg_i64(char buf[24], int64_t v);

/* Float parameter text that reads back to the same double. */
const char *store__pg_f64(char buf[32], double v);

/* Values of a text result: 0 / 0.0 / false for SQL NULL. */
int64_t store__pg_get_i64(const PGresult *r, int row, int col);
double store__pg_get_f64(const PGresult *r, int row, int col);
bool store__pg_get_bool(const PGresult *r, int row, int col);

/* A heap copy of a value ("" for SQL NULL); NULL only when memory runs out. */
char *store__pg_strdup(const PGresult *r, int row, int col);

/* A heap copy, NULL for SQL NULL; sets *oom when memory runs out. */
char *store__pg_str_or_null(const PGresult *r, int row, int col, bool *oom);

/* Copies an id-sized value into dst ("" for SQL NULL). */
void store__pg_copy_id(char dst[STORE_ID_MAX], const PGresult *r, int row, int col);

/* What store__pg_list needs to know of the rows it lists (as store__list_kind). */
struct pg_list_kind {
	/* $1 the cursor (NULL for the first page), $2 the rows to read (limit + 1), $3 the filter. */
	const char *page_sql;
	const char *cursor_sql; /* $1: "SELECT 1 FROM jobs WHERE id = $1" */
	const char *noun;
	const char *what;
	size_t size;
	int (*from_row)(const PGresult *r, int row, void *item, struct fitd_error *err);
	void (*release)(void *item);
};

/* store__list() on PostgreSQL: one page in one read-only snapshot. */
int store__pg_list(struct store *s, const struct pg_list_kind *kind, const char *after,
		   const char *filter, size_t limit, void **out, size_t *n, bool *more,
		   struct fitd_error *err);

/*
 * The channel every event's transaction notifies at commit, and so does a
 * trial's offer (pg_share.c), with "JOB NODE" as payload: the job's id and
 * the writing node's (empty before store_set_node()). daemon/pg_listen.c
 * listens on it to wake the event streams and the scheduler of the other
 * nodes. STORE_PG_NOTIFY is the SQL of it, the job id as $1 and the node
 * as the parameter numbered node.
 */
#define STORE_PG_EVENTS_CHANNEL "fitd_events"
#define STORE_PG_NOTIFY(node)	"pg_notify('" STORE_PG_EVENTS_CHANNEL "', $1 || ' ' || $" #node ")"

/*
 * Appends an event in the caller's transaction; seq from the job's counter
 * row. Also NOTIFYs STORE_PG_EVENTS_CHANNEL with the job id, delivered at
 * commit.
 */
int store__pg_event_insert(struct pg_conn *c, const char *job_id, const char *type,
			   const char *data, int64_t *id, struct fitd_error *err);

/*
 * Stores the file at path as the chunks of dataset id in the caller's
 * transaction; its checksum into sha, its size into *bytes.
 */
int store__pg_dataset_chunks(struct pg_conn *c, const char *id, const char *path,
			     char sha[STORE_SHA256_HEX], int64_t *bytes, struct fitd_error *err);

/* Stores model id's file (text, len bytes) in the caller's transaction; no models row. */
int store__pg_model_file_insert(struct pg_conn *c, const char *id, const char *text, size_t len,
				struct fitd_error *err);

/* Inserts the row that makes a written model visible, in the caller's transaction. */
int store__pg_model_insert(struct pg_conn *c, const char *model_id, const char *job_id,
			   int64_t trial, int64_t bytes, struct fitd_error *err);

/*
 * Deletes model id (row and file) when no job and no alias holds it;
 * *dropped tells whether it did, and its size is added to *bytes.
 */
int store__pg_model_drop_orphan(struct pg_conn *c, const char *id, bool *dropped, int64_t *bytes,
				struct fitd_error *err);

/* Migrations (pg_schema.c), on a connection of the pool. */
int store__pg_migrate(struct store *s, struct fitd_error *err);

/* Removes model files nothing committed points at, an hour after they were written. */
int store__pg_models_sweep(struct store *s, struct fitd_error *err);

/* Counts the bytes of the stored dataset and model files, for store_disk_usage(). */
int store__pg_disk_measure(struct store *s, struct fitd_error *err);

/* Deletes the out-of-fold rows of jobs that are gone (at open). */
int store__pg_oof_sweep(struct store *s, struct fitd_error *err);

/*
 * Start-up recovery (pg_nodes.c): of a node on a shared database (what it
 * left running and expired leases), or of the only daemon (every running
 * trial).
 */
int store__pg_recover_node(struct pg_conn *c, const char *node, int64_t *requeued, int64_t *failed,
			   struct fitd_error *err);
int store__pg_recover_all(struct pg_conn *c, int64_t *requeued, int64_t *failed,
			  struct fitd_error *err);

/* ---- one per public function of store.h, same contract ---- */

int store__pg_schema_version(struct store *s, int *version, struct fitd_error *err);

int store__pg_dataset_get(struct store *s, const char *id, struct store_dataset *out,
			  struct fitd_error *err);
int store__pg_dataset_list(struct store *s, const char *after, size_t limit,
			   struct store_dataset **out, size_t *n, bool *more,
			   struct fitd_error *err);
int store__pg_dataset_delete(struct store *s, const char *id, struct fitd_error *err);
int store__pg_dataset_path(struct store *s, const char *id, char *buf, size_t cap,
			   struct fitd_error *err);
int store__pg_dataset_columns(struct store *s, const char *id, int64_t *rows,
			      struct store_column **cols, size_t *n, struct fitd_error *err);
int store__pg_dataset_set_columns(struct store *s, const char *id, const struct store_column *cols,
				  size_t n, struct fitd_error *err);
/*
 * Stores the dataset file at path (the frame just written, under a
 * temporary name in the cache) with its row d and column facts (may be
 * NULL) in one transaction, then moves it into the cache by checksum.
 */
int store__pg_dataset_commit(struct store *s, const char *path, struct store_dataset *d,
			     const struct store_column *cols, size_t ncols, struct fitd_error *err);

int store__pg_job_create(struct store *s, const struct store_job_new *in, struct store_job *out,
			 bool *existed, struct fitd_error *err);
int store__pg_job_get(struct store *s, const char *id, struct store_job *out,
		      struct fitd_error *err);
int store__pg_job_exists(struct store *s, const char *id, bool *exists, struct fitd_error *err);
int store__pg_job_list(struct store *s, int state, const char *after, size_t limit,
		       struct store_job **out, size_t *n, bool *more, struct fitd_error *err);
int store__pg_job_cancel(struct store *s, const char *id, struct store_job *out,
			 struct fitd_error *err);
int store__pg_job_active(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
			 struct fitd_error *err);
int store__pg_job_lease(struct store *s, const char *node, int64_t lease_ms, size_t limit,
			struct store_held **out, size_t *n, int64_t *rescued,
			struct fitd_error *err);
int store__pg_job_start(struct store *s, const char *id, const char *runtime_json,
			struct fitd_error *err);
int store__pg_job_set_runtime(struct store *s, const char *id, const char *runtime_json,
			      struct fitd_error *err);
int store__pg_job_finish(struct store *s, const char *id, enum store_job_state st, const char *code,
			 const char *message, struct fitd_error *err);
int store__pg_job_count_by_state(struct store *s, int64_t counts[STORE_JOB_NSTATES],
				 struct fitd_error *err);
int store__pg_job_add_elapsed(struct store *s, const char (*ids)[STORE_ID_MAX], const int64_t *ms,
			      size_t n, struct fitd_error *err);
int store__pg_job_set_model(struct store *s, const char *job_id, const char *model_id,
			    int64_t model_bytes, int64_t trial, double score,
			    const char *detail_json, const char *data_json, struct fitd_error *err);
int store__pg_job_set_detail(struct store *s, const char *job_id, const char *detail_json,
			     struct fitd_error *err);
int store__pg_job_delete(struct store *s, const char *id, struct store_job_deletion *out,
			 struct fitd_error *err);
int store__pg_job_expired(struct store *s, int64_t finished_before, size_t limit,
			  char (**ids)[STORE_ID_MAX], int64_t **finished_at, size_t *n,
			  struct fitd_error *err);

int store__pg_trial_claim(struct store *s, const char *job_id, int64_t idx, const char *params_json,
			  const char *owner, int64_t lease_ms, int64_t *generation,
			  struct fitd_error *err);
int store__pg_trial_finish(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			   const struct store_trial_outcome *o, struct fitd_error *err);
int store__pg_trial_all(struct store *s, const char *job_id, int64_t from, struct store_trial **out,
			size_t *n, struct fitd_error *err);
int store__pg_trial_board(struct store *s, const char *job_id, bool higher_is_better, size_t offset,
			  size_t limit, struct store_trial **out, size_t *n, bool *more,
			  struct fitd_error *err);
int store__pg_trial_families(struct store *s, const char *job_id, bool higher_is_better,
			     struct store_family **out, size_t *n, struct fitd_error *err);
int store__pg_trial_count_by_state(struct store *s, int64_t counts[STORE_TRIAL_NSTATES],
				   struct fitd_error *err);
int store__pg_trial_heartbeat(struct store *s, const char *owner, int64_t lease_ms,
			      struct fitd_error *err);
int store__pg_trial_recover(struct store *s, int64_t *requeued, int64_t *failed,
			    struct fitd_error *err);

int store__pg_event_add(struct store *s, const char *job_id, const char *type,
			const char *data_json, int64_t *id, struct fitd_error *err);
int store__pg_event_list(struct store *s, const char *job_id, int64_t after_id, size_t limit,
			 struct store_event **out, size_t *n, struct fitd_error *err);

int store__pg_model_write(struct store *s, const char *text, size_t len, char id[STORE_ID_MAX],
			  struct fitd_error *err);
int store__pg_model_read(struct store *s, const char *id, char **text, size_t *len,
			 struct fitd_error *err);
int store__pg_model_delete(struct store *s, const char *id, struct fitd_error *err);

int store__pg_oof_write(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			const float *v, size_t n, struct fitd_error *err);
int store__pg_oof_read(struct store *s, const char *job_id, int64_t idx, float **out, size_t *n,
		       struct fitd_error *err);
/* Deletes the trial's row (idx >= 0) or all of the job's (idx < 0); failures only log. */
void store__pg_oof_remove(struct store *s, const char *job_id, int64_t idx);

int store__pg_alias_set(struct store *s, const char *name, const char *model_id,
			struct store_alias *out, bool *created, char previous[STORE_ID_MAX],
			struct fitd_error *err);
int store__pg_alias_get(struct store *s, const char *name, struct store_alias *out,
			struct fitd_error *err);
int store__pg_alias_list(struct store *s, const char *after, size_t limit, struct store_alias **out,
			 size_t *n, bool *more, struct fitd_error *err);
int store__pg_alias_delete(struct store *s, const char *name, struct store_alias *out,
			   struct fitd_error *err);

#endif

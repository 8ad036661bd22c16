/*
 * pg_jobs.c - job rows, their state machine and their events on PostgreSQL
 * (jobs.c and events.c say what each function promises).
 *
 * Every transition is one transaction with its job_state event, as on
 * SQLite. Where SQLite's single writer made check-then-write safe, rows are
 * locked instead (SELECT ... FOR UPDATE of the job; FOR SHARE of the
 * dataset a new job uses, which a dataset's deletion locks FOR UPDATE), and
 * an idempotency key or an owner's cap is checked under a transaction-level
 * advisory lock on the owner, so two daemons taking the same key at once
 * cannot both insert.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "daemon/base/metrics.h"

#define TERMINAL_TRIALS "('completed','pruned','failed','timeout','interrupted')"

/* The fence of this node's job writes: its id, or NULL (no fence) before store_set_node(). */
static const char *node_of(const struct store *s)
{
	return s->node[0] != '\0' ? s->node : NULL;
}

/*
 * Why a fenced job update changed nothing: FITD_ECONFLICT job_lease_lost
 * when another node holds the job, FITD_ENOTFOUND when there is no such
 * job, else FITD_ESTATE (it has ended; the caller words it).
 */
static int not_changed(const struct store *s, struct pg_conn *c, const char *id,
		       struct fitd_error *err)
{
	static const char sql[] = "SELECT lease_owner IS NULL OR $2::text IS NULL OR"
				  " lease_owner = $2 FROM jobs WHERE id = $1";
	const char *v[2] = { id, node_of(s) };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 2, v, &r, "read job lease", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job %s", id);
	else if (rc == FITD_OK && !store__pg_get_bool(r, 0, 0))
		rc = fitd_error_set(err, FITD_ECONFLICT, "job_lease_lost",
				    "job %s is run by another node now", id);
	else if (rc == FITD_OK)
		rc = fitd_error_set(err, FITD_ESTATE, "job_finished", "job %s already ended", id);
	PQclear(r);
	return rc;
}

/* A job update fenced by its lease: when it changed nothing, why (not_changed()). */
static int fenced_cmd(struct store *s, struct pg_conn *c, const char *id, const char *sql, int n,
		      const char *const *v, const char *what, struct fitd_error *err)
{
	int64_t changed = 0;
	int rc = store__pg_cmd(c, sql, n, v, &changed, what, err);

	if (rc == FITD_OK && changed == 0)
		rc = not_changed(s, c, id, err);
	return rc;
}

/* store__pg_end(), counting a write the job's lease refused. */
static int fenced_end(struct store *s, struct pg_conn *c, int rc, struct fitd_error *err)
{
	rc = store__pg_end(s, c, rc, err);
	if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

/*
 * A job's running time on a shared database is time on the database's
 * clock since it started: a node that takes a job over (its holder died,
 * or was cut off) counts the time the job had no live holder too, so its
 * deadline is where it was, whichever node ends it. The holder's own count
 * (store_job_add_elapsed()) can only move it further.
 */
#define ELAPSED                                                      \
	"CASE WHEN j.state = 'running' AND j.started_at IS NOT NULL" \
	" THEN greatest(j.elapsed_ms, fitd_now_ms() - j.started_at) ELSE j.elapsed_ms END"

#define JOB_SELECT                                                                              \
	"SELECT j.id, j.dataset_id, j.state, j.target, j.task, j.metric, j.spec,"               \
	" j.cancel_requested, j.created_at, j.started_at, j.finished_at, " ELAPSED ","          \
	" j.best_trial, j.best_score, j.best_model_id,"                                         \
	" (SELECT params FROM trials t WHERE t.job_id = j.id AND t.idx = j.best_trial),"        \
	" j.error_code, j.error_message,"                                                       \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id AND t.state IN " TERMINAL_TRIALS \
	"),"                                                                                    \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id AND t.state = 'running'),"       \
	" (SELECT count(*) FROM trials t WHERE t.job_id = j.id), j.runtime,"                    \
	" j.best_detail FROM jobs j"

static int job_from_row(const PGresult *r, int row, void *item, struct fitd_error *err)
{
	struct store_job *j = item;
	bool oom;

	memset(j, 0, sizeof(*j));
	store__pg_copy_id(j->id, r, row, 0);
	store__pg_copy_id(j->dataset_id, r, row, 1);
	j->state = (enum store_job_state)store_job_state_parse(PQgetvalue(r, row, 2));
	j->target = store__pg_strdup(r, row, 3);
	j->task = store__pg_strdup(r, row, 4);
	j->metric = store__pg_strdup(r, row, 5);
	j->spec_json = store__pg_strdup(r, row, 6);
	oom = !j->target || !j->task || !j->metric || !j->spec_json;
	j->cancel_requested = store__pg_get_bool(r, row, 7);
	j->created_at = store__pg_get_i64(r, row, 8);
	j->started_at = store__pg_get_i64(r, row, 9);
	j->finished_at = store__pg_get_i64(r, row, 10);
	j->elapsed_ms = store__pg_get_i64(r, row, 11);
	j->best_trial = PQgetisnull(r, row, 12) ? -1 : store__pg_get_i64(r, row, 12);
	j->best_score = store__pg_get_f64(r, row, 13);
	store__pg_copy_id(j->best_model_id, r, row, 14);
	j->best_params = store__pg_str_or_null(r, row, 15, &oom);
	j->error_code = store__pg_str_or_null(r, row, 16, &oom);
	j->error_message = store__pg_str_or_null(r, row, 17, &oom);
	j->trials_done = store__pg_get_i64(r, row, 18);
	j->trials_running = store__pg_get_i64(r, row, 19);
	j->trials_total = store__pg_get_i64(r, row, 20);
	j->runtime_json = store__pg_str_or_null(r, row, 21, &oom);
	j->best_detail = store__pg_str_or_null(r, row, 22, &oom);
	if (oom) {
		store_job_release(j);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "job row");
	}
	return FITD_OK;
}

static void job_release_item(void *item)
{
	store_job_release(item);
}

static int job_read(struct pg_conn *c, const char *id, struct store_job *out,
		    struct fitd_error *err)
{
	static const char sql[] = JOB_SELECT " WHERE j.id = $1";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "read job", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job with id '%s'",
				    id);
	else if (rc == FITD_OK)
		rc = job_from_row(r, 0, out, err);
	PQclear(r);
	return rc;
}

int store__pg_job_get(struct store *s, const char *id, struct store_job *out,
		      struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_take(s, &c, err);

	/* One statement: its own snapshot, no transaction needed. */
	if (rc != FITD_OK)
		return rc;
	rc = job_read(c, id, out, err);
	store__pg_give(s, c);
	return rc;
}

int store__pg_job_exists(struct store *s, const char *id, bool *exists, struct fitd_error *err)
{
	static const char sql[] = "SELECT 1 FROM jobs WHERE id = $1";
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 1, &id, &r, "read job", err);
	if (rc == FITD_OK)
		*exists = PQntuples(r) > 0;
	PQclear(r);
	store__pg_give(s, c);
	return rc;
}

int store__pg_event_insert(struct pg_conn *c, const char *job_id, const char *type,
			   const char *data, int64_t *id, struct fitd_error *err)
{
	/*
	 * The counter row's lock, held to commit, orders the ids as the commits.
	 * The notification is queued in the same transaction, so it is sent at
	 * commit and never before (nor at all on a rollback); the server folds
	 * the same job's notifications of one transaction into one.
	 */
	static const char sql[] =
	    "WITH n AS (UPDATE event_counters SET last = last + 1 WHERE job_id = $1"
	    " RETURNING last), e AS (INSERT INTO events (job_id, id, type, data, created_at)"
	    " SELECT $1, last, $2, $3, fitd_now_ms() FROM n RETURNING id)"
	    " SELECT id, " STORE_PG_NOTIFY(4) " FROM e";
	const char *v[4] = { job_id, type, data, c->pg->node };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 4, v, &r, "insert event", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ESTORE, NULL, "insert event: no job '%s'", job_id);
	else if (rc == FITD_OK && id != NULL)
		*id = store__pg_get_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static int state_event(struct pg_conn *c, const char *job_id, enum store_job_state st,
		       const char *code, struct fitd_error *err)
{
	char data[160];

	snprintf(data, sizeof(data), "{\"job\":\"%s\",\"state\":\"%s\"%s%s%s}", job_id,
		 store_job_state_name(st), code ? ",\"error\":\"" : "", code ? code : "",
		 code ? "\"" : "");
	return store__pg_event_insert(c, job_id, "job_state", data, NULL, err);
}

/* Serialises, until commit, the creations of one owner (NULL: no owner). */
static int owner_lock(struct pg_conn *c, const char *owner, struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT pg_advisory_xact_lock(hashtext('fitd.owner:' || coalesce($1::text, '')))";

	return store__pg_exec(c, sql, 1, &owner, NULL, "lock owner", err);
}

static int job_by_key(struct pg_conn *c, const char *owner, const char *key, char id[STORE_ID_MAX],
		      char **spec, struct fitd_error *err)
{
	static const char sql[] = "SELECT id, spec FROM jobs WHERE coalesce(owner, '') ="
				  " coalesce($1::text, '') AND idempotency_key = $2";
	const char *v[2] = { owner, key };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 2, v, &r, "read idempotency key", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = FITD_ENOTFOUND;
	else if (rc == FITD_OK) {
		store__pg_copy_id(id, r, 0, 0);
		*spec = store__pg_strdup(r, 0, 1);
		if (*spec == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "idempotent job");
	}
	PQclear(r);
	return rc;
}

static int owner_cap(struct pg_conn *c, const struct store_job_new *in, struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT count(*) FROM jobs WHERE owner = $1 AND state IN ('queued','running')";
	PGresult *r = NULL;
	int64_t live = 0;
	int rc;

	if (in->owner == NULL || in->max_owner_active <= 0)
		return FITD_OK;
	rc = store__pg_exec(c, sql, 1, &in->owner, &r, "count the owner's jobs", err);
	if (rc == FITD_OK)
		live = store__pg_get_i64(r, 0, 0);
	PQclear(r);
	if (rc == FITD_OK && live >= in->max_owner_active)
		rc = fitd_error_set(err, FITD_ELIMIT, "too_many_jobs",
				    "token '%s' has %lld queued or running jobs, the most it may "
				    "have; wait for one to end or cancel one",
				    in->owner, (long long)live);
	return rc;
}

static int job_insert(struct pg_conn *c, const struct store_job_new *in, const char *id,
		      struct fitd_error *err)
{
	static const char ds_sql[] = "SELECT 1 FROM datasets WHERE id = $1 FOR SHARE";
	static const char sql[] =
	    "INSERT INTO jobs (id, dataset_id, state, target, task, metric, spec,"
	    " idempotency_key, max_attempts, created_at, owner)"
	    " VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, fitd_now_ms(), $9)";
	static const char counter_sql[] = "INSERT INTO event_counters (job_id) VALUES ($1)";
	char attempts[24];
	const char *v[9] = { id,
			     in->dataset_id,
			     in->target,
			     in->task,
			     in->metric,
			     in->spec_json,
			     in->idempotency_key,
			     store__pg_i64(attempts, in->max_attempts > 0 ? in->max_attempts : 3),
			     in->owner };
	PGresult *r = NULL;
	int rc = owner_cap(c, in, err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, ds_sql, 1, &in->dataset_id, &r, "read dataset", err);
	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				    "no dataset with id '%s'", in->dataset_id);
	PQclear(r);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, sql, 9, v, NULL, "insert job", err);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, counter_sql, 1, v, NULL, "insert job", err);
	if (rc == FITD_OK)
		rc = state_event(c, id, STORE_JOB_QUEUED, NULL, err);
	return rc;
}

static int create_in_tx(struct pg_conn *c, const struct store_job_new *in, char id[STORE_ID_MAX],
			bool *existed, struct fitd_error *err)
{
	char *old_spec = NULL;
	int rc = owner_lock(c, in->owner, err);

	if (rc == FITD_OK && in->idempotency_key != NULL) {
		rc = job_by_key(c, in->owner, in->idempotency_key, id, &old_spec, err);
		rc = store__key_rule(rc, id, old_spec, in->spec_json, existed, err);
		free(old_spec);
	}
	if (rc == FITD_OK && !*existed) {
		store_id_new("job", id);
		rc = job_insert(c, in, id, err);
	}
	return rc;
}

int store__pg_job_create(struct store *s, const struct store_job_new *in, struct store_job *out,
			 bool *existed, struct fitd_error *err)
{
	char id[STORE_ID_MAX];
	struct pg_conn *c;
	bool filled;
	int rc = store__pg_begin(s, &c, false, err);

	*existed = false;
	if (rc != FITD_OK)
		return rc;
	rc = create_in_tx(c, in, id, existed, err);
	if (rc == FITD_OK)
		rc = job_read(c, id, out, err);
	filled = rc == FITD_OK;
	rc = store__pg_end(s, c, rc, err);
	if (rc != FITD_OK && filled)
		store_job_release(out);
	return rc;
}

static const struct pg_list_kind job_list = {
	.page_sql = JOB_SELECT
	" WHERE ($1::text IS NULL OR j.seq > (SELECT seq FROM jobs WHERE id = $1))"
	" AND ($3::text IS NULL OR j.state = $3) ORDER BY j.seq LIMIT $2",
	.cursor_sql = "SELECT 1 FROM jobs WHERE id = $1",
	.noun = "job",
	.what = "list jobs",
	.size = sizeof(struct store_job),
	.from_row = job_from_row,
	.release = job_release_item,
};

int store__pg_job_list(struct store *s, int state, const char *after, size_t limit,
		       struct store_job **out, size_t *n, bool *more, struct fitd_error *err)
{
	const char *filter = state >= 0 ? store_job_state_name((enum store_job_state)state) : NULL;
	void *items;
	int rc = store__pg_list(s, &job_list, after, filter, limit, &items, n, more, err);

	*out = items;
	return rc;
}

/* The job's state, its row locked to commit; FITD_ENOTFOUND job_not_found. */
static int lock_job(struct pg_conn *c, const char *id, int *state, struct fitd_error *err)
{
	static const char sql[] = "SELECT state FROM jobs WHERE id = $1 FOR UPDATE";
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 1, &id, &r, "read job", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "job_not_found", "no job with id '%s'",
				    id);
	else if (rc == FITD_OK)
		*state = store_job_state_parse(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

static int cancel_in_tx(struct pg_conn *c, const char *id, struct store_job *out,
			struct fitd_error *err)
{
	static const char cancel_sql[] = "UPDATE jobs SET state = 'cancelled',"
					 " cancel_requested = true, finished_at = fitd_now_ms()"
					 " WHERE id = $1";
	static const char flag_sql[] = "UPDATE jobs SET cancel_requested = true WHERE id = $1";
	int state = -1;
	int rc = lock_job(c, id, &state, err);

	if (rc != FITD_OK)
		return rc;
	if (state == STORE_JOB_QUEUED) {
		rc = store__pg_cmd(c, cancel_sql, 1, &id, NULL, "update job", err);
		if (rc == FITD_OK)
			rc = state_event(c, id, STORE_JOB_CANCELLED, NULL, err);
	} else if (state == STORE_JOB_RUNNING) {
		rc = store__pg_cmd(c, flag_sql, 1, &id, NULL, "update job", err);
	} else {
		rc = fitd_error_set(err, FITD_ESTATE, "job_finished", "job %s already %s", id,
				    state >= 0 ? store_job_state_name((enum store_job_state)state)
					       : "ended");
	}
	if (rc == FITD_OK)
		rc = job_read(c, id, out, err);
	return rc;
}

int store__pg_job_cancel(struct store *s, const char *id, struct store_job *out,
			 struct fitd_error *err)
{
	struct pg_conn *c;
	bool filled;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = cancel_in_tx(c, id, out, err);
	filled = rc == FITD_OK;
	rc = store__pg_end(s, c, rc, err);
	if (rc != FITD_OK && filled)
		store_job_release(out);
	return rc;
}

int store__pg_job_active(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
			 struct fitd_error *err)
{
	static const char sql[] = "SELECT id FROM jobs WHERE state IN ('queued', 'running')"
				  " ORDER BY state <> 'running', seq LIMIT $1";
	char lim[24];
	const char *v[1] = { store__pg_i64(lim, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	*ids = NULL;
	*n = 0;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 1, v, &r, "active jobs", err);
	store__pg_give(s, c);
	if (rc == FITD_OK && PQntuples(r) > 0) {
		size_t rows = (size_t)PQntuples(r);

		*ids = malloc(rows * STORE_ID_MAX);
		if (*ids == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "active jobs");
		for (size_t i = 0; rc == FITD_OK && i < rows; i++)
			store__pg_copy_id((*ids)[i], r, (int)i, 0);
		if (rc == FITD_OK)
			*n = rows;
	}
	PQclear(r);
	return rc;
}

int store__pg_job_start(struct store *s, const char *id, const char *runtime_json,
			struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, fitd_now_ms()),"
	    " runtime = $2 WHERE id = $1 AND state = 'queued'";
	const char *v[2] = { id, runtime_json };
	int64_t changed = 0;
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_cmd(c, sql, 2, v, &changed, "update job", err);
	if (rc == FITD_OK && changed == 0)
		rc = fitd_error_set(err, FITD_ESTATE, "job_not_queued", "job %s is not queued", id);
	if (rc == FITD_OK)
		rc = state_event(c, id, STORE_JOB_RUNNING, NULL, err);
	return store__pg_end(s, c, rc, err);
}

int store__pg_job_set_runtime(struct store *s, const char *id, const char *runtime_json,
			      struct fitd_error *err)
{
	static const char sql[] = "UPDATE jobs SET runtime = $2 WHERE id = $1";
	const char *v[2] = { id, runtime_json };
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_cmd(c, sql, 2, v, NULL, "update job", err), err);
}

int store__pg_job_finish(struct store *s, const char *id, enum store_job_state st, const char *code,
			 const char *message, struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs SET state = $2, finished_at = fitd_now_ms(), error_code = $3,"
	    " error_message = $4 WHERE id = $1 AND state IN ('queued', 'running')"
	    " AND ($5::text IS NULL OR lease_owner IS NULL OR lease_owner = $5)";
	const char *v[5] = { id, store_job_state_name(st), code, message, node_of(s) };
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = fenced_cmd(s, c, id, sql, 5, v, "finish job", err);
	if (rc == FITD_ENOTFOUND) /* as on SQLite */
		rc = fitd_error_set(err, FITD_ESTATE, "job_finished", "job %s already ended", id);
	if (rc == FITD_OK)
		rc = state_event(c, id, st, code, err);
	return fenced_end(s, c, rc, err);
}

/* Fills counts[parse(state)] from sql ("SELECT state, count(*) ... GROUP BY state"). */
static int count_by_state(struct store *s, const char *sql, int (*parse)(const char *),
			  int64_t *counts, size_t n, struct fitd_error *err)
{
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc;

	memset(counts, 0, n * sizeof(*counts));
	rc = store__pg_take(s, &c, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 0, NULL, &r, "count by state", err);
	store__pg_give(s, c);
	for (int i = 0; rc == FITD_OK && i < PQntuples(r); i++) {
		int state = parse(PQgetvalue(r, i, 0));

		if (state >= 0 && (size_t)state < n)
			counts[state] = store__pg_get_i64(r, i, 1);
	}
	PQclear(r);
	return rc;
}

int store__pg_job_count_by_state(struct store *s, int64_t counts[STORE_JOB_NSTATES],
				 struct fitd_error *err)
{
	static const char sql[] = "SELECT state, count(*) FROM jobs GROUP BY state";

	return count_by_state(s, sql, store_job_state_parse, counts, STORE_JOB_NSTATES, err);
}

int store__pg_trial_count_by_state(struct store *s, int64_t counts[STORE_TRIAL_NSTATES],
				   struct fitd_error *err)
{
	static const char sql[] = "SELECT state, count(*) FROM trials GROUP BY state";

	return count_by_state(s, sql, store_trial_state_parse, counts, STORE_TRIAL_NSTATES, err);
}

/* What store_job_add_elapsed() adds $1 to (ELAPSED, kept at the finish too). */
#define ELAPSED_ADDED                                           \
	"CASE WHEN j.started_at IS NULL THEN j.elapsed_ms + $1" \
	" ELSE greatest(j.elapsed_ms + $1, fitd_now_ms() - j.started_at) END"

int store__pg_job_add_elapsed(struct store *s, const char (*ids)[STORE_ID_MAX], const int64_t *ms,
			      size_t n, struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs j SET elapsed_ms = " ELAPSED_ADDED " WHERE id = $2"
	    " AND ($3::text IS NULL OR lease_owner IS NULL OR lease_owner = $3)";
	struct pg_conn *c;
	int rc;

	if (n == 0)
		return FITD_OK;
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	for (size_t i = 0; rc == FITD_OK && i < n; i++) {
		char b[24];
		const char *v[3] = { store__pg_i64(b, ms[i]), ids[i], node_of(s) };

		rc = store__pg_cmd(c, sql, 3, v, NULL, "add elapsed", err);
	}
	return store__pg_end(s, c, rc, err);
}

int store__pg_model_insert(struct pg_conn *c, const char *model_id, const char *job_id,
			   int64_t trial, int64_t bytes, struct fitd_error *err)
{
	static const char sql[] = "INSERT INTO models (id, job_id, trial_idx, bytes, created_at)"
				  " VALUES ($1, $2, $3, $4, fitd_now_ms())";
	char b[2][24];
	const char *v[4] = { model_id, job_id, trial >= 0 ? store__pg_i64(b[0], trial) : NULL,
			     store__pg_i64(b[1], bytes) };

	return store__pg_cmd(c, sql, 4, v, NULL, "insert model", err);
}

static int set_model_in_tx(struct store *s, struct pg_conn *c, const char *job_id,
			   const char *model_id, int64_t bytes, int64_t trial, double score,
			   const char *detail, const char *data, struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs SET best_model_id = $1, best_trial = $2,"
	    " best_score = $3, best_detail = $4 WHERE id = $5"
	    " AND ($6::text IS NULL OR lease_owner IS NULL OR lease_owner = $6)";
	char b[24], f[32];
	const char *v[6] = {
		model_id,  store__pg_i64(b, trial), store__pg_f64(f, score), detail, job_id,
		node_of(s)
	};
	int rc = store__pg_model_insert(c, model_id, job_id, -1, bytes, err);

	if (rc == FITD_OK)
		rc = fenced_cmd(s, c, job_id, sql, 6, v, "set model", err);
	if (rc == FITD_OK)
		rc = store__pg_event_insert(c, job_id, "new_best", data, NULL, err);
	return rc;
}

int store__pg_job_set_model(struct store *s, const char *job_id, const char *model_id,
			    int64_t model_bytes, int64_t trial, double score,
			    const char *detail_json, const char *data_json, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return fenced_end(s, c,
			  set_model_in_tx(s, c, job_id, model_id, model_bytes, trial, score,
					  detail_json, data_json, err),
			  err);
}

int store__pg_job_set_detail(struct store *s, const char *job_id, const char *detail_json,
			     struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs SET best_detail = $1 WHERE id = $2"
	    " AND ($3::text IS NULL OR lease_owner IS NULL OR lease_owner = $3)";
	const char *v[3] = { detail_json, job_id, node_of(s) };
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return fenced_end(s, c, fenced_cmd(s, c, job_id, sql, 3, v, "set detail", err), err);
}

/* ---- events ---- */

int store__pg_event_add(struct store *s, const char *job_id, const char *type,
			const char *data_json, int64_t *id, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_event_insert(c, job_id, type, data_json, id, err),
			     err);
}

int store__pg_event_list(struct store *s, const char *job_id, int64_t after_id, size_t limit,
			 struct store_event **out, size_t *n, struct fitd_error *err)
{
	static const char sql[] = "SELECT id, type, data, created_at FROM events"
				  " WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3";
	char b[2][24];
	const char *v[3] = { job_id, store__pg_i64(b[0], after_id),
			     store__pg_i64(b[1], limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	struct store_event *items = NULL;
	struct pg_conn *c;
	PGresult *r = NULL;
	size_t count = 0;
	int rc = store__pg_take(s, &c, err);

	*out = NULL;
	*n = 0;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 3, v, &r, "list events", err);
	store__pg_give(s, c);
	if (rc == FITD_OK) {
		items = calloc(limit ? limit : 1, sizeof(*items));
		if (items == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "event list");
	}
	for (; rc == FITD_OK && count < (size_t)PQntuples(r) && count < limit; count++) {
		struct store_event *e = &items[count];

		e->id = store__pg_get_i64(r, (int)count, 0);
		e->type = store__pg_strdup(r, (int)count, 1);
		e->data = store__pg_strdup(r, (int)count, 2);
		e->created_at = store__pg_get_i64(r, (int)count, 3);
		if (e->type == NULL || e->data == NULL) {
			count++;
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "event row");
			break;
		}
	}
	PQclear(r);
	if (rc != FITD_OK) {
		while (count > 0)
			store_event_release(&items[--count]);
		free(items);
		return rc;
	}
	*out = items;
	*n = count;
	return FITD_OK;
}

/*
 * pg_trials.c - trial rows on PostgreSQL: claim under a lease, fenced
 * completion, the leaderboard, heartbeats and recovery (trials.c says what
 * each promises; the semantics are the same).
 *
 * A claim locks the trial's row (FOR UPDATE) or inserts it, bumps attempt
 * and generation, and sets lease_owner and lease_expires_at from the
 * database clock. A completion presents its generation: the UPDATE says
 * "WHERE generation = $3 AND state = 'running'", so a claim superseded
 * since (a rescue, a restart) changes nothing and gets FITD_ECONFLICT.
 *
 * Locks are always taken in one order - trial rows, then the job's row,
 * then the job's event counter - so two transactions never wait on each
 * other in a cycle: a completion updates the job's best before it appends
 * its events.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "daemon/base/metrics.h"

#define TRIAL_COLUMNS                                                                \
	"job_id, idx, state, params, attempt, generation, score, score_std, epochs," \
	" duration_ms, result, error_code, error_message, started_at, finished_at"

#define TERMINAL_STATES "('completed','pruned','failed','timeout','interrupted')"

static bool trial_from_row(const PGresult *r, int row, struct store_trial *t)
{
	bool oom;

	memset(t, 0, sizeof(*t));
	store__pg_copy_id(t->job_id, r, row, 0);
	t->idx = store__pg_get_i64(r, row, 1);
	t->state = (enum store_trial_state)store_trial_state_parse(PQgetvalue(r, row, 2));
	t->params = store__pg_strdup(r, row, 3);
	oom = t->params == NULL;
	t->attempt = store__pg_get_i64(r, row, 4);
	t->generation = store__pg_get_i64(r, row, 5);
	t->has_score = !PQgetisnull(r, row, 6);
	t->score = store__pg_get_f64(r, row, 6);
	t->score_std = store__pg_get_f64(r, row, 7);
	t->epochs = store__pg_get_i64(r, row, 8);
	t->duration_ms = store__pg_get_i64(r, row, 9);
	t->result = store__pg_str_or_null(r, row, 10, &oom);
	t->error_code = store__pg_str_or_null(r, row, 11, &oom);
	t->error_message = store__pg_str_or_null(r, row, 12, &oom);
	t->started_at = store__pg_get_i64(r, row, 13);
	t->finished_at = store__pg_get_i64(r, row, 14);
	if (oom)
		store_trial_release(t);
	return !oom;
}

static int started_event(struct pg_conn *c, const char *job_id, int64_t idx, int64_t attempt,
			 const char *params, struct fitd_error *err)
{
	char *data = NULL;
	int rc;

	if (asprintf(&data, "{\"job\":\"%s\",\"trial\":%lld,\"attempt\":%lld,\"params\":%s}",
		     job_id, (long long)idx, (long long)attempt, params) < 0)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial_started event");
	rc = store__pg_event_insert(c, job_id, "trial_started", data, NULL, err);
	free(data);
	return rc;
}

/*
 * FITD_ECONFLICT job_lease_lost unless owner may claim trials of job_id: the
 * job is leased to it, or to nobody (one daemon, or before any lease).
 */
static int job_held(struct pg_conn *c, const char *job_id, const char *owner,
		    struct fitd_error *err)
{
	static const char sql[] = "SELECT lease_owner IS NULL OR lease_owner = $2 FROM jobs"
				  " WHERE id = $1 FOR SHARE";
	const char *v[2] = { job_id, owner };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 2, v, &r, "read job lease", err);

	if (rc == FITD_OK && PQntuples(r) > 0 && !store__pg_get_bool(r, 0, 0))
		rc = fitd_error_set(err, FITD_ECONFLICT, "job_lease_lost",
				    "job %s is run by another node now", job_id);
	PQclear(r);
	return rc;
}

/* Claims the row; its attempt and generation, and params as stored, into the out-parameters. */
static int claim_row(struct pg_conn *c, const char *job_id, int64_t idx, const char *params,
		     const char *owner, int64_t lease_ms, int64_t *attempt, int64_t *gen,
		     char **stored, struct fitd_error *err)
{
	static const char lock_sql[] = "SELECT state FROM trials WHERE job_id = $1 AND idx = $2"
				       " FOR UPDATE";
	static const char insert_sql[] =
	    "INSERT INTO trials (job_id, idx, state, params, attempt, generation, lease_owner,"
	    " lease_expires_at, started_at) VALUES ($1, $2, 'running', $5, 1, 1, $3,"
	    " now() + $4 * interval '1 millisecond', fitd_now_ms())"
	    " ON CONFLICT (job_id, idx) DO NOTHING RETURNING attempt, generation, params";
	static const char update_sql[] =
	    "UPDATE trials SET state = 'running', attempt = attempt + 1,"
	    " generation = generation + 1, lease_owner = $3,"
	    " lease_expires_at = now() + $4 * interval '1 millisecond', started_at = fitd_now_ms()"
	    " WHERE job_id = $1 AND idx = $2 RETURNING attempt, generation, params";
	char b[2][24];
	const char *v[5] = { job_id, store__pg_i64(b[0], idx), owner, store__pg_i64(b[1], lease_ms),
			     params };
	PGresult *r = NULL;
	int state = -2; /* no row */
	int rc = job_held(c, job_id, owner, err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, lock_sql, 2, v, &r, "read trial", err);

	if (rc == FITD_OK && PQntuples(r) > 0)
		state = store_trial_state_parse(PQgetvalue(r, 0, 0));
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK && state == -2)
		rc = store__pg_exec(c, insert_sql, 5, v, &r, "claim trial", err);
	else if (rc == FITD_OK && state == STORE_TRIAL_QUEUED)
		rc = store__pg_exec(c, update_sql, 4, v, &r, "claim trial", err);
	/* No row back: it is not queued, or another claim inserted it meanwhile. */
	if (rc == FITD_OK && (r == NULL || PQntuples(r) == 0))
		rc = fitd_error_set(
		    err, FITD_ESTATE, "trial_not_queued", "trial %lld of %s is %s", (long long)idx,
		    job_id,
		    state >= 0 ? store_trial_state_name((enum store_trial_state)state) : "running");
	if (rc == FITD_OK) {
		*attempt = store__pg_get_i64(r, 0, 0);
		*gen = store__pg_get_i64(r, 0, 1);
		*stored = store__pg_strdup(r, 0, 2);
		if (*stored == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial params");
	}
	PQclear(r);
	return rc;
}

int store__pg_trial_claim(struct store *s, const char *job_id, int64_t idx, const char *params_json,
			  const char *owner, int64_t lease_ms, int64_t *generation,
			  struct fitd_error *err)
{
	int64_t attempt = 0, gen = 0;
	char *stored = NULL;
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = claim_row(c, job_id, idx, params_json, owner, lease_ms, &attempt, &gen, &stored, err);
	if (rc == FITD_OK)
		rc = started_event(c, job_id, idx, attempt, stored, err);
	free(stored);
	rc = store__pg_end(s, c, rc, err);
	if (rc == FITD_OK)
		*generation = gen;
	else if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

/*
 * Whether the trial already holds the outcome update_trial()'s parameters
 * v give, under their generation: the commit of an earlier try whose
 * answer was lost (a connection cut after COMMIT left).
 */
static int holds_outcome(struct pg_conn *c, const char *const *v, bool *holds,
			 struct fitd_error *err)
{
	static const char sql[] = "SELECT count(*) FROM trials WHERE job_id = $1 AND idx = $2"
				  " AND generation = $3 AND state = $4"
				  " AND score IS NOT DISTINCT FROM $5::float8 AND epochs = $6"
				  " AND duration_ms = $7 AND state <> 'running'";
	const char *w[7] = { v[0], v[1], v[2], v[3], v[4], v[6], v[7] };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 7, w, &r, "finished trial", err);

	*holds = rc == FITD_OK && strtoll(PQgetvalue(r, 0, 0), NULL, 10) > 0;
	PQclear(r);
	return rc;
}

/* *already when the trial holds o from an earlier try: nothing is written again. */
static int update_trial(struct pg_conn *c, const char *job_id, int64_t idx, int64_t generation,
			const struct store_trial_outcome *o, bool *already, struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE trials SET state = $4, score = $5, score_std = $6, epochs = $7,"
	    " duration_ms = $8, result = $9, error_code = $10, error_message = $11,"
	    " finished_at = CASE WHEN $12::boolean THEN NULL ELSE fitd_now_ms() END,"
	    " lease_owner = NULL, lease_expires_at = NULL,"
	    " attempt = attempt - CASE WHEN $12::boolean THEN 1 ELSE 0 END"
	    " WHERE job_id = $1 AND idx = $2 AND generation = $3 AND state = 'running'";
	bool give_back = o->state == STORE_TRIAL_QUEUED;
	char b[5][24], f[2][32];
	const char *v[12] = { job_id,
			      store__pg_i64(b[0], idx),
			      store__pg_i64(b[1], generation),
			      store_trial_state_name(o->state),
			      o->has_score ? store__pg_f64(f[0], o->score) : NULL,
			      o->has_score ? store__pg_f64(f[1], o->score_std) : NULL,
			      store__pg_i64(b[2], o->epochs),
			      store__pg_i64(b[3], o->duration_ms),
			      o->result_json,
			      o->error_code,
			      o->error_message,
			      give_back ? "t" : "f" };
	int64_t changed = 0;
	int rc = store__pg_cmd(c, sql, 12, v, &changed, "finish trial", err);

	*already = false;
	if (rc == FITD_OK && changed == 0)
		rc = holds_outcome(c, v, already, err);
	if (rc == FITD_OK && changed == 0 && !*already)
		rc = fitd_error_set(err, FITD_ECONFLICT, "stale_generation",
				    "trial %lld of %s was claimed again since generation %lld",
				    (long long)idx, job_id, (long long)generation);
	return rc;
}

/*
 * Makes trial idx the job's best unless the job's stored best is as good
 * (another node recorded a better one since this node last read it);
 * *made says whether it did. The model row goes in either way.
 */
static int set_best(struct pg_conn *c, const char *job_id, int64_t idx,
		    const struct store_trial_outcome *o, bool *made, struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE jobs SET best_trial = $1, best_score = $2,"
	    " best_model_id = $3 WHERE id = $4 AND (best_score IS NULL OR best_trial IS NULL"
	    " OR best_trial < 0 OR CASE WHEN $5::boolean THEN $2::float8 > best_score"
	    " ELSE $2::float8 < best_score END)";
	char b[24], f[32];
	const char *v[5] = { store__pg_i64(b, idx), store__pg_f64(f, o->score), o->model_id, job_id,
			     o->higher_is_better ? "t" : "f" };
	int64_t changed = 0;
	int rc = FITD_OK;

	if (o->model_id != NULL)
		rc = store__pg_model_insert(c, o->model_id, job_id, idx, o->model_bytes, err);
	if (rc == FITD_OK)
		rc = store__pg_cmd(c, sql, 5, v, &changed, "set best", err);
	*made = changed > 0;
	return rc;
}

static int finish_in_tx(struct pg_conn *c, const char *job_id, int64_t idx, int64_t generation,
			const struct store_trial_outcome *o, struct fitd_error *err)
{
	bool made = false, already;
	int rc = update_trial(c, job_id, idx, generation, o, &already, err);

	if (rc != FITD_OK || already)
		return rc;
	if (o->new_best)
		rc = set_best(c, job_id, idx, o, &made, err);
	if (rc == FITD_OK && o->event_json != NULL)
		rc = store__pg_event_insert(c, job_id, "trial_finished", o->event_json, NULL, err);
	if (rc == FITD_OK && made && o->best_event_json != NULL)
		rc = store__pg_event_insert(c, job_id, "new_best", o->best_event_json, NULL, err);
	return rc;
}

int store__pg_trial_finish(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			   const struct store_trial_outcome *o, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, finish_in_tx(c, job_id, idx, generation, o, err), err);
	if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

/* Up to limit rows of r from row 0 into a heap array; *more when r has another. */
static int collect(const PGresult *r, size_t limit, struct store_trial **out, size_t *n, bool *more,
		   struct fitd_error *err)
{
	size_t rows = (size_t)PQntuples(r), count = 0, take = rows < limit ? rows : limit;
	struct store_trial *t = take ? calloc(take, sizeof(*t)) : NULL;

	*out = NULL;
	*n = 0;
	if (more != NULL)
		*more = rows > limit;
	if (take > 0 && t == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial list");
	for (; count < take; count++)
		if (!trial_from_row(r, (int)count, &t[count]))
			break;
	if (count < take) {
		while (count > 0)
			store_trial_release(&t[--count]);
		free(t);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial row");
	}
	*out = t;
	*n = count;
	return FITD_OK;
}

/* Runs a read of trials with n parameters and collects up to limit rows. */
static int read_trials(struct store *s, const char *sql, int n, const char *const *v, size_t limit,
		       struct store_trial **out, size_t *count, bool *more, struct fitd_error *err)
{
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	*out = NULL;
	*count = 0;
	if (more != NULL)
		*more = false;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, n, v, &r, "list trials", err);
	store__pg_give(s, c);
	if (rc == FITD_OK)
		rc = collect(r, limit, out, count, more, err);
	PQclear(r);
	return rc;
}

int store__pg_trial_all(struct store *s, const char *job_id, int64_t from, struct store_trial **out,
			size_t *n, struct fitd_error *err)
{
	static const char sql[] = "SELECT " TRIAL_COLUMNS
				  " FROM trials WHERE job_id = $1 AND idx >= $2 ORDER BY idx";
	char b[24];
	const char *v[2] = { job_id, store__pg_i64(b, from) };

	return read_trials(s, sql, 2, v, SIZE_MAX, out, n, NULL, err);
}

int store__pg_trial_board(struct store *s, const char *job_id, bool higher_is_better, size_t offset,
			  size_t limit, struct store_trial **out, size_t *n, bool *more,
			  struct fitd_error *err)
{
	/* NULLS FIRST: SQLite's order, where NULL is below every number. */
	static const char sql[] =
	    "SELECT " TRIAL_COLUMNS " FROM trials WHERE job_id = $1"
	    " ORDER BY (state = 'completed' AND score IS NOT NULL) DESC,"
	    " CASE WHEN $2::boolean THEN -score ELSE score END NULLS FIRST, idx"
	    " LIMIT $3 OFFSET $4";
	char b[2][24];
	const char *v[4] = {
		job_id, higher_is_better ? "t" : "f",
		store__pg_i64(b[0], limit >= INT64_MAX ? INT64_MAX : (int64_t)limit + 1),
		store__pg_i64(b[1], offset > INT64_MAX ? INT64_MAX : (int64_t)offset)
	};

	return read_trials(s, sql, 4, v, limit, out, n, more, err);
}

int store__pg_trial_families(struct store *s, const char *job_id, bool higher_is_better,
			     struct store_family **out, size_t *n, struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT coalesce(params::jsonb ->> 'model', '?') COLLATE \"C\" AS model, count(*),"
	    " coalesce(sum(duration_ms), 0),"
	    " CASE WHEN $2::boolean THEN max(CASE WHEN state = 'completed' THEN score END)"
	    " ELSE min(CASE WHEN state = 'completed' THEN score END) END"
	    " FROM trials WHERE job_id = $1 AND state IN " TERMINAL_STATES " GROUP BY 1 ORDER BY 1";
	const char *v[2] = { job_id, higher_is_better ? "t" : "f" };
	struct store_family *f = NULL;
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_take(s, &c, err);

	*out = NULL;
	*n = 0;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 2, v, &r, "family summary", err);
	store__pg_give(s, c);
	if (rc == FITD_OK && PQntuples(r) > 0) {
		f = calloc((size_t)PQntuples(r), sizeof(*f));
		if (f == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "family summary");
	}
	for (int i = 0; f != NULL && i < PQntuples(r); i++) {
		snprintf(f[i].model, sizeof(f[i].model), "%s", PQgetvalue(r, i, 0));
		f[i].trials = store__pg_get_i64(r, i, 1);
		f[i].duration_ms = (int64_t)store__pg_get_f64(r, i, 2);
		f[i].has_best = !PQgetisnull(r, i, 3);
		f[i].best = store__pg_get_f64(r, i, 3);
	}
	if (rc == FITD_OK) {
		*out = f;
		*n = f ? (size_t)PQntuples(r) : 0;
	}
	PQclear(r);
	return rc;
}

int store__pg_trial_heartbeat(struct store *s, const char *owner, int64_t lease_ms,
			      struct fitd_error *err)
{
	static const char sql[] =
	    "UPDATE trials SET lease_expires_at = now() + $2 * interval '1 millisecond'"
	    " WHERE state = 'running' AND lease_owner = $1";
	char b[24];
	const char *v[2] = { owner, store__pg_i64(b, lease_ms) };
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_cmd(c, sql, 2, v, NULL, "heartbeat", err), err);
}

int store__pg_trial_recover(struct store *s, int64_t *requeued, int64_t *failed,
			    struct fitd_error *err)
{
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	/* A node leaves the trials of the others alone: their leases fence them. */
	if (s->node[0] != '\0')
		rc = store__pg_recover_node(c, s->node, requeued, failed, err);
	else
		rc = store__pg_recover_all(c, requeued, failed, err);
	rc = store__pg_end(s, c, rc, err);
	if (rc == FITD_OK && s->node[0] != '\0')
		fitd_metrics_trials_rescued(s->metrics, *requeued + *failed);
	return rc;
}

/*
 * pg_share.c - trials of one job on every node: the proposer (the holder
 * of the job's lease, pg_nodes.c) offers trials as queued rows with their
 * parameters; any node takes one with FOR UPDATE SKIP LOCKED over a
 * materialized CTE, under a trial lease from the database's clock, with
 * attempt and generation bumped as a direct claim does (pg_trials.c), so
 * its writes are fenced the same way. When the proposer ends the search
 * early it withdraws what the others still have.
 *
 * On SQLite there is one node, which claims its trials directly: nothing
 * is offered and nothing can be taken.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/metrics.h"

static int offer_in_tx(struct pg_conn *c, const char *job_id, int64_t idx, const char *params,
		       const char *owner, struct fitd_error *err)
{
	static const char held_sql[] = "SELECT lease_owner IS NULL OR lease_owner = $2 FROM jobs"
				       " WHERE id = $1 FOR SHARE";
	/* Nodes listening wake at commit to take it (daemon/pg_listen.c). */
	static const char insert_sql[] =
	    "WITH i AS (INSERT INTO trials (job_id, idx, state, params, attempt, generation)"
	    " VALUES ($1, $2, 'queued', $3, 0, 0) ON CONFLICT (job_id, idx) DO NOTHING"
	    " RETURNING 1) SELECT " STORE_PG_NOTIFY(4) " FROM i";
	char b[24];
	const char *v[2] = { job_id, owner },
		   *row[4] = { job_id, store__pg_i64(b, idx), params, c->pg->node };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, held_sql, 2, v, &r, "read job lease", err);

	if (rc == FITD_OK && (PQntuples(r) == 0 || !store__pg_get_bool(r, 0, 0)))
		rc = fitd_error_set(err, FITD_ECONFLICT, "job_lease_lost",
				    "job %s is run by another node now", job_id);
	PQclear(r);
	r = NULL;
	if (rc == FITD_OK)
		rc = store__pg_exec(c, insert_sql, 4, row, &r, "offer trial", err);
	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ESTATE, "trial_exists", "trial %lld of %s exists",
				    (long long)idx, job_id);
	PQclear(r);
	return rc;
}

int store_trial_offer(struct store *s, const char *job_id, int64_t idx, const char *params_json,
		      const char *owner, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc;

	if (s->pg == NULL)
		return fitd_error_set(err, FITD_EINVAL, "not_shared",
				      "trials are offered on a shared store only");
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, offer_in_tx(c, job_id, idx, params_json, owner, err), err);
	if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

int store_trial_offered(struct store *s, size_t limit, char (**ids)[STORE_ID_MAX], size_t *n,
			struct fitd_error *err)
{
	static const char sql[] =
	    "SELECT j.id FROM jobs j WHERE j.state = 'running' AND NOT j.cancel_requested"
	    " AND EXISTS (SELECT 1 FROM trials t WHERE t.job_id = j.id AND t.state = 'queued')"
	    " ORDER BY j.seq LIMIT $1";
	char b[24];
	const char *v[1] = { store__pg_i64(b, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) };
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if (s->pg == NULL)
		return FITD_OK;
	rc = store__pg_take(s, &c, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_exec(c, sql, 1, v, &r, "offered trials", err);
	store__pg_give(s, c);
	if (rc == FITD_OK && PQntuples(r) > 0) {
		*ids = calloc((size_t)PQntuples(r), STORE_ID_MAX);
		if (*ids == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "offered trials");
		for (int i = 0; rc == FITD_OK && i < PQntuples(r); i++)
			store__pg_copy_id((*ids)[i], r, i, 0);
		if (rc == FITD_OK)
			*n = (size_t)PQntuples(r);
	}
	PQclear(r);
	return rc;
}

static int take_in_tx(struct pg_conn *c, const char *job_id, const char *owner, int64_t lease_ms,
		      int64_t *idx, int64_t *generation, char **params, struct fitd_error *err)
{
	static const char sql[] =
	    "WITH q AS MATERIALIZED (SELECT t.idx FROM trials t JOIN jobs j ON j.id = t.job_id"
	    " WHERE t.job_id = $1 AND t.state = 'queued' AND j.state = 'running'"
	    " AND NOT j.cancel_requested ORDER BY t.idx LIMIT 1 FOR UPDATE OF t SKIP LOCKED)"
	    " UPDATE trials t SET state = 'running', attempt = t.attempt + 1,"
	    " generation = t.generation + 1, lease_owner = $2,"
	    " lease_expires_at = now() + $3 * interval '1 millisecond', started_at = fitd_now_ms()"
	    " FROM q WHERE t.job_id = $1 AND t.idx = q.idx"
	    " RETURNING t.idx, t.attempt, t.generation, t.params";
	char b[24], *data = NULL;
	const char *v[3] = { job_id, owner, store__pg_i64(b, lease_ms) };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 3, v, &r, "take trial", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "no_queued_trial",
				    "job %s has no queued trial to take", job_id);
	if (rc == FITD_OK) {
		*idx = store__pg_get_i64(r, 0, 0);
		*generation = store__pg_get_i64(r, 0, 2);
		*params = store__pg_strdup(r, 0, 3);
		if (*params == NULL ||
		    asprintf(&data, "{\"job\":\"%s\",\"trial\":%lld,\"attempt\":%s,\"params\":%s}",
			     job_id, (long long)*idx, PQgetvalue(r, 0, 1), *params) < 0) {
			data = NULL;
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial_started event");
		}
	}
	PQclear(r);
	if (rc == FITD_OK)
		rc = store__pg_event_insert(c, job_id, "trial_started", data, NULL, err);
	free(data);
	return rc;
}

int store_trial_take(struct store *s, const char *job_id, const char *owner, int64_t lease_ms,
		     int64_t *idx, int64_t *generation, char **params_json, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc;

	*params_json = NULL;
	if (s->pg == NULL)
		return fitd_error_set(err, FITD_ENOTFOUND, "no_queued_trial",
				      "trials are taken on a shared store only");
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(
	    s, c, take_in_tx(c, job_id, owner, lease_ms, idx, generation, params_json, err), err);
	if (rc != FITD_OK) {
		free(*params_json);
		*params_json = NULL;
	}
	return rc;
}

static int withdraw_in_tx(struct pg_conn *c, const char *job_id, const char *owner,
			  enum store_trial_state st, int64_t *ended, struct fitd_error *err)
{
	static const char delete_sql[] = "DELETE FROM trials WHERE job_id = $1 AND state = 'queued'"
					 " AND attempt = 0";
	static const char end_sql[] =
	    "WITH e AS (UPDATE trials SET state = $3, generation = generation + 1,"
	    " finished_at = fitd_now_ms(), lease_owner = NULL, lease_expires_at = NULL"
	    " WHERE job_id = $1 AND state = 'running' AND lease_owner IS DISTINCT FROM $2"
	    " RETURNING idx) SELECT idx FROM e ORDER BY idx";
	const char *v[3] = { job_id, owner, store_trial_state_name(st) };
	int64_t deleted = 0;
	PGresult *r = NULL;
	int rc = store__pg_cmd(c, delete_sql, 1, v, &deleted, "withdraw trials", err);

	if (rc == FITD_OK)
		rc = store__pg_exec(c, end_sql, 3, v, &r, "withdraw trials", err);
	for (int i = 0; rc == FITD_OK && i < PQntuples(r); i++) {
		char data[160];

		snprintf(data, sizeof(data), "{\"job\":\"%s\",\"trial\":%s,\"state\":\"%s\"}",
			 job_id, PQgetvalue(r, i, 0), v[2]);
		rc = store__pg_event_insert(c, job_id, "trial_finished", data, NULL, err);
	}
	if (rc == FITD_OK)
		*ended = deleted + PQntuples(r);
	PQclear(r);
	return rc;
}

int store_trial_withdraw(struct store *s, const char *job_id, const char *owner,
			 enum store_trial_state st, int64_t *ended, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc;

	*ended = 0;
	if (s->pg == NULL)
		return FITD_OK;
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, withdraw_in_tx(c, job_id, owner, st, ended, err), err);
}

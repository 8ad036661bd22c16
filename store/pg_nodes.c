/*
 * pg_nodes.c - several daemons on one PostgreSQL: job leases, the rescue of
 * trials a dead or fenced node left running, and fenced progress.
 *
 * A job is run by one node at a time, the holder of its lease
 * (jobs.lease_owner, lease_expires_at from the database's clock, epoch + 1
 * at each take). store_job_lease() renews what the node holds and takes
 * jobs nobody holds or whose lease expired, with FOR UPDATE SKIP LOCKED
 * over a materialized CTE, so two nodes never take the same job and no
 * more rows are locked than asked for. Taking a job re-queues its running
 * trials with generation + 1: their generation is the fencing token the
 * old node presents at completion (pg_trials.c), so a node that wakes
 * after its lease moved can record nothing of them. Locks go jobs, then
 * trials, then the event counter; a zombie's completion going trials then
 * jobs can meet a take in a deadlock, which PostgreSQL breaks by failing
 * one of them: the take is tried again on the next pass, the completion
 * on the next heartbeat, where its generation is refused.
 *
 * On SQLite there is one daemon: store_job_lease() is store_job_active()
 * and progress is a plain event.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/base/metrics.h"

#define ACTIVE "state IN ('queued', 'running')"

bool store_shared(const struct store *s)
{
	return s->pg != NULL;
}

const char *store_node(const struct store *s)
{
	return s->node;
}

int store_set_node(struct store *s, const char *node, int64_t lease_ms, struct fitd_error *err)
{
	size_t len = node != NULL ? strlen(node) : 0;

	if (len == 0 || len >= sizeof(s->node))
		return fitd_error_set(err, FITD_EINVAL, "invalid_node",
				      "a node id is 1 to %d bytes", (int)sizeof(s->node) - 1);
	memcpy(s->node, node, len + 1);
	if (s->pg != NULL)
		store__pg_set_idle_tx(
		    s, lease_ms > 5000 ? (lease_ms < INT32_MAX ? (int)lease_ms : INT32_MAX) : 5000);
	return FITD_OK;
}

/*
 * Re-queues (generation + 1) or, past max_attempts, fails the running
 * trials that match where ($1 and $2 as the caller binds them), with a
 * trial_finished event for each failed one; counts into *requeued, *failed.
 */
static int rescue(struct pg_conn *c, const char *fail_sql, const char *requeue_sql, int n,
		  const char *const *v, int64_t *requeued, int64_t *failed, struct fitd_error *err)
{
	PGresult *r = NULL;
	int rc = store__pg_exec(c, fail_sql, n, v, &r, "rescue trials", err);

	for (int i = 0; rc == FITD_OK && i < PQntuples(r); i++) {
		char data[160];

		snprintf(data, sizeof(data),
			 "{\"job\":\"%s\",\"trial\":%s,\"state\":\"failed\",\"error\":"
			 "\"max_attempts\"}",
			 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
		rc = store__pg_event_insert(c, PQgetvalue(r, i, 0), "trial_finished", data, NULL,
					    err);
	}
	if (rc == FITD_OK)
		*failed += PQntuples(r);
	PQclear(r);
	if (rc == FITD_OK) {
		int64_t changed = 0;

		rc = store__pg_cmd(c, requeue_sql, n, v, &changed, "rescue trials", err);
		*requeued += changed;
	}
	return rc;
}

#define FAIL_SET                                                                               \
	"UPDATE trials t SET state = 'failed', error_code = 'max_attempts',"                   \
	" error_message = 'the daemon running it stopped during every attempt of this trial'," \
	" finished_at = fitd_now_ms(), lease_owner = NULL, lease_expires_at = NULL"            \
	" FROM jobs j WHERE j.id = t.job_id AND t.state = 'running'"                           \
	" AND t.attempt >= j.max_attempts"
#define REQUEUE_SET                                                        \
	"UPDATE trials SET state = 'queued', generation = generation + 1," \
	" lease_owner = NULL, lease_expires_at = NULL WHERE state = 'running'"

/* Start-up on a shared database: what this node left running, and expired leases. */
int store__pg_recover_node(struct pg_conn *c, const char *node, int64_t *requeued, int64_t *failed,
			   struct fitd_error *err)
{
	static const char fail_sql[] = "WITH f AS (" FAIL_SET
				       " AND (t.lease_owner IS NULL OR t.lease_owner = $1"
				       " OR t.lease_expires_at < now()) RETURNING t.job_id, t.idx)"
				       " SELECT job_id, idx FROM f ORDER BY job_id, idx";
	static const char requeue_sql[] = REQUEUE_SET
	    " AND (lease_owner IS NULL OR lease_owner = $1"
	    " OR lease_expires_at < now())";

	*requeued = *failed = 0;
	return rescue(c, fail_sql, requeue_sql, 1, &node, requeued, failed, err);
}

/*
 * Start-up of the only daemon (no node id): every running trial. Nothing
 * is fenced, so the generation stays, as on SQLite (the next claim bumps it).
 */
int store__pg_recover_all(struct pg_conn *c, int64_t *requeued, int64_t *failed,
			  struct fitd_error *err)
{
	static const char fail_sql[] = "WITH f AS (" FAIL_SET " RETURNING t.job_id, t.idx)"
				       " SELECT job_id, idx FROM f ORDER BY job_id, idx";
	static const char requeue_sql[] = "UPDATE trials SET state = 'queued', lease_owner = NULL,"
					  " lease_expires_at = NULL WHERE state = 'running'";

	*requeued = *failed = 0;
	return rescue(c, fail_sql, requeue_sql, 0, NULL, requeued, failed, err);
}

/* The running trials of job id, taken from whoever ran them. */
static int rescue_job(struct pg_conn *c, const char *id, int64_t *requeued, int64_t *failed,
		      struct fitd_error *err)
{
	static const char fail_sql[] = "WITH f AS (" FAIL_SET " AND t.job_id = $1"
				       " RETURNING t.job_id, t.idx)"
				       " SELECT job_id, idx FROM f ORDER BY idx";
	static const char requeue_sql[] = REQUEUE_SET " AND job_id = $1";

	return rescue(c, fail_sql, requeue_sql, 1, &id, requeued, failed, err);
}

static int lease_in_tx(struct store *s, struct pg_conn *c, const char *node, int64_t lease_ms,
		       size_t limit, PGresult **held, int64_t *rescued, struct fitd_error *err)
{
	static const char renew_sql[] =
	    "UPDATE jobs SET lease_expires_at = now() + $2 * interval '1 millisecond'"
	    " WHERE lease_owner = $1 AND " ACTIVE;
	static const char take_sql[] =
	    "WITH c AS MATERIALIZED (SELECT id FROM jobs WHERE " ACTIVE
	    " AND (lease_owner IS NULL OR lease_expires_at < now())"
	    " ORDER BY state <> 'running', seq LIMIT $3 FOR UPDATE SKIP LOCKED)"
	    " UPDATE jobs j SET lease_owner = $1,"
	    " lease_expires_at = now() + $2 * interval '1 millisecond', epoch = j.epoch + 1"
	    " FROM c WHERE j.id = c.id RETURNING j.id, j.epoch";
	static const char held_sql[] =
	    "SELECT id, cancel_requested FROM jobs WHERE lease_owner = $1"
	    " AND " ACTIVE " ORDER BY state <> 'running', seq";
	char b[2][24];
	const char *v[3] = { node, store__pg_i64(b[0], lease_ms), NULL };
	int64_t have = 0, requeued = 0, failed = 0;
	PGresult *r = NULL;
	int rc = store__pg_cmd(c, renew_sql, 2, v, &have, "renew job leases", err);

	if (rc == FITD_OK && (size_t)have < limit) {
		v[2] = store__pg_i64(b[1], (int64_t)(limit - (size_t)have));
		rc = store__pg_exec(c, take_sql, 3, v, &r, "take jobs", err);
	}
	for (int i = 0; rc == FITD_OK && r != NULL && i < PQntuples(r); i++) {
		rc = rescue_job(c, PQgetvalue(r, i, 0), &requeued, &failed, err);
		if (rc == FITD_OK)
			fitd_log_info("job_taken", "job=%s node=%s epoch=%s", PQgetvalue(r, i, 0),
				      node, PQgetvalue(r, i, 1));
	}
	PQclear(r);
	if (rc == FITD_OK)
		rc = store__pg_exec(c, held_sql, 1, v, held, "held jobs", err);
	if (rc == FITD_OK && requeued + failed > 0) {
		*rescued += requeued + failed;
		fitd_metrics_trials_rescued(s->metrics, requeued + failed);
	}
	return rc;
}

int store__pg_job_lease(struct store *s, const char *node, int64_t lease_ms, size_t limit,
			struct store_held **out, size_t *n, int64_t *rescued,
			struct fitd_error *err)
{
	struct pg_conn *c;
	PGresult *r = NULL;
	int rc = store__pg_begin(s, &c, false, err);

	*out = NULL;
	*n = 0;
	if (rc != FITD_OK)
		return rc;
	rc = lease_in_tx(s, c, node, lease_ms, limit, &r, rescued, err);
	rc = store__pg_end(s, c, rc, err);
	if (rc == FITD_OK && PQntuples(r) > 0) {
		size_t rows = (size_t)PQntuples(r);

		*out = calloc(rows, sizeof(**out));
		if (*out == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "held jobs");
		for (size_t i = 0; rc == FITD_OK && i < rows; i++) {
			store__pg_copy_id((*out)[i].id, r, (int)i, 0);
			(*out)[i].cancel_requested = store__pg_get_bool(r, (int)i, 1);
		}
		if (rc == FITD_OK)
			*n = rows;
	}
	PQclear(r);
	return rc;
}

int store_job_lease(struct store *s, const char *node, int64_t lease_ms, size_t limit,
		    struct store_held **out, size_t *n, int64_t *rescued, struct fitd_error *err)
{
	char(*ids)[STORE_ID_MAX] = NULL;
	int rc;

	if (s->pg != NULL)
		return store__pg_job_lease(s, node, lease_ms, limit, out, n, rescued, err);
	*out = NULL;
	rc = store_job_active(s, limit, &ids, n, err);
	if (rc == FITD_OK && *n > 0) {
		*out = calloc(*n, sizeof(**out));
		if (*out == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "held jobs");
		for (size_t i = 0; rc == FITD_OK && i < *n; i++)
			memcpy((*out)[i].id, ids[i], STORE_ID_MAX);
	}
	if (rc != FITD_OK)
		*n = 0;
	free(ids);
	return rc;
}

int store_job_unlease(struct store *s, const char *node, int64_t *released, struct fitd_error *err)
{
	static const char sql[] = "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
				  " WHERE lease_owner = $1 AND " ACTIVE;
	struct pg_conn *c;
	int rc;

	*released = 0;
	if (s->pg == NULL)
		return FITD_OK;
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_cmd(c, sql, 1, &node, released, "release leases", err),
			     err);
}

static int progress_in_tx(struct pg_conn *c, const char *job_id, int64_t idx, int64_t generation,
			  const char *data, struct fitd_error *err)
{
	static const char sql[] = "SELECT 1 FROM trials WHERE job_id = $1 AND idx = $2"
				  " AND generation = $3 AND state = 'running' FOR SHARE";
	char b[2][24];
	const char *v[3] = { job_id, store__pg_i64(b[0], idx), store__pg_i64(b[1], generation) };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 3, v, &r, "read trial", err);

	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ECONFLICT, "stale_generation",
				    "trial %lld of %s was claimed again since generation %lld",
				    (long long)idx, job_id, (long long)generation);
	PQclear(r);
	if (rc == FITD_OK)
		rc = store__pg_event_insert(c, job_id, "trial_progress", data, NULL, err);
	return rc;
}

int store_trial_progress(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			 const char *data_json, struct fitd_error *err)
{
	struct pg_conn *c;
	int rc;

	if (s->pg == NULL)
		return store_event_add(s, job_id, "trial_progress", data_json, NULL, err);
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_end(s, c, progress_in_tx(c, job_id, idx, generation, data_json, err), err);
	if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

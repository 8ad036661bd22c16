/*
 * pg_oof.c - out-of-fold predictions on PostgreSQL (oof.c says what each
 * function promises): one trial_oof row per trial, the float32 values as
 * one bytea, replaced whole by a write. A job's rows go in the transaction
 * that deletes the job (pg_models.c), rows of jobs gone otherwise at open.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/base/metrics.h"

/*
 * The fence: the trial's row, share-locked so that a rescue or a claim
 * cannot move its generation before this commits, must still run under
 * generation. A trial the store does not have is not fenced.
 */
static int fence(struct pg_conn *c, const char *job_id, const char *idx, int64_t generation,
		 struct fitd_error *err)
{
	static const char sql[] = "SELECT generation = $3 AND state = 'running' FROM trials"
				  " WHERE job_id = $1 AND idx = $2 FOR SHARE";
	char b[24];
	const char *v[3] = { job_id, idx, store__pg_i64(b, generation) };
	PGresult *r = NULL;
	int rc = store__pg_exec(c, sql, 3, v, &r, "fence oof", err);

	if (rc == FITD_OK && PQntuples(r) > 0 && !store__pg_get_bool(r, 0, 0))
		rc = fitd_error_set(err, FITD_ECONFLICT, "stale_generation",
				    "trial %s of %s no longer runs under generation %lld", idx,
				    job_id, (long long)generation);
	PQclear(r);
	return rc;
}

int store__pg_oof_write(struct store *s, const char *job_id, int64_t idx, int64_t generation,
			const float *v, size_t n, struct fitd_error *err)
{
	static const char sql[] = "INSERT INTO trial_oof (job_id, idx, data) VALUES ($1, $2, $3)"
				  " ON CONFLICT (job_id, idx) DO UPDATE SET data = excluded.data";
	static const int fmts[3] = { 0, 0, 1 };
	char b[24];
	const char *vals[3] = { job_id, store__pg_i64(b, idx), (const char *)v };
	int lens[3] = { 0, 0, 0 };
	struct pg_conn *c;
	int rc;

	/* A bytea parameter's length is an int. */
	if (n > (size_t)(INT32_MAX / (int)sizeof(float)))
		return fitd_error_set(err, FITD_ETOOBIG, NULL, "out-of-fold predictions too large");
	lens[2] = (int)(n * sizeof(float));
	rc = store__pg_begin(s, &c, false, err);
	if (rc != FITD_OK)
		return rc;
	rc = fence(c, job_id, vals[1], generation, err);
	if (rc == FITD_OK)
		rc = store__pg_run(c, sql, 3, vals, lens, fmts, false, NULL, "write oof", err);
	rc = store__pg_end(s, c, rc, err);
	if (rc == FITD_ECONFLICT)
		fitd_metrics_stale_write(s->metrics);
	return rc;
}

int store__pg_oof_read(struct store *s, const char *job_id, int64_t idx, float **out, size_t *n,
		       struct fitd_error *err)
{
	static const char sql[] = "SELECT data FROM trial_oof WHERE job_id = $1 AND idx = $2";
	char b[24];
	const char *vals[2] = { job_id, store__pg_i64(b, idx) };
	struct pg_conn *c;
	PGresult *r = NULL;
	size_t len = 0;
	int rc = store__pg_take(s, &c, err);

	*out = NULL;
	*n = 0;
	if (rc != FITD_OK)
		return rc;
	rc = store__pg_run(c, sql, 2, vals, NULL, NULL, true, &r, "read oof", err);
	store__pg_give(s, c);
	if (rc == FITD_OK && PQntuples(r) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "oof_not_found",
				    "no out-of-fold predictions for trial %lld", (long long)idx);
	if (rc == FITD_OK) {
		len = (size_t)PQgetlength(r, 0, 0);
		if (len % sizeof(float) != 0)
			rc = fitd_error_set(err, FITD_EFORMAT, "bad_oof",
					    "trial %lld: not float32 values", (long long)idx);
	}
	if (rc == FITD_OK && (*out = malloc(len ? len : 1)) == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out-of-fold predictions");
	if (rc == FITD_OK) {
		memcpy(*out, PQgetvalue(r, 0, 0), len);
		*n = len / sizeof(float);
	}
	PQclear(r);
	return rc;
}

void store__pg_oof_remove(struct store *s, const char *job_id, int64_t idx)
{
	static const char one_sql[] = "DELETE FROM trial_oof WHERE job_id = $1 AND idx = $2";
	static const char job_sql[] = "DELETE FROM trial_oof WHERE job_id = $1";
	struct fitd_error err = { 0 };
	char b[24];
	const char *vals[2] = { job_id, store__pg_i64(b, idx) };
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, &err);

	if (rc == FITD_OK)
		rc = store__pg_end(s, c,
				   store__pg_cmd(c, idx >= 0 ? one_sql : job_sql, idx >= 0 ? 2 : 1,
						 vals, NULL, "remove oof", &err),
				   &err);
	/* Only space is lost: the sweep at the next open takes what is left of a job. */
	if (rc != FITD_OK)
		fitd_log_warn("oof_remove_failed", "job=%s trial=%lld reason=\"%s\"", job_id,
			      (long long)idx, err.message);
}

int store__pg_oof_sweep(struct store *s, struct fitd_error *err)
{
	static const char sql[] = "DELETE FROM trial_oof o WHERE NOT EXISTS"
				  " (SELECT 1 FROM jobs j WHERE j.id = o.job_id)";
	struct pg_conn *c;
	int rc = store__pg_begin(s, &c, false, err);

	if (rc != FITD_OK)
		return rc;
	return store__pg_end(s, c, store__pg_cmd(c, sql, 0, NULL, NULL, "sweep oof", err), err);
}

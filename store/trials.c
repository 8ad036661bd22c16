/*
 * trials.c - trial rows: claim with fencing, completion, the leaderboard and
 * recovery after a crash.
 *
 *   (none) | queued -> running -> completed | pruned | failed | timeout | interrupted
 *   running -> queued   (graceful stop: given back, attempt not counted)
 *
 * A claim bumps attempt and generation in one transaction; completion must
 * present the generation it claimed, so a result from a claim that was
 * superseded (after a restart re-queued the trial) can never overwrite the
 * newer one. Same seed, same result, so running a trial twice is harmless.
 */
#include "store/internal.h"
#include "store/pg.h"
#include "daemon/base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIAL_COLUMNS                                                                \
	"job_id, idx, state, params, attempt, generation, score, score_std, epochs," \
	" duration_ms, result, error_code, error_message, started_at, finished_at"

/* False (with *t released) when a string cannot be copied. */
static bool trial_from_row(sqlite3_stmt *st, struct store_trial *t)
{
	bool oom;

	memset(t, 0, sizeof(*t));
	snprintf(t->job_id, sizeof(t->job_id), "%s", (const char *)sqlite3_column_text(st, 0));
	t->idx = sqlite3_column_int64(st, 1);
	t->state = (enum store_trial_state)store_trial_state_parse(
	    (const char *)sqlite3_column_text(st, 2));
	t->params = store__column_strdup(st, 3);
	oom = t->params == NULL;
	t->attempt = sqlite3_column_int64(st, 4);
	t->generation = sqlite3_column_int64(st, 5);
	t->has_score = sqlite3_column_type(st, 6) != SQLITE_NULL;
	t->score = sqlite3_column_double(st, 6);
	t->score_std = sqlite3_column_double(st, 7);
	t->epochs = sqlite3_column_int64(st, 8);
	t->duration_ms = sqlite3_column_int64(st, 9);
	t->result = store__column_text_or_null(st, 10, &oom);
	t->error_code = store__column_text_or_null(st, 11, &oom);
	t->error_message = store__column_text_or_null(st, 12, &oom);
	t->started_at = sqlite3_column_int64(st, 13);
	t->finished_at = sqlite3_column_int64(st, 14);
	if (oom)
		store_trial_release(t);
	return !oom;
}

void store_trial_release(struct store_trial *t)
{
	if (t == NULL)
		return;
	free(t->params);
	free(t->result);
	free(t->error_code);
	free(t->error_message);
	memset(t, 0, sizeof(*t));
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct fitd_error *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE
		     ? FITD_OK
		     : store__sqlite_error(db, sqlite3_errcode(db), what, err);

	sqlite3_finalize(st);
	return rc;
}

static int started_event(sqlite3 *db, const char *job_id, int64_t idx, int64_t attempt,
			 const char *params, struct fitd_error *err)
{
	char *data = NULL;
	int rc;

	if (asprintf(&data, "{\"job\":\"%s\",\"trial\":%lld,\"attempt\":%lld,\"params\":%s}",
		     job_id, (long long)idx, (long long)attempt, params) < 0)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "trial_started event");
	rc = store__event_insert(db, job_id, "trial_started", data, NULL, err);
	free(data);
	return rc;
}

static int claim_in_tx(sqlite3 *db, const char *job_id, int64_t idx, const char *params,
		       const char *owner, int64_t lease_ms, int64_t *generation,
		       struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t now = store_now_ms(), attempt = 1, gen = 1;
	char *stored_params = NULL;
	int rc = store__prepare(db,
				"SELECT state, attempt, generation, params FROM trials"
				" WHERE job_id = ? AND idx = ?",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, idx);
	/* A failed read (out of memory) may have ended the transaction: stop here. */
	rc = store__step_row(db, st, "read trial", err);
	if (rc == FITD_ENOTFOUND) {
		rc = FITD_OK; /* a new trial */
	} else if (rc == FITD_OK) {
		const char *state = (const char *)sqlite3_column_text(st, 0);

		if (store_trial_state_parse(state) != STORE_TRIAL_QUEUED)
			rc = fitd_error_set(err, FITD_ESTATE, "trial_not_queued",
					    "trial %lld of %s is %s", (long long)idx, job_id,
					    state ? state : "unreadable");
		attempt = sqlite3_column_int64(st, 1) + 1;
		gen = sqlite3_column_int64(st, 2) + 1;
		stored_params = store__column_strdup(st, 3);
		if (stored_params == NULL && rc == FITD_OK)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial params");
	}
	sqlite3_finalize(st);
	if (rc == FITD_OK)
		rc = store__prepare(db,
				    "INSERT INTO trials (job_id, idx, state, params, attempt,"
				    " generation, owner, lease_until, started_at)"
				    " VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8)"
				    " ON CONFLICT (job_id, idx) DO UPDATE SET state = 'running',"
				    " attempt = ?4, generation = ?5, owner = ?6, lease_until = ?7,"
				    " started_at = ?8",
				    &st, err);
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, idx);
		sqlite3_bind_text(st, 3, params, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, attempt);
		sqlite3_bind_int64(st, 5, gen);
		sqlite3_bind_text(st, 6, owner, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, now + lease_ms);
		sqlite3_bind_int64(st, 8, now);
		rc = step_done(db, st, "claim trial", err);
	}
	if (rc == FITD_OK)
		rc = started_event(db, job_id, idx, attempt, stored_params ? stored_params : params,
				   err);
	free(stored_params);
	if (rc == FITD_OK)
		*generation = gen;
	return rc;
}

int store_trial_claim(struct store *s, const char *job_id, int64_t idx, const char *params_json,
		      const char *owner, int64_t lease_ms, int64_t *generation,
		      struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_claim(s, job_id, idx, params_json, owner, lease_ms,
					     generation, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(
	    s, claim_in_tx(db, job_id, idx, params_json, owner, lease_ms, generation, err), err);
}

/*
 * Binds what names a trial's outcome, as both statements below number it:
 * ?1 job, ?2 idx, ?3 generation, ?4 state, ?5 score, ?7 epochs, ?8 duration.
 */
static void bind_outcome(sqlite3_stmt *st, const char *job_id, int64_t idx, int64_t generation,
			 const struct store_trial_outcome *o)
{
	sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_int64(st, 3, generation);
	sqlite3_bind_text(st, 4, store_trial_state_name(o->state), -1, SQLITE_STATIC);
	if (o->has_score)
		sqlite3_bind_double(st, 5, o->score);
	sqlite3_bind_int64(st, 7, o->epochs);
	sqlite3_bind_int64(st, 8, o->duration_ms);
}

/* Whether trial idx already holds outcome o under generation (see update_trial()). */
static int holds_outcome(sqlite3 *db, const char *job_id, int64_t idx, int64_t generation,
			 const struct store_trial_outcome *o, bool *holds, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT count(*) FROM trials WHERE job_id = ?1 AND idx = ?2"
				" AND generation = ?3 AND state = ?4 AND score IS ?5"
				" AND epochs = ?7 AND duration_ms = ?8 AND state <> 'running'",
				&st, err);

	*holds = false;
	if (rc != FITD_OK)
		return rc;
	bind_outcome(st, job_id, idx, generation, o);
	if (sqlite3_step(st) == SQLITE_ROW)
		*holds = sqlite3_column_int64(st, 0) > 0;
	else
		rc = store__sqlite_error(db, sqlite3_errcode(db), "finished trial", err);
	sqlite3_finalize(st);
	return rc;
}

/*
 * The trial's row from outcome o, when it runs under generation; *already
 * when it holds o from an earlier try (a retried commit that had gone
 * through, as a shared store may see): nothing is written again.
 */
static int update_trial(sqlite3 *db, const char *job_id, int64_t idx, int64_t generation,
			const struct store_trial_outcome *o, bool *already, struct fitd_error *err)
{
	bool give_back = o->state == STORE_TRIAL_QUEUED;
	sqlite3_stmt *st = NULL;
	int changed = 0;
	int rc = store__prepare(
	    db,
	    "UPDATE trials SET state = ?4, score = ?5, score_std = ?6, epochs = ?7,"
	    " duration_ms = ?8, result = ?9, error_code = ?10, error_message = ?11,"
	    " finished_at = ?12, owner = NULL, lease_until = NULL,"
	    " attempt = attempt - ?13"
	    " WHERE job_id = ?1 AND idx = ?2 AND generation = ?3 AND state = 'running'",
	    &st, err);

	if (rc != FITD_OK)
		return rc;
	bind_outcome(st, job_id, idx, generation, o);
	if (o->has_score)
		sqlite3_bind_double(st, 6, o->score_std);
	sqlite3_bind_text(st, 9, o->result_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, o->error_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, o->error_message, -1, SQLITE_STATIC);
	if (!give_back)
		sqlite3_bind_int64(st, 12, store_now_ms());
	sqlite3_bind_int64(st, 13, give_back ? 1 : 0);
	*already = false;
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "finish trial", err);
	else
		changed = sqlite3_changes(db);
	sqlite3_finalize(st);
	if (rc == FITD_OK && changed == 0)
		rc = holds_outcome(db, job_id, idx, generation, o, already, err);
	if (rc == FITD_OK && changed == 0 && !*already)
		rc = fitd_error_set(err, FITD_ECONFLICT, "stale_generation",
				    "trial %lld of %s was claimed again since generation %lld",
				    (long long)idx, job_id, (long long)generation);
	return rc;
}

static int set_best(sqlite3 *db, const char *job_id, int64_t idx,
		    const struct store_trial_outcome *o, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = FITD_OK;

	if (o->model_id != NULL)
		rc = store__model_insert(db, o->model_id, job_id, idx, o->model_bytes, err);
	if (rc == FITD_OK)
		rc = store__prepare(db,
				    "UPDATE jobs SET best_trial = ?, best_score = ?,"
				    " best_model_id = ? WHERE id = ?",
				    &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_double(st, 2, o->score);
	sqlite3_bind_text(st, 3, o->model_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, job_id, -1, SQLITE_STATIC);
	rc = step_done(db, st, "set best", err);
	if (rc == FITD_OK && o->best_event_json != NULL)
		rc = store__event_insert(db, job_id, "new_best", o->best_event_json, NULL, err);
	return rc;
}

static int finish_in_tx(sqlite3 *db, const char *job_id, int64_t idx, int64_t generation,
			const struct store_trial_outcome *o, struct fitd_error *err)
{
	bool already;
	int rc = update_trial(db, job_id, idx, generation, o, &already, err);

	if (rc != FITD_OK || already)
		return rc;
	if (o->event_json != NULL)
		rc = store__event_insert(db, job_id, "trial_finished", o->event_json, NULL, err);
	if (rc == FITD_OK && o->new_best)
		rc = set_best(db, job_id, idx, o, err);
	return rc;
}

int store_trial_finish(struct store *s, const char *job_id, int64_t idx, int64_t generation,
		       const struct store_trial_outcome *o, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_finish(s, job_id, idx, generation, o, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s, finish_in_tx(db, job_id, idx, generation, o, err), err);
}

/*
 * Collects up to limit rows of st into a heap array (NULL when there are
 * none); *more says whether st had another. On error nothing is left
 * allocated.
 */
static int collect(sqlite3 *db, sqlite3_stmt *st, size_t limit, struct store_trial **out, size_t *n,
		   bool *more, struct fitd_error *err)
{
	struct fitd_buf items;
	struct store_trial *t;
	size_t count = 0;
	int rc = FITD_OK;

	fitd_buf_init(&items, limit < SIZE_MAX / sizeof(*t) ? limit * sizeof(*t) : SIZE_MAX);
	if (more != NULL)
		*more = false;
	while (rc == FITD_OK && (rc = store__step_row(db, st, "list trials", err)) == FITD_OK) {
		if (count == limit) {
			if (more != NULL)
				*more = true;
			break;
		}
		t = fitd_buf_grow(&items, sizeof(*t));
		if (t == NULL)
			rc = fitd_error_set(err, fitd_buf_status(&items), NULL, "trial list");
		else if (!trial_from_row(st, t))
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "trial row");
		else
			count++;
	}
	if (rc == FITD_ENOTFOUND)
		rc = FITD_OK;
	if (rc == FITD_OK) {
		*out = (struct store_trial *)fitd_buf_take(&items);
		*n = count;
		return FITD_OK;
	}
	t = (struct store_trial *)items.data;
	while (count > 0)
		store_trial_release(&t[--count]);
	fitd_buf_release(&items);
	return rc;
}

int store_trial_all(struct store *s, const char *job_id, int64_t from, struct store_trial **out,
		    size_t *n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_all(s, job_id, from, out, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(
	    db, "SELECT " TRIAL_COLUMNS " FROM trials WHERE job_id = ? AND idx >= ? ORDER BY idx",
	    &st, err);

	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, from);
		rc = collect(db, st, SIZE_MAX, out, n, NULL, err);
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

int store_trial_board(struct store *s, const char *job_id, bool higher_is_better, size_t offset,
		      size_t limit, struct store_trial **out, size_t *n, bool *more,
		      struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_board(s, job_id, higher_is_better, offset, limit, out, n,
					     more, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db,
				"SELECT " TRIAL_COLUMNS " FROM trials WHERE job_id = ?1"
				" ORDER BY (state = 'completed' AND score IS NOT NULL) DESC,"
				" CASE WHEN ?2 THEN -score ELSE score END, idx"
				" LIMIT ?3 OFFSET ?4",
				&st, err);

	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, higher_is_better);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
		rc = collect(db, st, limit, out, n, more, err);
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

int store_trial_families(struct store *s, const char *job_id, bool higher_is_better,
			 struct store_family **out, size_t *n, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_families(s, job_id, higher_is_better, out, n, err);
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	struct fitd_buf buf;
	int rc = store__prepare(
	    db,
	    "SELECT coalesce(json_extract(params, '$.model'), '?'), count(*), total(duration_ms),"
	    " CASE WHEN ?2 THEN max(CASE WHEN state = 'completed' THEN score END)"
	    " ELSE min(CASE WHEN state = 'completed' THEN score END) END"
	    " FROM trials WHERE job_id = ?1 AND state IN ('completed', 'pruned', 'failed',"
	    " 'timeout', 'interrupted') GROUP BY 1 ORDER BY 1",
	    &st, err);

	*out = NULL;
	*n = 0;
	fitd_buf_init(&buf, SIZE_MAX);
	if (rc == FITD_OK) {
		sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, higher_is_better);
	}
	while (rc == FITD_OK) {
		int step = sqlite3_step(st);
		struct store_family f = { .has_best = false };

		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = store__sqlite_error(db, step, "family summary", err);
			break;
		}
		snprintf(f.model, sizeof(f.model), "%s", (const char *)sqlite3_column_text(st, 0));
		f.trials = sqlite3_column_int64(st, 1);
		f.duration_ms = (int64_t)sqlite3_column_double(st, 2);
		f.has_best = sqlite3_column_type(st, 3) != SQLITE_NULL;
		f.best = sqlite3_column_double(st, 3);
		if (fitd_buf_add(&buf, &f, sizeof(f)) != FITD_OK)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "family summary");
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	if (rc == FITD_OK) {
		*n = buf.len / sizeof(struct store_family);
		*out = (struct store_family *)fitd_buf_take(&buf);
	}
	fitd_buf_release(&buf);
	return rc;
}

int store_trial_heartbeat(struct store *s, const char *owner, int64_t lease_ms,
			  struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_heartbeat(s, owner, lease_ms, err);
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	rc = store__prepare(
	    db, "UPDATE trials SET lease_until = ? WHERE state = 'running' AND owner = ?", &st,
	    err);
	if (rc == FITD_OK) {
		sqlite3_bind_int64(st, 1, store_now_ms() + lease_ms);
		sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
		rc = step_done(db, st, "heartbeat", err);
	}
	return store__write_end(s, rc, err);
}

static int recover_in_tx(sqlite3 *db, int64_t *requeued, int64_t *failed, struct fitd_error *err)
{
	static const char fail_sql[] =
	    "INSERT INTO events (job_id, type, data, created_at)"
	    " SELECT job_id, 'trial_finished', json_object('job', job_id, 'trial', idx,"
	    " 'state', 'failed', 'error', 'max_attempts'), ?1 FROM trials t"
	    " WHERE state = 'running'"
	    " AND attempt >= (SELECT max_attempts FROM jobs WHERE id = t.job_id);"
	    "UPDATE trials SET state = 'failed', error_code = 'max_attempts',"
	    " error_message = 'the daemon stopped during every attempt of this trial',"
	    " finished_at = ?1, owner = NULL, lease_until = NULL WHERE state = 'running'"
	    " AND attempt >= (SELECT max_attempts FROM jobs WHERE id = trials.job_id);";
	sqlite3_stmt *st = NULL;
	const char *tail = fail_sql;
	int rc = FITD_OK;

	*failed = 0;
	while (rc == FITD_OK && *tail != '\0') {
		rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail) == SQLITE_OK
			 ? FITD_OK
			 : store__sqlite_error(db, sqlite3_errcode(db), "recover", err);
		if (rc != FITD_OK || st == NULL)
			break;
		sqlite3_bind_int64(st, 1, store_now_ms());
		rc = step_done(db, st, "recover", err);
		*failed = sqlite3_changes(db);
	}
	if (rc == FITD_OK)
		rc = store__exec(
		    db,
		    "UPDATE trials SET state = 'queued', owner = NULL, lease_until = NULL"
		    " WHERE state = 'running'",
		    err);
	*requeued = sqlite3_changes(db);
	return rc;
}

int store_trial_recover(struct store *s, int64_t *requeued, int64_t *failed, struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_recover(s, requeued, failed, err);
	sqlite3 *db;
	int rc = store__write_begin(s, &db, err);

	if (rc != FITD_OK)
		return rc;
	return store__write_end(s, recover_in_tx(db, requeued, failed, err), err);
}

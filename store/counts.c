/*
 * counts.c - how many jobs and trials are in each state, for GET /metrics.
 *
 * One GROUP BY on a read-only connection, served from the state indexes
 * (jobs_by_state, trials_by_state), so a scrape never waits on the writer
 * and costs a walk of an index, not of the rows.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <string.h>

/* Fills counts[parse(state)] from sql ("SELECT state, count(*) ... GROUP BY state"). */
static int count_by_state(struct store *s, const char *sql, int (*parse)(const char *),
			  int64_t *counts, size_t n, struct fitd_error *err)
{
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, sql, &st, err);
	int step = SQLITE_DONE;

	memset(counts, 0, n * sizeof(*counts));
	while (rc == FITD_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int state = parse((const char *)sqlite3_column_text(st, 0));

		/* The schema's CHECK allows only known states; skip anything else. */
		if (state >= 0 && (size_t)state < n)
			counts[state] = sqlite3_column_int64(st, 1);
	}
	if (rc == FITD_OK && step != SQLITE_DONE)
		rc = store__sqlite_error(db, step, "count by state", err);
	sqlite3_finalize(st);
	store__read_end(s, db);
	return rc;
}

int store_job_count_by_state(struct store *s, int64_t counts[STORE_JOB_NSTATES],
			     struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_job_count_by_state(s, counts, err);
	return count_by_state(s, "SELECT state, count(*) FROM jobs GROUP BY state",
			      store_job_state_parse, counts, STORE_JOB_NSTATES, err);
}

int store_trial_count_by_state(struct store *s, int64_t counts[STORE_TRIAL_NSTATES],
			       struct fitd_error *err)
{
	if (s->pg != NULL)
		return store__pg_trial_count_by_state(s, counts, err);
	return count_by_state(s, "SELECT state, count(*) FROM trials GROUP BY state",
			      store_trial_state_parse, counts, STORE_TRIAL_NSTATES, err);
}

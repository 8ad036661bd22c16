/*
 * test_trials.c - the durability rules of trial rows (DESIGN.md, rules 2
 * and 3), checked exactly on the database:
 *
 *   fencing: a completion that presents a stale generation (the trial was
 *   claimed again since, or already finished) gets FITD_ECONFLICT and
 *   leaves every row as it was (the trial, the job, the events, the
 *   models), whatever the outcome it carries, except the very outcome the
 *   trial holds under that generation (a retried commit that had gone
 *   through), which succeeds writing nothing; the heartbeat is fenced by
 *   owner, so a stale owner's renews nothing;
 *
 *   recovery at start: a running trial below its job's max_attempts goes
 *   back to the queue, one that has used them all fails with
 *   max_attempts and a trial_finished event, anything not running is left
 *   alone, and a trial given back at a graceful stop has its attempt
 *   returned.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/store/store_check.h"

struct fixture {
	struct store *s;
	struct store_dataset d;
	struct store_job job;
};

/* A store with one dataset and one job whose trials may be claimed max_attempts times. */
static void setup(struct fixture *fx, int64_t max_attempts)
{
	struct store_job_new in = { .target = "y",
				    .task = "regression",
				    .metric = "rmse",
				    .spec_json = "{}",
				    .max_attempts = max_attempts };
	struct fitd_error err = { 0 };
	bool existed;

	store_check_state_new();
	fx->s = store_check_open();
	ck_assert_int_eq(store_check_upload(fx->s, "x,y\n1,2\n3,4\n", "t", &fx->d, &err), FITD_OK);
	in.dataset_id = fx->d.id;
	ck_assert_msg(store_job_create(fx->s, &in, &fx->job, &existed, &err) == FITD_OK, "%s",
		      err.message);
}

static void teardown(struct fixture *fx)
{
	store_job_release(&fx->job);
	store_dataset_release(&fx->d);
	store_close(fx->s);
	store_check_state_remove();
}

/*
 * store_check_sql_int() of sql where OWNER and LEASE stand for the lease's
 * columns: owner and lease_until (ms) on SQLite, lease_owner and
 * lease_expires_at (timestamptz, from the database clock) on PostgreSQL.
 */
static int64_t lease_sql_int(const char *sql)
{
	const char *owner = store_check_pg() ? "lease_owner" : "owner";
	const char *lease = store_check_pg() ? "lease_expires_at" : "lease_until";
	char out[512];
	size_t o = 0;

	for (const char *p = sql; *p != '\0' && o + 32 < sizeof(out);) {
		const char *word = strncmp(p, "OWNER", 5) == 0	 ? owner
				   : strncmp(p, "LEASE", 5) == 0 ? lease
								 : NULL;

		if (word != NULL) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", word);
			p += 5;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return store_check_sql_int(out);
}

static int64_t claim(struct fixture *fx, int64_t idx, const char *owner)
{
	struct fitd_error err = { 0 };
	int64_t gen = -1;

	ck_assert_msg(store_trial_claim(fx->s, fx->job.id, idx, "{\"model\":\"linear\"}", owner,
					60000, &gen, &err) == FITD_OK,
		      "%s", err.message);
	return gen;
}

static void recover(struct fixture *fx, int64_t requeued, int64_t failed)
{
	struct fitd_error err = { 0 };
	int64_t r = -1, f = -1;

	ck_assert_int_eq(store_trial_recover(fx->s, &r, &f, &err), FITD_OK);
	ck_assert_int_eq(r, requeued);
	ck_assert_int_eq(f, failed);
}

/* Every row of every table a trial's completion may write, as text. */
static char *snapshot(void)
{
	static const char *const queries[] = {
		"SELECT * FROM trials ORDER BY job_id, idx",
		"SELECT * FROM jobs ORDER BY seq",
		"SELECT * FROM events ORDER BY id",
		"SELECT * FROM models ORDER BY id",
	};
	char *all = NULL, *rows;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		rows = store_check_rows(queries[i]);
		fprintf(f, "-- %s\n%s", queries[i], rows);
		free(rows);
	}
	ck_assert_int_eq(fclose(f), 0);
	return all;
}

/* The outcomes a completion may carry; a stale one must be refused whichever it is. */
enum {
	OUT_COMPLETED_BEST,
	OUT_FAILED,
	OUT_PRUNED,
	OUT_GIVEN_BACK,
	NOUTCOMES
};

static struct store_trial_outcome outcome(int kind, const char *model_id)
{
	struct store_trial_outcome o = { .epochs = 7, .duration_ms = 120 };

	switch (kind) {
	case OUT_COMPLETED_BEST:
		o.state = STORE_TRIAL_COMPLETED;
		o.has_score = true;
		o.score = 0.25;
		o.score_std = 0.01;
		o.result_json = "{\"fold_scores\":[0.25]}";
		o.event_json = "{\"trial\":0,\"state\":\"completed\"}";
		o.new_best = true;
		o.model_id = model_id;
		o.model_bytes = 2;
		o.best_event_json = "{\"trial\":0}";
		break;
	case OUT_FAILED:
		o.state = STORE_TRIAL_FAILED;
		o.error_code = "bad_params";
		o.error_message = "refused";
		o.event_json = "{\"trial\":0,\"state\":\"failed\"}";
		break;
	case OUT_PRUNED:
		o.state = STORE_TRIAL_PRUNED;
		o.has_score = true;
		o.score = 0.5;
		o.event_json = "{\"trial\":0,\"state\":\"pruned\"}";
		break;
	default:
		o.state = STORE_TRIAL_QUEUED; /* given back at a graceful stop */
		break;
	}
	return o;
}

/* Finishes trial 0 presenting gen with outcome kind and expects a refusal that changes nothing. */
static void expect_fenced(struct fixture *fx, int64_t gen, int kind)
{
	char model_id[STORE_ID_MAX];
	struct fitd_error err = { 0 };
	struct store_trial_outcome o;
	char *before, *after;

	ck_assert_int_eq(store_model_write(fx->s, "{}", 2, model_id, &err), FITD_OK);
	o = outcome(kind, model_id);
	before = snapshot();
	ck_assert_int_eq(store_trial_finish(fx->s, fx->job.id, 0, gen, &o, &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "stale_generation");
	after = snapshot();
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}

/* Run once per outcome kind (_i). */
START_TEST(stale_generation_changes_nothing)
{
	struct fixture fx;
	int64_t old, now;

	setup(&fx, 3);
	old = claim(&fx, 0, "host:1");
	recover(&fx, 1, 0); /* the daemon restarted: the trial is queued again */
	now = claim(&fx, 0, "host:2");
	ck_assert_int_eq(now, old + 1);
	/* The old claim's result, whatever it says, and a made-up newer one. */
	expect_fenced(&fx, old, _i);
	expect_fenced(&fx, now + 1, _i);
	teardown(&fx);
}
END_TEST

START_TEST(finished_trial_takes_no_second_result)
{
	struct store_trial_outcome o = outcome(OUT_FAILED, NULL);
	struct fitd_error err = { 0 };
	struct fixture fx;
	int64_t gen;

	setup(&fx, 3);
	gen = claim(&fx, 0, "host:1");
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_OK);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM trials WHERE state = 'failed'"),
			 1);
	/* Another outcome under the same generation is refused. */
	for (int kind = 0; kind < NOUTCOMES; kind++)
		if (kind != OUT_FAILED)
			expect_fenced(&fx, gen, kind);
	teardown(&fx);
}
END_TEST

/*
 * A commit whose answer was lost (the connection cut after COMMIT left) is
 * tried again with the same outcome: that succeeds and writes nothing twice
 * (one trial_finished event, one new_best, one model row), and is no stale
 * write. Under another generation, or changed, the outcome is refused.
 */
START_TEST(retried_commit_is_taken_once)
{
	struct fitd_error err = { 0 };
	char model_id[STORE_ID_MAX];
	struct store_trial_outcome o;
	char *before, *after;
	struct fixture fx;
	int64_t gen;

	setup(&fx, 3);
	gen = claim(&fx, 0, "host:1");
	ck_assert_int_eq(store_model_write(fx.s, "{}", 2, model_id, &err), FITD_OK);
	o = outcome(OUT_COMPLETED_BEST, model_id);
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_OK);
	before = snapshot();
	ck_assert_msg(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err) == FITD_OK, "%s",
		      err.message);
	after = snapshot();
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM events"
					     " WHERE type IN ('trial_finished', 'new_best')"),
			 2);
	/* The same outcome with another score or duration is not the commit that went through. */
	o.score += 1;
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_ECONFLICT);
	o.score -= 1;
	o.duration_ms += 1;
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_ECONFLICT);
	o.duration_ms -= 1;
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen + 1, &o, &err), FITD_ECONFLICT);
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_OK);
	free(before);
	free(after);
	teardown(&fx);
}
END_TEST

START_TEST(current_generation_is_taken)
{
	struct fitd_error err = { 0 };
	char model_id[STORE_ID_MAX];
	struct store_trial_outcome o;
	struct store_job job;
	struct fixture fx;
	int64_t gen;

	setup(&fx, 3);
	claim(&fx, 0, "host:1");
	recover(&fx, 1, 0);
	gen = claim(&fx, 0, "host:2");
	ck_assert_int_eq(store_model_write(fx.s, "{}", 2, model_id, &err), FITD_OK);
	o = outcome(OUT_COMPLETED_BEST, model_id);
	ck_assert_msg(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_int_eq(store_job_get(fx.s, fx.job.id, &job, &err), FITD_OK);
	ck_assert_int_eq(job.best_trial, 0);
	ck_assert_str_eq(job.best_model_id, model_id);
	store_job_release(&job);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM models"), 1);
	ck_assert_int_eq(lease_sql_int("SELECT OWNER IS NULL AND LEASE IS NULL"
				       " AND attempt = 2 FROM trials"),
			 1);
	teardown(&fx);
}
END_TEST

START_TEST(stale_owner_heartbeat_renews_nothing)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char *before, *after;

	setup(&fx, 3);
	claim(&fx, 0, "host:1");
	recover(&fx, 1, 0);
	claim(&fx, 0, "host:2");
	ck_assert_int_eq(store_check_sql(store_check_pg() ? "UPDATE trials SET lease_expires_at = "
							    "to_timestamp(0.005)"
							  : "UPDATE trials SET lease_until = 5",
					 NULL),
			 SQLITE_DONE);
	before = snapshot();
	ck_assert_int_eq(store_trial_heartbeat(fx.s, "host:1", 60000, &err), FITD_OK);
	after = snapshot();
	ck_assert_str_eq(after, before);
	/* The owner of the claim renews its lease. */
	ck_assert_int_eq(store_trial_heartbeat(fx.s, "host:2", 60000, &err), FITD_OK);
	ck_assert_int_gt(store_check_sql_int(
			     store_check_pg() ? "SELECT floor(extract(epoch FROM lease_expires_at)"
						" * 1000)::bigint FROM trials"
					      : "SELECT lease_until FROM trials"),
			 store_now_ms());
	free(before);
	free(after);
	teardown(&fx);
}
END_TEST

START_TEST(recovery_fails_a_trial_at_max_attempts)
{
	struct fixture fx;
	int64_t gen;

	setup(&fx, 2);
	gen = claim(&fx, 0, "host:1");
	recover(&fx, 1, 0); /* attempt 1 of 2: queued again */
	ck_assert_int_eq(lease_sql_int("SELECT state = 'queued' AND attempt = 1 AND"
				       " OWNER IS NULL AND LEASE IS NULL FROM trials"),
			 1);
	ck_assert_int_eq(claim(&fx, 0, "host:2"), gen + 1);
	recover(&fx, 0, 1); /* attempt 2 of 2: failed, not retried */
	ck_assert_int_eq(lease_sql_int("SELECT state = 'failed' AND attempt = 2 AND"
				       " error_code = 'max_attempts' AND OWNER IS NULL AND"
				       " LEASE IS NULL AND finished_at > 0 FROM trials"),
			 1);
	ck_assert_int_eq(store_check_sql_int(
			     store_check_pg() ? "SELECT count(*) FROM events WHERE"
						" type = 'trial_finished' AND"
						" data::jsonb = ('{\"job\":\"' || job_id || '\","
						"\"trial\":0,\"state\":\"failed\","
						"\"error\":\"max_attempts\"}')::jsonb"
					      : "SELECT count(*) FROM events WHERE"
						" type = 'trial_finished' AND"
						" json_extract(data, '$.trial') = 0 AND"
						" json_extract(data, '$.state') = 'failed' AND"
						" json_extract(data, '$.error') = 'max_attempts'"),
			 1);
	/* A failed trial is not claimed again, and a later start finds nothing to do. */
	ck_assert_int_eq(store_trial_claim(fx.s, fx.job.id, 0, "{}", "host:3", 1000, &gen, NULL),
			 FITD_ESTATE);
	recover(&fx, 0, 0);
	teardown(&fx);
}
END_TEST

START_TEST(recovery_sorts_each_running_trial)
{
	struct store_trial_outcome done = outcome(OUT_PRUNED, NULL);
	struct store_trial_outcome back = outcome(OUT_GIVEN_BACK, NULL);
	struct fitd_error err = { 0 };
	struct fixture fx;
	int64_t gen;
	char *rows;

	setup(&fx, 2);
	/* Trial 0 on its last attempt, trial 1 on its first, trial 2 finished, trial 3 queued. */
	claim(&fx, 0, "host:1");
	recover(&fx, 1, 0);
	claim(&fx, 0, "host:2");
	claim(&fx, 1, "host:2");
	gen = claim(&fx, 2, "host:2");
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 2, gen, &done, &err), FITD_OK);
	gen = claim(&fx, 3, "host:2");
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 3, gen, &back, &err), FITD_OK);
	recover(&fx, 1, 1);
	rows = store_check_rows("SELECT idx, state, attempt FROM trials ORDER BY idx");
	ck_assert_str_eq(rows, "0|failed|2\n1|queued|1\n2|pruned|1\n3|queued|0\n");
	free(rows);
	teardown(&fx);
}
END_TEST

START_TEST(given_back_attempt_is_not_counted)
{
	struct store_trial_outcome back = outcome(OUT_GIVEN_BACK, NULL);
	struct fitd_error err = { 0 };
	struct fixture fx;
	int64_t gen;

	setup(&fx, 1);
	/* A graceful stop gives the trial back: the attempt is returned, the trial stays eligible. */
	for (int i = 0; i < 3; i++) {
		gen = claim(&fx, 0, "host:1");
		ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &back, &err), FITD_OK);
		ck_assert_int_eq(lease_sql_int("SELECT state = 'queued' AND attempt = 0 AND"
					       " OWNER IS NULL FROM trials"),
				 1);
	}
	ck_assert_int_eq(store_check_sql_int("SELECT generation FROM trials"), 3);
	recover(&fx, 0, 0);
	claim(&fx, 0, "host:1");
	recover(&fx, 0, 1); /* the one real attempt of max_attempts 1 */
	teardown(&fx);
}
END_TEST

/*
 * The per-family summary: finished trials only, by model, with their
 * durations summed and the best completed score the way the metric runs.
 */
START_TEST(families_sum_finished_trials)
{
	static const char *const models[] = { "gbdt", "linear", "gbdt", "linear", "mlp" };
	static const double scores[] = { 0.5, 0.25, 0.125, 0.75, 0 };
	struct fitd_error err = { 0 };
	struct store_family *f = NULL;
	struct fixture fx;
	size_t n = 0;

	setup(&fx, 3);
	for (int64_t i = 0; i < 5; i++) {
		struct store_trial_outcome o = outcome(i == 3 ? OUT_FAILED : OUT_PRUNED, NULL);
		char params[64];
		int64_t gen = -1;

		snprintf(params, sizeof(params), "{\"model\":\"%s\"}", models[i]);
		ck_assert_int_eq(
		    store_trial_claim(fx.s, fx.job.id, i, params, "h", 60000, &gen, &err), FITD_OK);
		if (i == 4)
			break; /* still running: not counted */
		if (i != 3) {
			o.state = STORE_TRIAL_COMPLETED;
			o.score = scores[i];
		}
		o.duration_ms = 100 * (i + 1);
		ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, i, gen, &o, &err), FITD_OK);
	}
	for (int hib = 0; hib < 2; hib++) {
		ck_assert_int_eq(store_trial_families(fx.s, fx.job.id, hib, &f, &n, &err), FITD_OK);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(f[0].model, "gbdt");
		ck_assert_int_eq(f[0].trials, 2);
		ck_assert_int_eq(f[0].duration_ms, 100 + 300);
		ck_assert(f[0].has_best && f[0].best == (hib ? 0.5 : 0.125));
		ck_assert_str_eq(f[1].model, "linear");
		ck_assert_int_eq(f[1].trials, 2);
		ck_assert_int_eq(f[1].duration_ms, 200 + 400);
		ck_assert(f[1].has_best && f[1].best == 0.25); /* the failed one has no score */
		free(f);
	}
	ck_assert_int_eq(store_trial_families(fx.s, "job_00000000000000000000", true, &f, &n, &err),
			 FITD_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(f);
	teardown(&fx);
}
END_TEST

#define RACE_THREADS 4
#define RACE_TRIALS  40

struct racer {
	struct store *s;
	const char *job;
	char owner[16];
	int won[RACE_TRIALS];
	int failed; /* answers other than FITD_OK and FITD_ESTATE */
};

/* Claims every trial it can and finishes each one it won. */
static void *race(void *arg)
{
	struct racer *r = arg;
	struct store_trial_outcome o = {
		.state = STORE_TRIAL_COMPLETED, .has_score = true, .score = 1, .event_json = "{}"
	};

	for (int64_t i = 0; i < RACE_TRIALS; i++) {
		int64_t gen = 0;
		int rc = store_trial_claim(r->s, r->job, i, "{}", r->owner, 60000, &gen, NULL);

		if (rc == FITD_OK) {
			r->won[i] = 1;
			rc = store_trial_finish(r->s, r->job, i, gen, &o, NULL);
		}
		if (rc != FITD_OK && rc != FITD_ESTATE)
			r->failed++;
	}
	return NULL;
}

/*
 * Threads race to claim the same trials, on two store handles when the
 * engine is PostgreSQL (two nodes on one database): every trial is won by
 * exactly one claim and completed once, and the job's event ids run from 1
 * without a gap.
 */
START_TEST(racing_claims_win_once)
{
	struct store_options opt = { .location = store_check_location() };
	char other[] = "/tmp/fitd-store-node2-XXXXXX", cmd[128];
	struct racer racers[RACE_THREADS] = { 0 };
	pthread_t th[RACE_THREADS];
	struct fitd_error err = { 0 };
	struct store *s2 = NULL;
	struct fixture fx;
	char sql[256];

	setup(&fx, 3);
	if (store_check_pg()) {
		ck_assert_ptr_nonnull(mkdtemp(other));
		opt.state_dir = other;
		ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	}
	for (int t = 0; t < RACE_THREADS; t++) {
		racers[t].s = s2 != NULL && t % 2 ? s2 : fx.s;
		racers[t].job = fx.job.id;
		snprintf(racers[t].owner, sizeof(racers[t].owner), "host:%d", t);
		ck_assert_int_eq(pthread_create(&th[t], NULL, race, &racers[t]), 0);
	}
	for (int t = 0; t < RACE_THREADS; t++)
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
	for (int i = 0; i < RACE_TRIALS; i++) {
		int wins = 0;

		for (int t = 0; t < RACE_THREADS; t++)
			wins += racers[t].won[i];
		ck_assert_int_eq(wins, 1);
	}
	for (int t = 0; t < RACE_THREADS; t++)
		ck_assert_int_eq(racers[t].failed, 0);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM trials WHERE state = 'completed'"
					     " AND attempt = 1 AND generation = 1"),
			 RACE_TRIALS);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) = max(id) AND min(id) = 1 AND count(*) = %d FROM events"
		 " WHERE job_id = '%s'",
		 1 + 2 * RACE_TRIALS, fx.job.id);
	ck_assert_int_eq(store_check_sql_int(sql), 1);
	if (s2 != NULL) {
		store_close(s2);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
		ck_assert_int_eq(system(cmd), 0);
	}
	teardown(&fx);
}
END_TEST

/* The job's held ids as one string ("" for none), for comparing. */
static void held_ids(struct store *s, const char *node, char *out, size_t cap, int64_t *rescued)
{
	struct store_held *held = NULL;
	struct fitd_error err = { 0 };
	size_t n = 0, o = 0;

	out[0] = '\0';
	ck_assert_msg(store_job_lease(s, node, 60000, 8, &held, &n, rescued, &err) == FITD_OK, "%s",
		      err.message);
	for (size_t i = 0; i < n; i++) {
		ck_assert(!held[i].cancel_requested);
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", held[i].id);
	}
	free(held);
}

/*
 * Job leases (several nodes on one PostgreSQL, two store handles): a job is
 * held by the first node that takes it, never by two; the other node can
 * claim none of its trials; once the lease expires the other node takes
 * it, its running trial goes back to the queue with a new generation, and
 * every later write of the first node (the trial's result, its progress,
 * the job's end) is refused with FITD_ECONFLICT and changes nothing. On
 * SQLite store_job_lease() is store_job_active().
 */
START_TEST(job_lease_moves_and_fences)
{
	struct store_options opt = { .location = store_check_location() };
	char other[] = "/tmp/fitd-store-node2-XXXXXX", cmd[128], ids[256], sql[256];
	struct store_trial_outcome o = outcome(OUT_COMPLETED_BEST, NULL);
	struct fitd_error err = { 0 };
	int64_t gen = 0, gen2 = 0, rescued = 0;
	struct store *s2 = NULL;
	struct fixture fx;
	char *before, *after;

	setup(&fx, 3);
	o.new_best = false;
	ck_assert_int_eq(store_set_node(fx.s, "a", 60000, &err), FITD_OK);
	held_ids(fx.s, "a", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, fx.job.id);
	ck_assert_int_eq(store_shared(fx.s), store_check_pg());
	if (!store_check_pg()) {
		teardown(&fx);
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(other));
	opt.state_dir = other;
	ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	ck_assert_int_eq(store_set_node(s2, "b", 60000, &err), FITD_OK);
	held_ids(s2, "b", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, "");
	ck_assert_int_eq(store_trial_claim(fx.s, fx.job.id, 0, "{}", "a", 60000, &gen, &err),
			 FITD_OK);
	ck_assert_int_eq(store_trial_claim(s2, fx.job.id, 1, "{}", "b", 60000, &gen2, &err),
			 FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "job_lease_lost");

	/* a falls silent past its lease: b takes the job and rescues trial 0. */
	snprintf(sql, sizeof(sql),
		 "WITH u AS (UPDATE jobs SET lease_expires_at = now() - interval '1 second'"
		 " WHERE id = '%s' RETURNING 1) SELECT count(*) FROM u",
		 fx.job.id);
	ck_assert_int_eq(store_check_sql_int(sql), 1);
	held_ids(s2, "b", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, fx.job.id);
	ck_assert_int_eq(rescued, 1);
	ck_assert_int_eq(store_check_sql_int("SELECT epoch FROM jobs"), 2);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM trials WHERE idx = 0 AND"
					     " state = 'queued' AND generation = 2"),
			 1);

	/* Every write a makes from now on is refused and changes nothing. */
	before = store_check_rows("SELECT * FROM trials ORDER BY idx");
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, gen, &o, &err), FITD_ECONFLICT);
	ck_assert_int_eq(store_trial_progress(fx.s, fx.job.id, 0, gen, "{}", &err), FITD_ECONFLICT);
	ck_assert_int_eq(store_trial_claim(fx.s, fx.job.id, 1, "{}", "a", 60000, &gen2, &err),
			 FITD_ECONFLICT);
	ck_assert_int_eq(store_job_finish(fx.s, fx.job.id, STORE_JOB_FAILED, "x", "y", &err),
			 FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "job_lease_lost");
	after = store_check_rows("SELECT * FROM trials ORDER BY idx");
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	held_ids(fx.s, "a", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, "");
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM events WHERE job_id = '%s'"
		 " AND type = 'trial_progress'",
		 fx.job.id);
	ck_assert_int_eq(store_check_sql_int(sql), 0);

	/* b runs it: trial 0 again, then the job's end. */
	ck_assert_int_eq(store_trial_claim(s2, fx.job.id, 0, "{}", "b", 60000, &gen2, &err),
			 FITD_OK);
	ck_assert_int_eq(gen2, 3);
	ck_assert_int_eq(store_trial_progress(s2, fx.job.id, 0, gen2, "{}", &err), FITD_OK);
	ck_assert_int_eq(store_trial_finish(s2, fx.job.id, 0, gen2, &o, &err), FITD_OK);
	ck_assert_int_eq(store_job_finish(s2, fx.job.id, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
	store_close(s2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
	ck_assert_int_eq(system(cmd), 0);
	teardown(&fx);
}
END_TEST

/* The history from an index on: what a node reading back its job asks for. */
START_TEST(history_from_an_index)
{
	struct fitd_error err = { 0 };
	struct store_trial *t = NULL;
	struct fixture fx;
	size_t n = 0;

	setup(&fx, 3);
	for (int64_t i = 0; i < 3; i++)
		claim(&fx, i, "host:1");
	ck_assert_int_eq(store_trial_all(fx.s, fx.job.id, 1, &t, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(t[0].idx, 1);
	ck_assert_int_eq(t[1].idx, 2);
	for (size_t i = 0; i < n; i++)
		store_trial_release(&t[i]);
	free(t);
	ck_assert_int_eq(store_trial_all(fx.s, fx.job.id, 3, &t, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 0);
	teardown(&fx);
}
END_TEST

/* On PostgreSQL out-of-fold predictions are fenced like the result. */
START_TEST(oof_write_is_fenced)
{
	const float a[3] = { 0.25f, 0.5f, 0.75f }, b[3] = { 1.0f, 2.0f, 3.0f };
	struct store_trial_outcome o;
	struct fitd_error err = { 0 };
	struct fixture fx;
	int64_t old, now;
	float *got = NULL;
	size_t n = 0;

	setup(&fx, 3);
	old = claim(&fx, 0, "host:1");
	if (!store_check_pg()) { /* one daemon: a file, nothing to fence */
		teardown(&fx);
		return;
	}
	recover(&fx, 1, 0);
	now = claim(&fx, 0, "host:2");
	ck_assert_int_eq(store_oof_write(fx.s, fx.job.id, 0, old, a, 3, &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "stale_generation");
	ck_assert_int_eq(store_oof_read(fx.s, fx.job.id, 0, &got, &n, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(store_oof_write(fx.s, fx.job.id, 0, now, b, 3, &err), FITD_OK);
	o = outcome(OUT_FAILED, NULL);
	ck_assert_int_eq(store_trial_finish(fx.s, fx.job.id, 0, now, &o, &err), FITD_OK);
	/* Ended: not even its own generation changes what it kept. */
	ck_assert_int_eq(store_oof_write(fx.s, fx.job.id, 0, now, a, 3, &err), FITD_ECONFLICT);
	ck_assert_int_eq(store_oof_read(fx.s, fx.job.id, 0, &got, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(got, b, sizeof(b)) == 0);
	free(got);
	teardown(&fx);
}
END_TEST

__attribute__((format(printf, 1, 2))) static int64_t sql_int_of(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return store_check_sql_int(sql);
}

/*
 * Trials of one job on every node (PostgreSQL, two store handles): the
 * holder a offers trial 0 as queued, a node that does not hold the job
 * cannot; b takes it (running, attempt 1, generation 1, b's lease, one
 * trial_started event) and nobody takes it twice. b falls silent: a's
 * lease pass rescues the trial although a holds the job and lives
 * (generation 2), and b's late result is refused. b takes it again; a
 * ends the search early: the offer nobody took is deleted and b's running
 * trial ends timed out under a new generation, its result refused. On
 * SQLite nothing is offered or taken.
 */
START_TEST(offered_trials_are_taken_once)
{
	struct store_options opt = { .location = store_check_location() };
	char other[] = "/tmp/fitd-store-node2-XXXXXX", cmd[128], ids[256];
	struct store_trial_outcome o = outcome(OUT_COMPLETED_BEST, NULL);
	char(*offered)[STORE_ID_MAX] = NULL;
	struct fitd_error err = { 0 };
	int64_t idx = -1, gen = 0, rescued = 0, ended = 0;
	struct store *s2 = NULL;
	struct fixture fx;
	char *params = NULL;
	size_t n = 0;

	setup(&fx, 3);
	o.new_best = false;
	ck_assert_int_eq(store_set_node(fx.s, "a", 60000, &err), FITD_OK);
	held_ids(fx.s, "a", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, fx.job.id);
	if (!store_check_pg()) {
		ck_assert_int_eq(store_trial_offer(fx.s, fx.job.id, 0, "{}", "a", &err),
				 FITD_EINVAL);
		ck_assert_int_eq(
		    store_trial_take(fx.s, fx.job.id, "a", 60000, &idx, &gen, &params, &err),
		    FITD_ENOTFOUND);
		ck_assert_int_eq(store_trial_offered(fx.s, 8, &offered, &n, &err), FITD_OK);
		ck_assert_uint_eq(n, 0);
		teardown(&fx);
		return;
	}
	ck_assert_int_eq(store_job_start(fx.s, fx.job.id, NULL, &err), FITD_OK);
	ck_assert_ptr_nonnull(mkdtemp(other));
	opt.state_dir = other;
	ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	ck_assert_int_eq(store_set_node(s2, "b", 60000, &err), FITD_OK);

	ck_assert_int_eq(store_trial_offer(s2, fx.job.id, 0, "{}", "b", &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "job_lease_lost");
	ck_assert_int_eq(store_trial_offer(fx.s, fx.job.id, 0, "{\"model\":\"linear\"}", "a", &err),
			 FITD_OK);
	ck_assert_int_eq(store_trial_offer(fx.s, fx.job.id, 0, "{}", "a", &err), FITD_ESTATE);
	ck_assert_int_eq(store_trial_offered(s2, 8, &offered, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(offered[0], fx.job.id);
	free(offered);

	ck_assert_msg(store_trial_take(s2, fx.job.id, "b", 60000, &idx, &gen, &params, &err) ==
			  FITD_OK,
		      "%s", err.message);
	ck_assert_int_eq(idx, 0);
	ck_assert_int_eq(gen, 1);
	ck_assert_str_eq(params, "{\"model\":\"linear\"}");
	free(params);
	ck_assert_int_eq(store_trial_take(fx.s, fx.job.id, "a", 60000, &idx, &gen, &params, &err),
			 FITD_ENOTFOUND);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM trials WHERE job_id = '%s' AND idx = 0"
				    " AND state = 'running' AND lease_owner = 'b' AND attempt = 1",
				    fx.job.id),
			 1);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM events WHERE job_id = '%s'"
				    " AND type = 'trial_started'",
				    fx.job.id),
			 1);

	/* b falls silent past its trial's lease: a, the live holder, rescues it. */
	ck_assert_int_eq(store_check_sql_int("WITH u AS (UPDATE trials SET lease_expires_at ="
					     " now() - interval '1 second' RETURNING 1)"
					     " SELECT count(*) FROM u"),
			 1);
	held_ids(fx.s, "a", ids, sizeof(ids), &rescued);
	ck_assert_str_eq(ids, fx.job.id);
	ck_assert_int_eq(rescued, 1);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM trials WHERE job_id = '%s' AND idx = 0"
				    " AND state = 'queued' AND generation = 2",
				    fx.job.id),
			 1);
	ck_assert_int_eq(store_trial_finish(s2, fx.job.id, 0, 1, &o, &err), FITD_ECONFLICT);

	/* b takes it again; a ends the search early. */
	ck_assert_int_eq(store_trial_take(s2, fx.job.id, "b", 60000, &idx, &gen, &params, &err),
			 FITD_OK);
	free(params);
	ck_assert_int_eq(gen, 3);
	ck_assert_int_eq(store_trial_offer(fx.s, fx.job.id, 1, "{}", "a", &err), FITD_OK);
	ck_assert_int_eq(
	    store_trial_withdraw(fx.s, fx.job.id, "a", STORE_TRIAL_TIMEOUT, &ended, &err), FITD_OK);
	ck_assert_int_eq(ended, 2);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM trials WHERE job_id = '%s'", fx.job.id),
			 1);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM trials WHERE job_id = '%s' AND idx = 0"
				    " AND state = 'timeout' AND generation = 4",
				    fx.job.id),
			 1);
	ck_assert_int_eq(store_trial_finish(s2, fx.job.id, 0, gen, &o, &err), FITD_ECONFLICT);
	ck_assert_int_eq(sql_int_of("SELECT count(*) FROM events WHERE job_id = '%s'"
				    " AND type = 'trial_finished'",
				    fx.job.id),
			 1);
	store_close(s2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
	ck_assert_int_eq(system(cmd), 0);
	teardown(&fx);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("trials");
	TCase *tc = tcase_create("trials");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, stale_generation_changes_nothing, 0, NOUTCOMES);
	tcase_add_test(tc, finished_trial_takes_no_second_result);
	tcase_add_test(tc, retried_commit_is_taken_once);
	tcase_add_test(tc, current_generation_is_taken);
	tcase_add_test(tc, stale_owner_heartbeat_renews_nothing);
	tcase_add_test(tc, recovery_fails_a_trial_at_max_attempts);
	tcase_add_test(tc, recovery_sorts_each_running_trial);
	tcase_add_test(tc, given_back_attempt_is_not_counted);
	tcase_add_test(tc, families_sum_finished_trials);
	tcase_add_test(tc, racing_claims_win_once);
	tcase_add_test(tc, job_lease_moves_and_fences);
	tcase_add_test(tc, oof_write_is_fenced);
	tcase_add_test(tc, history_from_an_index);
	tcase_add_test(tc, offered_trials_are_taken_once);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

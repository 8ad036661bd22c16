/*
 * test_scheduler.c - the scheduler's loop over a real store, with jobs whose
 * every trial is refused before it runs (too big for the memory budget), so
 * they fail as fast as the searcher proposes them: a scheduling pass starts
 * or refuses at most SCHED_PASS_TRIALS trials and loads at most
 * SCHED_PASS_LOADS jobs, then hands the loop back, and the loop's other
 * callbacks run between passes; the circuit breaker ends each job after
 * SCHED_BREAKER_TRIALS identical failures with their code.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "store/store.h"
#include "worker/ensemble.h"
#include "worker/scheduler.h"
#include "worker/spec_facts.h"

#define JOBS 4

static char state[64];

static struct store *open_store(void)
{
	struct store_options opt = { .state_dir = state };
	struct fitd_error err = { 0 };
	struct store *s = NULL;

	snprintf(state, sizeof(state), "/tmp/fitd-sched-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	ck_assert_msg(store_open(&opt, &s, &err) == FITD_OK, "%s", err.message);
	return s;
}

static void remove_state(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

/* 2,000 rows: a 500-level categorical column, a number and a 0/1 target. */
static void upload_wide(struct store *s, struct store_dataset *d)
{
	struct fitd_error err = { 0 };
	struct store_upload *up = NULL;
	const struct fit_frame *frame;
	char *csv = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&csv, &len);

	fprintf(f, "city,x,y\n");
	for (int i = 0; i < 2000; i++)
		fprintf(f, "c%d,%d.5,%d\n", i % 500, i % 37, (i * 7) % 3 == 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(store_upload_begin(s, len, &up, &err), FITD_OK);
	ck_assert_int_eq(store_upload_write(up, csv, len, &err), FITD_OK);
	ck_assert_int_eq(store_upload_parse(up, NULL, &frame, &err), FITD_OK);
	ck_assert_int_eq(worker_dataset_facts_upload(up, frame, &err), FITD_OK);
	ck_assert_int_eq(store_upload_commit(up, "wide", "[]", d, &err), FITD_OK);
	store_upload_free(up);
	free(csv);
}

/* As POST /v1/jobs: a search with a time budget alone. */
static void submit(struct store *s, const char *ds, char id[STORE_ID_MAX])
{
	struct store_job_new in = {
		.max_attempts = 3, .target = "y", .task = "classification", .metric = "accuracy"
	};
	struct worker_dataset_facts facts = { 0 };
	struct fitd_error err = { 0 };
	struct worker_spec *spec = NULL;
	struct store_job job;
	char body[256];
	json_t *doc, *normalized;
	bool existed;

	snprintf(body, sizeof(body),
		 "{\"dataset\":\"%s\",\"target\":\"y\",\"search\":{\"algorithm\":\"random\","
		 "\"max_seconds\":60}}",
		 ds);
	doc = json_loads(body, 0, NULL);
	ck_assert_int_eq(worker_dataset_facts_load(s, ds, &facts, &err), FITD_OK);
	ck_assert_msg(worker_spec_parse(doc, facts.cols, facts.ncols, facts.nrows, &spec, &err) ==
			  FITD_OK,
		      "%s", err.message);
	normalized = worker_spec_to_json(spec);
	in.dataset_id = ds;
	in.spec_json = json_dumps(normalized, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_int_eq(store_job_create(s, &in, &job, &existed, &err), FITD_OK);
	memcpy(id, job.id, STORE_ID_MAX);
	store_job_release(&job);
	free((char *)in.spec_json);
	json_decref(normalized);
	worker_spec_free(spec);
	worker_dataset_facts_release(&facts);
	json_decref(doc);
}

static int64_t trials(struct store *s)
{
	int64_t counts[STORE_TRIAL_NSTATES], n = 0;

	ck_assert_int_eq(store_trial_count_by_state(s, counts, NULL), FITD_OK);
	for (int i = 0; i < STORE_TRIAL_NSTATES; i++)
		n += counts[i];
	return n;
}

static int64_t jobs_in(struct store *s, enum store_job_state st)
{
	int64_t counts[STORE_JOB_NSTATES];

	ck_assert_int_eq(store_job_count_by_state(s, counts, NULL), FITD_OK);
	return counts[st];
}

static int ticks;

static void on_tick(uv_timer_t *t)
{
	(void)t;
	ticks++;
}

START_TEST(passes_are_bounded_and_the_breaker_ends_each_job)
{
	struct worker_options opt = { .threads = 2, .memory_mib = 1, .heartbeat_ms = 600000 };
	struct fitd_error err = { 0 };
	char ids[JOBS][STORE_ID_MAX];
	struct store_dataset ds;
	struct worker *w = NULL;
	struct store *s = open_store();
	int64_t before, passes = 0;
	uv_timer_t timer;
	uv_loop_t loop;

	upload_wide(s, &ds);
	for (int i = 0; i < JOBS; i++)
		submit(s, ds.id, ids[i]);
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &timer);
	ck_assert_int_eq(worker_new(&loop, s, &opt, &w, &err), FITD_OK);
	/* The first pass runs inside worker_start(): a share only. */
	ck_assert_int_eq(worker_start(w, &err), FITD_OK);
	ck_assert_int_ge(trials(s), 1);
	ck_assert_int_le(trials(s), SCHED_PASS_TRIALS);
	ck_assert_int_le(jobs_in(s, STORE_JOB_RUNNING) + jobs_in(s, STORE_JOB_FAILED),
			 SCHED_PASS_LOADS);
	/* Each turn of the loop runs a timer due now and at most one more pass. */
	while (jobs_in(s, STORE_JOB_FAILED) < JOBS) {
		int was = ticks;

		ck_assert_int_lt(passes++, 1000);
		before = trials(s);
		uv_timer_start(&timer, on_tick, 0, 0);
		uv_run(&loop, UV_RUN_ONCE);
		ck_assert_int_eq(ticks, was + 1);
		ck_assert_int_le(trials(s) - before, SCHED_PASS_TRIALS);
	}
	ck_assert_int_ge(passes, JOBS * SCHED_BREAKER_TRIALS / SCHED_PASS_TRIALS);
	for (int i = 0; i < JOBS; i++) {
		struct store_job job;

		ck_assert_int_eq(store_job_get(s, ids[i], &job, &err), FITD_OK);
		ck_assert_int_eq(job.state, STORE_JOB_FAILED);
		ck_assert_str_eq(job.error_code, "memory_limit");
		/* 1 MiB is too little with or without the wide column: it is not named */
		ck_assert_ptr_nonnull(strstr(job.error_message, "budget of 1 MiB"));
		ck_assert_ptr_nonnull(strstr(job.error_message, "--trial-memory-mib"));
		ck_assert_ptr_null(strstr(job.error_message, "column 'city'"));
		ck_assert_int_eq(job.trials_total, SCHED_BREAKER_TRIALS);
		store_job_release(&job);
	}
	worker_free(w);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	store_dataset_release(&ds);
	store_close(s);
	remove_state();
}
END_TEST

/*
 * The time kept back for the refit: the best trial's fold fit one and a half
 * times (3 folds of 3 s: 1.5 s, plus 0.2 s), plus with an ensemble the refits of four more kept trials,
 * each counted at most as dear as the best, so one slow kept trial (an svm
 * ten times dearer) cannot stop the search early; capped at a fifth or a
 * quarter of the budget, and none when the best trial's own refit is dearer
 * than that share (it would not end on time: 1.7 s of 8 s without an
 * ensemble).
 */
START_TEST(refit_reserve_counts_members_at_most_as_dear_as_the_best)
{
	struct sched_rec recs[6] = { 0 };
	struct sched_job j = { .recs = recs, .nrecs = 6, .best_idx = 1, .best_duration_ms = 3000 };
	int64_t member = 1000 * WORKER_ENSEMBLE_REFIT_PCT / 100;

	j.plan.folds = 3;
	j.plan.repeats = 1;
	j.plan.max_ms = 600000;
	j.plan.refit = true;
	for (int i = 0; i < 6; i++) {
		recs[i].oof = i != 5;
		recs[i].duration_ms = 3000;
	}
	recs[0].duration_ms = 30000; /* the slow svm */
	recs[2].duration_ms = 300;   /* a cheap linear model */
	recs[5].duration_ms = 1;     /* no file: never a member */
	ck_assert_int_eq(sched_job_refit_reserve(&j), 1700);
	j.plan.ensemble = true;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 1700 + member + member / 10 + 2 * member);
	j.plan.max_ms = 8000;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 2000);
	j.plan.ensemble = false;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 0);
	j.plan.max_ms = 9000;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 1700);
	j.best_duration_ms = 6000; /* its refit dearer than the share of either: none */
	ck_assert_int_eq(sched_job_refit_reserve(&j), 0);
	j.plan.ensemble = true;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 0);
	j.plan.ensemble = false;
	j.best_duration_ms = 3000;
	j.plan.refit = false;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 0);
	j.plan.refit = true;
	j.best_idx = -1;
	ck_assert_int_eq(sched_job_refit_reserve(&j), 0);
}
END_TEST

/*
 * A refit starts only when its estimate (1.7 s here) ends within the budget
 * or at most SCHED_REFIT_LATE_MS past it; always without a budget.
 */
START_TEST(refit_starts_only_when_it_ends_on_time)
{
	struct sched_job j = { .best_idx = 0, .best_duration_ms = 3000 };

	j.plan.folds = 3;
	j.plan.repeats = 1;
	j.plan.refit = true;
	j.plan.max_ms = 10000;
	ck_assert(sched_job_refit_fits(&j, 0));
	ck_assert(sched_job_refit_fits(&j, 8300));
	ck_assert(sched_job_refit_fits(&j, 8300 + SCHED_REFIT_LATE_MS));
	ck_assert(!sched_job_refit_fits(&j, 8301 + SCHED_REFIT_LATE_MS));
	ck_assert(!sched_job_refit_fits(&j, 20000));
	j.best_duration_ms = 60000; /* 30.2 s: more than the whole budget */
	ck_assert(!sched_job_refit_fits(&j, 0));
	j.plan.max_ms = 0;
	ck_assert(sched_job_refit_fits(&j, 1000000));
}
END_TEST

/*
 * The bar a new trial must reach to write its out-of-fold file: the trial
 * ranked last of the best SCHED_OOF_KEEP files (score, then lower index),
 * none while fewer are kept; trials without a file do not count.
 */
START_TEST(oof_bar_is_the_last_of_the_kept_files)
{
	enum {
		N = SCHED_OOF_KEEP + 4
	};
	struct sched_rec recs[N] = { 0 };
	struct sched_job j = { .recs = recs, .nrecs = N };
	int64_t bar;
	int better;

	j.plan.higher_is_better = true;
	for (int i = 0; i < N; i++) {
		recs[i].state = STORE_TRIAL_COMPLETED;
		recs[i].has_score = true;
		recs[i].score = 0.5 + 0.01 * (i % 7); /* ties across indexes */
		recs[i].oof = i < SCHED_OOF_KEEP - 1;
	}
	ck_assert_int_eq(sched_job_oof_bar(&j), -1);
	for (int i = 0; i < N; i++)
		recs[i].oof = true;
	/* exactly SCHED_OOF_KEEP - 1 files rank before the bar, either way */
	bar = sched_job_oof_bar(&j);
	better = 0;
	ck_assert_int_ge(bar, 0);
	for (int i = 0; i < N; i++)
		better += recs[i].score > recs[bar].score ||
			  (recs[i].score == recs[bar].score && i < bar);
	ck_assert_int_eq(better, SCHED_OOF_KEEP - 1);
	j.plan.higher_is_better = false;
	bar = sched_job_oof_bar(&j);
	better = 0;
	for (int i = 0; i < N; i++)
		better += recs[i].score < recs[bar].score ||
			  (recs[i].score == recs[bar].score && i < bar);
	ck_assert_int_eq(better, SCHED_OOF_KEEP - 1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, passes_are_bounded_and_the_breaker_ends_each_job);
	tcase_add_test(tc, refit_reserve_counts_members_at_most_as_dear_as_the_best);
	tcase_add_test(tc, refit_starts_only_when_it_ends_on_time);
	tcase_add_test(tc, oof_bar_is_the_last_of_the_kept_files);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_states.c - the names of job and trial states (store/states.c): each
 * state's name parses back to it, anything else (NULL included) parses to
 * -1, and the schema's CHECK constraints accept exactly the names the
 * tables hold, which the store then reads back as the same states.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/store/store_check.h"

/* Strings no state is called: NULL, empty, another case, blanks, a prefix. */
static const char *const not_states[] = { NULL,	      "",      "Queued",  "queued ",
					  " running", "queue", "unknown", "done" };

START_TEST(job_names_round_trip)
{
	for (int st = 0; st < STORE_JOB_NSTATES; st++) {
		const char *name = store_job_state_name((enum store_job_state)st);

		ck_assert_str_ne(name, "unknown");
		ck_assert_int_eq(store_job_state_parse(name), st);
		for (int other = 0; other < st; other++)
			ck_assert_str_ne(name, store_job_state_name((enum store_job_state)other));
	}
	ck_assert_str_eq(store_job_state_name(STORE_JOB_CANCELLED), "cancelled");
	ck_assert_str_eq(store_job_state_name((enum store_job_state)STORE_JOB_NSTATES), "unknown");
	ck_assert_str_eq(store_job_state_name((enum store_job_state) - 1), "unknown");
	for (size_t i = 0; i < sizeof(not_states) / sizeof(not_states[0]); i++)
		ck_assert_int_eq(store_job_state_parse(not_states[i]), -1);
}
END_TEST

START_TEST(trial_names_round_trip)
{
	for (int st = 0; st < STORE_TRIAL_NSTATES; st++) {
		const char *name = store_trial_state_name((enum store_trial_state)st);

		ck_assert_str_ne(name, "unknown");
		ck_assert_int_eq(store_trial_state_parse(name), st);
		for (int other = 0; other < st; other++)
			ck_assert_str_ne(name,
					 store_trial_state_name((enum store_trial_state)other));
	}
	ck_assert_str_eq(store_trial_state_name(STORE_TRIAL_INTERRUPTED), "interrupted");
	ck_assert_str_eq(store_trial_state_name((enum store_trial_state)STORE_TRIAL_NSTATES),
			 "unknown");
	ck_assert_str_eq(store_trial_state_name((enum store_trial_state) - 1), "unknown");
	for (size_t i = 0; i < sizeof(not_states) / sizeof(not_states[0]); i++)
		ck_assert_int_eq(store_trial_state_parse(not_states[i]), -1);
}
END_TEST

/* Sets column state of the rows of table matching where to name; returns sqlite3_step's result. */
static int set_state(const char *table, const char *name, const char *where)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "UPDATE %s SET state = '%s' WHERE %s", table, name, where);
	return store_check_sql(sql, NULL);
}

START_TEST(schema_accepts_exactly_the_names)
{
	struct store_job_new in = {
		.target = "y", .task = "regression", .metric = "rmse", .spec_json = "{}"
	};
	int64_t jobs[STORE_JOB_NSTATES], trials[STORE_TRIAL_NSTATES], gen;
	struct fitd_error err = { 0 };
	struct store_dataset d;
	struct store_trial *t;
	struct store_job job;
	char where[64];
	struct store *s;
	bool existed;
	size_t n;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
	in.dataset_id = d.id;
	ck_assert_int_eq(store_job_create(s, &in, &job, &existed, &err), FITD_OK);
	ck_assert_int_eq(store_trial_claim(s, job.id, 0, "{}", "me", 1000, &gen, &err), FITD_OK);
	snprintf(where, sizeof(where), "id = '%s'", job.id);
	for (int st = 0; st < STORE_JOB_NSTATES; st++) {
		struct store_job got;

		ck_assert_int_eq(set_state("jobs", store_job_state_name(st), where), SQLITE_DONE);
		ck_assert_int_eq(store_job_get(s, job.id, &got, &err), FITD_OK);
		ck_assert_int_eq(got.state, st);
		store_job_release(&got);
		ck_assert_int_eq(store_job_count_by_state(s, jobs, &err), FITD_OK);
		for (int k = 0; k < STORE_JOB_NSTATES; k++)
			ck_assert_int_eq(jobs[k], k == st);
	}
	ck_assert_int_eq(set_state("jobs", "done", where), SQLITE_CONSTRAINT);
	for (int st = 0; st < STORE_TRIAL_NSTATES; st++) {
		ck_assert_int_eq(set_state("trials", store_trial_state_name(st), "idx = 0"),
				 SQLITE_DONE);
		ck_assert_int_eq(store_trial_all(s, job.id, 0, &t, &n, &err), FITD_OK);
		ck_assert_uint_eq(n, 1);
		ck_assert_int_eq(t[0].state, st);
		store_trial_release(&t[0]);
		free(t);
		ck_assert_int_eq(store_trial_count_by_state(s, trials, &err), FITD_OK);
		for (int k = 0; k < STORE_TRIAL_NSTATES; k++)
			ck_assert_int_eq(trials[k], k == st);
	}
	ck_assert_int_eq(set_state("trials", "succeeded", "idx = 0"), SQLITE_CONSTRAINT);
	store_job_release(&job);
	store_dataset_release(&d);
	store_close(s);
	store_check_state_remove();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("states");
	TCase *tc = tcase_create("states");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, job_names_round_trip);
	tcase_add_test(tc, trial_names_round_trip);
	tcase_add_test(tc, schema_accepts_exactly_the_names);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_delete.c - what a daemon that runs for months needs from the store:
 *
 *   deleting a job: refused while queued or running; then its trials,
 *   events and models go (rows, then files), except a model an alias
 *   holds, which stays readable without a job until the last alias lets
 *   go of it; a crash between the commit and the files leaves orphans
 *   that the next open sweeps;
 *   deleting a model: refused while an alias or a job's best holds it;
 *   aliases: the name rule, create and switch, get, list by pages, delete;
 *   retention's query: the jobs ended before a time, oldest first;
 *   disk use: the counts follow the files; vacuum gives pages back.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/store/store_check.h"

struct fixture {
	struct store *s;
	struct store_dataset d;
};

static void setup(struct fixture *fx)
{
	struct fitd_error err = { 0 };

	store_check_state_new();
	fx->s = store_check_open();
	ck_assert_int_eq(store_check_upload(fx->s, "x,y\n1,2\n3,4\n", "t", &fx->d, &err), FITD_OK);
}

static void teardown(struct fixture *fx)
{
	store_dataset_release(&fx->d);
	store_close(fx->s);
	store_check_state_remove();
}

/* A queued job on the fixture's dataset; its id into id. */
static void new_job(struct fixture *fx, char id[STORE_ID_MAX])
{
	struct store_job_new in = { .dataset_id = fx->d.id,
				    .target = "y",
				    .task = "regression",
				    .metric = "rmse",
				    .spec_json = "{}" };
	struct fitd_error err = { 0 };
	struct store_job job;
	bool existed;

	ck_assert_msg(store_job_create(fx->s, &in, &job, &existed, &err) == FITD_OK, "%s",
		      err.message);
	memcpy(id, job.id, STORE_ID_MAX);
	store_job_release(&job);
}

/* Runs trial idx of a running job to completion with a new best model; its id into model. */
static void best_trial(struct fixture *fx, const char *job, int64_t idx, char model[STORE_ID_MAX])
{
	struct store_trial_outcome o = { .state = STORE_TRIAL_COMPLETED,
					 .has_score = true,
					 .score = 1.0 / (double)(idx + 1),
					 .epochs = 3,
					 .event_json = "{\"e\":1}",
					 .new_best = true,
					 .model_bytes = 11,
					 .best_event_json = "{\"b\":1}" };
	struct fitd_error err = { 0 };
	int64_t gen = 0;

	ck_assert_int_eq(store_trial_claim(fx->s, job, idx, "{}", "me", 60000, &gen, &err),
			 FITD_OK);
	ck_assert_int_eq(store_model_write(fx->s, "{\"m\":\"yes\"}", 11, model, &err), FITD_OK);
	o.model_id = model;
	ck_assert_msg(store_trial_finish(fx->s, job, idx, gen, &o, &err) == FITD_OK, "%s",
		      err.message);
}

/* A job that ran two trials, each a new best (so two models: m0 then the best, m1), then succeeded. */
static void finished_job(struct fixture *fx, char id[STORE_ID_MAX], char m0[STORE_ID_MAX],
			 char m1[STORE_ID_MAX])
{
	struct fitd_error err = { 0 };

	new_job(fx, id);
	ck_assert_int_eq(store_job_start(fx->s, id, "{}", &err), FITD_OK);
	best_trial(fx, id, 0, m0);
	best_trial(fx, id, 1, m1);
	ck_assert_int_eq(store_job_finish(fx->s, id, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
}

static int64_t count_where(const char *table, const char *column, const char *value)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s = '%s'", table, column, value);
	return store_check_sql_int(sql);
}

/* Whether model id's file is kept: in models/ on SQLite, a model_files row on PostgreSQL. */
static bool model_file(const char *id)
{
	char path[256];
	struct stat st;

	if (store_check_pg())
		return count_where("model_files", "id", id) > 0;
	snprintf(path, sizeof(path), "%s/models/%s", store_check_state(), id);
	return stat(path, &st) == 0;
}

static void alias_to(struct fixture *fx, const char *name, const char *model, bool want_created)
{
	struct fitd_error err = { 0 };
	struct store_alias a;
	char previous[STORE_ID_MAX];
	bool created = !want_created;

	ck_assert_msg(store_alias_set(fx->s, name, model, &a, &created, previous, &err) == FITD_OK,
		      "%s", err.message);
	ck_assert(created == want_created);
	ck_assert_str_eq(a.name, name);
	ck_assert_str_eq(a.model_id, model);
}

START_TEST(job_delete_refused_until_ended)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char id[STORE_ID_MAX];

	setup(&fx);
	new_job(&fx, id);
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "job_not_finished");
	ck_assert_int_eq(store_job_start(fx.s, id, "{}", &err), FITD_OK);
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_ECONFLICT);
	ck_assert_int_eq(count_where("jobs", "id", id), 1);
	ck_assert_int_eq(store_job_delete(fx.s, "job_00000000000000000000", NULL, &err),
			 FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "job_not_found");
	teardown(&fx);
}
END_TEST

START_TEST(job_delete_takes_everything)
{
	struct store_job_deletion del = { 0 };
	struct fitd_error err = { 0 };
	struct store_disk before, after;
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], other[STORE_ID_MAX];
	char o0[STORE_ID_MAX], o1[STORE_ID_MAX];
	uint64_t deletions;
	bool exists = false;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	finished_job(&fx, other, o0, o1);
	store_disk_usage(fx.s, &before);
	ck_assert_int_eq(before.models, 4 * 11);
	deletions = store_model_deletions(fx.s);
	ck_assert_int_eq(store_job_delete(fx.s, id, &del, &err), FITD_OK);
	ck_assert_uint_eq(del.models_deleted, 2);
	ck_assert_uint_eq(del.nkept, 0);
	store_job_deletion_release(&del);
	ck_assert_int_eq(count_where("jobs", "id", id), 0);
	ck_assert_int_eq(count_where("trials", "job_id", id), 0);
	ck_assert_int_eq(count_where("events", "job_id", id), 0);
	ck_assert_int_eq(count_where("models", "job_id", id), 0);
	ck_assert(!model_file(m0) && !model_file(m1));
	ck_assert_uint_gt(store_model_deletions(fx.s), deletions);
	ck_assert_int_eq(store_job_exists(fx.s, id, &exists, &err), FITD_OK);
	ck_assert(!exists);
	/* The other job, its models and the dataset are untouched. */
	ck_assert_int_eq(count_where("trials", "job_id", other), 2);
	ck_assert(model_file(o0) && model_file(o1));
	ck_assert_int_eq(count_where("datasets", "id", fx.d.id), 1);
	store_disk_usage(fx.s, &after);
	ck_assert_int_eq(after.models, 2 * 11);
	ck_assert_int_eq(after.datasets, before.datasets);
	/* Deleting again: gone. */
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_ENOTFOUND);
	teardown(&fx);
}
END_TEST

/*
 * Out-of-fold files: written and read back exactly, replaced whole, one
 * removed alone, and all of a job's gone with the job (the other job's
 * stay).
 */
/* Whether job's out-of-fold predictions are kept: the file at path, or rows on PostgreSQL. */
static bool oof_kept(const char *job, const char *path)
{
	if (store_check_pg())
		return count_where("trial_oof", "job_id", job) > 0;
	return access(path, F_OK) == 0;
}

START_TEST(oof_files_go_with_their_job)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], other[STORE_ID_MAX];
	char o0[STORE_ID_MAX], o1[STORE_ID_MAX], path[4096];
	const float a[6] = { 0.25f, 0.75f, 1.0f, 0.0f, 0.5f, 0.5f }, b[2] = { 3.5f, -1.0f };
	float *back = NULL;
	size_t n = 0;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	finished_job(&fx, other, o0, o1);
	/* Trials the jobs never had: on PostgreSQL an ended one's would be fenced. */
	ck_assert_int_eq(store_oof_read(fx.s, id, 3, &back, &n, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(store_oof_write(fx.s, id, 3, 1, a, 6, &err), FITD_OK);
	ck_assert_int_eq(store_oof_write(fx.s, id, 7, 1, a, 6, &err), FITD_OK);
	ck_assert_int_eq(store_oof_write(fx.s, other, 3, 1, b, 2, &err), FITD_OK);
	ck_assert_int_eq(store_oof_read(fx.s, id, 3, &back, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 6);
	ck_assert_mem_eq(back, a, sizeof(a));
	free(back);
	/* replaced whole */
	ck_assert_int_eq(store_oof_write(fx.s, id, 3, 1, b, 2, &err), FITD_OK);
	ck_assert_int_eq(store_oof_read(fx.s, id, 3, &back, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(back, b, sizeof(b));
	free(back);
	store_oof_remove(fx.s, id, 7);
	ck_assert_int_eq(store_oof_read(fx.s, id, 7, &back, &n, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(store_oof_path(fx.s, id, 3, path, sizeof(path)), FITD_OK);
	ck_assert(oof_kept(id, path));
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_OK);
	ck_assert(!oof_kept(id, path));
	ck_assert_int_eq(store_oof_read(fx.s, id, 3, &back, &n, &err), FITD_ENOTFOUND);
	*strrchr(path, '/') = '\0';
	ck_assert_int_ne(access(path, F_OK), 0); /* the job's folder too */
	ck_assert_int_eq(store_oof_read(fx.s, other, 3, &back, &n, &err), FITD_OK);
	ck_assert_mem_eq(back, b, sizeof(b));
	free(back);
	/* A folder whose job is gone (a crash before it went) is swept at the next open. */
	ck_assert_int_eq(store_oof_write(fx.s, "job_0123456789abcdef0123", 3, 1, b, 2, &err),
			 FITD_OK);
	ck_assert_int_eq(store_oof_path(fx.s, "job_0123456789abcdef0123", 3, path, sizeof(path)),
			 FITD_OK);
	ck_assert(oof_kept("job_0123456789abcdef0123", path));
	store_close(fx.s);
	fx.s = store_check_open();
	ck_assert(!oof_kept("job_0123456789abcdef0123", path));
	ck_assert_int_eq(store_oof_read(fx.s, other, 3, &back, &n, &err), FITD_OK);
	free(back);
	teardown(&fx);
}
END_TEST

START_TEST(alias_keeps_model_of_deleted_job)
{
	struct store_job_deletion del = { 0 };
	struct fitd_error err = { 0 };
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX];
	char *text = NULL;
	size_t len = 0;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	alias_to(&fx, "prod", m1, true);
	alias_to(&fx, "canary", m1, true);
	ck_assert_int_eq(store_job_delete(fx.s, id, &del, &err), FITD_OK);
	ck_assert_uint_eq(del.models_deleted, 1);
	ck_assert_uint_eq(del.nkept, 1);
	ck_assert_str_eq(del.kept[0], m1);
	store_job_deletion_release(&del);
	ck_assert(!model_file(m0) && model_file(m1));
	/* Kept without a job, still readable by id. */
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM models WHERE job_id IS NULL"),
			 1);
	ck_assert_int_eq(store_model_read(fx.s, m1, &text, &len, &err), FITD_OK);
	free(text);
	ck_assert_int_eq(store_model_delete(fx.s, m1, &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "model_in_use");
	ck_assert_ptr_nonnull(strstr(err.message, "alias"));
	/* One alias lets go: the other still holds it. The last one takes it along. */
	ck_assert_int_eq(store_alias_delete(fx.s, "prod", NULL, &err), FITD_OK);
	ck_assert(model_file(m1));
	ck_assert_int_eq(store_alias_delete(fx.s, "canary", NULL, &err), FITD_OK);
	ck_assert(!model_file(m1));
	ck_assert_int_eq(count_where("models", "id", m1), 0);
	ck_assert_int_eq(store_model_read(fx.s, m1, &text, &len, &err), FITD_ENOTFOUND);
	teardown(&fx);
}
END_TEST

START_TEST(switching_lets_go_of_orphan)
{
	struct fitd_error err = { 0 };
	struct store_alias a;
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX];
	char id2[STORE_ID_MAX], n0[STORE_ID_MAX], n1[STORE_ID_MAX], previous[STORE_ID_MAX];
	bool created = true;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	finished_job(&fx, id2, n0, n1);
	alias_to(&fx, "prod", m1, true);
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_OK);
	ck_assert(model_file(m1));
	ck_assert_int_eq(store_alias_set(fx.s, "prod", n1, &a, &created, previous, &err), FITD_OK);
	ck_assert(!created);
	ck_assert_str_eq(previous, m1);
	ck_assert_str_eq(a.model_id, n1);
	ck_assert(!model_file(m1));
	ck_assert_int_eq(count_where("models", "id", m1), 0);
	/* A model that still has its job stays when an alias lets go of it. */
	alias_to(&fx, "prod", n0, false);
	ck_assert(model_file(n1));
	ck_assert_int_eq(count_where("models", "id", n1), 1);
	teardown(&fx);
}
END_TEST

START_TEST(model_delete_rules)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], running[STORE_ID_MAX];
	char r0[STORE_ID_MAX];
	struct store_job job;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	/* The job's best: refused, naming the job. */
	ck_assert_int_eq(store_model_delete(fx.s, m1, &err), FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "model_in_use");
	ck_assert_ptr_nonnull(strstr(err.message, id));
	/* The best of a running job too. */
	new_job(&fx, running);
	ck_assert_int_eq(store_job_start(fx.s, running, "{}", &err), FITD_OK);
	best_trial(&fx, running, 0, r0);
	ck_assert_int_eq(store_model_delete(fx.s, r0, &err), FITD_ECONFLICT);
	/* A model the job no longer points at goes; the job stays readable. */
	ck_assert_int_eq(store_model_delete(fx.s, m0, &err), FITD_OK);
	ck_assert(!model_file(m0) && model_file(m1));
	ck_assert_int_eq(store_job_get(fx.s, id, &job, &err), FITD_OK);
	ck_assert_str_eq(job.best_model_id, m1);
	store_job_release(&job);
	ck_assert_int_eq(store_model_delete(fx.s, m0, &err), FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "model_not_found");
	ck_assert_int_eq(store_model_delete(fx.s, "../fitd.db", &err), FITD_ENOTFOUND);
	teardown(&fx);
}
END_TEST

START_TEST(alias_names)
{
	static const char *const good[] = {
		"a",
		"0",
		"churn-prod",
		"v1.2_rc-3",
		"a.",
		"z9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	static const char *const bad[] = {
		"",
		"-a",
		".a",
		"_a",
		"A",
		"prod!",
		"a b",
		"a/b",
		"mdl_Ab",
		"caf\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(store_alias_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!store_alias_name_valid(bad[i]), "%s", bad[i]);
}
END_TEST

START_TEST(alias_crud)
{
	struct fitd_error err = { 0 };
	struct store_alias a, *items = NULL;
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], previous[STORE_ID_MAX];
	size_t n = 0;
	bool more = false, created;

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	ck_assert_int_eq(store_alias_set(fx.s, "Bad", m1, &a, &created, previous, &err),
			 FITD_EINVAL);
	ck_assert_str_eq(err.code, "invalid_name");
	ck_assert_int_eq(
	    store_alias_set(fx.s, "x", "mdl_00000000000000000000", &a, &created, previous, &err),
	    FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "model_not_found");
	ck_assert_int_eq(store_alias_get(fx.s, "x", &a, &err), FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "alias_not_found");
	alias_to(&fx, "c", m1, true);
	alias_to(&fx, "a", m0, true);
	alias_to(&fx, "b", m1, true);
	alias_to(&fx, "a", m1, false);
	ck_assert_int_eq(store_alias_get(fx.s, "a", &a, &err), FITD_OK);
	ck_assert_str_eq(a.model_id, m1);
	ck_assert_int_ge(a.updated_at, a.created_at);
	ck_assert_int_eq(store_alias_list(fx.s, NULL, 2, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert(more);
	ck_assert_str_eq(items[0].name, "a");
	ck_assert_str_eq(items[1].name, "b");
	free(items);
	ck_assert_int_eq(store_alias_list(fx.s, "b", 2, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert(!more);
	ck_assert_str_eq(items[0].name, "c");
	free(items);
	ck_assert_int_eq(store_alias_list(fx.s, "nope", 2, &items, &n, &more, &err), FITD_EINVAL);
	ck_assert_str_eq(err.code, "invalid_cursor");
	ck_assert_int_eq(store_alias_delete(fx.s, "b", &a, &err), FITD_OK);
	ck_assert_str_eq(a.model_id, m1);
	ck_assert_int_eq(store_alias_delete(fx.s, "b", &a, &err), FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "alias_not_found");
	teardown(&fx);
}
END_TEST

START_TEST(crash_before_files_is_swept)
{
	struct fitd_error err = { 0 };
	struct store_disk disk;
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], cmd[512];

	setup(&fx);
	finished_job(&fx, id, m0, m1);
	/* The rows go, then a "crash" brings the files back, as if they had never been removed. */
	snprintf(cmd, sizeof(cmd), "cp -p '%s/models/%s' '%s/models/%s' '%s'", store_check_state(),
		 m0, store_check_state(), m1, store_check_state());
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_OK);
	store_close(fx.s);
	snprintf(cmd, sizeof(cmd), "cp -p '%s/%s' '%s/%s' '%s/models/'", store_check_state(), m0,
		 store_check_state(), m1, store_check_state());
	ck_assert_int_eq(system(cmd), 0);
	ck_assert(model_file(m0) && model_file(m1));
	fx.s = store_check_open();
	ck_assert(!model_file(m0) && !model_file(m1));
	store_disk_usage(fx.s, &disk);
	ck_assert_int_eq(disk.models, 0);
	teardown(&fx);
}
END_TEST

START_TEST(expired_jobs)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char a[STORE_ID_MAX], b[STORE_ID_MAX], live[STORE_ID_MAX], m0[STORE_ID_MAX];
	char m1[STORE_ID_MAX], sql[256];
	char(*ids)[STORE_ID_MAX] = NULL;
	int64_t *when = NULL;
	size_t n = 0;

	setup(&fx);
	finished_job(&fx, a, m0, m1);
	finished_job(&fx, b, m0, m1);
	new_job(&fx, live);
	snprintf(sql, sizeof(sql), "UPDATE jobs SET finished_at = 1000 WHERE id = '%s'", b);
	ck_assert_int_eq(store_check_sql(sql, NULL), SQLITE_DONE);
	snprintf(sql, sizeof(sql), "UPDATE jobs SET finished_at = 2000 WHERE id = '%s'", a);
	ck_assert_int_eq(store_check_sql(sql, NULL), SQLITE_DONE);
	ck_assert_int_eq(store_job_expired(fx.s, 1500, 10, &ids, &when, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ids[0], b);
	ck_assert_int_eq(when[0], 1000);
	free(ids);
	free(when);
	ck_assert_int_eq(store_job_expired(fx.s, store_now_ms(), 10, &ids, &when, &n, &err),
			 FITD_OK);
	ck_assert_uint_eq(n, 2); /* never the queued one */
	ck_assert_str_eq(ids[0], b);
	ck_assert_str_eq(ids[1], a);
	free(ids);
	free(when);
	ck_assert_int_eq(store_job_expired(fx.s, store_now_ms(), 1, &ids, NULL, &n, &err), FITD_OK);
	ck_assert_uint_eq(n, 1);
	free(ids);
	teardown(&fx);
}
END_TEST

START_TEST(disk_counts_follow_files)
{
	struct store_dataset d2 = { 0 };
	struct fitd_error err = { 0 };
	struct store_disk disk;
	struct fixture fx;
	char path[256];
	struct stat st;

	setup(&fx);
	store_disk_usage(fx.s, &disk);
	ck_assert_int_eq(store_dataset_path(fx.s, fx.d.id, path, sizeof(path), &err), FITD_OK);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(disk.datasets, st.st_size);
	/* PostgreSQL's database is on its server, not counted on this disk. */
	if (store_check_pg())
		ck_assert_int_eq(disk.database, 0);
	else
		ck_assert_int_gt(disk.database, 0);
	ck_assert_int_eq(disk.models, 0);
	ck_assert_int_eq(store_check_upload(fx.s, "a\n1\n", "u", &d2, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_delete(fx.s, fx.d.id, &err), FITD_OK);
	store_disk_usage(fx.s, &disk);
	ck_assert_int_eq(store_dataset_path(fx.s, d2.id, path, sizeof(path), &err), FITD_OK);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(disk.datasets, st.st_size);
	/* A reopen measures the same. */
	store_close(fx.s);
	fx.s = store_check_open();
	store_disk_usage(fx.s, &disk);
	ck_assert_int_eq(disk.datasets, st.st_size);
	store_dataset_release(&d2);
	teardown(&fx);
}
END_TEST

START_TEST(vacuum_gives_pages_back)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char id[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX];
	char *big = malloc(64 * 1024);
	int64_t pages, freed = 0, left = -1, step = 0;

	setup(&fx);
	ck_assert_int_eq(store_check_sql_int("PRAGMA auto_vacuum"), 2);
	finished_job(&fx, id, m0, m1);
	memset(big, 'x', 64 * 1024 - 3);
	memcpy(big, "{\"", 2);
	memcpy(big + 64 * 1024 - 5, "\":1}", 5);
	for (int i = 0; i < 100; i++) /* 6.4 MB of events */
		ck_assert_int_eq(store_event_add(fx.s, id, "note", big, NULL, &err), FITD_OK);
	free(big);
	pages = store_check_sql_int("PRAGMA page_count");
	ck_assert_int_gt(pages, 1500);
	ck_assert_int_eq(store_job_delete(fx.s, id, NULL, &err), FITD_OK);
	ck_assert_int_gt(store_check_sql_int("PRAGMA freelist_count"), 1500);
	/* In steps of 500 pages, as the retention timer does. */
	do {
		ck_assert_int_eq(store_vacuum(fx.s, 500, &step, &left, &err), FITD_OK);
		ck_assert_int_le(step, 500);
		freed += step;
	} while (step > 0);
	ck_assert_int_eq(left, 0);
	ck_assert_int_gt(freed, 1500);
	ck_assert_int_eq(store_check_sql_int("PRAGMA freelist_count"), 0);
	ck_assert_int_lt(store_check_sql_int("PRAGMA page_count"), pages - 1500);
	teardown(&fx);
}
END_TEST

/*
 * PostgreSQL: a model file no row points at (a fenced result, a crash) goes
 * at an open once it is an hour old; a younger one may be another node's
 * trial on its way and stays.
 */
START_TEST(pg_orphan_models_swept_after_an_hour)
{
	struct fitd_error err = { 0 };
	struct store_disk disk;
	struct fixture fx;
	char old[STORE_ID_MAX], young[STORE_ID_MAX], sql[256];
	char *text = NULL;
	size_t len = 0;

	setup(&fx);
	ck_assert_int_eq(store_model_write(fx.s, "{\"m\":1}", 7, old, &err), FITD_OK);
	ck_assert_int_eq(store_model_write(fx.s, "{\"m\":2}", 7, young, &err), FITD_OK);
	/* Never committed: not readable as a model. */
	ck_assert_int_eq(store_model_read(fx.s, old, &text, &len, &err), FITD_ENOTFOUND);
	snprintf(sql, sizeof(sql),
		 "UPDATE model_files SET created_at = created_at - 7200000 WHERE id = '%s'", old);
	ck_assert_int_eq(store_check_sql(sql, NULL), SQLITE_DONE);
	store_close(fx.s);
	fx.s = store_check_open();
	ck_assert(!model_file(old) && model_file(young));
	ck_assert_int_eq(count_where("model_chunks", "model_id", old), 0);
	store_disk_usage(fx.s, &disk);
	ck_assert_int_eq(disk.models, 7);
	teardown(&fx);
}
END_TEST

/* PostgreSQL: a model's file reads back whole across chunks, and a changed byte is caught. */
START_TEST(pg_model_chunks_checked)
{
	struct fitd_error err = { 0 };
	struct fixture fx;
	char job[STORE_ID_MAX], m0[STORE_ID_MAX], m1[STORE_ID_MAX], id[STORE_ID_MAX];
	char sql[256];
	size_t big = (3u << 20) + 17, len = 0;
	char *text = malloc(big), *back = NULL;

	setup(&fx);
	finished_job(&fx, job, m0, m1);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 23);
	ck_assert_int_eq(store_model_write(fx.s, text, big, id, &err), FITD_OK);
	ck_assert_int_eq(count_where("model_chunks", "model_id", id), 4);
	ck_assert_int_eq(store_job_set_model(fx.s, job, id, (int64_t)big, 1, 0.5, NULL, "{}", &err),
			 FITD_OK);
	ck_assert_int_eq(store_model_read(fx.s, id, &back, &len, &err), FITD_OK);
	ck_assert_uint_eq(len, big);
	ck_assert(memcmp(back, text, big) == 0);
	free(back);
	snprintf(sql, sizeof(sql),
		 "UPDATE model_chunks SET data = set_byte(data, 5, 0) WHERE model_id = '%s'"
		 " AND n = 2",
		 id);
	ck_assert_int_eq(store_check_sql(sql, NULL), SQLITE_DONE);
	ck_assert_int_eq(store_model_read(fx.s, id, &back, &len, &err), FITD_EIO);
	ck_assert_str_eq(err.code, "model_corrupt");
	free(text);
	teardown(&fx);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store_delete");
	TCase *tc = tcase_create("delete");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, job_delete_refused_until_ended);
	tcase_add_test(tc, job_delete_takes_everything);
	tcase_add_test(tc, oof_files_go_with_their_job);
	tcase_add_test(tc, alias_keeps_model_of_deleted_job);
	tcase_add_test(tc, switching_lets_go_of_orphan);
	tcase_add_test(tc, model_delete_rules);
	tcase_add_test(tc, alias_names);
	tcase_add_test(tc, alias_crud);
	tcase_add_test(tc, expired_jobs);
	tcase_add_test(tc, disk_counts_follow_files);
	if (store_check_pg()) {
		tcase_add_test(tc, pg_orphan_models_swept_after_an_hour);
		tcase_add_test(tc, pg_model_chunks_checked);
	} else {
		/* Files beside the database, and SQLite's pages. */
		tcase_add_test(tc, crash_before_files_is_swept);
		tcase_add_test(tc, vacuum_gives_pages_back);
	}
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

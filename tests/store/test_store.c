/*
 * test_store.c - the store: layout, migrations and the refusal of a newer
 * schema, ids, the dataset lifecycle through an upload (stream, parse,
 * commit, read back, list, delete, reopen) and the cap on a token's jobs.
 */
#include <check.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

static char state[64];

static void make_state(void)
{
	snprintf(state, sizeof(state), "/tmp/fitd-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
}

static void remove_state(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

static struct store *open_store(void)
{
	struct store_options opt = { .state_dir = state };
	struct fitd_error err = { 0 };
	struct store *s = NULL;

	ck_assert_msg(store_open(&opt, &s, &err) == FITD_OK, "%s", err.message);
	return s;
}

static bool exists(const char *sub)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", state, sub);
	return stat(path, &st) == 0;
}

START_TEST(layout_and_schema)
{
	struct store *s;
	int version = -1;

	make_state();
	s = open_store();
	ck_assert(exists("fitd.db") && exists("datasets") && exists("models") && exists("tmp"));
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	store_close(s);
	/* Reopening applies nothing twice. */
	s = open_store();
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	store_close(s);
	remove_state();
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct store_options opt = { .state_dir = state };
	struct fitd_error err = { 0 };
	struct store *s;
	char path[128];
	sqlite3 *db;

	make_state();
	store_close(open_store());
	snprintf(path, sizeof(path), "%s/fitd.db", state);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE schema_version SET version = 999", 0, 0, 0),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_open(&opt, &s, &err), FITD_ESCHEMA);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err.message, "999"));
	remove_state();
}
END_TEST

START_TEST(tmp_cleared_at_open)
{
	char path[128];
	int fd;

	make_state();
	store_close(open_store());
	snprintf(path, sizeof(path), "%s/tmp/upload_leftover.csv", state);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	store_close(open_store());
	ck_assert(!exists("tmp/upload_leftover.csv"));
	remove_state();
}
END_TEST

START_TEST(id_format)
{
	char a[STORE_ID_MAX], b[STORE_ID_MAX];

	store_id_new("ds", a);
	store_id_new("ds", b);
	ck_assert_uint_eq(strlen(a), 3 + STORE_ID_HEX);
	ck_assert_str_ne(a, b);
	ck_assert(store_id_valid("ds", a));
	ck_assert(!store_id_valid("job", a));
	ck_assert(!store_id_valid("ds", "ds_0123456789abcdef012"));
	ck_assert(!store_id_valid("ds", "ds_0123456789abcdef01234"));
	ck_assert(!store_id_valid("ds", "ds_0123456789ABCDEF0123"));
	ck_assert(!store_id_valid("ds", "ds-0123456789abcdef0123"));
	ck_assert(!store_id_valid("ds", "../../etc/passwd"));
}
END_TEST

static int upload(struct store *s, const char *csv, const char *name, struct store_dataset *d,
		  struct fitd_error *err)
{
	struct store_upload *up = NULL;
	const struct fit_frame *frame;
	struct store_csv_options opt = { 0 };
	size_t len = strlen(csv), half = len / 2;
	int rc = store_upload_begin(s, len, &up, err);

	if (rc == FITD_OK)
		rc = store_upload_write(up, csv, half, err);
	if (rc == FITD_OK)
		rc = store_upload_write(up, csv + half, len - half, err);
	if (rc == FITD_OK)
		rc = store_upload_parse(up, &opt, &frame, err);
	if (rc == FITD_OK)
		rc = store_upload_commit(up, name, "[]", d, err);
	store_upload_free(up);
	return rc;
}

START_TEST(dataset_lifecycle)
{
	static const char csv[] = "x,y,label\n1,2,a\n3,4,b\n5,NA,a\n";
	struct store_dataset d = { 0 }, got = { 0 }, *items;
	struct fitd_error err = { 0 };
	struct fit_frame *frame;
	char path[256];
	struct store *s;
	size_t n;
	bool more;

	make_state();
	s = open_store();
	ck_assert_msg(upload(s, csv, "small", &d, &err) == FITD_OK, "%s", err.message);
	ck_assert(store_id_valid("ds", d.id));
	ck_assert_int_eq(d.rows, 3);
	ck_assert_int_eq(d.cols, 3);
	ck_assert_int_eq(d.bytes, (int64_t)strlen(csv));
	/* sha256 of the exact bytes, from coreutils: printf ... | sha256sum */
	ck_assert_str_eq(d.sha256,
			 "4b82676f3c044624893cd5fd0256d90c2125d9a3eb2cfa745e45ebfc2c0d50ce");
	ck_assert_int_eq(store_dataset_get(s, d.id, &got, &err), FITD_OK);
	ck_assert_str_eq(got.name, "small");
	ck_assert_str_eq(got.sha256, d.sha256);
	store_dataset_release(&got);

	/* The dataset file loads back as the parsed table. */
	ck_assert_int_eq(store_dataset_path(s, d.id, path, sizeof(path), NULL), FITD_OK);
	ck_assert_int_eq(fit_frame_load(path, &frame, &err), FITD_OK);
	ck_assert_uint_eq(frame->nrows, 3);
	ck_assert_str_eq(frame->cols[2].name, "label");
	ck_assert_uint_eq(frame->cols[1].missing, 1);
	fit_frame_free(frame);

	ck_assert_int_eq(store_dataset_list(s, NULL, 10, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert(!more);
	store_dataset_release(&items[0]);
	free(items);

	store_close(s);
	s = open_store();
	ck_assert_int_eq(store_dataset_get(s, d.id, &got, &err), FITD_OK);
	store_dataset_release(&got);
	ck_assert_int_eq(store_dataset_delete(s, d.id, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_get(s, d.id, &got, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(store_dataset_delete(s, d.id, &err), FITD_ENOTFOUND);
	store_dataset_release(&d);
	store_close(s);
	remove_state();
}
END_TEST

START_TEST(failed_parse_commits_nothing)
{
	struct store_dataset d = { 0 }, *items;
	struct fitd_error err = { 0 };
	struct store *s;
	size_t n;
	bool more;

	make_state();
	s = open_store();
	ck_assert_int_eq(upload(s, "a,b\n1,2\n3\n", "ragged", &d, &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "ragged_row");
	ck_assert_int_eq(store_dataset_list(s, NULL, 10, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 0);
	free(items);
	store_close(s);
	ck_assert(exists("tmp"));
	remove_state();
}
END_TEST

START_TEST(pagination)
{
	struct store_dataset d, *items;
	struct fitd_error err = { 0 };
	char ids[5][STORE_ID_MAX];
	struct store *s;
	size_t n;
	bool more;

	make_state();
	s = open_store();
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(upload(s, "a\n1\n", "t", &d, &err), FITD_OK);
		memcpy(ids[i], d.id, STORE_ID_MAX);
		store_dataset_release(&d);
	}
	ck_assert_int_eq(store_dataset_list(s, ids[1], 2, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert(more);
	ck_assert_str_eq(items[0].id, ids[2]);
	ck_assert_str_eq(items[1].id, ids[3]);
	for (size_t i = 0; i < n; i++)
		store_dataset_release(&items[i]);
	free(items);
	ck_assert_int_eq(
	    store_dataset_list(s, "ds_00000000000000000000", 2, &items, &n, &more, &err),
	    FITD_EINVAL);
	store_close(s);
	remove_state();
}
END_TEST

/* Creates a job on dataset ds for owner (NULL: none) with a cap of 2; returns the status. */
static int create_job(struct store *s, const char *ds, const char *owner, const char *key,
		      struct store_job *job, bool *existed, struct fitd_error *err)
{
	struct store_job_new in = { .dataset_id = ds,
				    .target = "y",
				    .task = "regression",
				    .metric = "rmse",
				    .spec_json = "{}",
				    .idempotency_key = key,
				    .owner = owner,
				    .max_owner_active = 2 };

	return store_job_create(s, &in, job, existed, err);
}

START_TEST(jobs_capped_per_owner)
{
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct store_job job, first;
	struct store *s;
	bool existed;

	make_state();
	s = open_store();
	ck_assert_int_eq(upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
	ck_assert_int_eq(create_job(s, d.id, "alice", "k1", &first, &existed, &err), FITD_OK);
	ck_assert_int_eq(create_job(s, d.id, "alice", NULL, &job, &existed, &err), FITD_OK);
	store_job_release(&job);
	ck_assert_int_eq(create_job(s, d.id, "alice", NULL, &job, &existed, &err), FITD_ELIMIT);
	ck_assert_str_eq(err.code, "too_many_jobs");
	/* A replay is not a new job; other owners and jobs without one are not counted. */
	ck_assert_int_eq(create_job(s, d.id, "alice", "k1", &job, &existed, &err), FITD_OK);
	ck_assert(existed);
	ck_assert_str_eq(job.id, first.id);
	store_job_release(&job);
	ck_assert_int_eq(create_job(s, d.id, "bob", NULL, &job, &existed, &err), FITD_OK);
	store_job_release(&job);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(create_job(s, d.id, NULL, NULL, &job, &existed, &err), FITD_OK);
		store_job_release(&job);
	}
	/* A job that ends frees its place. */
	ck_assert_int_eq(store_job_cancel(s, first.id, &job, &err), FITD_OK);
	ck_assert_int_eq(job.state, STORE_JOB_CANCELLED);
	store_job_release(&job);
	ck_assert_int_eq(create_job(s, d.id, "alice", NULL, &job, &existed, &err), FITD_OK);
	store_job_release(&job);
	store_job_release(&first);
	store_dataset_release(&d);
	store_close(s);
	remove_state();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, layout_and_schema);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, tmp_cleared_at_open);
	tcase_add_test(tc, id_format);
	tcase_add_test(tc, dataset_lifecycle);
	tcase_add_test(tc, failed_parse_commits_nothing);
	tcase_add_test(tc, pagination);
	tcase_add_test(tc, jobs_capped_per_owner);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

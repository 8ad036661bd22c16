/*
 * test_store.c - the store: layout, migrations and the refusal of a newer
 * schema, ids, the dataset lifecycle through an upload (stream, parse,
 * commit, read back, list, delete, reopen), the cap on a token's jobs,
 * idempotency keys scoped per owner, the migration that scoped them, and
 * the one that lets a job go while an alias keeps its model (schema 4).
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/store/store_check.h"

static bool exists(const char *sub)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", store_check_state(), sub);
	return stat(path, &st) == 0;
}

START_TEST(layout_and_schema)
{
	struct store *s;
	int version = -1;

	store_check_state_new();
	s = store_check_open();
	if (store_check_pg())
		ck_assert(exists("cache") && exists("tmp"));
	else
		ck_assert(exists("fitd.db") && exists("datasets") && exists("models") &&
			  exists("tmp"));
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	store_close(s);
	/* Reopening applies nothing twice. */
	s = store_check_open();
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	store_close(s);
	store_check_state_remove();
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct store_options opt = { .state_dir = store_check_state() };
	struct fitd_error err = { 0 };
	struct store *s;

	store_check_state_new();
	opt.location = store_check_location();
	store_close(store_check_open());
	ck_assert_int_eq(store_check_sql("UPDATE schema_version SET version = 999", NULL),
			 SQLITE_DONE);
	ck_assert_int_eq(store_open(&opt, &s, &err), FITD_ESCHEMA);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err.message, "999"));
	store_check_state_remove();
}
END_TEST

START_TEST(tmp_cleared_at_open)
{
	char path[128];
	int fd;

	store_check_state_new();
	store_close(store_check_open());
	snprintf(path, sizeof(path), "%s/tmp/upload_leftover.csv", store_check_state());
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	store_close(store_check_open());
	ck_assert(!exists("tmp/upload_leftover.csv"));
	store_check_state_remove();
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

	store_check_state_new();
	s = store_check_open();
	ck_assert_msg(store_check_upload(s, csv, "small", &d, &err) == FITD_OK, "%s", err.message);
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
	s = store_check_open();
	ck_assert_int_eq(store_dataset_get(s, d.id, &got, &err), FITD_OK);
	store_dataset_release(&got);
	ck_assert_int_eq(store_dataset_delete(s, d.id, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_get(s, d.id, &got, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(store_dataset_delete(s, d.id, &err), FITD_ENOTFOUND);
	store_dataset_release(&d);
	store_close(s);
	store_check_state_remove();
}
END_TEST

START_TEST(failed_parse_commits_nothing)
{
	struct store_dataset d = { 0 }, *items;
	struct fitd_error err = { 0 };
	struct store *s;
	size_t n;
	bool more;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "a,b\n1,2\n3\n", "ragged", &d, &err), FITD_EFORMAT);
	ck_assert_str_eq(err.code, "ragged_row");
	ck_assert_int_eq(store_dataset_list(s, NULL, 10, &items, &n, &more, &err), FITD_OK);
	ck_assert_uint_eq(n, 0);
	free(items);
	store_close(s);
	ck_assert(exists("tmp"));
	store_check_state_remove();
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

	store_check_state_new();
	s = store_check_open();
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(store_check_upload(s, "a\n1\n", "t", &d, &err), FITD_OK);
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
	store_check_state_remove();
}
END_TEST

/* Creates a job of spec on dataset ds for owner (NULL: none), capped at 2; returns the status. */
static int create_spec(struct store *s, const char *ds, const char *owner, const char *key,
		       const char *spec, struct store_job *job, bool *existed,
		       struct fitd_error *err)
{
	struct store_job_new in = { .dataset_id = ds,
				    .target = "y",
				    .task = "regression",
				    .metric = "rmse",
				    .spec_json = spec,
				    .idempotency_key = key,
				    .owner = owner,
				    .max_owner_active = 2 };

	return store_job_create(s, &in, job, existed, err);
}

static int create_job(struct store *s, const char *ds, const char *owner, const char *key,
		      struct store_job *job, bool *existed, struct fitd_error *err)
{
	return create_spec(s, ds, owner, key, "{}", job, existed, err);
}

START_TEST(jobs_capped_per_owner)
{
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct store_job job, first;
	struct store *s;
	bool existed;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
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
	store_check_state_remove();
}
END_TEST

/* What a job's final model is, said without a new model: stored, read back, and refused for no job. */
START_TEST(job_detail_without_a_model)
{
	static const char detail[] = "{\"kind\":\"single\",\"reason\":\"no time\"}";
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct store_job job, got;
	struct store *s;
	bool existed;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
	ck_assert_int_eq(create_job(s, d.id, NULL, NULL, &job, &existed, &err), FITD_OK);
	ck_assert_ptr_null(job.best_detail);
	ck_assert_int_eq(store_job_set_detail(s, job.id, detail, &err), FITD_OK);
	ck_assert_int_eq(store_job_get(s, job.id, &got, &err), FITD_OK);
	ck_assert_str_eq(got.best_detail, detail);
	ck_assert_str_eq(got.best_model_id, "");
	store_job_release(&got);
	ck_assert_int_eq(store_job_set_detail(s, "job_00000000000000000000", detail, &err),
			 FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "job_not_found");
	store_job_release(&job);
	store_dataset_release(&d);
	store_close(s);
	store_check_state_remove();
}
END_TEST

/*
 * Submits key with spec as owner and checks the answer: a replay of job
 * `want` when it is not NULL, else a new job, whose id is copied to got.
 */
static void submit_keyed(struct store *s, const char *ds, const char *owner, const char *key,
			 const char *spec, const char *want, char got[STORE_ID_MAX])
{
	struct fitd_error err = { 0 };
	struct store_job job;
	bool existed;

	ck_assert_msg(create_spec(s, ds, owner, key, spec, &job, &existed, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_int_eq(existed, want != NULL);
	if (want != NULL)
		ck_assert_str_eq(job.id, want);
	ck_assert_str_eq(job.spec_json, spec);
	if (got != NULL)
		memcpy(got, job.id, STORE_ID_MAX);
	store_job_release(&job);
}

/* Checks that owner's key is taken by another spec. */
static void key_conflicts(struct store *s, const char *ds, const char *owner, const char *key)
{
	struct fitd_error err = { 0 };
	struct store_job job;
	bool existed;

	ck_assert_int_eq(create_spec(s, ds, owner, key, "{\"other\":1}", &job, &existed, &err),
			 FITD_ECONFLICT);
	ck_assert_str_eq(err.code, "idempotency_key_reused");
}

START_TEST(idempotency_keys_per_owner)
{
	char alice[STORE_ID_MAX], bob[STORE_ID_MAX], nobody[STORE_ID_MAX];
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct store *s;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
	submit_keyed(s, d.id, "alice", "k", "{}", NULL, alice);
	submit_keyed(s, d.id, "alice", "k", "{}", alice, NULL);
	key_conflicts(s, d.id, "alice", "k");
	/* Another owner, or none, with the same key and spec gets a job of its own. */
	submit_keyed(s, d.id, "bob", "k", "{}", NULL, bob);
	ck_assert_str_ne(bob, alice);
	submit_keyed(s, d.id, NULL, "k", "{}", NULL, nobody);
	ck_assert_str_ne(nobody, alice);
	ck_assert_str_ne(nobody, bob);
	/* Each replays its own, and is free to use another owner's key with another spec. */
	submit_keyed(s, d.id, "bob", "k", "{}", bob, NULL);
	submit_keyed(s, d.id, NULL, "k", "{}", nobody, NULL);
	submit_keyed(s, d.id, "bob", "k2", "{\"n\":1}", NULL, NULL);
	submit_keyed(s, d.id, "alice", "k2", "{\"n\":2}", NULL, NULL);
	key_conflicts(s, d.id, NULL, "k");
	store_dataset_release(&d);
	store_close(s);
	store_check_state_remove();
}
END_TEST

/* Copies job c1 (no owner, key k3) as job id for owner (an SQL literal). */
#define COPY_C1(id, owner)                                                                      \
	"INSERT INTO jobs (id, dataset_id, state, target, task, metric, spec, idempotency_key," \
	" created_at, owner) SELECT '" id "', dataset_id, state, target, task, metric, spec,"   \
	" idempotency_key, created_at, " owner " FROM jobs WHERE id = 'job_000000000000000000c1'"

START_TEST(migration_scopes_keys_per_owner)
{
	static const char ds[] = "ds_00000000000000000001";
	struct fitd_error err = { 0 };
	char fresh[STORE_ID_MAX], sql[128];
	struct store_job job;
	struct store *s;
	int version = 0;

	store_check_state_new();
	store_check_load_dump("store_v2.sql");
	s = store_check_open();
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	/* Every job is still there, and still finds its trial. */
	ck_assert_int_eq(store_job_get(s, "job_000000000000000000a1", &job, &err), FITD_OK);
	ck_assert_int_eq(job.state, STORE_JOB_SUCCEEDED);
	ck_assert_str_eq(job.best_model_id, "mdl_000000000000000000a1");
	ck_assert_int_eq(job.trials_total, 1);
	store_job_release(&job);
	ck_assert_int_eq(store_job_get(s, "job_000000000000000000a2", &job, &err), FITD_OK);
	ck_assert_int_eq(job.state, STORE_JOB_CANCELLED);
	store_job_release(&job);
	/* Keys made before the migration replay for their owner only. */
	submit_keyed(s, ds, "alice", "k1", "{\"n\":1}", "job_000000000000000000a1", NULL);
	submit_keyed(s, ds, "bob", "k2", "{\"n\":2}", "job_000000000000000000b1", NULL);
	submit_keyed(s, ds, NULL, "k3", "{\"n\":3}", "job_000000000000000000c1", NULL);
	key_conflicts(s, ds, "bob", "k2");
	submit_keyed(s, ds, "bob", "k1", "{\"n\":1}", NULL, fresh);
	submit_keyed(s, ds, NULL, "k1", "{\"n\":1}", NULL, NULL);
	submit_keyed(s, ds, "alice", "k3", "{\"n\":3}", NULL, NULL);
	store_close(s);

	/* The rows pointing at jobs survived the rebuild, and still point somewhere. */
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM jobs"), 7);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM trials"), 1);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM events WHERE job_id ="
					     " 'job_000000000000000000a1'"),
			 2);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM models"), 1);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
	/* Sequence numbers go on from the old table's high-water mark. */
	snprintf(sql, sizeof(sql), "SELECT seq FROM jobs WHERE id = '%s'", fresh);
	ck_assert_int_eq(store_check_sql_int(sql), 11);
	/* The index itself allows one (owner, key), also for no owner. */
	ck_assert_int_eq(store_check_sql(COPY_C1("job_copy1", "NULL"), NULL), SQLITE_CONSTRAINT);
	ck_assert_int_eq(store_check_sql(COPY_C1("job_copy2", "'carol'"), NULL), SQLITE_DONE);
	ck_assert_int_eq(store_check_sql(COPY_C1("job_copy3", "'carol'"), NULL), SQLITE_CONSTRAINT);
	store_check_state_remove();
}
END_TEST

START_TEST(migration_allows_deleting)
{
	static const char job[] = "job_000000000000000000a1", model[] = "mdl_000000000000000000a1";
	struct store_job_deletion del = { 0 };
	struct fitd_error err = { 0 };
	char previous[STORE_ID_MAX];
	struct store_alias alias;
	struct store *s;
	bool created;

	store_check_state_new();
	store_check_load_dump("store_v2.sql");
	ck_assert_int_eq(store_check_sql_int("PRAGMA auto_vacuum"), 0);
	s = store_check_open();
	/* The database was rewritten once to give freed pages back. */
	ck_assert_int_eq(store_check_sql_int("PRAGMA auto_vacuum"), 2);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM models"), 1);
	/* A model made before the migration can be held by an alias past its job. */
	ck_assert_int_eq(store_alias_set(s, "prod", model, &alias, &created, previous, &err),
			 FITD_OK);
	ck_assert_int_eq(store_job_delete(s, job, &del, &err), FITD_OK);
	ck_assert_uint_eq(del.nkept, 1);
	store_job_deletion_release(&del);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM models WHERE job_id IS NULL"),
			 1);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
	store_close(s);
	/* Reopening vacuums nothing again. */
	s = store_check_open();
	ck_assert_int_eq(store_check_sql_int("PRAGMA auto_vacuum"), 2);
	store_close(s);
	store_check_state_remove();
}
END_TEST

#define KEY_THREADS 6

struct keyed {
	struct store *s;
	const char *ds;
	const char *owner;
	const char *key;
	char id[STORE_ID_MAX];
	bool existed;
	int rc;
};

static void *submit_same_key(void *arg)
{
	struct keyed *k = arg;
	struct store_job job;

	k->rc = create_spec(k->s, k->ds, k->owner, k->key, "{}", &job, &k->existed, NULL);
	if (k->rc == FITD_OK) {
		memcpy(k->id, job.id, STORE_ID_MAX);
		store_job_release(&job);
	}
	return NULL;
}

/*
 * Submissions racing with one idempotency key, from threads (on two store
 * handles when the engine is PostgreSQL: two nodes): one creates the job,
 * every other gets that job back, and the owner's cap of 2 still holds for
 * another owner racing to create jobs with keys of their own.
 */
START_TEST(racing_keys_make_one_job)
{
	struct store_options opt = { .location = store_check_location() };
	char other[] = "/tmp/fitd-store-node2-XXXXXX", cmd[128];
	struct keyed k[KEY_THREADS] = { 0 }, capped[KEY_THREADS] = { 0 };
	pthread_t th[2 * KEY_THREADS];
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct store *s, *s2 = NULL;
	int created = 0, ok = 0;

	store_check_state_new();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, "x,y\n1,2\n3,4\n", "t", &d, &err), FITD_OK);
	if (store_check_pg()) {
		ck_assert_ptr_nonnull(mkdtemp(other));
		opt.state_dir = other;
		ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	}
	for (int t = 0; t < KEY_THREADS; t++) {
		static const char *const keys[] = { "k0", "k1", "k2", "k3", "k4", "k5" };

		k[t] = (struct keyed){
			.s = s2 != NULL && t % 2 ? s2 : s, .ds = d.id, .owner = "a", .key = "same"
		};
		capped[t] = k[t];
		capped[t].owner = "b";
		capped[t].key = keys[t];
		ck_assert_int_eq(pthread_create(&th[t], NULL, submit_same_key, &k[t]), 0);
		ck_assert_int_eq(
		    pthread_create(&th[KEY_THREADS + t], NULL, submit_same_key, &capped[t]), 0);
	}
	for (int t = 0; t < KEY_THREADS; t++) {
		ck_assert_int_eq(pthread_join(th[KEY_THREADS + t], NULL), 0);
		if (capped[t].rc == FITD_OK)
			ok++;
		else
			ck_assert_int_eq(capped[t].rc, FITD_ELIMIT);
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
		ck_assert_int_eq(k[t].rc, FITD_OK);
		ck_assert_str_eq(k[t].id, k[0].id);
		created += !k[t].existed;
	}
	ck_assert_int_eq(created, 1);
	/* Owner b's keys differ per thread: only 2 (the cap) got a job. */
	ck_assert_int_eq(ok, 2);
	if (s2 != NULL) {
		store_close(s2);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
		ck_assert_int_eq(system(cmd), 0);
	}
	store_dataset_release(&d);
	store_close(s);
	store_check_state_remove();
}
END_TEST

/*
 * A location that is neither empty nor a postgresql:// URI is refused; a
 * database that cannot be reached fails the open with FITD_EUNAVAILABLE
 * once the back-off gives up (busy_timeout_ms), leaving nothing open.
 */
START_TEST(store_locations)
{
	struct store_options opt = { .location = "mysql://localhost/fitd", .busy_timeout_ms = 300 };
	struct fitd_error err = { 0 };
	struct store *s = NULL;

	opt.state_dir = store_check_state_new();
	ck_assert_int_eq(store_open(&opt, &s, &err), FITD_EINVAL);
	ck_assert_str_eq(err.code, "invalid_store");
	ck_assert_ptr_null(s);
	/* Port 1 on loopback: nothing listens there. */
	opt.location = "postgresql://fitd@127.0.0.1:1/fitd?connect_timeout=1";
	ck_assert_int_eq(store_open(&opt, &s, &err), FITD_EUNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(err.message, "database unreachable"));
	ck_assert_ptr_null(s);
	store_check_state_remove();
}
END_TEST

/*
 * PostgreSQL: the dataset file lives in the database; a node without a copy
 * (another state directory on the same database) fetches it into its cache
 * by checksum, and a stored file that no longer matches its checksum is
 * refused, leaving nothing in the cache.
 */
START_TEST(pg_dataset_file_fetched_and_checked)
{
	static const char csv[] = "x,y,label\n1,2,a\n3,4,b\n5,NA,a\n";
	struct store_options opt = { .location = store_check_location() };
	struct store_dataset d = { 0 };
	struct fitd_error err = { 0 };
	struct fit_frame *frame;
	char path[256], other_path[256], other[] = "/tmp/fitd-store-node2-XXXXXX", sql[256];
	struct store *s, *s2;
	struct stat st;

	store_check_state_new();
	opt.location = store_check_location();
	s = store_check_open();
	ck_assert_int_eq(store_check_upload(s, csv, "small", &d, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_path(s, d.id, path, sizeof(path), &err), FITD_OK);
	ck_assert_int_eq(stat(path, &st), 0);

	/* A second node: its cache is empty, the path fetches the file. */
	ck_assert_ptr_nonnull(mkdtemp(other));
	opt.state_dir = other;
	ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	ck_assert_int_eq(store_dataset_path(s2, d.id, other_path, sizeof(other_path), &err),
			 FITD_OK);
	ck_assert_ptr_nonnull(strstr(other_path, other));
	ck_assert_int_eq(fit_frame_load(other_path, &frame, &err), FITD_OK);
	ck_assert_uint_eq(frame->nrows, 3);
	ck_assert_str_eq(frame->cols[2].name, "label");
	fit_frame_free(frame);

	/* A changed byte in the database: the fetch is refused and leaves no file. */
	ck_assert_int_eq(unlink(other_path), 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE dataset_chunks SET data = set_byte(data, 3, get_byte(data, 3) # 1)"
		 " WHERE dataset_id = '%s'",
		 d.id);
	ck_assert_int_eq(store_check_sql(sql, NULL), SQLITE_DONE);
	ck_assert_int_eq(store_dataset_path(s2, d.id, other_path, sizeof(other_path), &err),
			 FITD_EIO);
	ck_assert_str_eq(err.code, "dataset_corrupt");
	ck_assert_int_eq(access(other_path, F_OK), -1);
	/* The first node still has its verified copy. */
	ck_assert_int_eq(store_dataset_path(s, d.id, path, sizeof(path), &err), FITD_OK);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(store_dataset_get(s2, "ds_00000000000000000000", &d, &err),
			 FITD_ENOTFOUND);
	ck_assert_int_eq(
	    store_dataset_path(s2, "ds_00000000000000000000", path, sizeof(path), &err),
	    FITD_ENOTFOUND);
	store_close(s2);
	/* What a fetch cut short by a crash left in the cache goes at the next open. */
	snprintf(sql, sizeof(sql), "%s/cache/.fetch_0123.tmp", other);
	ck_assert_int_eq(close(open(sql, O_WRONLY | O_CREAT, 0640)), 0);
	ck_assert_msg(store_open(&opt, &s2, &err) == FITD_OK, "%s", err.message);
	ck_assert_int_eq(access(sql, F_OK), -1);
	store_close(s2);
	store_close(s);
	snprintf(sql, sizeof(sql), "rm -rf '%s'", other);
	ck_assert_int_eq(system(sql), 0);
	store_dataset_release(&d);
	store_check_state_remove();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, layout_and_schema);
	tcase_add_test(tc, job_detail_without_a_model);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, tmp_cleared_at_open);
	tcase_add_test(tc, id_format);
	tcase_add_test(tc, dataset_lifecycle);
	tcase_add_test(tc, failed_parse_commits_nothing);
	tcase_add_test(tc, pagination);
	tcase_add_test(tc, jobs_capped_per_owner);
	tcase_add_test(tc, idempotency_keys_per_owner);
	tcase_add_test(tc, racing_keys_make_one_job);
	tcase_add_test(tc, store_locations);
	if (store_check_pg())
		tcase_add_test(tc, pg_dataset_file_fetched_and_checked);
	/* Migrations from SQLite databases of older fitds: the SQLite engine's alone. */
	if (!store_check_pg()) {
		tcase_add_test(tc, migration_scopes_keys_per_owner);
		tcase_add_test(tc, migration_allows_deleting);
	}
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * test_columns.c - the column facts kept with a dataset (store/columns.c):
 * committed with the upload that gives them, read back in column order,
 * absent from an upload without them and from datasets migrated from
 * schema 3, kept once by store_dataset_set_columns() (the first facts
 * win), and deleted with their dataset.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/store/store_check.h"

static const char csv[] = "x,n,label\n1.5,1,a\n2.5,2,b\n,2,a\n";

/* The facts of csv's three columns, as a describer would give them. */
static const struct store_column facts[] = {
	{ "x", true, 0, 1, false, 2 },
	{ "n", true, 0, 0, true, 2 },
	{ "label", false, 2, 0, false, 0 },
};

static void assert_facts(const struct store_column *got, size_t n, const struct store_column *want,
			 size_t nwant)
{
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(got[i].name, want[i].name);
		ck_assert(got[i].numeric == want[i].numeric);
		ck_assert_int_eq(got[i].levels, want[i].levels);
		ck_assert_int_eq(got[i].missing, want[i].missing);
		ck_assert(got[i].integer_valued == want[i].integer_valued);
		ck_assert_int_eq(got[i].distinct, want[i].distinct);
	}
}

/* Uploads csv, giving it facts (NULL: none). */
static void upload(struct store *s, const struct store_column *cols, size_t n,
		   struct store_dataset *d)
{
	struct fitd_error err = { 0 };
	struct store_csv_options opt = { 0 };
	struct store_upload *up = NULL;
	const struct fit_frame *frame;

	ck_assert_int_eq(store_upload_begin(s, strlen(csv), &up, &err), FITD_OK);
	ck_assert_int_eq(store_upload_write(up, csv, strlen(csv), &err), FITD_OK);
	ck_assert_int_eq(store_upload_parse(up, &opt, &frame, &err), FITD_OK);
	if (cols != NULL)
		ck_assert_msg(store_upload_set_columns(up, cols, n, &err) == FITD_OK, "%s",
			      err.message);
	ck_assert_int_eq(store_upload_commit(up, "t", "[]", d, &err), FITD_OK);
	store_upload_free(up);
}

START_TEST(facts_commit_with_the_upload)
{
	struct fitd_error err = { 0 };
	struct store_column *cols = NULL;
	struct store_upload *up = NULL;
	const struct fit_frame *frame;
	struct store_csv_options opt = { 0 };
	struct store_dataset d;
	struct store *s;
	int64_t rows = 0;
	size_t n = 0;

	store_check_state_new();
	s = store_check_open();
	upload(s, facts, 3, &d);
	ck_assert_int_eq(store_dataset_columns(s, d.id, &rows, &cols, &n, &err), FITD_OK);
	ck_assert_int_eq(rows, 3);
	assert_facts(cols, n, facts, 3);
	store_columns_free(cols, n);
	store_dataset_release(&d);

	/* Facts for another number of columns are refused; the upload goes on. */
	ck_assert_int_eq(store_upload_begin(s, strlen(csv), &up, &err), FITD_OK);
	ck_assert_int_eq(store_upload_write(up, csv, strlen(csv), &err), FITD_OK);
	ck_assert_int_eq(store_upload_parse(up, &opt, &frame, &err), FITD_OK);
	ck_assert_int_eq(store_upload_set_columns(up, facts, 2, &err), FITD_EINVAL);
	ck_assert_int_eq(store_upload_commit(up, "t", "[]", &d, &err), FITD_OK);
	store_upload_free(up);

	/* Without facts: a dataset all the same, with none kept. */
	ck_assert_int_eq(store_dataset_columns(s, d.id, &rows, &cols, &n, &err), FITD_OK);
	ck_assert_int_eq(rows, 3);
	ck_assert_ptr_null(cols);
	ck_assert_uint_eq(n, 0);
	store_dataset_release(&d);
	ck_assert_int_eq(
	    store_dataset_columns(s, "ds_00000000000000000000", &rows, &cols, &n, &err),
	    FITD_ENOTFOUND);
	ck_assert_str_eq(err.code, "dataset_not_found");
	store_close(s);
	store_check_state_remove();
}
END_TEST

START_TEST(facts_kept_once_and_deleted_with_the_dataset)
{
	struct store_column other[3], *cols = NULL;
	struct fitd_error err = { 0 };
	struct store_dataset d;
	struct store *s;
	int64_t rows = 0;
	size_t n = 0;

	store_check_state_new();
	s = store_check_open();
	upload(s, NULL, 0, &d);
	ck_assert_int_eq(store_dataset_set_columns(s, d.id, facts, 2, &err), FITD_EINVAL);
	ck_assert_int_eq(store_dataset_set_columns(s, d.id, facts, 3, &err), FITD_OK);
	/* The first facts stay: later ones (the same, when computed twice) change nothing. */
	memcpy(other, facts, sizeof(other));
	other[1].distinct = 99;
	ck_assert_int_eq(store_dataset_set_columns(s, d.id, other, 3, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_columns(s, d.id, &rows, &cols, &n, &err), FITD_OK);
	assert_facts(cols, n, facts, 3);
	store_columns_free(cols, n);
	ck_assert_int_eq(store_dataset_set_columns(s, "ds_00000000000000000000", facts, 3, &err),
			 FITD_ENOTFOUND);

	ck_assert_int_eq(store_dataset_delete(s, d.id, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_columns(s, d.id, &rows, &cols, &n, &err), FITD_ENOTFOUND);
	ck_assert_int_eq(store_dataset_set_columns(s, d.id, facts, 3, &err), FITD_ENOTFOUND);
	store_dataset_release(&d);
	store_close(s);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM dataset_columns"), 0);
	store_check_state_remove();
}
END_TEST

START_TEST(migration_from_schema_3_keeps_datasets_without_facts)
{
	static const char ds1[] = "ds_00000000000000000001", ds2[] = "ds_00000000000000000002";
	static const struct store_column two[] = { { "x", true, 0, 0, false, 3 },
						   { "y", true, 0, 0, true, 2 } };
	struct store_column *cols = NULL;
	struct fitd_error err = { 0 };
	struct store_dataset d;
	struct store_job job;
	struct store *s;
	int64_t rows = 0;
	int version = 0;
	size_t n = 0;

	store_check_state_new();
	store_check_load_dump("store_v3.sql");
	s = store_check_open();
	ck_assert_int_eq(store_schema_version(s, &version, NULL), FITD_OK);
	ck_assert_int_eq(version, STORE_SCHEMA_VERSION);
	ck_assert_int_ge(version, 5);
	/* The datasets and the job on one of them are all there, without facts yet. */
	ck_assert_int_eq(store_dataset_get(s, ds1, &d, &err), FITD_OK);
	store_dataset_release(&d);
	ck_assert_int_eq(store_dataset_columns(s, ds2, &rows, &cols, &n, &err), FITD_OK);
	ck_assert_int_eq(rows, 3);
	ck_assert_ptr_null(cols);
	ck_assert_int_eq(store_job_get(s, "job_000000000000000000d1", &job, &err), FITD_OK);
	ck_assert_str_eq(job.dataset_id, ds2);
	store_job_release(&job);
	/* Described later, once; the other dataset still has none. */
	ck_assert_int_eq(store_dataset_set_columns(s, ds1, two, 2, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_columns(s, ds1, &rows, &cols, &n, &err), FITD_OK);
	ck_assert_int_eq(rows, 2);
	assert_facts(cols, n, two, 2);
	store_columns_free(cols, n);
	ck_assert_int_eq(store_dataset_columns(s, ds2, &rows, &cols, &n, &err), FITD_OK);
	ck_assert_ptr_null(cols);
	store_close(s);
	ck_assert_int_eq(store_check_sql_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
	store_check_state_remove();
}
END_TEST

int main(void)
{
	Suite *su = suite_create("columns");
	TCase *tc = tcase_create("columns");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, facts_commit_with_the_upload);
	tcase_add_test(tc, facts_kept_once_and_deleted_with_the_dataset);
	if (!store_check_pg()) /* a database of an older fitd: SQLite's alone */
		tcase_add_test(tc, migration_from_schema_3_keeps_datasets_without_facts);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

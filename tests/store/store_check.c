/*
 * store_check.c - the helpers of store_check.h.
 */
#include "tests/store/store_check.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char state[64];

const char *store_check_state_new(void)
{
	snprintf(state, sizeof(state), "/tmp/fitd-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	return state;
}

const char *store_check_state(void)
{
	return state;
}

void store_check_state_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

struct store *store_check_open(void)
{
	struct store_options opt = { .state_dir = state };
	struct fitd_error err = { 0 };
	struct store *s = NULL;

	ck_assert_msg(store_open(&opt, &s, &err) == FITD_OK, "%s", err.message);
	return s;
}

int store_check_upload(struct store *s, const char *csv, const char *name, struct store_dataset *d,
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

void store_check_load_dump(const char *name)
{
	char path[512], *sql, *msg = NULL;
	struct stat st;
	sqlite3 *db;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", getenv("FITD_TEST_DATA"), name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	sql = calloc(1, (size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(sql);
	ck_assert_uint_eq(fread(sql, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	snprintf(path, sizeof(path), "%s/fitd.db", state);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
	sqlite3_close(db);
	free(sql);
}

static sqlite3 *open_db(void)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/fitd.db", state);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	return st;
}

int store_check_sql(const char *sql, int64_t *value)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = prepare(db, sql);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && value != NULL)
		*value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int64_t store_check_sql_int(const char *sql)
{
	int64_t v = -1;

	ck_assert_int_eq(store_check_sql(sql, &v), SQLITE_ROW);
	return v;
}

char *store_check_rows(const char *sql)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = prepare(db, sql);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	ck_assert_ptr_nonnull(f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *v = sqlite3_column_text(st, c);

			fprintf(f, "%s%s", c ? "|" : "", v ? (const char *)v : "NULL");
		}
		fputc('\n', f);
	}
	ck_assert_int_eq(rc, SQLITE_DONE);
	ck_assert_int_eq(fclose(f), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return text;
}

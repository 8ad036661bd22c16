/*
 * store_check.c - the helpers of store_check.h.
 */
#include "tests/store/store_check.h"

#include <check.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char state[64];
static char schema[64];	   /* the PostgreSQL schema of this test, when FITD_TEST_STORE is set */
static char location[512]; /* FITD_TEST_STORE with that schema as search_path */

bool store_check_pg(void)
{
	const char *uri = getenv("FITD_TEST_STORE");

	return uri != NULL && uri[0] != '\0';
}

const char *store_check_location(void)
{
	return store_check_pg() ? location : NULL;
}

/* A connection to the test server, on the test's schema when it has one. */
static PGconn *pg_open(bool on_schema)
{
	PGconn *c = PQconnectdb(on_schema ? location : getenv("FITD_TEST_STORE"));

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static void pg_run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQresultErrorMessage(r));
	PQclear(r);
}

/*
 * Each test gets a schema of its own in the one test database, named by
 * its state directory, and the store opens with that schema as its
 * search_path: a schema is made and dropped in milliseconds, a database
 * would take a second.
 */
static void pg_schema_new(void)
{
	const char *uri = getenv("FITD_TEST_STORE");
	char sql[128];
	PGconn *c;

	snprintf(schema, sizeof(schema), "t_%s", strrchr(state, '-') + 1);
	for (char *p = schema; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	snprintf(location, sizeof(location), "%s%coptions=-csearch_path%%3D%s", uri,
		 strchr(uri, '?') ? '&' : '?', schema);
	c = pg_open(false);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	pg_run(c, sql);
	PQfinish(c);
}

const char *store_check_state_new(void)
{
	snprintf(state, sizeof(state), "/tmp/fitd-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	if (store_check_pg())
		pg_schema_new();
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
	if (store_check_pg()) {
		PGconn *c = pg_open(false);

		pg_run(c, "SET client_min_messages = warning");
		snprintf(cmd, sizeof(cmd), "DROP SCHEMA %s CASCADE", schema);
		pg_run(c, cmd);
		PQfinish(c);
	}
}

struct store *store_check_open(void)
{
	struct store_options opt = { .state_dir = state, .location = store_check_location() };
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

/* store_check_sql() on PostgreSQL, answering in SQLite's result codes. */
static int pg_sql(const char *sql, int64_t *value)
{
	PGconn *c = pg_open(true);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	int rc = SQLITE_ERROR;

	if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
		rc = SQLITE_ROW;
		if (value != NULL) {
			const char *v = PQgetvalue(r, 0, 0);

			*value = v[0] == 't' ? 1 : v[0] == 'f' ? 0 : strtoll(v, NULL, 10);
		}
	} else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		rc = SQLITE_DONE;
	} else if (code != NULL && strncmp(code, "23", 2) == 0) {
		rc = SQLITE_CONSTRAINT;
	}
	if (rc == SQLITE_ERROR)
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return rc;
}

static int sqlite_sql(const char *sql, int64_t *value)
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

int store_check_sql(const char *sql, int64_t *value)
{
	return store_check_pg() ? pg_sql(sql, value) : sqlite_sql(sql, value);
}

int64_t store_check_sql_int(const char *sql)
{
	int64_t v = -1;

	ck_assert_int_eq(store_check_sql(sql, &v), SQLITE_ROW);
	return v;
}

/* store_check_rows() on PostgreSQL: booleans as 1 and 0, as SQLite writes them. */
static char *pg_rows(const char *sql)
{
	PGconn *c = pg_open(true);
	PGresult *r = PQexec(c, sql);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r); i++) {
		for (int col = 0; col < PQnfields(r); col++) {
			const char *v = PQgetisnull(r, i, col) ? "NULL" : PQgetvalue(r, i, col);

			if (PQftype(r, col) == 16) /* bool */
				v = v[0] == 't' ? "1" : "0";
			fprintf(f, "%s%s", col ? "|" : "", v);
		}
		fputc('\n', f);
	}
	ck_assert_int_eq(fclose(f), 0);
	PQclear(r);
	PQfinish(c);
	return text;
}

static char *sqlite_rows(const char *sql)
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

char *store_check_rows(const char *sql)
{
	return store_check_pg() ? pg_rows(sql) : sqlite_rows(sql);
}

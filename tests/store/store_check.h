/*
 * store_check.h - helpers shared by the store's tests: a fresh state
 * directory, the store opened on it, an upload through the real path, and
 * SQL run on the state's database (SQLite's file, or the PostgreSQL schema
 * of the test when FITD_TEST_STORE is set) behind the store's back (to look at rows
 * exactly, or to put them in a state the API cannot reach).
 *
 * One state directory at a time, made by store_check_state_new() and
 * removed by store_check_state_remove(); Check's fork mode gives every test
 * its own. Each helper fails the test on an unexpected error.
 */
#ifndef TESTS_STORE_STORE_CHECK_H
#define TESTS_STORE_STORE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/*
 * True when the tests run on PostgreSQL: FITD_TEST_STORE holds the URI of
 * a test server's database (tests/pg/pgserver.sh sets it). Each test then
 * gets a schema of its own there, made with its state directory and
 * dropped with it, and the SQL helpers below run on that schema.
 */
bool store_check_pg(void);

/* The location the store opens: NULL for SQLite, the test schema's URI for PostgreSQL. */
const char *store_check_location(void);

/* Makes a new state directory under /tmp and returns its path (static storage). */
const char *store_check_state_new(void);

/* The current state directory. */
const char *store_check_state(void);

/* Removes the state directory and all it holds. */
void store_check_state_remove(void);

/* Makes the state's database from the SQL dump tests/data/name (before the store opens it). */
void store_check_load_dump(const char *name);

/* Opens the store on the state directory. */
struct store *store_check_open(void);

/* Uploads csv as dataset name in two writes, as the API does; returns the status. */
int store_check_upload(struct store *s, const char *csv, const char *name, struct store_dataset *d,
		       struct fitd_error *err);

/*
 * Runs one SQL statement on the state's database on a connection of its
 * own; returns what sqlite3_step did, with the first column of a first row
 * in *value (may be NULL).
 */
int store_check_sql(const char *sql, int64_t *value);

/* The integer that sql (one row, one column) reads. */
int64_t store_check_sql_int(const char *sql);

/*
 * Every column of the rows sql reads, as one string (columns separated by
 * '|', rows by '\n', SQL NULL as "NULL"); the caller frees it. For
 * comparing rows whole before and after an operation.
 */
char *store_check_rows(const char *sql);

#endif

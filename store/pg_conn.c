/*
 * pg_conn.c - the PostgreSQL engine's connections: a small pool of blocking
 * libpq connections, statements prepared once per connection, and the
 * mapping of server errors to fitd statuses.
 *
 * Blocking calls on the caller's thread, as the SQLite engine makes them:
 * every store function is already called off the event loop (HTTP threads,
 * the scheduler's threads), so a pool of plain connections guarded by one
 * mutex is the simplest sound shape. A connection belongs to the thread
 * that took it until it is given back; no connection is ever used by two
 * threads at once.
 *
 * A lost connection (the server restarted, a proxy cut it) is found when a
 * statement fails with CONNECTION_BAD. The next take reconnects with
 * back-off (50 ms doubling to 1 s, for up to timeout_ms) and forgets what
 * was prepared, so statements are prepared again on first use. A statement
 * outside a transaction, and the BEGIN of one, is tried once more on the
 * new connection; a failure inside a transaction is returned
 * (FITD_EUNAVAILABLE), since whether its commit happened cannot be known.
 * Once a reconnect gave up, the database counts as down: until a connect
 * succeeds, each take tries once, without back-off, so a thread making
 * several calls (a scheduler pass) does not wait out the back-off in each.
 * Once the daemon is stopping (store_stopping()) a reconnect is tried once,
 * and not at all while the database is down.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/clock.h"
#include "daemon/base/log.h"
#include "daemon/base/metrics.h"

bool store__pg_location(const char *location)
{
	return location != NULL && (strncmp(location, "postgresql://", 13) == 0 ||
				    strncmp(location, "postgres://", 11) == 0);
}

const char *store__pg_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

const char *store__pg_f64(char buf[32], double v)
{
	snprintf(buf, 32, "%.17g", v);
	return buf;
}

int64_t store__pg_get_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double store__pg_get_f64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0.0 : strtod(PQgetvalue(r, row, col), NULL);
}

bool store__pg_get_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

char *store__pg_strdup(const PGresult *r, int row, int col)
{
	return strdup(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

char *store__pg_str_or_null(const PGresult *r, int row, int col, bool *oom)
{
	char *copy;

	if (PQgetisnull(r, row, col))
		return NULL;
	copy = strdup(PQgetvalue(r, row, col));
	*oom |= copy == NULL;
	return copy;
}

void store__pg_copy_id(char dst[STORE_ID_MAX], const PGresult *r, int row, int col)
{
	snprintf(dst, STORE_ID_MAX, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Classes of SQLSTATE that say "try again later" rather than "this is wrong". */
static bool transient(const char *state)
{
	static const char *const codes[] = { "40001", "40P01", "55P03", "57P01",
					     "57P02", "57P03", "53300" };

	if (state == NULL)
		return false;
	if (strncmp(state, "08", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(state, codes[i]) == 0)
			return true;
	return false;
}

/* libpq's message up to its first line break, into buf (an answer's message is one line). */
static const char *first_line(const char *msg, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", msg);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int store__pg_error(PGconn *conn, const PGresult *res, const char *what, struct fitd_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char text[160];

	first_line(msg ? msg : conn ? PQerrorMessage(conn) : "no connection", text, sizeof(text));
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD || transient(state))
		return fitd_error_set(err, FITD_EUNAVAILABLE, NULL, "%s: database unavailable: %s",
				      what, text);
	if (state != NULL && strcmp(state, "53100") == 0)
		return fitd_error_set(err, FITD_ENOSPC, NULL, "%s: database disk is full", what);
	if (state != NULL && strcmp(state, "53200") == 0)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "%s: database out of memory", what);
	return fitd_error_set(err, FITD_ESTORE, NULL, "%s: %s", what, text);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Server notices ("relation already exists, skipping") are not fitd's to print. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void set_idle_tx(PGconn *conn, int ms)
{
	char sql[80];

	snprintf(sql, sizeof(sql), "SET idle_in_transaction_session_timeout = %d", ms);
	PQclear(PQexec(conn, sql));
}

/*
 * Opens (or reopens) c->conn; the URI's own settings win over these
 * defaults. False also when the connection is lost during its setting up
 * (pg_terminate_backend, a restart), so ensure() tries again rather than
 * hand out a dead connection.
 */
static bool connect_once(struct store_pg *pg, struct pg_conn *c)
{
	static const char *const keys[] = {
		"application_name", "connect_timeout", "keepalives", "keepalives_idle",
		"tcp_user_timeout", "dbname",	       NULL
	};
	const char *vals[] = { "fitd", "5", "1", "30", "30000", pg->uri, NULL };

	PQfinish(c->conn);
	c->conn = PQconnectdbParams(keys, vals, 1);
	c->nprepared = 0;
	c->in_tx = false;
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
		return false;
	PQsetNoticeProcessor(c->conn, quiet, NULL);
	/* Every *_at the store writes comes from the database clock in ms; make it UTC anyway. */
	PQclear(PQexec(c->conn, "SET TIME ZONE 'UTC'"));
	set_idle_tx(c->conn, pg->idle_tx_ms);
	return PQstatus(c->conn) == CONNECTION_OK;
}

void store_stopping(struct store *s)
{
	if (s != NULL && s->pg != NULL)
		atomic_store(&s->pg->stopping, true);
}

void store__pg_set_idle_tx(struct store *s, int ms)
{
	s->pg->idle_tx_ms = ms;
	for (int i = 0; i < s->pg->nconns; i++)
		if (s->pg->conns[i].conn != NULL && PQstatus(s->pg->conns[i].conn) == CONNECTION_OK)
			set_idle_tx(s->pg->conns[i].conn, ms);
}

static int ensure(struct store_pg *pg, struct pg_conn *c, struct fitd_error *err)
{
	int64_t delay = 50, waited = 0;
	char line[160];

	if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
		return FITD_OK;
	for (;;) {
		bool had = c->conn != NULL;

		bool down = atomic_load(&pg->down), stopping = atomic_load(&pg->stopping);

		if (down && stopping)
			return fitd_error_set(err, FITD_EUNAVAILABLE, NULL,
					      "database unreachable, the daemon is stopping");
		if (connect_once(pg, c)) {
			atomic_store(&pg->down, false);
			if (had)
				fitd_log_info("store_reconnected", "waited_ms=%" PRId64, waited);
			return FITD_OK;
		}
		if (down || stopping || waited + delay > pg->timeout_ms) {
			atomic_store(&pg->down, true);
			break;
		}
		sleep_ms(delay);
		waited += delay;
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
	return fitd_error_set(
	    err, FITD_EUNAVAILABLE, NULL, "database unreachable: %s",
	    first_line(c->conn ? PQerrorMessage(c->conn) : "out of memory", line, sizeof(line)));
}

int store__pg_take(struct store *s, struct pg_conn **out, struct fitd_error *err)
{
	struct store_pg *pg = s->pg;
	struct pg_conn *c;
	int rc;

	pthread_mutex_lock(&pg->lock);
	while (pg->free == NULL)
		pthread_cond_wait(&pg->freed, &pg->lock);
	c = pg->free;
	pg->free = c->next;
	pthread_mutex_unlock(&pg->lock);
	rc = ensure(pg, c, err);
	if (rc != FITD_OK) {
		store__pg_give(s, c);
		return rc;
	}
	*out = c;
	return FITD_OK;
}

void store__pg_give(struct store *s, struct pg_conn *c)
{
	struct store_pg *pg = s->pg;

	if (c->in_tx && c->conn != NULL)
		PQclear(PQexec(c->conn, "ROLLBACK"));
	c->in_tx = false;
	pthread_mutex_lock(&pg->lock);
	c->next = pg->free;
	pg->free = c;
	pthread_cond_signal(&pg->freed);
	pthread_mutex_unlock(&pg->lock);
}

/* The index of sql among c's prepared statements, preparing it when new; -1 on failure. */
static long prepared(struct pg_conn *c, const char *sql, int n, PGresult **fail)
{
	char name[32];
	PGresult *r;

	for (size_t i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == sql)
			return (long)i;
	if (c->nprepared == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		const char **p = realloc(c->prepared, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		c->prepared = p;
		c->cap = cap;
	}
	/* Names are never reused on one connection: a reconnect starts from f0 again. */
	snprintf(name, sizeof(name), "f%zu", c->nprepared);
	r = PQprepare(c->conn, name, sql, n, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		*fail = r;
		return -1;
	}
	PQclear(r);
	c->prepared[c->nprepared] = sql;
	return (long)c->nprepared++;
}

static PGresult *run_once(struct pg_conn *c, const char *sql, int n, const char *const *v,
			  const int *lens, const int *fmts, bool binary_result)
{
	PGresult *fail = NULL;
	char name[32];
	long i = prepared(c, sql, n, &fail);

	if (i < 0)
		return fail;
	snprintf(name, sizeof(name), "f%ld", i);
	return PQexecPrepared(c->conn, name, n, v, lens, fmts, binary_result ? 1 : 0);
}

int store__pg_run(struct pg_conn *c, const char *sql, int n, const char *const *v, const int *lens,
		  const int *fmts, bool binary_result, PGresult **res, const char *what,
		  struct fitd_error *err)
{
	PGresult *r = run_once(c, sql, n, v, lens, fmts, binary_result);
	ExecStatusType st = PQresultStatus(r);
	int rc;

	if (res != NULL)
		*res = NULL;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !c->in_tx &&
	    PQstatus(c->conn) == CONNECTION_BAD) {
		/*
		 * Outside a transaction only reads run (every write is in one), so
		 * nothing was half done: once more on a new connection.
		 */
		PQclear(r);
		r = NULL;
		c->nprepared = 0;
		if (ensure(c->pg, c, NULL) == FITD_OK)
			r = run_once(c, sql, n, v, lens, fmts, binary_result);
		st = PQresultStatus(r);
	}
	if (r == NULL && PQstatus(c->conn) == CONNECTION_OK) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "%s: out of memory", what);
		return rc;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = store__pg_error(c->conn, r, what, err);
		PQclear(r);
		return rc;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return FITD_OK;
}

int store__pg_exec(struct pg_conn *c, const char *sql, int n, const char *const *v, PGresult **res,
		   const char *what, struct fitd_error *err)
{
	return store__pg_run(c, sql, n, v, NULL, NULL, false, res, what, err);
}

int store__pg_cmd(struct pg_conn *c, const char *sql, int n, const char *const *v, int64_t *changed,
		  const char *what, struct fitd_error *err)
{
	PGresult *r = NULL;
	int rc = store__pg_run(c, sql, n, v, NULL, NULL, false, &r, what, err);

	if (rc == FITD_OK && changed != NULL)
		*changed = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

/* Runs a statement without parameters, unprepared (BEGIN, COMMIT, ROLLBACK). */
static int simple(struct pg_conn *c, const char *sql, struct fitd_error *err)
{
	PGresult *r = PQexec(c->conn, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? FITD_OK
						       : store__pg_error(c->conn, r, sql, err);

	PQclear(r);
	return rc;
}

int store__pg_begin(struct store *s, struct pg_conn **out, bool readonly, struct fitd_error *err)
{
	const char *begin = readonly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
	struct pg_conn *c;
	int rc = store__pg_take(s, &c, err);

	if (rc != FITD_OK)
		return rc;
	/* Timed from here: waiting for a connection is queueing, not the transaction. */
	c->start_ns = fitd_clock_ns();
	rc = simple(c, begin, err);
	if (rc != FITD_OK && PQstatus(c->conn) == CONNECTION_BAD) {
		/* The connection died while idle in the pool: BEGIN did nothing, try anew. */
		rc = ensure(s->pg, c, err);
		if (rc == FITD_OK)
			rc = simple(c, begin, err);
	}
	if (rc != FITD_OK) {
		store__pg_give(s, c);
		return rc;
	}
	c->in_tx = true;
	c->timed = !readonly;
	*out = c;
	return FITD_OK;
}

int store__pg_end(struct store *s, struct pg_conn *c, int rc, struct fitd_error *err)
{
	if (rc == FITD_OK) {
		rc = simple(c, "COMMIT", err);
		if (rc == FITD_OK)
			c->in_tx = false;
	}
	if (PQtransactionStatus(c->conn) == PQTRANS_IDLE)
		c->in_tx = false;
	if (c->timed)
		fitd_metrics_store_write(s->metrics, fitd_clock_ns() - c->start_ns);
	store__pg_give(s, c);
	return rc;
}

/* Removes what fetches and uploads a crash interrupted left in the cache (".*.tmp"). */
static void clear_fetches(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' && len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int store__pg_open(struct store *s, const struct store_options *opt, struct fitd_error *err)
{
	struct store_pg *pg = calloc(1, sizeof(*pg));
	int n = opt->readers > 0 ? opt->readers + 2 : 6;
	size_t len;
	int rc;

	if (pg == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "store pool");
	s->pg = pg;
	pg->node = s->node;
	pthread_mutex_init(&pg->lock, NULL);
	pthread_cond_init(&pg->freed, NULL);
	pg->timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
	pg->idle_tx_ms = 60000; /* until store_set_node() says the lease */
	pg->uri = strdup(opt->location);
	len = strlen(opt->state_dir) + sizeof("/cache");
	pg->cache_dir = malloc(len);
	pg->conns = calloc((size_t)n, sizeof(*pg->conns));
	if (pg->uri == NULL || pg->cache_dir == NULL || pg->conns == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "store pool");
	snprintf(pg->cache_dir, len, "%s/cache", opt->state_dir);
	pg->nconns = n;
	for (int i = 0; i < n; i++) {
		pg->conns[i].pg = pg;
		pg->conns[i].next = pg->free;
		pg->free = &pg->conns[i];
	}
	rc = store_files_mkdirs(pg->cache_dir, err);
	if (rc == FITD_OK)
		clear_fetches(pg->cache_dir);
	return rc;
}

const char *store__pg_cache_dir(struct store *s)
{
	return s->pg->cache_dir;
}

void store__pg_close(struct store *s)
{
	struct store_pg *pg = s->pg;

	if (pg == NULL)
		return;
	for (int i = 0; i < pg->nconns; i++) {
		PQfinish(pg->conns[i].conn);
		free(pg->conns[i].prepared);
	}
	free(pg->conns);
	pthread_cond_destroy(&pg->freed);
	pthread_mutex_destroy(&pg->lock);
	free(pg->uri);
	free(pg->cache_dir);
	free(pg);
	s->pg = NULL;
}

/* store__pg_list's work inside its snapshot. */
static int list_rows(struct pg_conn *c, const struct pg_list_kind *kind, const char *after,
		     const char *filter, size_t limit, void **out, size_t *n, bool *more,
		     struct fitd_error *err)
{
	char lim[24];
	const char *v[3] = { after, store__pg_i64(lim, (int64_t)limit + 1), filter };
	PGresult *r = NULL;
	char *items = NULL;
	size_t count = 0, rows;
	int rc = FITD_OK;

	if (after != NULL) {
		rc = store__pg_exec(c, kind->cursor_sql, 1, v, &r, kind->what, err);
		if (rc == FITD_OK && PQntuples(r) == 0)
			rc = fitd_error_set(err, FITD_EINVAL, "invalid_cursor",
					    "'after' names no %s: '%s'", kind->noun, after);
		PQclear(r);
		r = NULL;
	}
	if (rc == FITD_OK)
		rc = store__pg_exec(c, kind->page_sql, 3, v, &r, kind->what, err);
	if (rc != FITD_OK)
		return rc;
	rows = (size_t)PQntuples(r);
	items = calloc(limit + 1, kind->size);
	if (items == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "%s", kind->what);
	for (; rc == FITD_OK && count < rows && count < limit; count++) {
		rc = kind->from_row(r, (int)count, items + count * kind->size, err);
		if (rc != FITD_OK)
			break;
	}
	PQclear(r);
	if (rc != FITD_OK) {
		while (items != NULL && count > 0)
			kind->release(items + --count * kind->size);
		free(items);
		return rc;
	}
	*out = items;
	*n = count;
	*more = rows > limit;
	return FITD_OK;
}

int store__pg_list(struct store *s, const struct pg_list_kind *kind, const char *after,
		   const char *filter, size_t limit, void **out, size_t *n, bool *more,
		   struct fitd_error *err)
{
	struct pg_conn *c;
	bool filled;
	int rc;

	*out = NULL;
	*n = 0;
	*more = false;
	rc = store__pg_begin(s, &c, true, err);
	if (rc != FITD_OK)
		return rc;
	rc = list_rows(c, kind, after, filter, limit, out, n, more, err);
	filled = rc == FITD_OK;
	rc = store__pg_end(s, c, rc, err);
	if (rc != FITD_OK && filled) { /* the snapshot's end failed after the read */
		while (*n > 0)
			kind->release((char *)*out + --*n * kind->size);
		free(*out);
		*out = NULL;
		*more = false;
	}
	return rc;
}

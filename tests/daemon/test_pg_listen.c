/*
 * test_pg_listen.c - the LISTEN connection on a real PostgreSQL (run beside
 * tests/pg/pgserver.sh, FITD_TEST_STORE): it comes up without blocking the
 * loop, hands over the notifications of its channel only and those of
 * committed transactions only, comes back after pg_terminate_backend
 * (counted), resolves a host name, keeps trying a server that is not
 * there, and closes every handle it made, whenever it is freed.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "daemon/base/metrics.h"
#include "daemon/pg_listen.h"

struct seen {
	int ups, downs, jobs;
	char last[64];
	char all[512]; /* the job ids, space-separated */
};

static void on_job(void *data, const char *job_id)
{
	struct seen *s = data;
	size_t len = strlen(s->all);

	s->jobs++;
	snprintf(s->last, sizeof(s->last), "%s", job_id);
	snprintf(s->all + len, sizeof(s->all) - len, "%s%s", len ? " " : "", job_id);
}

static void on_state(void *data, bool up)
{
	struct seen *s = data;

	if (up)
		s->ups++;
	else
		s->downs++;
}

static void on_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop until *count reaches want or ms pass; whether it did. */
static bool run_until(uv_loop_t *loop, const int *count, int want, uint64_t ms)
{
	uv_timer_t deadline;
	bool expired = false;

	uv_timer_init(loop, &deadline);
	deadline.data = &expired;
	uv_timer_start(&deadline, on_deadline, ms, 0);
	while (*count < want && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *count >= want;
}

static const char *store_uri(void)
{
	const char *uri = getenv("FITD_TEST_STORE");

	ck_assert_msg(uri != NULL, "run beside tests/pg/pgserver.sh");
	return uri;
}

static void sql(const char *text)
{
	PGconn *c = PQconnectdb(store_uri());
	PGresult *r;

	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, text);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", text, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* Frees l and runs the loop out: every handle it made must be closed. */
static void free_and_close(uv_loop_t *loop, struct pg_listen *l)
{
	pg_listen_free(l);
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}

static struct pg_listen *start(uv_loop_t *loop, const char *uri, struct fitd_metrics *m,
			       struct seen *s)
{
	struct pg_listen_options o = { .uri = uri,
				       .metrics = m,
				       .node = "me",
				       .on_job = on_job,
				       .on_state = on_state,
				       .data = s };
	struct pg_listen *l = NULL;

	ck_assert_int_eq(uv_loop_init(loop), 0);
	ck_assert_int_eq(pg_listen_new(loop, &o, &l, NULL), FITD_OK);
	return l;
}

START_TEST(notifications_and_reconnect)
{
	struct fitd_metrics *m;
	struct seen s = { 0 };
	uv_loop_t loop;
	struct pg_listen *l;

	ck_assert_int_eq(fitd_metrics_new(&m), FITD_OK);
	l = start(&loop, store_uri(), m, &s);
	ck_assert(!pg_listen_up(l)); /* nothing waited on in pg_listen_new() */
	ck_assert(run_until(&loop, &s.ups, 1, 5000));
	ck_assert(pg_listen_up(l));
	ck_assert_uint_eq(atomic_load(&m->listen_connected), 1);

	/*
	 * Its channel only; a rolled-back transaction's notification never
	 * comes; another node's names the job alone, and its own is skipped.
	 */
	sql("NOTIFY fitd_events, 'job_a'");
	sql("NOTIFY other_channel, 'job_x'");
	sql("BEGIN; NOTIFY fitd_events, 'job_rolled_back'; ROLLBACK");
	sql("NOTIFY fitd_events, 'job_mine me'");
	sql("NOTIFY fitd_events, 'job_b other'");
	ck_assert(run_until(&loop, &s.jobs, 2, 5000));
	ck_assert(!run_until(&loop, &s.jobs, 3, 300));
	ck_assert_str_eq(s.all, "job_a job_b");
	ck_assert_uint_eq(atomic_load(&m->notifications), 3);

	/* The server ends it: down, then up again within the back-off. */
	sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE application_name = 'fitd-listen'");
	ck_assert(run_until(&loop, &s.ups, 2, 5000));
	ck_assert_int_eq(s.downs, 1);
	ck_assert_uint_eq(atomic_load(&m->listen_reconnects), 1);
	ck_assert_uint_eq(atomic_load(&m->listen_connected), 1);
	sql("NOTIFY fitd_events, 'job_c'");
	ck_assert(run_until(&loop, &s.jobs, 3, 5000));
	ck_assert_str_eq(s.last, "job_c");

	free_and_close(&loop, l);
	ck_assert_uint_eq(atomic_load(&m->listen_connected), 0);
	ck_assert_int_eq(s.downs, 1); /* no callback from pg_listen_free() */
	fitd_metrics_free(m);
}
END_TEST

/* "localhost" for the address: resolved off the loop, then connected. */
START_TEST(host_name)
{
	char uri[256];
	const char *at = strstr(store_uri(), "127.0.0.1");
	struct seen s = { 0 };
	uv_loop_t loop;
	struct pg_listen *l;

	ck_assert_ptr_nonnull(at);
	snprintf(uri, sizeof(uri), "%.*slocalhost%s", (int)(at - store_uri()), store_uri(),
		 at + strlen("127.0.0.1"));
	l = start(&loop, uri, NULL, &s);
	ck_assert(run_until(&loop, &s.ups, 1, 5000));
	sql("NOTIFY fitd_events, 'job_by_name'");
	ck_assert(run_until(&loop, &s.jobs, 1, 5000));
	ck_assert_str_eq(s.last, "job_by_name");
	free_and_close(&loop, l);
}
END_TEST

/* A port nobody listens on: it keeps trying (no up, nothing counted) and frees cleanly. */
START_TEST(server_absent)
{
	struct fitd_metrics *m;
	struct seen s = { 0 };
	uv_loop_t loop;
	struct pg_listen *l;

	ck_assert_int_eq(fitd_metrics_new(&m), FITD_OK);
	l = start(&loop, "postgresql://fitd@127.0.0.1:1/fitd", m, &s);
	ck_assert(!run_until(&loop, &s.ups, 1, 500));
	ck_assert_int_eq(s.downs, 0);
	ck_assert_uint_eq(atomic_load(&m->listen_reconnects), 0);
	ck_assert_uint_eq(atomic_load(&m->listen_connected), 0);
	free_and_close(&loop, l);
	fitd_metrics_free(m);
}
END_TEST

/* Freed at once, in the middle of connecting or resolving: nothing left behind. */
START_TEST(freed_while_connecting)
{
	struct seen s = { 0 };
	uv_loop_t loop;

	free_and_close(&loop, start(&loop, store_uri(), NULL, &s));
	free_and_close(&loop, start(&loop, "postgresql://fitd@localhost:1/fitd", NULL, &s));
	ck_assert_int_eq(s.ups + s.downs, 0);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("pg_listen");
	TCase *tc = tcase_create("pg_listen");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, notifications_and_reconnect);
	tcase_add_test(tc, host_name);
	tcase_add_test(tc, server_absent);
	tcase_add_test(tc, freed_while_connecting);
	suite_add_tcase(suite, tc);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

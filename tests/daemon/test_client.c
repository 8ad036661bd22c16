/*
 * test_client.c - the command-line client's buffers: its aligned tables up
 * to their cap, and its HTTP layer (daemon/client_http.c) against a canned
 * server on a loopback port: JSON answers and errors, and Server-Sent
 * Events cut into small pieces, with CRLF line ends, comments and
 * multi-line data, and a line past the client's limit.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/client.h"

/* ---- the tables ---- */

static char *print_table(const struct client_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	client_table_print(t, f);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

START_TEST(table_aligns_its_columns)
{
	struct client_table t;
	char *text;

	client_table_init(&t, 3);
	client_table_row(&t, "JOB", "STATE", "BEST");
	client_table_row(&t, "job_1", "succeeded", "0.9500");
	client_table_row(&t, "job_22", NULL, "-");
	text = print_table(&t);
	ck_assert_str_eq(text, "JOB     STATE      BEST\n"
			       "job_1   succeeded  0.9500\n"
			       "job_22             -\n");
	free(text);
	client_table_release(&t);
}
END_TEST

START_TEST(table_counts_the_rows_past_its_cap)
{
	struct client_table t;
	char row[32], *text, *last;

	client_table_init(&t, 2);
	for (int i = 0; i < CLIENT_TABLE_ROWS_MAX + 3; i++) {
		snprintf(row, sizeof(row), "%d", i);
		client_table_row(&t, row, "x");
	}
	ck_assert_uint_eq(t.rows, CLIENT_TABLE_ROWS_MAX);
	ck_assert_uint_eq(t.dropped, 3);
	text = print_table(&t);
	/* The last row kept, then the count of the others. */
	last = text + strlen(text) - 1;
	while (last > text && last[-1] != '\n')
		last--;
	ck_assert_str_eq(last, "... 3 more rows not shown (--json lists them all)\n");
	snprintf(row, sizeof(row), "\n%d ", CLIENT_TABLE_ROWS_MAX - 1);
	ck_assert_ptr_nonnull(strstr(text, row));
	snprintf(row, sizeof(row), "\n%d ", CLIENT_TABLE_ROWS_MAX);
	ck_assert_ptr_null(strstr(text, row));
	free(text);
	client_table_release(&t);
}
END_TEST

/* ---- a canned server: one connection, one answer written in pieces ---- */

struct canned {
	int listener;
	uint16_t port;
	const char *answer; /* head and body */
	size_t len;
	size_t piece; /* bytes per write; 0: all at once */
	char request[4096];
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct canned *c = arg;
	int fd = accept(c->listener, NULL, NULL);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	while (got < sizeof(c->request) - 1 && strstr(c->request, "\r\n\r\n") == NULL &&
	       (n = read(fd, c->request + got, sizeof(c->request) - 1 - got)) > 0)
		got += (size_t)n;
	for (size_t off = 0; off < c->len;) {
		size_t k = c->piece && c->piece < c->len - off ? c->piece : c->len - off;

		n = send(fd, c->answer + off, k, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
		if (c->piece)
			usleep(200);
	}
	close(fd);
	return NULL;
}

static void canned_start(struct canned *c, const char *answer, size_t len, size_t piece)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	memset(c, 0, sizeof(*c));
	c->answer = answer;
	c->len = len;
	c->piece = piece;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->listener = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(c->listener, 0);
	ck_assert_int_eq(bind(c->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(c->listener, 1), 0);
	ck_assert_int_eq(getsockname(c->listener, (struct sockaddr *)&sa, &sl), 0);
	c->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, serve, c), 0);
}

static void canned_stop(struct canned *c)
{
	pthread_join(c->thread, NULL);
	close(c->listener);
}

static void open_client(struct client *cl, const struct canned *c)
{
	char url[64];
	struct client_args a = { .url = url };

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", c->port);
	ck_assert_int_eq(client_open(cl, &a), CLIENT_OK);
}

/* An answer with a Content-Length; malloc'd. */
static char *http_answer(const char *status, const char *body, size_t *len)
{
	char *text = NULL;
	int n = asprintf(&text,
			 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 status, strlen(body), body);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	return text;
}

START_TEST(call_reads_a_large_json_answer)
{
	size_t n = 200000, len;
	char *body = malloc(n + 32), *answer;
	struct canned srv;
	struct client cl;
	json_t *doc = NULL;

	ck_assert_ptr_nonnull(body);
	memcpy(body, "{\"items\":\"", 10);
	memset(body + 10, 'z', n);
	memcpy(body + 10 + n, "\"}", 3);
	answer = http_answer("200 OK", body, &len);
	canned_start(&srv, answer, len, 4096);
	open_client(&cl, &srv);
	ck_assert_int_eq(client_call(&cl, "GET", "/v1/jobs", NULL, &doc), CLIENT_OK);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(doc, "items"))), n);
	ck_assert_ptr_nonnull(strstr(srv.request, "GET /v1/jobs HTTP/1.1\r\n"));
	json_decref(doc);
	client_close(&cl);
	canned_stop(&srv);
	free(answer);
	free(body);
}
END_TEST

/* The exit status of a call answered with status and body. */
static int call_answered(const char *status, const char *body)
{
	size_t len;
	char *answer = http_answer(status, body, &len);
	struct canned srv;
	struct client cl;
	json_t *doc = NULL;
	int rc;

	canned_start(&srv, answer, len, 0);
	open_client(&cl, &srv);
	rc = client_call(&cl, "POST", "/v1/jobs", NULL, &doc);
	ck_assert_ptr_null(doc);
	client_close(&cl);
	canned_stop(&srv);
	free(answer);
	return rc;
}

START_TEST(call_turns_errors_into_exit_statuses)
{
	ck_assert_int_eq(call_answered("404 Not Found",
				       "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}"),
			 CLIENT_API_ERROR);
	ck_assert_int_eq(call_answered("401 Unauthorized", "{\"error\":{\"code\":\"unauthorized\","
							   "\"message\":\"no\"}}"),
			 CLIENT_AUTH);
	ck_assert_int_eq(call_answered("200 OK", "not json"), CLIENT_API_ERROR);
}
END_TEST

/* ---- event streams ---- */

struct seen {
	char text[4096]; /* "id|event|data;" per event */
	int n;
	int stop_after; /* 0: never stop */
};

static bool on_event(void *arg, const char *id, const char *event, const char *data)
{
	struct seen *s = arg;
	size_t used = strlen(s->text);

	snprintf(s->text + used, sizeof(s->text) - used, "%s|%s|%s;", id, event, data);
	s->n++;
	return s->stop_after == 0 || s->n < s->stop_after;
}

static const char sse_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			       "Connection: close\r\n\r\n";

START_TEST(stream_joins_lines_cut_anywhere)
{
	static const char body[] = "retry: 2000\n\n"
				   "id: 1\nevent: job_state\ndata: {\"state\":\"running\"}\n\n"
				   ": keepalive\n\n"
				   "id: 2\r\nevent: trial_finished\r\ndata: line one\r\n"
				   "data: line two\r\n\r\n"
				   "data: no id\n\n"
				   "id: 3\nevent: job_state\ndata: {\"state\":\"succeeded\"}\n\n";
	char answer[1024];
	struct seen seen = { 0 };
	struct canned srv;
	struct client cl;

	snprintf(answer, sizeof(answer), "%s%s", sse_head, body);
	canned_start(&srv, answer, strlen(answer), 3);
	open_client(&cl, &srv);
	ck_assert_int_eq(client_stream(&cl, "/v1/jobs/j/events", "7", on_event, &seen), CLIENT_OK);
	ck_assert_str_eq(seen.text, "1|job_state|{\"state\":\"running\"};"
				    "2|trial_finished|line one\nline two;"
				    "2|message|no id;"
				    "3|job_state|{\"state\":\"succeeded\"};");
	ck_assert_ptr_nonnull(strstr(srv.request, "\r\nLast-Event-ID: 7\r\n"));
	client_close(&cl);
	canned_stop(&srv);
}
END_TEST

START_TEST(stream_stops_when_asked)
{
	static const char body[] = "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n";
	char answer[512];
	struct seen seen = { .stop_after = 2 };
	struct canned srv;
	struct client cl;

	snprintf(answer, sizeof(answer), "%s%s", sse_head, body);
	canned_start(&srv, answer, strlen(answer), 0);
	open_client(&cl, &srv);
	ck_assert_int_eq(client_stream(&cl, "/e", NULL, on_event, &seen), CLIENT_OK);
	ck_assert_str_eq(seen.text, "1|message|a;2|message|b;");
	client_close(&cl);
	canned_stop(&srv);
}
END_TEST

START_TEST(stream_line_past_the_limit_is_a_dropped_stream)
{
	size_t big = ((size_t)16 << 20) + 10, head = strlen(sse_head);
	char *answer = malloc(head + 64 + big);
	struct seen seen = { 0 };
	struct canned srv;
	struct client cl;
	size_t len;

	ck_assert_ptr_nonnull(answer);
	len = (size_t)snprintf(answer, head + 64, "%sid: 1\ndata: ok\n\ndata: ", sse_head);
	memset(answer + len, 'x', big);
	len += big;
	canned_start(&srv, answer, len, 0);
	open_client(&cl, &srv);
	ck_assert_int_eq(client_stream(&cl, "/e", NULL, on_event, &seen), CLIENT_UNREACHABLE);
	ck_assert_str_eq(seen.text, "1|message|ok;");
	ck_assert_str_eq(cl.error, "an event line passed the limit of 16777216 bytes");
	client_close(&cl);
	canned_stop(&srv);
	free(answer);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon_client");
	TCase *tc = tcase_create("client");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, table_aligns_its_columns);
	tcase_add_test(tc, table_counts_the_rows_past_its_cap);
	tcase_add_test(tc, call_reads_a_large_json_answer);
	tcase_add_test(tc, call_turns_errors_into_exit_statuses);
	tcase_add_test(tc, stream_joins_lines_cut_anywhere);
	tcase_add_test(tc, stream_stops_when_asked);
	tcase_add_test(tc, stream_line_past_the_limit_is_a_dropped_stream);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_server.c - the API's buffers at their caps, through a real server on
 * a loopback port over a store in a temporary directory.
 *
 * A buffered request body (sent chunked, so no Content-Length stops it
 * early) is read whole up to its route's limit and refused with 413 one
 * byte past it; a prediction body has the larger limit of its own. An
 * event stream whose batch of events does not fit its buffer's cap still
 * gives every event once, in order, and ends cleanly; a single event larger
 * than the cap cuts the stream after the events before it, so the client
 * resumes rather than taking a clean end for the last word. A stream whose
 * job is deleted while it replays ends cleanly with a job_deleted event.
 *
 * An answer decided before the body is in reaches a client that sends its
 * whole body first (the body is read and dropped), whatever the answer;
 * a body declared past the drain's bound, or sent with Expect:
 * 100-continue, is answered at once; a chunked body that keeps coming past
 * the bound is cut unanswered.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api/internal.h"
#include "daemon/base/buf.h"
#include "store/store.h"

#define JSON_MAX    4096
#define PREDICT_MAX (64 * 1024)

struct fixture {
	char state[64];
	struct store *store;
	struct api_server *api;
	uint16_t port;
	char dataset[STORE_ID_MAX];
};

static struct fixture fx;

struct reply {
	int status;
	struct fitd_buf raw; /* the whole answer as read */
	const char *body;    /* into a copy of raw, unchunked */
	char *copy;
	size_t len;
	bool whole; /* the body ended as announced: a last chunk, or Content-Length reached */
};

/* ---- a small HTTP/1.1 client ---- */

/* A connection to the server; rcvbuf > 0 sets a small receive buffer first (a slow reader). */
static int dial_with(int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(fx.port) };
	struct timeval tv = { .tv_sec = 60 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (rcvbuf > 0)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int dial(void)
{
	return dial_with(0);
}

/* Sends what it can of [p, p + n); returns the bytes sent (fewer once the server closed). */
static size_t send_all(int fd, const char *p, size_t n)
{
	size_t sent = 0;

	while (sent < n) {
		ssize_t k = send(fd, p + sent, n - sent, MSG_NOSIGNAL);

		if (k <= 0)
			break; /* the server answered early and closed: read what it said */
		sent += (size_t)k;
	}
	return sent;
}

/* Joins a chunked body in place; whole when its last chunk came. */
static void unchunk(struct reply *r, char *in, char *end)
{
	char *out = in;

	r->body = in;
	r->whole = false;
	while (in < end) {
		char *line_end = strstr(in, "\r\n");
		unsigned long n;

		if (line_end == NULL)
			break;
		n = strtoul(in, NULL, 16);
		if (n == 0) {
			r->whole = true;
			break;
		}
		if ((size_t)(end - line_end) < 2 + n + 2)
			break;
		memmove(out, line_end + 2, n);
		out += n;
		in = line_end + 2 + n + 2;
	}
	r->len = (size_t)(out - r->body);
	*out = '\0';
}

/*
 * Reads what comes on fd to the connection's end into r; false when the
 * connection was reset or timed out instead, or nothing came (r->status 0).
 */
static void reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	fitd_buf_init(&r->raw, (size_t)64 << 20);
}

/* Reads from fd into r->raw until it holds at least until bytes or the connection ends. */
static ssize_t read_until(int fd, struct reply *r, size_t until)
{
	char chunk[65536];
	ssize_t n = 1;

	while (r->raw.len < until && (n = read(fd, chunk, sizeof(chunk))) > 0)
		ck_assert_int_eq(fitd_buf_add(&r->raw, chunk, (size_t)n), FITD_OK);
	return n;
}

/* receive_any() after some of the answer is already in r (reply_init, read_until). */
static bool receive_rest(int fd, struct reply *r)
{
	char *head_end;
	const char *te;
	ssize_t n = read_until(fd, r, SIZE_MAX);

	close(fd);
	if (n != 0 || r->raw.data == NULL)
		return false;
	r->copy = malloc(r->raw.len + 1);
	ck_assert_ptr_nonnull(r->copy);
	memcpy(r->copy, r->raw.data, r->raw.len + 1);
	head_end = strstr(r->copy, "\r\n\r\n");
	if (head_end == NULL || sscanf(r->copy, "HTTP/1.1 %d ", &r->status) != 1)
		return false;
	*head_end = '\0';
	te = strcasestr(r->copy, "\r\nTransfer-Encoding: chunked");
	if (te != NULL) {
		unchunk(r, head_end + 4, r->copy + r->raw.len);
		return true;
	}
	r->body = head_end + 4;
	r->len = r->raw.len - (size_t)(r->body - r->copy);
	r->whole = true;
	return true;
}

/* Reads the answer on fd to the connection's end into r. */
static bool receive_any(int fd, struct reply *r)
{
	reply_init(r);
	return receive_rest(fd, r);
}

static void receive(int fd, struct reply *r)
{
	ck_assert_msg(receive_any(fd, r), "no answer, or no end of connection");
}

static void reply_release(struct reply *r)
{
	fitd_buf_release(&r->raw);
	free(r->copy);
}

/* POSTs n bytes of body to path, sent as chunks of at most 1000 bytes without Content-Length. */
static void post_chunked(const char *path, const char *type, const char *body, size_t n,
			 struct reply *r)
{
	char head[512];
	int fd = dial();
	int k = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			 "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
			 path, type);

	send_all(fd, head, (size_t)k);
	for (size_t off = 0; off < n; off += 1000) {
		size_t len = n - off < 1000 ? n - off : 1000;

		k = snprintf(head, sizeof(head), "%zx\r\n", len);
		send_all(fd, head, (size_t)k);
		send_all(fd, body + off, len);
		send_all(fd, "\r\n", 2);
	}
	send_all(fd, "0\r\n\r\n", 5);
	receive(fd, r);
}

/*
 * POSTs a body of n bytes with Content-Length, sent whole before reading
 * anything, as Python's urllib and requests do; *sent gets the bytes that
 * went out. Returns whether an answer came (into r).
 */
static bool post_whole(const char *path, const char *type, size_t n, size_t *sent, struct reply *r)
{
	char head[512];
	char *body = malloc(n ? n : 1);
	int fd = dial();
	int k = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			 "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			 path, type, n);
	bool answered;

	ck_assert_ptr_nonnull(body);
	memset(body, 'x', n);
	send_all(fd, head, (size_t)k);
	*sent = send_all(fd, body, n);
	answered = receive_any(fd, r);
	free(body);
	return answered;
}

/* Sends only the head of a POST (no body); the answer, if one comes, into r. */
static bool post_head(const char *path, const char *extra, uint64_t length, struct reply *r)
{
	char head[512];
	int fd = dial();
	int k = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			 "Content-Type: application/json\r\nContent-Length: %llu\r\n%s\r\n",
			 path, (unsigned long long)length, extra);

	send_all(fd, head, (size_t)k);
	return receive_any(fd, r);
}

static void get(const char *path, const char *extra, struct reply *r)
{
	char head[512];
	int fd = dial();
	int k = snprintf(head, sizeof(head),
			 "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n", path,
			 extra);

	send_all(fd, head, (size_t)k);
	receive(fd, r);
}

/* The "code" of a JSON error body, into code; "" when there is none. */
static void error_code(const struct reply *r, char *code, size_t cap)
{
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));

	snprintf(code, cap, "%s", c ? c : "");
	json_decref(doc);
}

/* Status and error code of a POST of n bytes: n - 2 spaces, then "[]" (a JSON array). */
static void post_padded(const char *path, const char *type, size_t n, int *status, char *code,
			size_t cap)
{
	char *body = malloc(n);
	struct reply r;

	ck_assert_ptr_nonnull(body);
	memset(body, ' ', n - 2);
	memcpy(body + n - 2, "[]", 2);
	post_chunked(path, type, body, n, &r);
	*status = r.status;
	error_code(&r, code, cap);
	reply_release(&r);
	free(body);
}

/* ---- the fixture ---- */

static void setup(void)
{
	static const char csv[] = "x,y\n1,2\n2,4\n3,6\n4,8\n";
	struct store_options sopt = { 0 };
	struct api_options opt = { .host = "127.0.0.1",
				   .threads = 1,
				   .connection_limit = 16,
				   .idle_timeout_s = 60,
				   .connection_memory = 128 * 1024,
				   .max_upload_bytes = 1 << 20,
				   .max_json_bytes = JSON_MAX,
				   .max_predict_bytes = PREDICT_MAX,
				   .max_streams = 4,
				   .max_predict_rows = 100,
				   .model_cache = 2 };
	struct fitd_error err = { 0 };
	struct store_upload *up = NULL;
	const struct fit_frame *frame;
	struct store_dataset ds;

	snprintf(fx.state, sizeof(fx.state), "/tmp/fitd-test-server-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.state));
	sopt.state_dir = fx.state;
	ck_assert_msg(store_open(&sopt, &fx.store, &err) == FITD_OK, "%s", err.message);
	ck_assert_int_eq(store_upload_begin(fx.store, sizeof(csv) - 1, &up, &err), FITD_OK);
	ck_assert_int_eq(store_upload_write(up, csv, sizeof(csv) - 1, &err), FITD_OK);
	ck_assert_int_eq(store_upload_parse(up, NULL, &frame, &err), FITD_OK);
	ck_assert_msg(store_upload_commit(up, "t", "[]", &ds, &err) == FITD_OK, "%s", err.message);
	store_upload_free(up);
	snprintf(fx.dataset, sizeof(fx.dataset), "%s", ds.id);
	store_dataset_release(&ds);
	ck_assert_msg(api_server_start(&opt, fx.store, &fx.api, &err) == FITD_OK, "%s",
		      err.message);
	fx.port = api_server_port(fx.api);
	api_server_set_ready(fx.api, true);
}

static void teardown(void)
{
	char cmd[128];

	api_server_stop(fx.api, 5000);
	store_close(fx.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.state);
	ck_assert_int_eq(system(cmd), 0);
}

/* A running job of the fixture's dataset; its id into id. */
static void new_job(char id[STORE_ID_MAX])
{
	struct store_job_new in = { .dataset_id = fx.dataset,
				    .target = "y",
				    .task = "regression",
				    .metric = "rmse",
				    .spec_json = "{}",
				    .max_attempts = 3 };
	struct fitd_error err = { 0 };
	struct store_job job;
	bool existed;

	ck_assert_msg(store_job_create(fx.store, &in, &job, &existed, &err) == FITD_OK, "%s",
		      err.message);
	snprintf(id, STORE_ID_MAX, "%s", job.id);
	store_job_release(&job);
	ck_assert_int_eq(store_job_start(fx.store, id, "{}", &err), FITD_OK);
}

/* Adds an event whose data is a JSON string of n bytes in all; its id. */
static int64_t add_event(const char *job, int i, size_t n)
{
	struct fitd_error err = { 0 };
	char *data = malloc(n + 1);
	int64_t id;

	ck_assert_ptr_nonnull(data);
	memset(data, 'a' + i % 26, n);
	data[0] = data[n - 1] = '"';
	data[n] = '\0';
	ck_assert_int_eq(store_event_add(fx.store, job, "trial_progress", data, &id, &err),
			 FITD_OK);
	free(data);
	return id;
}

/*
 * Checks the events of an SSE body against the job's stored ones from
 * *next on, each whole; returns how many came.
 */
static size_t check_events(const char *body, const struct store_event *ev, size_t nev, size_t *next)
{
	const char *p = body;
	size_t came = 0;

	while (*p != '\0') {
		const char *end = strstr(p, "\n\n");
		char head[128];
		size_t hlen;

		ck_assert_msg(end != NULL, "a cut event");
		if (strncmp(p, "retry: ", 7) == 0) {
			p = end + 2;
			continue;
		}
		ck_assert_msg(*next < nev, "more events than stored");
		hlen = (size_t)snprintf(head, sizeof(head),
					"id: %lld\nevent: %s\ndata: ", (long long)ev[*next].id,
					ev[*next].type);
		ck_assert_msg(strncmp(p, head, hlen) == 0, "event %zu: wrong head '%.60s'", *next,
			      p);
		ck_assert_msg((size_t)(end - p) == hlen + strlen(ev[*next].data) &&
				  memcmp(p + hlen, ev[*next].data, strlen(ev[*next].data)) == 0,
			      "event %zu: wrong data", *next);
		(*next)++;
		came++;
		p = end + 2;
	}
	return came;
}

static void stored_events(const char *job, struct store_event **ev, size_t *n)
{
	struct fitd_error err = { 0 };

	ck_assert_int_eq(store_event_list(fx.store, job, 0, 1000, ev, n, &err), FITD_OK);
}

static void free_events(struct store_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_event_release(&ev[i]);
	free(ev);
}

/* ---- the tests ---- */

START_TEST(json_body_is_read_whole_up_to_its_limit)
{
	char code[64];
	int status;

	/* Exactly the limit: the handler sees the whole body, an array. */
	post_padded("/v1/jobs", "application/json", JSON_MAX, &status, code, sizeof(code));
	ck_assert_int_eq(status, 400);
	ck_assert_str_eq(code, "wrong_type");
	/* One byte more: refused while it arrives. */
	post_padded("/v1/jobs", "application/json", JSON_MAX + 1, &status, code, sizeof(code));
	ck_assert_int_eq(status, 413);
	ck_assert_str_eq(code, "payload_too_large");
}
END_TEST

START_TEST(predict_body_has_its_own_limit)
{
	static const char path[] = "/v1/models/mdl_00000000000000000000/predict";
	char code[64];
	int status;

	/* Over the JSON limit but within the prediction limit: read whole, then no such model. */
	post_padded(path, "application/json", PREDICT_MAX, &status, code, sizeof(code));
	ck_assert_int_eq(status, 404);
	ck_assert_str_eq(code, "model_not_found");
	post_padded(path, "application/json", PREDICT_MAX + 1, &status, code, sizeof(code));
	ck_assert_int_eq(status, 413);
	ck_assert_str_eq(code, "payload_too_large");
}
END_TEST

START_TEST(stream_batch_larger_than_its_buffer_comes_whole)
{
	struct fitd_error err = { 0 };
	struct store_event *ev = NULL;
	char job[STORE_ID_MAX], path[128];
	size_t nev = 0, next = 0, bytes = 0;
	struct reply r;

	new_job(job);
	/* 40 events of 100 KB: one batch (64 events) would be 4 MB, four times the cap. */
	for (int i = 0; i < 40; i++)
		add_event(job, i, 100 * 1000);
	ck_assert_int_eq(store_job_finish(fx.store, job, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
	stored_events(job, &ev, &nev);
	for (size_t i = 0; i < nev; i++)
		bytes += strlen(ev[i].data);
	ck_assert_uint_gt(bytes, 3 * API__STREAM_BUF_MAX);
	snprintf(path, sizeof(path), "/v1/jobs/%s/events", job);
	get(path, "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(check_events(r.body, ev, nev, &next), nev);
	ck_assert_msg(r.whole, "the stream did not end cleanly");
	reply_release(&r);
	free_events(ev, nev);
}
END_TEST

START_TEST(event_larger_than_the_buffer_cuts_the_stream)
{
	struct fitd_error err = { 0 };
	struct store_event *ev = NULL;
	char job[STORE_ID_MAX], path[128], extra[64];
	size_t nev = 0, next = 0, big = 0;
	int64_t big_id;
	struct reply r;

	new_job(job);
	add_event(job, 0, 1000);
	big_id = add_event(job, 1, API__STREAM_BUF_MAX + 1);
	ck_assert_int_eq(store_job_finish(fx.store, job, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
	stored_events(job, &ev, &nev);
	while (big < nev && ev[big].id != big_id)
		big++;
	ck_assert_uint_lt(big, nev - 1); /* the job's end comes after it */
	snprintf(path, sizeof(path), "/v1/jobs/%s/events", job);
	get(path, "", &r);
	ck_assert_int_eq(r.status, 200);
	/* Every event before the big one, then a cut: never a clean end. */
	ck_assert_uint_eq(check_events(r.body, ev, nev, &next), big);
	ck_assert_msg(!r.whole, "the stream ended cleanly without the big event");
	reply_release(&r);
	/* Resuming after the last event given: cut again, with nothing. */
	snprintf(extra, sizeof(extra), "Last-Event-ID: %lld\r\n", (long long)ev[big - 1].id);
	get(path, extra, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(check_events(r.body, ev, nev, &next), 0);
	ck_assert(!r.whole);
	reply_release(&r);
	free_events(ev, nev);
}
END_TEST

/*
 * A job deleted while a slow client still reads its history: the stream
 * gives whole events up to where it was, then a last job_deleted event,
 * and ends cleanly (the history is gone; there is nothing to resume).
 */
START_TEST(stream_of_a_deleted_job_ends_cleanly)
{
	struct fitd_error err = { 0 };
	struct store_event *ev = NULL;
	char job[STORE_ID_MAX], path[128], head[256], last[128];
	size_t nev = 0, next = 0, came, tail;
	struct reply r;
	int fd, k;

	new_job(job);
	/* 80 events of 100 KB: 8 MB, far more than the stream's buffer and the sockets hold. */
	for (int i = 0; i < 80; i++)
		add_event(job, i, 100 * 1000);
	ck_assert_int_eq(store_job_finish(fx.store, job, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
	stored_events(job, &ev, &nev);
	snprintf(path, sizeof(path), "/v1/jobs/%s/events", job);
	fd = dial_with(16 * 1024);
	k = snprintf(head, sizeof(head),
		     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
	send_all(fd, head, (size_t)k);
	reply_init(&r);
	ck_assert_int_gt(read_until(fd, &r, 300 * 1000), 0);
	ck_assert_int_eq(store_job_delete(fx.store, job, NULL, &err), FITD_OK);
	api_events_notify(fx.api, job);
	ck_assert_msg(receive_rest(fd, &r), "no answer, or no end of connection");
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(r.whole, "the stream did not end cleanly");
	k = snprintf(last, sizeof(last), "event: job_deleted\ndata: {\"job\":\"%s\"}\n\n", job);
	ck_assert_uint_gt(r.len, (size_t)k);
	tail = r.len - (size_t)k;
	ck_assert_msg(strcmp(r.body + tail, last) == 0, "the stream ends with '%.80s'",
		      r.body + (r.len > 80 ? r.len - 80 : 0));
	((char *)r.body)[tail] = '\0';
	came = check_events(r.body, ev, nev, &next);
	ck_assert_uint_ge(came, 2);
	ck_assert_uint_lt(came, nev); /* not the job's end: it was deleted first */
	reply_release(&r);
	free_events(ev, nev);
}
END_TEST

/* The body of each early answer below: 8 MiB, more than loopback sockets buffer. */
#define WHOLE_BODY ((size_t)8 << 20)

START_TEST(client_that_sends_all_first_reads_the_413)
{
	char code[64];
	size_t sent;
	struct reply r;

	/* A job spec over max_json_bytes, and an upload over max_upload_bytes. */
	ck_assert_msg(post_whole("/v1/jobs", "application/json", WHOLE_BODY, &sent, &r),
		      "the connection was reset: the client never read the answer");
	ck_assert_uint_eq(sent, WHOLE_BODY);
	ck_assert_int_eq(r.status, 413);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "payload_too_large");
	reply_release(&r);
	ck_assert_msg(post_whole("/v1/datasets?name=big", "text/csv", WHOLE_BODY, &sent, &r),
		      "the connection was reset: the client never read the answer");
	ck_assert_uint_eq(sent, WHOLE_BODY);
	ck_assert_int_eq(r.status, 413);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "payload_too_large");
	reply_release(&r);
}
END_TEST

START_TEST(any_early_answer_waits_for_the_body)
{
	char code[64];
	size_t sent;
	struct reply r;

	/* A 404 decided from the path alone, and 400s from the query (a body within its limit). */
	ck_assert(post_whole("/v1/nothing", "application/json", WHOLE_BODY, &sent, &r));
	ck_assert_uint_eq(sent, WHOLE_BODY);
	ck_assert_int_eq(r.status, 404);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "not_found");
	reply_release(&r);
	ck_assert(post_whole("/v1/jobs?nope=1", "application/json", WHOLE_BODY, &sent, &r));
	ck_assert_uint_eq(sent, WHOLE_BODY);
	ck_assert_int_eq(r.status, 400);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "unknown_parameter");
	reply_release(&r);
	ck_assert(post_whole("/v1/datasets?name=", "text/csv", (size_t)1 << 20, &sent, &r));
	ck_assert_uint_eq(sent, (size_t)1 << 20);
	ck_assert_int_eq(r.status, 400);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "invalid_name");
	reply_release(&r);
}
END_TEST

START_TEST(body_past_the_drain_bound_is_answered_at_once)
{
	char code[64];
	struct reply r;

	/* Declared larger than what is ever drained: no body is sent, the answer comes anyway. */
	ck_assert_msg(post_head("/v1/jobs", "", API__DRAIN_MAX + 1, &r), "no answer");
	ck_assert_int_eq(r.status, 413);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "payload_too_large");
	reply_release(&r);
}
END_TEST

START_TEST(expect_continue_is_answered_before_the_body)
{
	char code[64];
	struct reply r;

	/* curl asks first: it gets the final answer instead of 100 Continue, and sends nothing. */
	ck_assert_msg(post_head("/v1/jobs", "Expect: 100-continue\r\n", JSON_MAX + 1, &r),
		      "no answer");
	ck_assert_int_eq(r.status, 413);
	error_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "payload_too_large");
	reply_release(&r);
}
END_TEST

START_TEST(chunked_body_past_the_drain_bound_is_cut)
{
	static char piece[65536];
	char head[512];
	size_t sent = 0, total = API__DRAIN_MAX + 2 * sizeof(piece) + JSON_MAX;
	int fd = dial();
	int k = snprintf(head, sizeof(head),
			 "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
	struct reply r;

	memset(piece, ' ', sizeof(piece));
	send_all(fd, head, (size_t)k);
	while (sent < total) {
		k = snprintf(head, sizeof(head), "%zx\r\n", sizeof(piece));
		if (send_all(fd, head, (size_t)k) < (size_t)k ||
		    send_all(fd, piece, sizeof(piece)) < sizeof(piece) ||
		    send_all(fd, "\r\n", 2) < 2)
			break;
		sent += sizeof(piece);
	}
	send_all(fd, "0\r\n\r\n", 5);
	/* Refused at its limit, dropped up to the bound, then the connection closes unanswered. */
	ck_assert_msg(!receive_any(fd, &r), "answered %d after draining the whole body", r.status);
	reply_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_server");
	TCase *tc = tcase_create("caps");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, json_body_is_read_whole_up_to_its_limit);
	tcase_add_test(tc, predict_body_has_its_own_limit);
	tcase_add_test(tc, stream_batch_larger_than_its_buffer_comes_whole);
	tcase_add_test(tc, event_larger_than_the_buffer_cuts_the_stream);
	tcase_add_test(tc, stream_of_a_deleted_job_ends_cleanly);
	tcase_add_test(tc, client_that_sends_all_first_reads_the_413);
	tcase_add_test(tc, any_early_answer_waits_for_the_body);
	tcase_add_test(tc, body_past_the_drain_bound_is_answered_at_once);
	tcase_add_test(tc, expect_continue_is_answered_before_the_body);
	tcase_add_test(tc, chunked_body_past_the_drain_bound_is_cut);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

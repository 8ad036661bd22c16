/*
 * events.c - GET /v1/jobs/{id}/events: Server-Sent Events from the job's
 * persisted event log.
 *
 * Each stream keeps only the id of the last event it sent; its content
 * reader fetches what follows from the store. When nothing is left, the
 * connection is suspended (it then costs no thread and no polling) until
 * api_events_notify() says the job has new events, or the heartbeat asks
 * for a comment line, which also finds clients that went away. On a shared
 * store (several daemons on one PostgreSQL) api_events_poll() wakes every
 * waiting stream each second, since another node may write the events. A slow
 * client only delays itself: the scheduler never waits for streams.
 *
 * Events are formatted into one struct fitd_buf per stream, at most one
 * batch and API__STREAM_BUF_MAX bytes at a time, and handed to MHD from there.
 * An event that cannot be buffered (out of memory, or alone larger than the
 * cap) or read from the store ends the stream after the events already
 * complete in the buffer, with an error ending (the chunked body is cut,
 * not closed): a client then resumes with Last-Event-ID and misses
 * nothing. A clean end would not do:
 * `fitd watch`, seeing a clean end that brought no event on a job that has
 * ended, rightly takes it that there is nothing more to read.
 *
 * A job is deleted only once it has ended, so a stream sees its job go
 * while it still replays the history (or, in principle, while it waits):
 * when a wake-up, a heartbeat or the end of a finished job's history finds
 * no event, the stream asks whether the job still exists, and if not sends
 * a last event, job_deleted, and ends cleanly. DELETE /v1/jobs/{id} and
 * retention notify the job's streams.
 *
 * Open streams are capped in all (503) and per token (429): both are
 * checked and the stream linked under hub.lock, so racing requests cannot
 * pass a cap. The per-token count walks the list, which the global cap
 * keeps short.
 *
 * Locking: hub.lock guards the list of streams and each stream's flags
 * (dirty, suspended, beat). A stream is unlinked under the lock in its
 * free callback, so a notification never touches a freed stream.
 */
#include "api/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_BATCH 64

struct api__stream {
	struct api_server *srv;
	struct MHD_Connection *conn;
	char job_id[STORE_ID_MAX];
	char owner[API_TOKEN_NAME_MAX + 1]; /* the token's name; "" without a token file */
	int64_t last_id;
	struct fitd_buf buf; /* formatted events; those from off on are not yet handed to MHD */
	size_t off;
	bool ended;	/* the terminal job_state event is in buf */
	bool failed;	/* the next events could not be read or buffered: end in error */
	bool was_done;	/* the job was terminal when the stream opened: no events will come */
	bool dirty;	/* new events may exist; guarded by hub.lock */
	bool suspended; /* guarded by hub.lock */
	bool beat;	/* a heartbeat comment is due; guarded by hub.lock */
	struct api__stream *next;
};

/*
 * Appends one whole event or, when it does not fit (FITD_ETOOBIG) or memory
 * runs out (FITD_ENOMEM), nothing: the event is made room for at once.
 */
static int append_event(struct api__stream *s, const struct store_event *e)
{
	static const char fmt[] = "id: %" PRId64 "\nevent: %s\ndata: ";
	int head = snprintf(NULL, 0, fmt, e->id, e->type);
	size_t data = strlen(e->data);
	char *at;

	if (head < 0 || data > SIZE_MAX - (size_t)head - 2)
		return FITD_ETOOBIG;
	at = fitd_buf_grow(&s->buf, (size_t)head + data + 2);
	if (at == NULL)
		return fitd_buf_status(&s->buf);
	snprintf(at, (size_t)head + 1, fmt, e->id, e->type); /* its NUL is overwritten next */
	memcpy(at + head, e->data, data);
	memcpy(at + head + data, "\n\n", 2);
	return FITD_OK;
}

static bool is_terminal(const struct store_event *e)
{
	return strcmp(e->type, "job_state") == 0 &&
	       (strstr(e->data, "\"succeeded\"") || strstr(e->data, "\"failed\"") ||
		strstr(e->data, "\"cancelled\""));
}

/*
 * Appends whole events after last_id, while they fit under API__STREAM_BUF_MAX;
 * returns how many. Sets failed when the store cannot list them, memory
 * runs out, or a single event is larger than the cap: last_id is then the
 * id of the last event in buf, where the client will resume. Called with
 * the buffer empty.
 */
static size_t fetch(struct api__stream *s)
{
	struct store_event *ev = NULL;
	size_t n = 0, added = 0;
	bool full = false;

	if (store_event_list(s->srv->store, s->job_id, s->last_id, EVENT_BATCH, &ev, &n, NULL) !=
	    FITD_OK) {
		s->failed = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!s->failed && !full) {
			int rc = append_event(s, &ev[i]);

			full = rc == FITD_ETOOBIG && added > 0; /* the rest after the drain */
			s->failed = rc != FITD_OK && !full;
			if (rc == FITD_OK) {
				s->last_id = ev[i].id;
				if (is_terminal(&ev[i]))
					s->ended = true;
				added++;
			}
		}
		store_event_release(&ev[i]);
	}
	free(ev);
	return added;
}

/*
 * Moves buffered bytes to MHD; 0 when the buffer is empty. A drained buffer
 * is released: a suspended stream holds no memory but its struct, and the
 * next fill starts afresh (also from a full buffer's sticky FITD_ETOOBIG).
 */
static ssize_t drain(struct api__stream *s, char *out, size_t max)
{
	size_t n = s->buf.len - s->off;

	if (n > max)
		n = max;
	memcpy(out, s->buf.data + s->off, n);
	s->off += n;
	if (s->off == s->buf.len) {
		fitd_buf_release(&s->buf);
		s->off = 0;
	}
	return (ssize_t)n;
}

/*
 * Whether the job was deleted: then buf gets a last event, job_deleted
 * (without an id: there is nothing to resume), and the stream ends cleanly
 * after it. A failed read ends the stream in error.
 */
static bool deleted(struct api__stream *s)
{
	char data[STORE_ID_MAX + 16];
	bool exists = true;
	int n;

	if (store_job_exists(s->srv->store, s->job_id, &exists, NULL) != FITD_OK) {
		s->failed = true;
		return true;
	}
	if (exists)
		return false;
	n = snprintf(data, sizeof(data), "{\"job\":\"%s\"}", s->job_id);
	s->failed = fitd_buf_add(&s->buf, "event: job_deleted\ndata: ", 25) != FITD_OK ||
		    fitd_buf_add(&s->buf, data, (size_t)n) != FITD_OK ||
		    fitd_buf_add(&s->buf, "\n\n", 2) != FITD_OK;
	s->ended = true;
	return true;
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct api__stream *s = cls;
	struct api__hub *hub = &s->srv->hub;
	bool beat, closing, dirty;

	(void)pos;
	for (;;) {
		if (s->buf.len > s->off)
			return drain(s, out, max);
		pthread_mutex_lock(&hub->lock);
		closing = hub->closing;
		dirty = s->dirty;
		s->dirty = false;
		beat = s->beat;
		s->beat = false;
		pthread_mutex_unlock(&hub->lock);
		if (s->failed)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->ended || closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (fetch(s) > 0 || s->failed)
			continue;
		/* Nothing new where something was expected: the job may be gone. */
		if ((s->was_done || dirty || beat) && deleted(s))
			continue;
		if (s->was_done) /* resumed past the terminal event */
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (beat) {
			s->failed = fitd_buf_add(&s->buf, ": keepalive\n\n", 13) != FITD_OK;
			continue;
		}
		pthread_mutex_lock(&hub->lock);
		if (s->dirty || s->beat || hub->closing) {
			pthread_mutex_unlock(&hub->lock);
			continue;
		}
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		pthread_mutex_unlock(&hub->lock);
		return 0;
	}
}

static void stream_free(void *cls)
{
	struct api__stream *s = cls;
	struct api__hub *hub = &s->srv->hub;

	pthread_mutex_lock(&hub->lock);
	for (struct api__stream **p = &hub->streams; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	hub->count--;
	pthread_mutex_unlock(&hub->lock);
	fitd_buf_release(&s->buf);
	free(s);
}

/* Resumes s if suspended; hub.lock held. */
static void wake(struct api__stream *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

void api_events_notify(struct api_server *srv, const char *job_id)
{
	struct api__hub *hub = &srv->hub;

	pthread_mutex_lock(&hub->lock);
	for (struct api__stream *s = hub->streams; s != NULL; s = s->next) {
		if (strcmp(s->job_id, job_id) == 0) {
			s->dirty = true;
			wake(s);
		}
	}
	pthread_mutex_unlock(&hub->lock);
}

void api_events_poll(struct api_server *srv)
{
	struct api__hub *hub = &srv->hub;

	pthread_mutex_lock(&hub->lock);
	for (struct api__stream *s = hub->streams; s != NULL; s = s->next) {
		if (s->suspended) {
			s->dirty = true;
			wake(s);
		}
	}
	pthread_mutex_unlock(&hub->lock);
}

void api_events_heartbeat(struct api_server *srv)
{
	struct api__hub *hub = &srv->hub;

	pthread_mutex_lock(&hub->lock);
	for (struct api__stream *s = hub->streams; s != NULL; s = s->next) {
		s->beat = true;
		wake(s);
	}
	pthread_mutex_unlock(&hub->lock);
}

void api__events_close(struct api_server *srv)
{
	struct api__hub *hub = &srv->hub;

	pthread_mutex_lock(&hub->lock);
	hub->closing = true;
	for (struct api__stream *s = hub->streams; s != NULL; s = s->next)
		wake(s);
	pthread_mutex_unlock(&hub->lock);
}

unsigned api_events_open_streams(struct api_server *srv)
{
	unsigned n;

	pthread_mutex_lock(&srv->hub.lock);
	n = srv->hub.count;
	pthread_mutex_unlock(&srv->hub.lock);
	return n;
}

/*
 * Last-Event-ID (or ?after=) as a non-negative integer; false when
 * malformed. *from names where it was read, for the message.
 */
static bool resume_point(struct api__request *req, int64_t *last, const char **from)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID");
	char *end;
	long long n;

	*from = "Last-Event-ID";
	if (v == NULL) {
		v = api__query(req, "after");
		*from = "after";
	}
	*last = 0;
	if (v == NULL || v[0] == '\0')
		return true;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || n < 0 || errno == ERANGE)
		return false;
	*last = n;
	return true;
}

/* Streams of the hub opened with the token named owner; hub.lock held. */
static unsigned owned_streams(const struct api__hub *hub, const char *owner)
{
	unsigned n = 0;

	for (const struct api__stream *s = hub->streams; s != NULL; s = s->next)
		n += strcmp(s->owner, owner) == 0;
	return n;
}

/*
 * Links s into the hub unless that would pass the cap on streams in all
 * (503) or on the streams of its token (429); false after replying.
 * Checking and linking under one lock keeps racing requests within the caps.
 */
static bool admit(struct api__request *req, struct api__stream *s)
{
	struct api__hub *hub = &req->srv->hub;
	unsigned max = req->srv->opt.max_streams, per_token = req->srv->opt.max_streams_per_token;
	bool full, token_full = false;

	pthread_mutex_lock(&hub->lock);
	full = hub->count >= max;
	if (!full && s->owner[0] != '\0' && per_token > 0)
		token_full = owned_streams(hub, s->owner) >= per_token;
	if (!full && !token_full) {
		hub->count++;
		s->next = hub->streams;
		hub->streams = s;
	}
	pthread_mutex_unlock(&hub->lock);
	if (full)
		api__reply_fail(req, 503, "too_many_streams",
				"%u event streams are open; retry later", max);
	else if (token_full)
		api__reply_fail(req, 429, "too_many_streams",
				"token '%s' has %u event streams open, the most it may have",
				s->owner, per_token);
	return !full && !token_full;
}

void api__events_get(struct api__request *req)
{
	struct store_job job;
	struct api__stream *s;
	struct fitd_error err;
	const char *from;
	int64_t last;
	bool done;

	if (!api__job_id_param(req))
		return;
	if (!resume_point(req, &last, &from)) {
		api__reply_fail(req, 400, "invalid_event_id", "%s must be a non-negative integer",
				from);
		return;
	}
	if (store_job_get(req->srv->store, req->params[0], &job, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	done = job.state == STORE_JOB_SUCCEEDED || job.state == STORE_JOB_FAILED ||
	       job.state == STORE_JOB_CANCELLED;
	store_job_release(&job);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		api__reply_oom(req);
		return;
	}
	s->srv = req->srv;
	s->conn = req->conn;
	s->last_id = last;
	s->was_done = done;
	snprintf(s->job_id, sizeof(s->job_id), "%s", req->params[0]);
	snprintf(s->owner, sizeof(s->owner), "%s", req->token);
	fitd_buf_init(&s->buf, API__STREAM_BUF_MAX);
	if (fitd_buf_add(&s->buf, "retry: 2000\n\n", 13) != FITD_OK) {
		free(s);
		api__reply_oom(req);
		return;
	}
	if (!admit(req, s)) {
		fitd_buf_release(&s->buf);
		free(s);
		return;
	}
	req->response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, s,
							  stream_free);
	if (req->response == NULL) {
		stream_free(s); /* unlinks it and gives back its slot */
		api__reply_oom(req);
		return;
	}
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(req->response, "X-Accel-Buffering", "no");
	req->status = 200;
}

/*
 * client_http.c - the client's HTTP layer on libcurl: one easy handle per
 * command, JSON requests and answers, the daemon's JSON errors turned into
 * exit statuses, and a Server-Sent Events reader.
 *
 * Answers are buffered up to REPLY_MAX bytes, as much as the daemon sends
 * (API__REPLY_MAX); event lines and an event's data up to EVENT_LINE_MAX,
 * each in one struct fitd_buf. A buffer that reaches its cap or runs out
 * of memory stops the transfer, and the message says which.
 *
 * No request has an overall timeout (an upload may take long, a stream
 * lasts as long as its job); a stream that receives nothing for
 * STREAM_SILENCE_S seconds, three missed heartbeats, is treated as dropped.
 */
#include "daemon/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/base/status.h"
#include "fitd_config.h"

#define DEFAULT_URL	  "http://127.0.0.1:8080"
#define REPLY_MAX	  ((size_t)1 << 30)
#define EVENT_LINE_MAX	  ((size_t)16 << 20)
#define CONNECT_TIMEOUT_S 10L
#define STREAM_SILENCE_S  45L

FILE *client_input_open(const char *path, curl_off_t *size)
{
	FILE *f = fopen(path, "rb"), *tmp = NULL;
	struct stat st;
	char chunk[65536];
	size_t n;
	int saved;

	if (f == NULL || fstat(fileno(f), &st) != 0)
		goto fail;
	if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
		return f;
	}
	if ((tmp = tmpfile()) == NULL)
		goto fail;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (fwrite(chunk, 1, n, tmp) != n)
			goto fail;
	if (ferror(f) || fflush(tmp) != 0 || fstat(fileno(tmp), &st) != 0 ||
	    fseeko(tmp, 0, SEEK_SET) != 0)
		goto fail;
	fclose(f);
	*size = st.st_size;
	return tmp;
fail:
	saved = errno;
	if (tmp != NULL)
		fclose(tmp);
	if (f != NULL)
		fclose(f);
	errno = saved;
	return NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *buf)
{
	return fitd_buf_add(buf, p, size * n) == FITD_OK ? size * n : 0;
}

/* After a transfer failed: when b stopped it, says why in c->error. */
static void buffer_reason(struct client *c, const struct fitd_buf *b, const char *what)
{
	if (fitd_buf_status(b) == FITD_ETOOBIG)
		snprintf(c->error, sizeof(c->error), "%s passed the limit of %zu bytes", what,
			 b->max);
	else if (fitd_buf_status(b) != FITD_OK)
		snprintf(c->error, sizeof(c->error), "%s: %s", what,
			 fitd_strerror(fitd_buf_status(b)));
}

bool client_args_take(struct client_args *a, int c, const char *arg)
{
	switch (c) {
	case 'U':
		a->url = arg;
		return true;
	case 'T':
		a->token = arg;
		return true;
	case 'J':
		a->json = true;
		return true;
	default:
		return false;
	}
}

int client_open(struct client *c, const struct client_args *a)
{
	const char *url = a->url ? a->url : getenv("FITD_URL");
	const char *token = a->token ? a->token : getenv("FITD_TOKEN");
	size_t n;

	memset(c, 0, sizeof(*c));
	if (url == NULL || url[0] == '\0')
		url = DEFAULT_URL;
	c->base = strdup(url);
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (token != NULL && token[0] != '\0' &&
	    asprintf(&c->auth, "Authorization: Bearer %s", token) < 0)
		abort();
	c->json = a->json;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c->curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "fitd: libcurl failed to start\n");
		return CLIENT_UNREACHABLE;
	}
	return CLIENT_OK;
}

void client_close(struct client *c)
{
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->base);
	free(c->auth);
	memset(c, 0, sizeof(*c));
}

char *client_path(struct client *c, const char *prefix, const char *id, const char *suffix)
{
	char *esc = curl_easy_escape(c->curl, id, 0);
	char *path;

	if (esc == NULL || asprintf(&path, "%s%s%s", prefix, esc, suffix) < 0)
		abort();
	curl_free(esc);
	return path;
}

/* Resets the handle for a request to path; returns the header list to free after it. */
static struct curl_slist *prepare(struct client *c, const char *path, const char *extra)
{
	struct curl_slist *h = NULL;
	char *url;

	if (asprintf(&url, "%s%s", c->base, path) < 0)
		abort();
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	free(url); /* libcurl keeps its own copy */
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "fitd/" FITD_VERSION);
	c->error[0] = '\0';
	if (c->auth != NULL)
		h = curl_slist_append(h, c->auth);
	if (extra != NULL)
		h = curl_slist_append(h, extra);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	return h;
}

static int unreachable(struct client *c, CURLcode rc)
{
	fprintf(stderr, "fitd: cannot reach the daemon at %s: %s\n", c->base,
		c->error[0] ? c->error : curl_easy_strerror(rc));
	return CLIENT_UNREACHABLE;
}

/* Reports an error answer of the given status whose body is text (may be NULL). */
static int answered_error(long status, const char *text)
{
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	json_t *e = json_object_get(doc, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (code != NULL)
		fprintf(stderr, "fitd: %s: %s (HTTP %ld)\n", code, msg ? msg : "", status);
	else
		fprintf(stderr, "fitd: the daemon answered HTTP %ld\n", status);
	json_decref(doc);
	return status == 401 || status == 403 ? CLIENT_AUTH : CLIENT_API_ERROR;
}

int client_call(struct client *c, const char *method, const char *path,
		const struct client_body *body, json_t **out)
{
	struct fitd_buf reply;
	char type[128];
	struct curl_slist *h;
	json_error_t jerr;
	json_t *doc = NULL;
	long status = 0;
	CURLcode rc;
	int ret;

	fitd_buf_init(&reply, REPLY_MAX);
	snprintf(type, sizeof(type), "Content-Type: %s", body ? body->type : "");
	h = prepare(c, path, body ? type : NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		if (body != NULL && body->file != NULL) {
			curl_easy_setopt(c->curl, CURLOPT_READDATA, body->file);
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, body->size);
		} else {
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body->data : "");
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(body ? body->len : 0));
		}
	}
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &reply);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		buffer_reason(c, &reply, "the answer");
		ret = unreachable(c, rc);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		ret = answered_error(status, reply.data);
		goto out;
	}
	if (out != NULL &&
	    (doc = json_loadb(reply.data ? reply.data : "", reply.len, 0, &jerr)) == NULL) {
		fprintf(stderr, "fitd: the daemon's answer is not JSON: %s\n", jerr.text);
		ret = CLIENT_API_ERROR;
		goto out;
	}
	if (out != NULL)
		*out = doc;
	ret = CLIENT_OK;
out:
	fitd_buf_release(&reply);
	return ret;
}

struct sse {
	client_event_fn fn;
	void *arg;
	CURL *curl;
	long status;		 /* 0 until the first bytes came */
	struct fitd_buf line;	 /* the line being received */
	struct fitd_buf data;	 /* the event's data lines, joined with '\n' */
	struct fitd_buf errbody; /* an error answer's body */
	char id[64], event[64];
	bool stopped; /* fn asked to close */
};

static void copy_field(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v);
}

/* Handles one complete line (without its end). */
static void sse_line(struct sse *s, char *line)
{
	char *value = strchr(line, ':');

	if (line[0] == '\0') {
		if (s->data.len > 0 || s->event[0] != '\0')
			s->stopped = !s->fn(s->arg, s->id, s->event[0] ? s->event : "message",
					    s->data.data ? s->data.data : "");
		s->event[0] = '\0';
		fitd_buf_release(&s->data);
		return;
	}
	if (value == line) /* a comment: the heartbeat */
		return;
	if (value != NULL) {
		*value++ = '\0';
		if (*value == ' ')
			value++;
	} else {
		value = line + strlen(line);
	}
	if (strcmp(line, "id") == 0) {
		copy_field(s->id, sizeof(s->id), value);
	} else if (strcmp(line, "event") == 0) {
		copy_field(s->event, sizeof(s->event), value);
	} else if (strcmp(line, "data") == 0) {
		if (s->data.len > 0)
			fitd_buf_add(&s->data, "\n", 1);
		fitd_buf_add(&s->data, value, strlen(value)); /* a failure sticks: checked below */
	}
}

/* Hands the line received to sse_line, without its CR, and empties it. */
static void sse_line_end(struct sse *s)
{
	char *line = s->line.data ? s->line.data : (char[]){ '\0' };

	if (s->line.len > 0 && line[s->line.len - 1] == '\r')
		line[s->line.len - 1] = '\0';
	sse_line(s, line);
	fitd_buf_release(&s->line);
}

static size_t on_events(char *p, size_t size, size_t n, void *arg)
{
	struct sse *s = arg;
	size_t len = size * n;

	if (s->status == 0)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return fitd_buf_add(&s->errbody, p, len) == FITD_OK ? len : 0;
	for (size_t i = 0; i < len && !s->stopped;) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t k = nl ? (size_t)(nl - (p + i)) : len - i;

		if (k > 0 && fitd_buf_add(&s->line, p + i, k) != FITD_OK)
			return 0; /* a line past EVENT_LINE_MAX */
		if (nl == NULL)
			break;
		sse_line_end(s);
		if (fitd_buf_status(&s->data) != FITD_OK)
			return 0; /* an event's data past EVENT_LINE_MAX */
		i += k + 1;
	}
	return s->stopped ? 0 : len;
}

int client_stream(struct client *c, const char *path, const char *last_id, client_event_fn fn,
		  void *arg)
{
	struct sse s = { .fn = fn, .arg = arg, .curl = c->curl };
	char resume[96];
	struct curl_slist *h;
	CURLcode rc;
	int ret = CLIENT_OK;

	fitd_buf_init(&s.line, EVENT_LINE_MAX);
	fitd_buf_init(&s.data, EVENT_LINE_MAX);
	fitd_buf_init(&s.errbody, REPLY_MAX);
	snprintf(resume, sizeof(resume), "Last-Event-ID: %s", last_id ? last_id : "");
	h = prepare(c, path, last_id && last_id[0] ? resume : NULL);
	h = curl_slist_append(h, "Accept: text/event-stream");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_events);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, STREAM_SILENCE_S);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (s.status == 0)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &s.status);
	if (s.status == 503 || s.status == 429) {
		/* Stopping, starting after a restart, or rate limited: worth another try. */
		snprintf(c->error, sizeof(c->error), "the daemon answered HTTP %ld", s.status);
		ret = CLIENT_UNREACHABLE;
	} else if (s.status != 0 && s.status != 200) {
		ret = answered_error(s.status, s.errbody.data);
	} else if (rc != CURLE_OK && !s.stopped) {
		buffer_reason(c, &s.line, "an event line");
		buffer_reason(c, &s.data, "an event's data");
		if (c->error[0] == '\0')
			copy_field(c->error, sizeof(c->error), curl_easy_strerror(rc));
		ret = CLIENT_UNREACHABLE;
	}
	fitd_buf_release(&s.line);
	fitd_buf_release(&s.data);
	fitd_buf_release(&s.errbody);
	return ret;
}

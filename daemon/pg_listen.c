/*
 * pg_listen.c - one non-blocking libpq connection on the loop that LISTENs
 * on STORE_PG_EVENTS_CHANNEL and wakes the event streams (pg_listen.h).
 *
 * States: DOWN (no connection; the timer waits out the back-off), CONNECTING
 * (PQconnectPoll steps, each started by the socket becoming readable or
 * writable as the previous step asked), SUBSCRIBING (LISTEN sent, its answer
 * awaited) and UP (the socket is watched for notifications). The one timer
 * is the back-off while DOWN and the deadline of CONNECTING and SUBSCRIBING
 * (libpq ignores connect_timeout under PQconnectPoll).
 *
 * A loss is whatever makes the connection unusable: PQconsumeInput
 * returning 0 (the server closed it, pg_terminate_backend, a reset), a
 * socket error, a failed step, LISTEN refused, the deadline. The handle is
 * closed before PQfinish closes the socket (libuv must not watch a closed
 * descriptor), and the next try comes after 50 ms, doubling to 1 s. Each
 * connection step gets a new uv_poll handle, since libpq may replace the
 * socket within a step (the next address), even under the same number.
 *
 * Host names: libpq resolves them inside PQconnectStart, blocking. A
 * single host name that is not an address is resolved here first with
 * uv_getaddrinfo (on libuv's thread pool) and its addresses (up to
 * MAX_ADDRS) passed as hostaddr, the name repeated as host for TLS and the
 * password file, so the loop waits on no lookup and libpq still tries each
 * address in turn. Several hosts or a socket directory go to libpq as
 * given (a name among several hosts is then still looked up blocking).
 *
 * The connection says application_name=fitd-listen, so an operator (or a
 * test) can tell it from the store's pool. It sends nothing while it
 * waits, so only TCP keepalives can find a silently cut network: probes
 * after 30 s idle, every 10 s, the connection given up when they go
 * unanswered (tcp_user_timeout 30 s): within about a minute.
 */
#include "daemon/pg_listen.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/buf.h"
#include "daemon/base/log.h"
#include "store/pg.h"

#define RETRY_FIRST_MS	 50
#define RETRY_MAX_MS	 1000
#define CONNECT_LIMIT_MS 5000
#define MAX_ADDRS	 8 /* of a resolved host name, tried in turn */

enum listen_state {
	DOWN,
	RESOLVING,
	CONNECTING,
	SUBSCRIBING,
	UP
};

struct pg_listen {
	uv_loop_t *loop;
	struct pg_listen_options opt;
	char *uri;
	char *host; /* a host name to resolve before each connect; NULL: libpq's business */
	enum listen_state state;
	PGconn *conn;
	uv_poll_t *poll; /* watches conn's socket; NULL while there is none */
	int poll_fd;
	uv_timer_t timer;
	uv_getaddrinfo_t lookup;
	bool lookup_busy;  /* lookup is outstanding (counted in handles) */
	uint64_t retry_ms; /* the next back-off */
	bool listen_ok;	   /* SUBSCRIBING: LISTEN's answer came, ReadyForQuery may not have */
	bool was_up;	   /* LISTEN was in place once: the next up is a reconnect */
	bool quiet;	   /* the current outage was logged */
	bool closing;	   /* pg_listen_free() was called */
	unsigned handles;  /* open handles and requests; freed at 0 once closing */
};

static void try_connect(struct pg_listen *l);

static void on_timer(uv_timer_t *t)
{
	try_connect(t->data);
}

/* Server notices (the goodbye of pg_terminate_backend) are not fitd's to print. */
static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void release_if_done(struct pg_listen *l)
{
	if (l->closing && l->handles == 0) {
		free(l->uri);
		free(l->host);
		free(l);
	}
}

static void on_poll_closed(uv_handle_t *h)
{
	struct pg_listen *l = h->data;

	free(h);
	l->handles--;
	release_if_done(l);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct pg_listen *l = h->data;

	l->handles--;
	release_if_done(l);
}

/* Stops watching the socket; before PQfinish closes it. */
static void unwatch(struct pg_listen *l)
{
	if (l->poll != NULL) {
		uv_close((uv_handle_t *)l->poll, on_poll_closed);
		l->poll = NULL;
	}
}

/* Closes the connection and, unless closing, tries again after the back-off. */
static void lost(struct pg_listen *l, const char *why)
{
	bool was = l->state == UP;
	char reason[160];

	snprintf(reason, sizeof(reason), "%s", why);
	reason[strcspn(reason, "\n")] = '\0';
	for (char *p = reason; *p != '\0';
	     p++) /* libpq quotes the host; the log line quotes reason */
		if (*p == '"')
			*p = '\'';
	unwatch(l);
	PQfinish(l->conn);
	l->conn = NULL;
	l->state = DOWN;
	if (was)
		fitd_metrics_set_listening(l->opt.metrics, false);
	if (l->closing)
		return;
	if (was)
		l->opt.on_state(l->opt.data, false);
	if (!l->quiet)
		fitd_log_warn("store_listen_lost", "reason=\"%s\" retry_ms=%llu", reason,
			      (unsigned long long)l->retry_ms);
	else
		fitd_log_debug("store_listen_retry", "reason=\"%s\" retry_ms=%llu", reason,
			       (unsigned long long)l->retry_ms);
	l->quiet = true;
	uv_timer_start(&l->timer, on_timer, l->retry_ms, 0);
	l->retry_ms = l->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : l->retry_ms * 2;
}

static void on_io(uv_poll_t *h, int status, int events);

/* Watches conn's socket for events, on a new handle unless one watches it already. */
static bool watch(struct pg_listen *l, int events)
{
	int fd = PQsocket(l->conn);

	if (fd < 0)
		return false;
	if (l->poll != NULL && l->poll_fd != fd)
		unwatch(l);
	if (l->poll == NULL) {
		l->poll = malloc(sizeof(*l->poll));
		if (l->poll == NULL)
			return false;
		if (uv_poll_init(l->loop, l->poll, fd) != 0) {
			free(l->poll);
			l->poll = NULL;
			return false;
		}
		l->poll->data = l;
		l->poll_fd = fd;
		l->handles++;
	}
	return uv_poll_start(l->poll, events, on_io) == 0;
}

/* Hands every queued notification to on_job and counts them. */
static void deliver(struct pg_listen *l)
{
	PGnotify *n;
	uint64_t count = 0;

	while ((n = PQnotifies(l->conn)) != NULL) {
		if (strcmp(n->relname, STORE_PG_EVENTS_CHANNEL) == 0 && n->extra != NULL) {
			char job[64];
			const char *node = strchr(n->extra, ' ');
			size_t len = node != NULL ? (size_t)(node - n->extra) : strlen(n->extra);

			count++;
			/* "JOB NODE": what this node wrote it has woken itself. */
			if (len < sizeof(job) && (node == NULL || l->opt.node == NULL ||
						  strcmp(node + 1, l->opt.node) != 0)) {
				memcpy(job, n->extra, len);
				job[len] = '\0';
				l->opt.on_job(l->opt.data, job);
			}
		}
		PQfreemem(n);
	}
	fitd_metrics_notifications(l->opt.metrics, count);
}

static void became_up(struct pg_listen *l)
{
	uv_timer_stop(&l->timer);
	l->state = UP;
	l->retry_ms = RETRY_FIRST_MS;
	l->quiet = false;
	if (l->was_up) {
		fitd_metrics_listen_reconnect(l->opt.metrics);
		fitd_log_info("store_listen_reconnected", "channel=%s", STORE_PG_EVENTS_CHANNEL);
	} else {
		fitd_log_info("store_listen_up", "channel=%s", STORE_PG_EVENTS_CHANNEL);
	}
	l->was_up = true;
	fitd_metrics_set_listening(l->opt.metrics, true);
	l->opt.on_state(l->opt.data, true);
}

/* The connection is made: send LISTEN without waiting for its answer. */
static void subscribe(struct pg_listen *l)
{
	int flushed;

	l->state = SUBSCRIBING;
	l->listen_ok = false;
	if (PQsetnonblocking(l->conn, 1) != 0 ||
	    !PQsendQuery(l->conn, "LISTEN " STORE_PG_EVENTS_CHANNEL)) {
		lost(l, PQerrorMessage(l->conn));
		return;
	}
	flushed = PQflush(l->conn);
	if (flushed < 0 || !watch(l, UV_READABLE | (flushed == 1 ? UV_WRITABLE : 0)))
		lost(l, "cannot send LISTEN");
}

/* SUBSCRIBING: reads LISTEN's answer; up once it came and nothing more is pending. */
static void read_answer(struct pg_listen *l)
{
	PGresult *r;

	while (!PQisBusy(l->conn)) {
		r = PQgetResult(l->conn);
		if (r == NULL) { /* the query's end */
			if (l->listen_ok)
				became_up(l);
			else
				lost(l, "LISTEN got no answer");
			return;
		}
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			lost(l, PQerrorMessage(l->conn));
			return;
		}
		l->listen_ok = true;
		PQclear(r);
	}
}

/*
 * One PQconnectPoll step. It may close the socket and open another, with
 * the same number (the next address): the handle is closed before, and a
 * new one watches whatever socket the step leaves.
 */
static void connect_step(struct pg_listen *l)
{
	unwatch(l);
	switch (PQconnectPoll(l->conn)) {
	case PGRES_POLLING_READING:
		if (!watch(l, UV_READABLE))
			lost(l, "cannot watch the socket");
		return;
	case PGRES_POLLING_WRITING:
		if (!watch(l, UV_WRITABLE))
			lost(l, "cannot watch the socket");
		return;
	case PGRES_POLLING_OK:
		subscribe(l);
		return;
	default:
		lost(l, PQerrorMessage(l->conn));
		return;
	}
}

static void on_io(uv_poll_t *h, int status, int events)
{
	struct pg_listen *l = h->data;
	int flushed = 0;

	/* POLLERR comes as UV_EBADF: libpq reads the socket's own error (refused, reset). */
	if (l->state == CONNECTING) {
		connect_step(l);
		return;
	}
	if (status < 0) {
		lost(l, PQconsumeInput(l->conn) ? uv_strerror(status) : PQerrorMessage(l->conn));
		return;
	}
	if ((events & UV_WRITABLE) != 0) {
		flushed = PQflush(l->conn);
		if (flushed < 0 || !watch(l, UV_READABLE | (flushed == 1 ? UV_WRITABLE : 0))) {
			lost(l, "cannot send LISTEN");
			return;
		}
	}
	if ((events & UV_READABLE) == 0)
		return;
	if (!PQconsumeInput(l->conn) || PQstatus(l->conn) == CONNECTION_BAD) {
		lost(l, PQerrorMessage(l->conn));
		return;
	}
	if (l->state == SUBSCRIBING)
		read_answer(l);
	if (l->state == SUBSCRIBING || l->state == UP)
		deliver(l);
}

/*
 * Starts a connection. hosts and addrs (both NULL, or both set) are the
 * resolved addresses of l->host and the name repeated as often, comma
 * separated: libpq tries them in turn, as it would the name's.
 */
static void start(struct pg_listen *l, const char *hosts, const char *addrs)
{
	/* After dbname, so the URI cannot rename the connection. */
	const char *keys[] = { "connect_timeout",
			       "keepalives",
			       "keepalives_idle",
			       "keepalives_interval",
			       "keepalives_count",
			       "tcp_user_timeout",
			       "dbname",
			       "application_name",
			       "host", /* these two last: dropped when NULL */
			       "hostaddr",
			       NULL };
	const char *vals[] = { "5",    "1",	      "30",  "10",  "3", "30000",
			       l->uri, "fitd-listen", hosts, addrs, NULL };

	if (hosts == NULL)
		keys[8] = NULL;
	l->state = CONNECTING;
	uv_timer_start(&l->timer, on_timer, CONNECT_LIMIT_MS, 0);
	l->conn = PQconnectStartParams(keys, vals, 1);
	if (l->conn == NULL) {
		lost(l, "out of memory");
		return;
	}
	PQsetNoticeProcessor(l->conn, quiet_notices, NULL);
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		lost(l, PQerrorMessage(l->conn));
		return;
	}
	/* As if PQconnectPoll had answered PGRES_POLLING_WRITING. */
	if (!watch(l, UV_WRITABLE))
		lost(l, "cannot watch the socket");
}

/* Lists res's addresses (MAX_ADDRS at most) in addrs, l->host as often in hosts. */
static void list_addrs(const struct pg_listen *l, const struct addrinfo *res,
		       struct fitd_buf *hosts, struct fitd_buf *addrs)
{
	int n = 0;

	for (; res != NULL && n < MAX_ADDRS; res = res->ai_next) {
		char addr[64] = "";

		if (res->ai_family == AF_INET6)
			uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, addr, sizeof(addr));
		else if (res->ai_family == AF_INET)
			uv_ip4_name((const struct sockaddr_in *)res->ai_addr, addr, sizeof(addr));
		if (addr[0] == '\0')
			continue;
		fitd_buf_printf(hosts, "%s%s", n > 0 ? "," : "", l->host);
		fitd_buf_printf(addrs, "%s%s", n > 0 ? "," : "", addr);
		n++;
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pg_listen *l = req->data;
	struct fitd_buf hosts, addrs;

	l->lookup_busy = false;
	l->handles--;
	if (l->closing) {
		uv_freeaddrinfo(res);
		release_if_done(l);
		return;
	}
	if (l->state != RESOLVING) { /* cancelled at its deadline; lost() has run */
		uv_freeaddrinfo(res);
		return;
	}
	fitd_buf_init(&hosts, 64 * 1024);
	fitd_buf_init(&addrs, 64 * 1024);
	if (status == 0)
		list_addrs(l, res, &hosts, &addrs);
	uv_freeaddrinfo(res);
	if (status < 0)
		lost(l, uv_strerror(status));
	else if (fitd_buf_status(&hosts) != FITD_OK || fitd_buf_status(&addrs) != FITD_OK)
		lost(l, "out of memory");
	else if (addrs.len == 0)
		lost(l, "host name not found");
	else
		start(l, hosts.data, addrs.data);
	fitd_buf_release(&hosts);
	fitd_buf_release(&addrs);
}

/*
 * The timer: from DOWN, the back-off is over (connect); from CONNECTING,
 * RESOLVING or SUBSCRIBING, the deadline passed (give up this try).
 */
static void try_connect(struct pg_listen *l)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

	if (l->state != DOWN) {
		if (l->state == RESOLVING)
			uv_cancel((uv_req_t *)&l->lookup);
		lost(l, "no answer within 5 s");
		return;
	}
	if (l->host == NULL) {
		start(l, NULL, NULL);
		return;
	}
	if (l->lookup_busy) { /* a cancelled lookup not back yet */
		uv_timer_start(&l->timer, on_timer, RETRY_FIRST_MS, 0);
		return;
	}
	l->state = RESOLVING;
	uv_timer_start(&l->timer, on_timer, CONNECT_LIMIT_MS, 0);
	l->lookup.data = l;
	if (uv_getaddrinfo(l->loop, &l->lookup, on_resolved, l->host, NULL, &hints) != 0) {
		lost(l, "cannot resolve the host name");
		return;
	}
	l->lookup_busy = true;
	l->handles++;
}

/* l->host: the URI's one host when it is a name to resolve; NULL otherwise. */
static int find_host(struct pg_listen *l)
{
	PQconninfoOption *opts = PQconninfoParse(l->uri, NULL);
	const char *host = NULL, *hostaddr = NULL;
	unsigned char buf[16];
	int rc = FITD_OK;

	if (opts == NULL) /* a bad URI: libpq will say why at each try */
		return FITD_OK;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	if (host != NULL && host[0] != '\0' && host[0] != '/' && host[0] != '@' &&
	    strchr(host, ',') == NULL && (hostaddr == NULL || hostaddr[0] == '\0') &&
	    inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) {
		l->host = strdup(host);
		rc = l->host != NULL ? FITD_OK : FITD_ENOMEM;
	}
	PQconninfoFree(opts);
	return rc;
}

int pg_listen_new(uv_loop_t *loop, const struct pg_listen_options *opt, struct pg_listen **out,
		  struct fitd_error *err)
{
	struct pg_listen *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL || (l->uri = strdup(opt->uri)) == NULL || find_host(l) != FITD_OK) {
		if (l != NULL) {
			free(l->uri);
			free(l);
		}
		return fitd_error_set(err, FITD_ENOMEM, NULL, "store listener: out of memory");
	}
	l->loop = loop;
	l->opt = *opt;
	l->opt.uri = NULL;
	l->state = DOWN;
	l->retry_ms = RETRY_FIRST_MS;
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	l->handles = 1;
	try_connect(l);
	*out = l;
	return FITD_OK;
}

bool pg_listen_up(const struct pg_listen *l)
{
	return l != NULL && l->state == UP;
}

void pg_listen_free(struct pg_listen *l)
{
	if (l == NULL)
		return;
	l->closing = true;
	if (l->lookup_busy)
		uv_cancel((uv_req_t *)&l->lookup);
	lost(l, "stopping");
	uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}

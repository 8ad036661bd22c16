/*
 * client.h - the command-line client inside the fitd binary: `fitd submit`,
 * `status`, `watch`, `cancel`, `delete`, `alias`, and `fitd predict` with a
 * model id. It talks to a running daemon over HTTP with libcurl.
 *
 * Every subcommand takes --url URL (or $FITD_URL, default
 * http://127.0.0.1:8080), --token T (or $FITD_TOKEN, sent as
 * "Authorization: Bearer T"), --json and --help. The exit status is one of
 * enum client_exit, so scripts can tell a failed job from a daemon that is
 * down or a refused request.
 */
#ifndef DAEMON_CLIENT_H
#define DAEMON_CLIENT_H

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "daemon/base/buf.h"

enum client_exit {
	CLIENT_OK = 0,		/* done; for submit --follow and watch: the job succeeded */
	CLIENT_JOB_FAILED = 1,	/* the job failed or was cancelled */
	CLIENT_USAGE = 2,	/* bad arguments or an unreadable local file */
	CLIENT_UNREACHABLE = 3, /* no HTTP answer from the daemon */
	CLIENT_API_ERROR = 4,	/* the daemon answered with an error */
	CLIENT_AUTH = 5,	/* 401 or 403 */
};

/* The options every subcommand takes, with the getopt values 'U', 'T', 'J' and 'h'. */
/* clang-format off */
#define CLIENT_COMMON_OPTIONS                            \
	{ "url", required_argument, NULL, 'U' },         \
	{ "token", required_argument, NULL, 'T' },       \
	{ "json", no_argument, NULL, 'J' },              \
	{ "help", no_argument, NULL, 'h' }
/* clang-format on */

#define CLIENT_COMMON_HELP                                                                   \
	"  --url URL          the daemon (default $FITD_URL, else http://127.0.0.1:8080)\n"  \
	"  --token TOKEN      sent as 'Authorization: Bearer TOKEN' (default $FITD_TOKEN)\n" \
	"  --json             machine-readable output\n"                                     \
	"  --help             this text\n"                                                   \
	"\nExit status: 0 success, 1 the job failed or was cancelled, 2 usage error,\n"      \
	"3 cannot reach the daemon, 4 the daemon answered an error, 5 authentication refused.\n"

struct client_args {
	const char *url;   /* NULL: $FITD_URL or the default */
	const char *token; /* NULL: $FITD_TOKEN or none */
	bool json;
};

/* Takes the common option c; false when c is not one of them. */
bool client_args_take(struct client_args *a, int c, const char *arg);

/*
 * Parses argv: the common options into a and min_pos..max_pos positional
 * arguments into pos. Returns -1 to go on, else the exit status (after
 * --help, or a usage error with the usage on stderr).
 */
int client_parse(int argc, char **argv, const char *usage, struct client_args *a, const char **pos,
		 int min_pos, int max_pos);

/* One connection to the daemon (libcurl keeps it alive across calls). */
struct client {
	char *base; /* the URL without a trailing '/' */
	char *auth; /* "Authorization: Bearer …" or NULL */
	bool json;
	CURL *curl;
	char error[CURL_ERROR_SIZE];
};

/* Fills c from a; returns CLIENT_OK or CLIENT_UNREACHABLE when libcurl cannot start. */
int client_open(struct client *c, const struct client_args *a);
void client_close(struct client *c);

/*
 * prefix, then id URL-escaped, then suffix: client_path(c, "/v1/jobs/", id,
 * "/cancel"). malloc'd, for the caller to free; c must be open.
 */
char *client_path(struct client *c, const char *prefix, const char *id, const char *suffix);

/* A request body: data/len in memory, or the open file with size bytes. */
struct client_body {
	const char *type; /* Content-Type */
	const char *data;
	size_t len;
	FILE *file;
	curl_off_t size;
};

/*
 * Opens the table at path to be sent or scored. A regular file is read in
 * place; anything else (a pipe, /dev/stdin, a process substitution) is
 * copied first into an unnamed temporary file, since an upload declares
 * its length up front and a stream's is only known at its end. *size
 * receives the bytes, and the file is at its start. NULL with errno set
 * when path cannot be read.
 */
FILE *client_input_open(const char *path, curl_off_t *size);

/*
 * One request. method is "GET", "POST", "PUT" or "DELETE"; body (may be
 * NULL) goes with POST and PUT. On a 2xx answer
 * *out (when out is not NULL) receives the parsed JSON, owned by the caller.
 * Otherwise the reason goes to stderr (the daemon's error code and message)
 * and the result is CLIENT_UNREACHABLE, CLIENT_API_ERROR or CLIENT_AUTH.
 */
int client_call(struct client *c, const char *method, const char *path,
		const struct client_body *body, json_t **out);

/*
 * Receives one Server-Sent Event: its id ("" when it had none), event name
 * and data. Returns true to go on, false to close the stream.
 */
typedef bool (*client_event_fn)(void *arg, const char *id, const char *event, const char *data);

/*
 * GET path as an event stream, sending Last-Event-ID: last_id when it is
 * not empty, until the daemon ends it or fn returns false (both
 * CLIENT_OK). A refused, dropped or dead connection, and a 503 or 429
 * answer (a daemon stopping, starting or limiting), are CLIENT_UNREACHABLE
 * with the reason in c->error and nothing printed (the caller may resume);
 * another error answer is reported as in client_call.
 */
int client_stream(struct client *c, const char *path, const char *last_id, client_event_fn fn,
		  void *arg);

/* The job's events until it ends, then its leaderboard; the exit status (client_watch.c). */
int client_follow(struct client *c, const char *job_id);

/*
 * An aligned text table of strings (client.c) of at most
 * CLIENT_TABLE_ROWS_MAX rows, the header row included. Rows past the cap
 * are counted, not kept, and the printed table ends with a line saying how
 * many were left out (--json gives them all). Running out of memory
 * aborts: the client may.
 */
#define CLIENT_TABLE_ROWS_MAX 100000

struct client_table {
	size_t cols, rows;
	size_t dropped;	       /* rows past CLIENT_TABLE_ROWS_MAX */
	struct fitd_buf cells; /* rows × cols char *, each malloc'd */
};

void client_table_init(struct client_table *t, size_t cols);
/* Appends a row of t->cols strings (copied; NULL is ""), or counts it past the cap. */
void client_table_row(struct client_table *t, ...);
void client_table_print(const struct client_table *t, FILE *f);
void client_table_release(struct client_table *t);

/* The subcommands: argv[0] is the subcommand's name; each returns the exit status. */
int client_submit_main(int argc, char **argv);
int client_status_main(int argc, char **argv);
int client_watch_main(int argc, char **argv);
int client_cancel_main(int argc, char **argv);
int client_delete_main(int argc, char **argv);
int client_alias_main(int argc, char **argv);

/*
 * `fitd predict --model mdl_…`: scores input on the daemon and prints the
 * answer as the offline path does, CSV or (json) JSON; with explain, asks
 * for the rows' contributions too (?explain=true).
 */
int client_predict_remote(const struct client_args *a, const char *model_id, const char *input,
			  bool json, bool explain);

#endif

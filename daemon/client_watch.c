/*
 * client_watch.c - following a job: `fitd watch JOB` and `fitd submit
 * --follow`.
 *
 * Reads GET /v1/jobs/{id}/events from the first event, so counts are
 * rebuilt from the job's whole history, and resumes with Last-Event-ID
 * when the connection drops (the daemon stores events, so none are lost
 * even across its restart). On a terminal stdout one line is redrawn with
 * '\r': a bar of trials done over the trial budget (or of elapsed time
 * over the time budget), the best score and the running trial. Otherwise
 * each event is one plain line, or with --json one JSON object per line.
 * When the job has ended its top ten trials are printed as a table, then
 * the best model's id.
 */
#include "daemon/client.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "daemon/base/clock.h"

#define RETRIES	    30 /* reconnections in a row that bring no event before giving up */
#define RETRY_SLEEP 1  /* seconds between them */
#define BAR_WIDTH   30
#define TOP	    10

struct watch {
	const char *job_id;
	bool tty, json;
	char last_id[64];	      /* the id of the last event received */
	char state[16];		      /* the job's state */
	bool terminal, got;	      /* got: an event came on this connection */
	long long done, total, trial; /* total -1: no trial budget; trial -1: none running */
	double max_seconds;	      /* 0: no time budget */
	double elapsed0;	      /* elapsed_s when t0 was taken */
	double t0;		      /* fitd_clock_s() when elapsed0 was taken */
	bool has_best;
	double best;
	char metric[32];
};

static const char *str(const json_t *obj, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : none;
}

static bool is_terminal(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "cancelled") == 0;
}

/* Takes the job object's state, progress, budgets and best score. */
static void take_job(struct watch *w, const json_t *job)
{
	const json_t *p = json_object_get(job, "progress");
	const json_t *search = json_object_get(json_object_get(job, "spec"), "search");
	const json_t *best = json_object_get(job, "best");
	const json_t *total = json_object_get(p, "trials_total");

	snprintf(w->state, sizeof(w->state), "%s", str(job, "state", ""));
	snprintf(w->metric, sizeof(w->metric), "%s", str(job, "metric", "score"));
	w->done = json_integer_value(json_object_get(p, "trials_done"));
	w->total = json_is_integer(total) ? json_integer_value(total) : -1;
	w->max_seconds = json_number_value(json_object_get(search, "max_seconds"));
	w->elapsed0 = json_number_value(json_object_get(p, "elapsed_s"));
	w->t0 = fitd_clock_s();
	w->has_best = json_is_number(json_object_get(best, "score"));
	w->best = json_number_value(json_object_get(best, "score"));
}

static double elapsed(const struct watch *w)
{
	if (strcmp(w->state, "running") != 0)
		return w->elapsed0;
	return w->elapsed0 + fitd_clock_s() - w->t0;
}

/* Redraws the progress line. */
static void draw(const struct watch *w)
{
	double e = elapsed(w), frac = 0;
	char bar[BAR_WIDTH + 1], text[256], line[320];
	struct winsize ws;
	size_t n = 0;

	if (w->total > 0)
		frac = (double)w->done / (double)w->total;
	if (w->max_seconds > 0 && e / w->max_seconds > frac)
		frac = e / w->max_seconds;
	frac = frac > 1 ? 1 : frac;
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < (int)(frac * BAR_WIDTH + 0.5) ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	if (w->total > 0)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%lld/%lld trials", w->done,
				      w->total);
	else
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%lld trials", w->done);
	if (w->max_seconds > 0)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  %.0f/%.0f s", e,
				      w->max_seconds);
	else
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  %.0f s", e);
	if (w->has_best)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  best %s %.4f", w->metric,
				      w->best);
	if (w->trial >= 0 && !is_terminal(w->state))
		snprintf(text + n, sizeof(text) - n, "  trial %lld", w->trial);
	snprintf(line, sizeof(line), "[%s] %s  %s", bar, text, w->state);
	/* A line longer than the terminal would wrap, and '\r' redraws only its last row. */
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    strlen(line) >= ws.ws_col)
		line[ws.ws_col - 1] = '\0';
	printf("\r%s\033[K", line);
	fflush(stdout);
}

/* One plain line for an event. */
static void print_line(const struct watch *w, const char *event, const json_t *d)
{
	const json_t *params = json_object_get(d, "params");
	const json_t *score = json_object_get(d, "score");
	const json_t *err = json_object_get(d, "error");
	long long trial = json_integer_value(json_object_get(d, "trial"));

	if (strcmp(event, "job_state") == 0) {
		printf("job %s %s", w->job_id, str(d, "state", "?"));
		if (json_is_string(err))
			printf(": %s", json_string_value(err));
	} else if (strcmp(event, "trial_started") == 0) {
		printf("trial %lld started: %s %s", trial, str(params, "model", "?"),
		       str(params, "optimizer", ""));
	} else if (strcmp(event, "trial_progress") == 0) {
		printf("trial %lld epoch %lld loss %.6g %s %.4f", trial,
		       json_integer_value(json_object_get(d, "epoch")),
		       json_number_value(json_object_get(d, "train_loss")), w->metric,
		       json_number_value(score));
	} else if (strcmp(event, "trial_finished") == 0) {
		printf("trial %lld %s", trial, str(d, "state", "?"));
		if (json_is_number(score))
			printf(": %s %.4f ± %.4f", w->metric, json_number_value(score),
			       json_number_value(json_object_get(d, "score_std")));
		else if (json_is_object(err))
			printf(": %s", str(err, "code", ""));
		printf(" (%lld epochs, %lld ms)", json_integer_value(json_object_get(d, "epochs")),
		       json_integer_value(json_object_get(d, "duration_ms")));
	} else if (strcmp(event, "new_best") == 0) {
		printf("new best: trial %lld %s %.4f, model %s", trial, w->metric,
		       json_number_value(score), str(d, "model_id", "-"));
	} else {
		printf("%s", event);
	}
	putchar('\n');
	fflush(stdout);
}

/* Updates the counts from one event. */
static void take_event(struct watch *w, const char *event, const json_t *d)
{
	if (strcmp(event, "job_state") == 0) {
		const char *state = str(d, "state", "");

		if (strcmp(state, "running") == 0 && strcmp(w->state, "running") != 0)
			w->t0 = fitd_clock_s();
		snprintf(w->state, sizeof(w->state), "%s", state);
		w->terminal = is_terminal(state);
	} else if (strcmp(event, "trial_started") == 0) {
		w->trial = json_integer_value(json_object_get(d, "trial"));
	} else if (strcmp(event, "trial_finished") == 0) {
		if (strcmp(str(d, "state", ""), "interrupted") != 0)
			w->done++;
	} else if (strcmp(event, "new_best") == 0) {
		w->has_best = true;
		w->best = json_number_value(json_object_get(d, "score"));
	}
}

static bool on_event(void *arg, const char *id, const char *event, const char *data)
{
	struct watch *w = arg;
	json_t *d = json_loads(data, 0, NULL);

	if (id[0] != '\0')
		snprintf(w->last_id, sizeof(w->last_id), "%s", id);
	w->got = true;
	take_event(w, event, d);
	if (w->json) {
		json_t *line = json_pack("{s:s,s:s,s:O?}", "id", id, "event", event, "data", d);

		json_dumpf(line, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
		putchar('\n');
		fflush(stdout);
		json_decref(line);
	} else if (w->tty) {
		draw(w);
	} else {
		print_line(w, event, d);
	}
	json_decref(d);
	return !w->terminal;
}

static void print_board(const json_t *job, const json_t *items)
{
	const json_t *best = json_object_get(job, "best");
	const json_t *err = json_object_get(job, "error");
	struct client_table t;
	char rank[32], trial[32], score[32], sd[32], epochs[32], ms[32];

	client_table_init(&t, 9);
	client_table_row(&t, "RANK", "TRIAL", "STATE", "SCORE", "STD", "MODEL", "OPTIMIZER",
			 "EPOCHS", "MS");
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *it = json_array_get(items, i);
		const json_t *params = json_object_get(it, "params");
		const json_t *s = json_object_get(it, "score");

		snprintf(rank, sizeof(rank), "%zu", i + 1);
		snprintf(trial, sizeof(trial), "%lld",
			 json_integer_value(json_object_get(it, "trial")));
		snprintf(score, sizeof(score), json_is_number(s) ? "%.4f" : "-",
			 json_number_value(s));
		snprintf(sd, sizeof(sd), json_is_number(s) ? "%.4f" : "-",
			 json_number_value(json_object_get(it, "score_std")));
		snprintf(epochs, sizeof(epochs), "%lld",
			 json_integer_value(json_object_get(it, "epochs")));
		snprintf(ms, sizeof(ms), "%lld",
			 json_integer_value(json_object_get(it, "duration_ms")));
		client_table_row(&t, rank, trial, str(it, "state", ""), score, sd,
				 str(params, "model", ""), str(params, "optimizer", ""), epochs,
				 ms);
	}
	client_table_print(&t, stdout);
	client_table_release(&t);
	printf("job %s %s (%s)\n", str(job, "id", ""), str(job, "state", ""),
	       str(job, "metric", ""));
	if (json_is_object(err))
		fprintf(stderr, "fitd: job %s %s: %s: %s\n", str(job, "id", ""),
			str(job, "state", ""), str(err, "code", ""), str(err, "message", ""));
	printf("best model: %s\n", str(best, "model_id", "none"));
}

/* Prints the ended job's leaderboard; returns the exit status. */
static int finish(struct client *c, struct watch *w, const char *path)
{
	json_t *job = NULL, *board = NULL, *doc;
	char *trials;
	int rc = client_call(c, "GET", path, NULL, &job);

	if (rc == CLIENT_OK && w->tty && !w->json) {
		take_job(w, job);
		draw(w);
		putchar('\n');
	}
	if (asprintf(&trials, "%s/trials?limit=%d", path, TOP) < 0)
		abort();
	if (rc == CLIENT_OK)
		rc = client_call(c, "GET", trials, NULL, &board);
	free(trials);
	if (rc == CLIENT_OK && w->json) {
		doc = json_pack("{s:O,s:O}", "job", job, "leaderboard",
				json_object_get(board, "items"));
		json_dumpf(doc, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(doc);
	} else if (rc == CLIENT_OK) {
		print_board(job, json_object_get(board, "items"));
	}
	if (rc == CLIENT_OK)
		rc = strcmp(str(job, "state", ""), "succeeded") == 0 ? CLIENT_OK
								     : CLIENT_JOB_FAILED;
	json_decref(job);
	json_decref(board);
	return rc;
}

/* Streams until the terminal event; returns CLIENT_OK once the job has ended. */
static int stream(struct client *c, struct watch *w, const char *path)
{
	char *events;
	json_t *job = NULL;
	int rc, idle = 0;

	if (asprintf(&events, "%s/events", path) < 0)
		abort();
	for (;;) {
		w->got = false;
		rc = client_stream(c, events, w->last_id, on_event, w);
		if (w->terminal || rc == CLIENT_API_ERROR || rc == CLIENT_AUTH)
			break;
		if (rc == CLIENT_OK && !w->got) { /* answered, but nothing more: ask the job */
			rc = client_call(c, "GET", path, NULL, &job);
			if (rc != CLIENT_OK || is_terminal(str(job, "state", "")))
				break;
			json_decref(job);
			job = NULL;
		}
		idle = w->got ? 0 : idle + 1;
		if (idle >= RETRIES) {
			fprintf(stderr, "%sfitd: lost the daemon at %s: %s\n", w->tty ? "\n" : "",
				c->base, c->error);
			rc = CLIENT_UNREACHABLE;
			break;
		}
		sleep(RETRY_SLEEP);
	}
	if (rc != CLIENT_OK && w->tty && !w->json)
		putchar('\n');
	json_decref(job);
	free(events);
	return rc;
}

int client_follow(struct client *c, const char *job_id)
{
	struct watch w = { .job_id = job_id, .json = c->json, .trial = -1 };
	char *path = client_path(c, "/v1/jobs/", job_id, "");
	json_t *job = NULL;
	int rc;

	w.tty = isatty(STDOUT_FILENO);
	rc = client_call(c, "GET", path, NULL, &job);
	if (rc == CLIENT_OK) {
		take_job(&w, job);
		w.done = 0; /* counted again from the events */
		w.has_best = false;
		snprintf(w.state, sizeof(w.state), "queued");
		rc = stream(c, &w, path);
	}
	if (rc == CLIENT_OK)
		rc = finish(c, &w, path);
	json_decref(job);
	free(path);
	return rc;
}

int client_watch_main(int argc, char **argv)
{
	static const char usage[] =
	    "usage: fitd watch JOB [--url URL] [--token TOKEN] [--json]\n"
	    "Shows the job's progress until it ends, then its top 10 trials and best model.\n"
	    "A progress bar on a terminal, one line per event otherwise, JSON lines with\n"
	    "--json. Exit status 0 only when the job succeeded.\n\n" CLIENT_COMMON_HELP;
	struct client_args a = { 0 };
	struct client c = { 0 };
	const char *job_id = NULL;
	int rc = client_parse(argc, argv, usage, &a, &job_id, 1, 1);

	if (rc >= 0)
		return rc;
	rc = client_open(&c, &a);
	if (rc == CLIENT_OK)
		rc = client_follow(&c, job_id);
	client_close(&c);
	return rc;
}

/*
 * client.c - `fitd status`, `fitd cancel`, `fitd delete`, `fitd alias`,
 * `fitd predict` with a model id, and the aligned tables the client prints.
 *
 * Ids given on the command line are escaped into the path; the daemon says
 * whether they are well-formed and whether they exist.
 */
#include "daemon/client.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/status.h"
#include "daemon/offline_predict.h"

#define LIST_PAGE 100

void client_table_init(struct client_table *t, size_t cols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	fitd_buf_init(&t->cells, CLIENT_TABLE_ROWS_MAX * cols * sizeof(char *));
}

static char *table_cell(const struct client_table *t, size_t row, size_t col)
{
	return ((char **)t->cells.data)[row * t->cols + col];
}

void client_table_row(struct client_table *t, ...)
{
	char **cell = fitd_buf_grow(&t->cells, t->cols * sizeof(*cell));
	va_list ap;

	if (cell == NULL && fitd_buf_status(&t->cells) == FITD_ETOOBIG) {
		t->dropped++;
		return;
	}
	if (cell == NULL)
		abort();
	va_start(ap, t);
	for (size_t j = 0; j < t->cols; j++) {
		const char *s = va_arg(ap, const char *);

		cell[j] = strdup(s ? s : "");
		if (cell[j] == NULL)
			abort();
	}
	va_end(ap);
	t->rows++;
}

void client_table_print(const struct client_table *t, FILE *f)
{
	size_t width[16] = { 0 };

	for (size_t i = 0; i < t->rows; i++)
		for (size_t j = 0; j < t->cols && j < 16; j++) {
			size_t n = strlen(table_cell(t, i, j));

			if (n > width[j])
				width[j] = n;
		}
	for (size_t i = 0; i < t->rows; i++) {
		for (size_t j = 0; j < t->cols; j++) {
			const char *s = table_cell(t, i, j);

			if (j + 1 == t->cols)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)width[j < 16 ? j : 15], s);
		}
	}
	if (t->dropped > 0)
		fprintf(f, "... %zu more rows not shown (--json lists them all)\n", t->dropped);
}

void client_table_release(struct client_table *t)
{
	for (size_t i = 0; i < t->rows; i++)
		for (size_t j = 0; j < t->cols; j++)
			free(table_cell(t, i, j));
	fitd_buf_release(&t->cells);
	memset(t, 0, sizeof(*t));
}

static void print_json(const json_t *doc)
{
	json_dumpf(doc, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
	fputc('\n', stdout);
}

int client_parse(int argc, char **argv, const char *usage, struct client_args *a, const char **pos,
		 int min_pos, int max_pos)
{
	static const struct option opts[] = { CLIENT_COMMON_OPTIONS, { 0 } };
	int c, n;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return CLIENT_OK;
		}
		if (!client_args_take(a, c, optarg)) {
			fputs(usage, stderr);
			return CLIENT_USAGE;
		}
	}
	n = argc - optind;
	if (n < min_pos || n > max_pos) {
		fputs(usage, stderr);
		return CLIENT_USAGE;
	}
	for (int i = 0; i < n; i++)
		pos[i] = argv[optind + i];
	return -1;
}

static const char *str(const json_t *obj, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : none;
}

/* "5/50" or "5" trials. */
static void trials_text(const json_t *job, char *out, size_t cap)
{
	const json_t *p = json_object_get(job, "progress");
	const json_t *total = json_object_get(p, "trials_total");

	if (json_is_integer(total))
		snprintf(out, cap, "%lld/%lld",
			 json_integer_value(json_object_get(p, "trials_done")),
			 json_integer_value(total));
	else
		snprintf(out, cap, "%lld", json_integer_value(json_object_get(p, "trials_done")));
}

static void score_text(const json_t *job, char *out, size_t cap)
{
	const json_t *score = json_object_get(json_object_get(job, "best"), "score");

	if (json_is_number(score))
		snprintf(out, cap, "%.4f", json_number_value(score));
	else
		snprintf(out, cap, "-");
}

static int status_list(struct client *c)
{
	struct client_table t;
	json_t *all = json_array(), *page = NULL;
	char path[128], trials[64], score[64];
	const char *next;
	int rc;

	client_table_init(&t, 7);
	client_table_row(&t, "JOB", "STATE", "TARGET", "METRIC", "TRIALS", "BEST", "CREATED");
	snprintf(path, sizeof(path), "/v1/jobs?limit=%d", LIST_PAGE);
	while ((rc = client_call(c, "GET", path, NULL, &page)) == CLIENT_OK) {
		json_array_extend(all, json_object_get(page, "items"));
		next = json_string_value(json_object_get(page, "next_after"));
		if (next == NULL || strlen(next) > 64)
			break;
		snprintf(path, sizeof(path), "/v1/jobs?limit=%d&after=%s", LIST_PAGE, next);
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	for (size_t i = 0; rc == CLIENT_OK && i < json_array_size(all); i++) {
		const json_t *job = json_array_get(all, i);

		trials_text(job, trials, sizeof(trials));
		score_text(job, score, sizeof(score));
		client_table_row(&t, str(job, "id", ""), str(job, "state", ""),
				 str(job, "target", ""), str(job, "metric", ""), trials, score,
				 str(job, "created_at", ""));
	}
	if (rc == CLIENT_OK && c->json) {
		json_t *doc = json_pack("{s:O}", "items", all);

		print_json(doc);
		json_decref(doc);
	} else if (rc == CLIENT_OK) {
		client_table_print(&t, stdout);
	}
	client_table_release(&t);
	json_decref(all);
	return rc;
}

/*
 * A subcommand on one job: parses argv (min_ids..1 job ids), sends method to
 * /v1/jobs/JOB<suffix> and prints the answer, as JSON with --json, else by
 * print. Only status takes no JOB (min_ids 0), and then lists the jobs.
 */
static int job_command(int argc, char **argv, const char *usage, int min_ids, const char *method,
		       const char *suffix, void (*print)(const json_t *job, const char *job_id))
{
	struct client_args a = { 0 };
	const char *job_id = NULL;
	struct client c;
	json_t *job = NULL;
	char *path;
	int rc = client_parse(argc, argv, usage, &a, &job_id, min_ids, 1);

	if (rc >= 0)
		return rc;
	rc = client_open(&c, &a);
	if (rc == CLIENT_OK && job_id == NULL) {
		rc = status_list(&c);
	} else if (rc == CLIENT_OK) {
		path = client_path(&c, "/v1/jobs/", job_id, suffix);
		rc = client_call(&c, method, path, NULL, &job);
		free(path);
		if (rc == CLIENT_OK && c.json)
			print_json(job);
		else if (rc == CLIENT_OK)
			print(job, job_id);
		json_decref(job);
	}
	client_close(&c);
	return rc;
}

/* "family    gbdt: 12 trials, 8.4 s, best 0.9733", one line per family. */
static void status_print_families(const json_t *families)
{
	const char *name;
	json_t *f;

	json_object_foreach((json_t *)families, name, f)
	{
		const json_t *best = json_object_get(f, "best_score");

		printf("family    %s: %lld trials, %.1f s, best ", name,
		       json_integer_value(json_object_get(f, "trials")),
		       json_number_value(json_object_get(f, "seconds")));
		if (json_is_number(best))
			printf("%.4f\n", json_number_value(best));
		else
			printf("-\n");
	}
}

static void status_print_job(const json_t *job, const char *job_id)
{
	const json_t *p = json_object_get(job, "progress");
	const json_t *best = json_object_get(job, "best");
	const json_t *err = json_object_get(job, "error");
	char trials[64], score[64];

	(void)job_id; /* the answer names it */
	trials_text(job, trials, sizeof(trials));
	score_text(job, score, sizeof(score));
	printf("job       %s\n", str(job, "id", ""));
	printf("state     %s\n", str(job, "state", ""));
	printf("dataset   %s\n", str(job, "dataset", ""));
	printf("target    %s (%s, %s)\n", str(job, "target", ""), str(job, "task", ""),
	       str(job, "metric", ""));
	printf("progress  %s trials done, %lld running, %.1f s\n", trials,
	       json_integer_value(json_object_get(p, "trials_running")),
	       json_number_value(json_object_get(p, "elapsed_s")));
	if (json_is_object(best))
		printf("best      %s (trial %lld)\n", score,
		       json_integer_value(json_object_get(best, "trial")));
	else
		printf("best      -\n");
	printf("model     %s\n", str(best, "model_id", "-"));
	if (json_is_object(err))
		printf("error     %s: %s\n", str(err, "code", ""), str(err, "message", ""));
	else
		printf("error     -\n");
	status_print_families(json_object_get(job, "families"));
}

int client_status_main(int argc, char **argv)
{
	static const char usage[] =
	    "usage: fitd status [JOB] [--url URL] [--token TOKEN] [--json]\n"
	    "Without JOB, a table of the jobs; with JOB, its state, progress, best score,\n"
	    "model id, error and how its trials were spent per model "
	    "family.\n\n" CLIENT_COMMON_HELP;

	return job_command(argc, argv, usage, 0, "GET", "", status_print_job);
}

static void cancel_print(const json_t *job, const char *job_id)
{
	printf("%s: cancel requested\n", str(job, "id", job_id));
}

int client_cancel_main(int argc, char **argv)
{
	static const char usage[] = "usage: fitd cancel JOB [--url URL] [--token TOKEN] [--json]\n"
				    "Asks the daemon to cancel the job; running trials stop within "
				    "a second.\n\n" CLIENT_COMMON_HELP;

	return job_command(argc, argv, usage, 1, "POST", "/cancel", cancel_print);
}

static void delete_print(const json_t *gone, const char *job_id)
{
	const json_t *kept = json_object_get(gone, "models_kept");

	printf("%s: deleted with %lld model(s)", str(gone, "id", job_id),
	       json_integer_value(json_object_get(gone, "models_deleted")));
	for (size_t i = 0; i < json_array_size(kept); i++)
		printf("%s %s", i == 0 ? "; kept for an alias:" : ",",
		       json_string_value(json_array_get(kept, i)));
	putchar('\n');
}

int client_delete_main(int argc, char **argv)
{
	static const char usage[] =
	    "usage: fitd delete JOB [--url URL] [--token TOKEN] [--json]\n"
	    "Deletes a finished job with its trials, events and models (a model an alias\n"
	    "holds stays). A queued or running job is refused: cancel it "
	    "first.\n\n" CLIENT_COMMON_HELP;

	return job_command(argc, argv, usage, 1, "DELETE", "", delete_print);
}

/* ---- fitd alias ---- */

static int alias_list(struct client *c)
{
	struct client_table t;
	json_t *all = json_array(), *page = NULL;
	char path[160];
	const char *next;
	int rc;

	client_table_init(&t, 3);
	client_table_row(&t, "ALIAS", "MODEL", "UPDATED");
	snprintf(path, sizeof(path), "/v1/aliases?limit=%d", LIST_PAGE);
	while ((rc = client_call(c, "GET", path, NULL, &page)) == CLIENT_OK) {
		json_array_extend(all, json_object_get(page, "items"));
		next = json_string_value(json_object_get(page, "next_after"));
		if (next == NULL || strlen(next) > 64)
			break;
		snprintf(path, sizeof(path), "/v1/aliases?limit=%d&after=%s", LIST_PAGE, next);
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	for (size_t i = 0; rc == CLIENT_OK && i < json_array_size(all); i++) {
		const json_t *a = json_array_get(all, i);

		client_table_row(&t, str(a, "name", ""), str(a, "model", ""),
				 str(a, "updated_at", ""));
	}
	if (rc == CLIENT_OK && c->json) {
		json_t *doc = json_pack("{s:O}", "items", all);

		print_json(doc);
		json_decref(doc);
	} else if (rc == CLIENT_OK) {
		client_table_print(&t, stdout);
	}
	client_table_release(&t);
	json_decref(all);
	return rc;
}

/* One alias: shown (model NULL), pointed at model, or deleted; the answer printed. */
static int alias_one(struct client *c, const char *name, const char *model, bool del)
{
	char *path = client_path(c, "/v1/aliases/", name, "");
	struct client_body body = { .type = "application/json" };
	json_t *req = model ? json_pack("{s:s}", "model", model) : NULL, *out = NULL;
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc;

	if (model != NULL && text == NULL)
		abort();
	body.data = text;
	body.len = text ? strlen(text) : 0;
	rc = client_call(c,
			 del	 ? "DELETE"
			 : model ? "PUT"
				 : "GET",
			 path, model ? &body : NULL, &out);
	if (rc == CLIENT_OK && c->json)
		print_json(out);
	else if (rc == CLIENT_OK && del)
		printf("%s: deleted (it pointed at %s)\n", name, str(out, "model", "-"));
	else if (rc == CLIENT_OK && model != NULL)
		printf("%s -> %s (was %s)\n", name, str(out, "model", "-"),
		       str(out, "previous", "none"));
	else if (rc == CLIENT_OK)
		printf("%s -> %s (since %s)\n", name, str(out, "model", "-"),
		       str(out, "updated_at", "-"));
	json_decref(out);
	json_decref(req);
	free(text);
	free(path);
	return rc;
}

int client_alias_main(int argc, char **argv)
{
	static const char usage[] =
	    "usage: fitd alias [NAME [MODEL]] [--delete] [--url URL] [--token TOKEN] [--json]\n"
	    "Without NAME, a table of the aliases; with NAME, the model it points at; with\n"
	    "NAME MODEL, points the alias at the model (created or switched at once);\n"
	    "with NAME --delete, deletes the alias. Names: 1 to 64 of a-z 0-9 . _ "
	    "-.\n\n" CLIENT_COMMON_HELP;
	static const struct option opts[] = { CLIENT_COMMON_OPTIONS,
					      { "delete", no_argument, NULL, 'D' },
					      { 0 } };
	struct client_args a = { 0 };
	struct client c;
	bool del = false;
	int ch, n, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return CLIENT_OK;
		}
		if (ch == 'D')
			del = true;
		else if (!client_args_take(&a, ch, optarg)) {
			fputs(usage, stderr);
			return CLIENT_USAGE;
		}
	}
	n = argc - optind;
	if (n > 2 || (del && n != 1)) {
		fputs(usage, stderr);
		return CLIENT_USAGE;
	}
	rc = client_open(&c, &a);
	if (rc == CLIENT_OK && n == 0)
		rc = alias_list(&c);
	else if (rc == CLIENT_OK)
		rc = alias_one(&c, argv[optind], n == 2 ? argv[optind + 1] : NULL, del);
	client_close(&c);
	return rc;
}

int client_predict_remote(const struct client_args *a, const char *model_id, const char *input,
			  bool json, bool explain)
{
	struct client_body body = { .type = "text/csv" };
	struct client c;
	json_t *res = NULL;
	char *path;
	int rc;

	body.file = client_input_open(input, &body.size);
	if (body.file == NULL) {
		fprintf(stderr, "fitd predict: %s: %m\n", input);
		return CLIENT_USAGE;
	}
	rc = client_open(&c, a);
	if (rc == CLIENT_OK) {
		path = client_path(&c, "/v1/models/", model_id,
				   explain ? "/predict?explain=true" : "/predict");
		rc = client_call(&c, "POST", path, &body, &res);
		free(path);
	}
	if (rc == CLIENT_OK && json)
		print_json(res);
	else if (rc == CLIENT_OK)
		offline_predict_write_csv(stdout, res);
	json_decref(res);
	fclose(body.file);
	client_close(&c);
	return rc;
}

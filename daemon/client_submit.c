/*
 * client_submit.c - `fitd submit FILE.csv --target COL [spec options]
 * [--spec FILE.json] [--follow]`: uploads the table, submits a job on it,
 * prints the job's id, and with --follow watches it to the end.
 *
 * The spec starts as --spec's document (or {}); the dataset, --target and
 * each spec flag are then set in it, so flags override the file. The
 * daemon checks the values: the client only checks their shapes.
 */
#include "daemon/client.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/status.h"

static const char usage[] =
    "usage: fitd submit FILE.csv --target COL [OPTION]... [--follow]\n"
    "Uploads FILE.csv, submits a job that predicts COL, prints the job id.\n\n"
    "  --target COL       the column to predict\n"
    "  --spec FILE.json   a whole job spec; dataset and target are filled in, flags override\n"
    "  --task T           auto, classification, regression\n"
    "  --metric M         accuracy, balanced_accuracy, f1, log_loss, auc, rmse, mae, r2\n"
    "  --models A,B       model families: linear, logistic, svm, mlp, gbdt\n"
    "  --max-trials N     trial budget\n"
    "  --max-seconds S    time budget in seconds (a fraction allowed: 2.5)\n"
    "  --algorithm A      auto, random, grid, tpe, asha\n"
    "  --seed N           search seed\n"
    "  --exclude A,B      columns left out\n"
    "  --validation V     cv:FOLDS[:REPEATS] or holdout:FRACTION\n"
    "  --follow           show progress until the job ends, then its leaderboard\n"
    "                     (exit 0 only when the job succeeded)\n" CLIENT_COMMON_HELP;

/* Sets obj.key.sub (sub may be NULL) to value, which is stolen. */
static void set_in(json_t *spec, const char *key, const char *sub, json_t *value)
{
	json_t *inner;

	if (sub == NULL) {
		json_object_set_new(spec, key, value);
		return;
	}
	inner = json_object_get(spec, key);
	if (!json_is_object(inner)) {
		inner = json_object();
		json_object_set_new(spec, key, inner);
	}
	json_object_set_new(inner, sub, value);
}

/* "a,b" as a JSON array of strings; NULL when an item is empty. */
static json_t *comma_list(const char *text)
{
	json_t *list = json_array();
	const char *p = text;

	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == 0) {
			json_decref(list);
			return NULL;
		}
		json_array_append_new(list, json_stringn(p, n));
		if (p[n] == '\0')
			return list;
		p += n + 1;
	}
}

static bool parse_int(const char *text, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(text, &end, 10);
	return errno == 0 && end != text && *end == '\0';
}

static bool parse_real(const char *text, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	return errno == 0 && end != text && *end == '\0';
}

/* cv:FOLDS[:REPEATS] or holdout:FRACTION; NULL when malformed. */
static json_t *validation(const char *text)
{
	long long folds, repeats;
	double fraction;
	char head[16], tail[64];

	if (sscanf(text, "cv:%15[0-9]:%63s", head, tail) == 2 && parse_int(head, &folds) &&
	    parse_int(tail, &repeats))
		return json_pack("{s:s,s:I,s:I}", "method", "cv", "folds", folds, "repeats",
				 repeats);
	if (strncmp(text, "cv:", 3) == 0 && parse_int(text + 3, &folds))
		return json_pack("{s:s,s:I}", "method", "cv", "folds", folds);
	if (strncmp(text, "holdout:", 8) == 0 && parse_real(text + 8, &fraction))
		return json_pack("{s:s,s:f}", "method", "holdout", "fraction", fraction);
	return NULL;
}

/* Applies one spec flag; false when its value is malformed (reported). */
static bool spec_flag(json_t *spec, const char *name, const char *arg)
{
	json_t *v = NULL;
	long long n;
	double x;

	if (strcmp(name, "target") == 0 || strcmp(name, "task") == 0 || strcmp(name, "metric") == 0)
		set_in(spec, name, NULL, v = json_string(arg));
	else if (strcmp(name, "models") == 0 && (v = comma_list(arg)) != NULL)
		set_in(spec, "space", "models", v);
	else if (strcmp(name, "exclude") == 0 && (v = comma_list(arg)) != NULL)
		set_in(spec, "exclude_columns", NULL, v);
	else if (strcmp(name, "algorithm") == 0)
		set_in(spec, "search", "algorithm", v = json_string(arg));
	else if (strcmp(name, "max-trials") == 0 && parse_int(arg, &n))
		set_in(spec, "search", "max_trials", v = json_integer(n));
	else if (strcmp(name, "seed") == 0 && parse_int(arg, &n))
		set_in(spec, "search", "seed", v = json_integer(n));
	else if (strcmp(name, "max-seconds") == 0 && parse_int(arg, &n))
		set_in(spec, "search", "max_seconds", v = json_integer(n));
	else if (strcmp(name, "max-seconds") == 0 && parse_real(arg, &x) && isfinite(x))
		set_in(spec, "search", "max_seconds", v = json_real(x)); /* 2.5, as the API takes */
	else if (strcmp(name, "validation") == 0 && (v = validation(arg)) != NULL)
		set_in(spec, "validation", NULL, v);
	if (v == NULL)
		fprintf(stderr, "fitd submit: --%s: bad value '%s'\n", name, arg);
	return v != NULL;
}

struct submit {
	const char *csv;
	json_t *spec;
	bool follow;
};

/* Returns -1 to go on, else the exit status. s->spec is set in both cases. */
static int parse_args(int argc, char **argv, struct client_args *a, struct submit *s)
{
	static const struct option opts[] = {
		CLIENT_COMMON_OPTIONS,
		{ "spec", required_argument, NULL, 'S' },
		{ "follow", no_argument, NULL, 'F' },
		{ "target", required_argument, NULL, 1 },
		{ "task", required_argument, NULL, 1 },
		{ "metric", required_argument, NULL, 1 },
		{ "models", required_argument, NULL, 1 },
		{ "max-trials", required_argument, NULL, 1 },
		{ "max-seconds", required_argument, NULL, 1 },
		{ "algorithm", required_argument, NULL, 1 },
		{ "seed", required_argument, NULL, 1 },
		{ "exclude", required_argument, NULL, 1 },
		{ "validation", required_argument, NULL, 1 },
		{ 0 },
	};
	json_t *flags = json_object(); /* spec flags, applied after --spec is read */
	const char *spec_file = NULL, *key;
	json_error_t jerr;
	json_t *v;
	int c, idx, rc = -1;

	s->spec = NULL;
	optind = 0;
	while (rc < 0 && (c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c == 1)
			json_object_set_new(flags, opts[idx].name, json_string(optarg));
		else if (c == 'S')
			spec_file = optarg;
		else if (c == 'F')
			s->follow = true;
		else if (c == 'h')
			rc = CLIENT_OK;
		else if (!client_args_take(a, c, optarg))
			rc = CLIENT_USAGE;
	}
	if (rc == CLIENT_OK)
		fputs(usage, stdout);
	if (rc < 0 && argc - optind != 1)
		rc = CLIENT_USAGE;
	if (rc == CLIENT_USAGE)
		fputs(usage, stderr);
	if (rc >= 0)
		goto out;
	s->csv = argv[optind];
	s->spec = spec_file ? json_load_file(spec_file, JSON_REJECT_DUPLICATES, &jerr)
			    : json_object();
	if (!json_is_object(s->spec)) {
		fprintf(stderr, "fitd submit: %s: %s\n", spec_file,
			s->spec ? "not a JSON object" : jerr.text);
		rc = CLIENT_USAGE;
		goto out;
	}
	json_object_foreach(flags, key, v)
	{
		if (!spec_flag(s->spec, key, json_string_value(v)))
			rc = CLIENT_USAGE;
	}
	if (rc < 0 && !json_is_string(json_object_get(s->spec, "target"))) {
		fprintf(stderr, "fitd submit: give --target COL (or a target in --spec)\n");
		rc = CLIENT_USAGE;
	}
out:
	json_decref(flags);
	return rc;
}

/*
 * The dataset's name: the file's base name without ".csv" (malloc'd), made
 * a name the daemon takes: control characters become '_', bytes that are
 * not UTF-8 (a file named in Latin-1) are dropped, and "table" stands for
 * what is left empty. The daemon refused such a name with a message about
 * ?name=, which the command's user never gave.
 */
static char *dataset_name(const char *path)
{
	char *copy = strdup(path), *name;
	size_t n;

	if (copy == NULL || (name = strdup(basename(copy))) == NULL)
		abort();
	free(copy);
	n = strlen(name);
	if (n > 4 && strcasecmp(name + n - 4, ".csv") == 0)
		name[n - 4] = '\0';
	for (char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	fitd_utf8_scrub(name);
	if (name[0] == '\0') {
		free(name);
		if ((name = strdup("table")) == NULL)
			abort();
	}
	return name;
}

/* Uploads the CSV; *id receives the dataset's id (malloc'd). */
static int upload(struct client *c, const char *csv, char **id)
{
	struct client_body body = { .type = "text/csv" };
	char *name = dataset_name(csv), *path;
	json_t *ds = NULL;
	int rc;

	body.file = client_input_open(csv, &body.size);
	if (body.file == NULL) {
		fprintf(stderr, "fitd submit: %s: %m\n", csv);
		rc = CLIENT_USAGE;
		goto out;
	}
	path = client_path(c, "/v1/datasets?name=", name, "");
	rc = client_call(c, "POST", path, &body, &ds);
	free(path);
	if (rc == CLIENT_OK && !json_is_string(json_object_get(ds, "id"))) {
		fprintf(stderr, "fitd submit: the daemon's answer has no dataset id\n");
		rc = CLIENT_API_ERROR;
	}
	if (rc == CLIENT_OK && (*id = strdup(json_string_value(json_object_get(ds, "id")))) == NULL)
		abort();
out:
	if (body.file != NULL)
		fclose(body.file);
	json_decref(ds);
	free(name);
	return rc;
}

/*
 * Deletes the dataset this command uploaded when its job was refused, so a
 * misspelt --target leaves no table behind that nobody knows the id of. A
 * failure here is said, and does not change the exit status.
 */
static void drop_dataset(struct client *c, const char *dataset)
{
	char *path = client_path(c, "/v1/datasets/", dataset, "");

	if (client_call(c, "DELETE", path, NULL, NULL) != CLIENT_OK)
		fprintf(stderr, "fitd submit: the uploaded table %s is left on the daemon\n",
			dataset);
	free(path);
}

int client_submit_main(int argc, char **argv)
{
	struct client_args a = { 0 };
	struct submit s = { 0 };
	struct client c = { 0 };
	struct client_body body = { .type = "application/json" };
	char *dataset = NULL, *text = NULL;
	const char *job_id;
	json_t *job = NULL;
	int rc = parse_args(argc, argv, &a, &s);

	if (rc >= 0)
		goto out;
	rc = client_open(&c, &a);
	if (rc == CLIENT_OK)
		rc = upload(&c, s.csv, &dataset);
	if (rc != CLIENT_OK)
		goto out;
	json_object_set_new(s.spec, "dataset", json_string(dataset));
	text = json_dumps(s.spec, JSON_COMPACT | JSON_REAL_PRECISION(17));
	body.data = text;
	body.len = strlen(text);
	rc = client_call(&c, "POST", "/v1/jobs", &body, &job);
	if (rc == CLIENT_OK && (job_id = json_string_value(json_object_get(job, "id"))) == NULL) {
		fprintf(stderr, "fitd submit: the daemon's answer has no job id\n");
		rc = CLIENT_API_ERROR;
	}
	if (rc == CLIENT_API_ERROR) /* the spec was refused: no job will read the table */
		drop_dataset(&c, dataset);
	if (rc != CLIENT_OK)
		goto out;
	if (c.json)
		json_dumpf(job, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
	else
		fputs(job_id, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	if (s.follow)
		rc = client_follow(&c, job_id);
out:
	json_decref(job);
	json_decref(s.spec);
	free(text);
	free(dataset);
	client_close(&c);
	return rc;
}

/*
 * offline_predict.c - `fitd predict --model FILE --input FILE.csv
 * [--format csv|json] [--threads N] [--explain]`: scoring without a daemon,
 * through the same code (worker/predict.h) as POST /v1/models/{id}/predict.
 *
 * The model file is a model document as GET /v1/models/{id} returns it.
 * CSV output has one line per input row: the prediction, then for a
 * classifier one probability column per class ("p_<class>"), then with
 * --explain each output's contributions ("c_<column>" and "c_bias", or
 * "c_<output>_<column>" and "c_<output>_bias" when there are several
 * outputs), which sum to the output's margin. Offline, --explain has no
 * row limit. Exit status:
 * 0 on success, 2 for bad arguments, 1 when the model or the input cannot
 * be used (the reason on stderr).
 *
 * When --model is a model id (mdl_…) and no file has that name, the daemon
 * scores the input instead (client.c), with the client's exit statuses.
 */
#include "daemon/offline_predict.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/client.h"
#include "worker/model_json.h"
#include "worker/predict.h"

static const char usage[] =
    "usage: fitd predict --model FILE|ID --input FILE.csv [--format csv|json] [--threads N]\n"
    "                    [--explain] [--url URL] [--token TOKEN] [--json]\n"
    "Scores FILE.csv with a model file offline, or with the daemon's model ID (mdl_…)\n"
    "when no file has that name. CSV output: prediction, then p_<class> columns.\n\n"
    "  --format csv|json  output format (--json is --format json)\n"
    "  --threads N        parsing and scoring threads offline (default 1)\n"
    "  --explain          each row's contributions per column, which sum to the margin\n"
    "                     (c_<column>..., c_bias; per output "
    "c_<output>_<column>)\n" CLIENT_COMMON_HELP
    "Offline, 1 means the model or the input cannot be used.\n";

/* The model at path, and its document (*doc) the caller frees. */
static int load_model(const char *path, struct fit_model **out, json_t **doc,
		      struct fitd_error *err)
{
	json_error_t jerr;

	*doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (*doc == NULL)
		return fitd_error_set(err, FITD_EFORMAT, "malformed_model", "%s:%d: %s", path,
				      jerr.line, jerr.text);
	return worker_model_from_json(*doc, out, err);
}

static int load_frame(const struct fit_model *m, const json_t *doc, const char *path, int threads,
		      struct fit_frame **out, struct fitd_error *err)
{
	struct store_csv_options opt = { .threads = threads };
	curl_off_t size = 0;
	FILE *f = client_input_open(path, &size);
	void *map = NULL;
	int rc;

	if (f == NULL) {
		rc = fitd_error_set(err, FITD_EIO, "input", "%s: %m", path);
		goto out;
	}
	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
		if (map == MAP_FAILED) {
			map = NULL;
			rc = fitd_error_set(err, FITD_EIO, "input", "%s: %m", path);
			goto out;
		}
	}
	rc = worker_predict_frame_csv(m, json_object_get(doc, "excluded_columns"), map,
				      (size_t)size, &opt, out, err);
out:
	if (map != NULL)
		munmap(map, (size_t)size);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Writes s as one CSV field, quoted when it needs to be. */
static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The header of the contributions: c_<column>, c_bias, per output when there are several. */
static void contrib_header(FILE *f, const json_t *contrib)
{
	const json_t *cols = json_object_get(contrib, "columns");
	const json_t *outs = json_object_get(contrib, "outputs");
	size_t k = json_array_size(outs);
	char name[512];

	for (size_t o = 0; o < k; o++) {
		const char *out = json_string_value(json_array_get(outs, o));

		for (size_t j = 0; j <= json_array_size(cols); j++) {
			const char *col = j < json_array_size(cols)
					      ? json_string_value(json_array_get(cols, j))
					      : "bias";

			if (k == 1)
				snprintf(name, sizeof(name), "c_%s", col);
			else
				snprintf(name, sizeof(name), "c_%s_%s", out, col);
			fputc(',', f);
			csv_field(f, name);
		}
	}
}

/* Row i's contributions, output after output. */
static void contrib_row(FILE *f, const json_t *contrib, size_t i)
{
	const json_t *row = json_array_get(json_object_get(contrib, "values"), i), *out;
	size_t o, j;

	json_array_foreach(row, o, out)
	{
		for (j = 0; j < json_array_size(out); j++)
			fprintf(f, ",%.17g", json_number_value(json_array_get(out, j)));
	}
}

void offline_predict_write_csv(FILE *f, const json_t *res)
{
	const json_t *pred = json_object_get(res, "predictions");
	const json_t *classes = json_object_get(res, "classes");
	const json_t *prob = json_object_get(res, "probabilities");
	const json_t *contrib = json_object_get(res, "contributions");
	char name[512];

	fputs("prediction", f);
	for (size_t k = 0; k < json_array_size(classes); k++) {
		snprintf(name, sizeof(name), "p_%s", json_string_value(json_array_get(classes, k)));
		fputc(',', f);
		csv_field(f, name);
	}
	if (contrib != NULL)
		contrib_header(f, contrib);
	fputs("\n", f);
	for (size_t i = 0; i < json_array_size(pred); i++) {
		const json_t *p = json_array_get(pred, i);
		const json_t *row = json_array_get(prob, i);

		if (json_is_string(p))
			csv_field(f, json_string_value(p));
		else
			fprintf(f, "%.17g", json_number_value(p));
		for (size_t k = 0; k < json_array_size(row); k++)
			fprintf(f, ",%.17g", json_number_value(json_array_get(row, k)));
		if (contrib != NULL)
			contrib_row(f, contrib, i);
		fputs("\n", f);
	}
}

int offline_predict_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "input", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{ "threads", required_argument, NULL, 't' },
		{ "explain", no_argument, NULL, 'e' },
		CLIENT_COMMON_OPTIONS,
		{ 0 },
	};
	struct client_args remote = { 0 };
	const char *model_path = NULL, *input = NULL, *format = "csv";
	struct fitd_error err = { 0 };
	struct fit_model *m = NULL;
	struct fit_frame *frame = NULL;
	json_t *res = NULL, *doc = NULL;
	long threads = 1;
	bool explain = false;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			model_path = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 't':
			threads = strtol(optarg, &end, 10);
			if (*end != '\0' || threads < 1 || threads > 1024) {
				fprintf(stderr, "fitd predict: --threads must be 1..1024\n");
				return 2;
			}
			break;
		case 'e':
			explain = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			if (client_args_take(&remote, c, optarg))
				break;
			fputs(usage, stderr);
			return 2;
		}
	}
	if (remote.json)
		format = "json";
	if (model_path == NULL || input == NULL || optind != argc ||
	    (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		if (model_path == NULL || input == NULL)
			fprintf(stderr, "fitd predict: give --model FILE|ID and --input FILE.csv");
		else if (optind != argc)
			fprintf(stderr, "fitd predict: unexpected argument '%s'", argv[optind]);
		else
			fprintf(stderr, "fitd predict: --format must be csv or json, not '%s'",
				format);
		fprintf(stderr, " (see --help)\n");
		return 2;
	}
	if (strncmp(model_path, "mdl_", 4) == 0 && access(model_path, F_OK) != 0)
		return client_predict_remote(&remote, model_path, input,
					     strcmp(format, "json") == 0, explain);
	rc = load_model(model_path, &m, &doc, &err);
	if (rc == FITD_OK)
		rc = load_frame(m, doc, input, (int)threads, &frame, &err);
	if (rc == FITD_OK)
		rc = worker_predict(m, frame, (int)threads, &res, &err);
	if (rc == FITD_OK && explain)
		rc = worker_explain(m, frame, (int)threads, 0, res, &err);
	if (rc == FITD_OK && strcmp(format, "json") == 0) {
		json_dumpf(res, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
		fputc('\n', stdout);
	} else if (rc == FITD_OK) {
		offline_predict_write_csv(stdout, res);
	}
	if (rc == FITD_OK && (fflush(stdout) != 0 || ferror(stdout)))
		rc = fitd_error_set(&err, FITD_EIO, "output", "writing the predictions: %m");
	if (rc != FITD_OK)
		fprintf(stderr, "fitd predict: %s\n", err.message);
	json_decref(res);
	json_decref(doc);
	fit_frame_free(frame);
	fit_model_free(m);
	return rc == FITD_OK ? 0 : 1;
}

/*
 * fuzz_spec.c - libFuzzer harness of the job-spec validator (worker/spec.c
 * and the search space it builds, worker/search/space.c).
 *
 * The input is a POST /v1/jobs body: it is parsed as api/jobs.c parses it
 * (json_loadb with JSON_REJECT_DUPLICATES, a JSON object required) and
 * validated against a fixed dataset of numeric and categorical columns at
 * three sizes (a tiny, a small and a large table: the defaults differ).
 *
 * Properties checked besides the sanitizers': a refusal is a client error
 * (FITD_EFORMAT or FITD_EUNPROCESSABLE) with a code and a message the API
 * can send (valid UTF-8); an accepted spec survives the trip through the
 * stored text unchanged (the normalized JSON, dumped as api/jobs.c stores
 * it, read back with worker_spec_from_json(), gives the same normalized
 * JSON and the same grid size), and its searcher starts and proposes
 * points of its space. The body is also read as if it were a stored spec,
 * which must not crash either.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <string.h>

#include "worker/search/search.h"
#include "worker/search/space.h"
#include "worker/spec.h"

#define PROPOSALS 4 /* proposals checked per accepted spec */

/* Iris's columns (the corpus of tests/corpus/ names them) and harder ones. */
static struct worker_column_info cols[] = {
	/* name, numeric, nlevels, missing, integer_valued, distinct */
	{ "sepal_length", true, 0, 0, false, 35 },
	{ "sepal_width", true, 0, 0, false, 23 },
	{ "petal_length", true, 0, 0, false, 43 },
	{ "petal_width", true, 0, 0, false, 22 },
	{ "species", false, 3, 0, false, 0 },
	{ "x", true, 0, 2, false, WORKER_DISTINCT_CAP },
	{ "y", true, 0, 0, false, WORKER_DISTINCT_CAP },
	{ "count", true, 0, 0, true, 7 },
	{ "flag", true, 0, 1, true, 2 },
	{ "constant", true, 0, 0, true, 1 },
	{ "id", true, 0, 0, true, WORKER_DISTINCT_CAP },
	{ "label", false, 2, 1, false, 0 },
	{ "one", false, 1, 0, false, 0 },
	{ "größe", false, 1001, 0, false, 0 },
	{ "empty", true, 0, 0, false, 0 }, /* missing: every row, set per size */
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static void check_refusal(int rc, const struct fitd_error *err)
{
	json_t *probe;

	FUZZ_CHECK(rc == FITD_EFORMAT || rc == FITD_EUNPROCESSABLE, "status %d (%s: %s)", rc,
		   err->code, err->message);
	FUZZ_CHECK(err->status == rc && err->code[0] != '\0' && err->message[0] != '\0',
		   "error not filled");
	probe = json_string(err->message);
	FUZZ_CHECK(probe != NULL, "message not UTF-8: %s", err->message);
	json_decref(probe);
}

/* The normalized spec through its stored text and back must not change. */
static void check_round_trip(const struct worker_spec *spec)
{
	struct worker_spec *again = NULL;
	struct fitd_error err = { 0 };
	json_t *first = worker_spec_to_json(spec), *stored, *second;
	char *text;
	int rc;

	FUZZ_CHECK(first != NULL, "to_json");
	text = json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_CHECK(text != NULL, "dumps");
	stored = json_loads(text, 0, NULL);
	FUZZ_CHECK(stored != NULL, "stored spec does not parse: %s", text);
	rc = worker_spec_from_json(stored, &again, &err);
	FUZZ_CHECK(rc == FITD_OK, "stored spec refused: %s: %s: %s", text, err.code, err.message);
	second = worker_spec_to_json(again);
	FUZZ_CHECK(json_equal(first, second), "changed on the way back: %s", text);
	FUZZ_CHECK(search_space_size(worker_spec_space(spec)) ==
		       search_space_size(worker_spec_space(again)),
		   "grid size changed: %s", text);
	json_decref(second);
	worker_spec_free(again);
	json_decref(stored);
	free(text);
	json_decref(first);
}

/* The searcher of an accepted spec starts, and its first proposals are points of the space. */
static void check_search(const struct worker_spec *spec)
{
	const struct search_history none = { NULL, 0 };
	struct fitd_error err = { 0 };
	struct search *s = NULL;
	int rc = search_new(spec, &s, &err);

	FUZZ_CHECK(rc == FITD_OK, "search_new: %s: %s", err.code, err.message);
	for (size_t idx = 0; idx < PROPOSALS; idx++) {
		json_t *params = search_propose(s, idx, &none);
		struct space_point point;

		if (params == NULL) /* a finite space is exhausted */
			break;
		rc = search_space_point_from_json(worker_spec_space(spec), params, &point);
		FUZZ_CHECK(rc == FITD_OK, "proposal %zu is not a point of the space", idx);
		json_decref(params);
	}
	search_free(s);
}

static void validate(const json_t *body, size_t nrows)
{
	struct worker_spec *spec = NULL;
	struct fitd_error err = { 0 };
	int rc;

	cols[NCOLS - 1].missing = nrows;
	rc = worker_spec_parse(body, cols, NCOLS, nrows, &spec, &err);
	FUZZ_CHECK((rc == FITD_OK) == (spec != NULL), "rc %d", rc);
	if (rc == FITD_OK) {
		check_round_trip(spec);
		check_search(spec);
	} else {
		check_refusal(rc, &err);
	}
	worker_spec_free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 3, 400, 20000 };
	struct worker_spec *spec = NULL;
	json_error_t jerr;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		validate(body, sizes[i]);
	if (worker_spec_from_json(body, &spec, NULL) == FITD_OK)
		check_round_trip(spec);
	worker_spec_free(spec);
	json_decref(body);
	return 0;
}

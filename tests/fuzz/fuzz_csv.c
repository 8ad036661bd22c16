/*
 * fuzz_csv.c - libFuzzer harness of the CSV parser (store/csv*.c).
 *
 * Each input is parsed as CSV with small limits (columns, field bytes,
 * rows), so the limit paths are reached, and a delimiter picked by its
 * first byte (byte % 4 indexes ',' ';' tab '|'), with the hints that name
 * another one; and again with the defaults (commas). Each time
 * it is parsed whole and again cut into chunks as threads would get them,
 * but only a few bytes long (store__csv_parse_chunked(), which runs them on
 * this thread), so the chunk boundaries fall at offsets that depend on the
 * input (its last byte picks the number of chunks and their least size)
 * and get fuzzed as well.
 *
 * Properties checked besides the sanitizers': the result, frame or error,
 * is the same whatever the chunks (csv.h promises it for any number of
 * threads); a frame is well formed (names non-empty, unique and valid
 * UTF-8, values finite or missing, missing counts right, codes in range,
 * levels sorted, distinct and valid UTF-8); an error has a status, a code
 * and a message the API can send (valid UTF-8).
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "store/csv_internal.h"

static const char *const forced[] = { "c", "label" };

struct outcome {
	int rc;
	struct fit_frame *frame;
	struct fitd_error err;
};

/* Whether the API can send it: a JSON string must be valid UTF-8. */
static bool valid_utf8(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);

	json_decref(j);
	return j != NULL;
}

/* Parses with store_csv_parse(), or in chunks of min_chunk bytes when it is not 0. */
static void parse(const uint8_t *data, size_t size, const struct store_csv_options *o,
		  size_t min_chunk, struct outcome *out)
{
	const char *text = (const char *)data;

	memset(out, 0, sizeof(*out));
	out->rc = min_chunk
		      ? store__csv_parse_chunked(text, size, o, min_chunk, &out->frame, &out->err)
		      : store_csv_parse(text, size, o, &out->frame, &out->err);
	FUZZ_CHECK((out->rc == FITD_OK) == (out->frame != NULL), "rc %d", out->rc);
	if (out->rc != FITD_OK) {
		FUZZ_CHECK(out->err.status == out->rc, "status %d", out->err.status);
		FUZZ_CHECK(out->err.code[0] != '\0' && out->err.message[0] != '\0', "empty error");
		FUZZ_CHECK(valid_utf8(out->err.message, strlen(out->err.message)),
			   "message not UTF-8: %s", out->err.message);
	}
}

static void check_column(const struct fit_frame *f, size_t c)
{
	const struct fit_column *col = &f->cols[c];
	size_t missing = 0;

	FUZZ_CHECK(col->name != NULL && col->name[0] != '\0', "column %zu has no name", c);
	FUZZ_CHECK(valid_utf8(col->name, strlen(col->name)), "column %zu name", c);
	for (size_t k = 0; k < c; k++)
		FUZZ_CHECK(strcmp(f->cols[k].name, col->name) != 0, "duplicate '%s'", col->name);
	if (col->type == FIT_COL_NUMERIC) {
		FUZZ_CHECK(col->num != NULL && col->cat == NULL && col->nlevels == 0, "numeric");
		for (size_t r = 0; r < f->nrows; r++) {
			FUZZ_CHECK(isnan(col->num[r]) || isfinite(col->num[r]), "value");
			missing += isnan(col->num[r]) != 0;
		}
	} else {
		FUZZ_CHECK(col->type == FIT_COL_CATEGORICAL && col->cat != NULL && col->num == NULL,
			   "categorical");
		for (size_t r = 0; r < f->nrows; r++) {
			FUZZ_CHECK(col->cat[r] >= -1 && (size_t)(col->cat[r] + 1) <= col->nlevels,
				   "code %d of %zu levels", (int)col->cat[r], col->nlevels);
			missing += col->cat[r] < 0;
		}
		for (size_t l = 0; l < col->nlevels; l++) {
			FUZZ_CHECK(valid_utf8(col->levels[l], strlen(col->levels[l])), "level");
			FUZZ_CHECK(l == 0 || strcmp(col->levels[l - 1], col->levels[l]) < 0,
				   "levels not sorted and distinct");
		}
	}
	FUZZ_CHECK(missing == col->missing, "missing %zu, counted %zu", col->missing, missing);
}

static bool same_value(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_same(const struct outcome *a, const struct outcome *b)
{
	FUZZ_CHECK(a->rc == b->rc, "%d (%s: %s) vs %d (%s: %s)", a->rc, a->err.code, a->err.message,
		   b->rc, b->err.code, b->err.message);
	if (a->rc != FITD_OK) {
		FUZZ_CHECK(strcmp(a->err.code, b->err.code) == 0 &&
			       strcmp(a->err.message, b->err.message) == 0,
			   "'%s: %s' vs '%s: %s'", a->err.code, a->err.message, b->err.code,
			   b->err.message);
		return;
	}
	FUZZ_CHECK(a->frame->nrows == b->frame->nrows && a->frame->ncols == b->frame->ncols,
		   "shape");
	for (size_t c = 0; c < a->frame->ncols; c++) {
		const struct fit_column *x = &a->frame->cols[c], *y = &b->frame->cols[c];

		FUZZ_CHECK(strcmp(x->name, y->name) == 0 && x->type == y->type &&
			       x->missing == y->missing && x->nlevels == y->nlevels,
			   "column %zu", c);
		for (size_t r = 0; r < a->frame->nrows; r++)
			FUZZ_CHECK(x->type == FIT_COL_NUMERIC ? same_value(x->num[r], y->num[r])
							      : x->cat[r] == y->cat[r],
				   "column %zu row %zu", c, r);
		for (size_t l = 0; l < x->nlevels; l++)
			FUZZ_CHECK(strcmp(x->levels[l], y->levels[l]) == 0, "level %zu", l);
	}
}

static void check_frame(const struct outcome *o)
{
	if (o->frame == NULL)
		return;
	FUZZ_CHECK(o->frame->nrows > 0 && o->frame->ncols > 0, "empty frame");
	for (size_t c = 0; c < o->frame->ncols; c++)
		check_column(o->frame, c);
}

/* Parses whole and in chunks; both must agree. */
static void parse_both_ways(const uint8_t *data, size_t size, struct store_csv_options o)
{
	uint8_t knob = size > 0 ? data[size - 1] : 0;
	struct outcome whole, chunked;

	o.threads = 1;
	parse(data, size, &o, 0, &whole);
	check_frame(&whole);
	o.threads = 2 + knob % 8;
	parse(data, size, &o, 1 + knob / 8, &chunked);
	check_same(&whole, &chunked);
	fit_frame_free(whole.frame);
	fit_frame_free(chunked.frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = { ',', ';', '\t', '|' };
	struct store_csv_options small = {
		.delimiter = size > 0 ? delims[data[0] % 4] : ',',
		.delimiter_param = "?delimiter=",
		.max_columns = 6,
		.max_field_bytes = 24,
		.max_rows = 12,
		.categorical = forced,
		.ncategorical = sizeof(forced) / sizeof(forced[0]),
	};

	parse_both_ways(data, size, small);
	parse_both_ways(data, size, (struct store_csv_options){ 0 });
	return 0;
}

/*
 * csv.c - store_csv_parse(): options, the header, cutting the body into
 * chunks, running the passes of csv_scan.c on threads, and picking the
 * error to report. csv_frame.c assembles the frame.
 *
 * Chunks must start at row boundaries, and a newline inside a quoted field
 * is not one. When the body holds no quote at all, any newline will do.
 * Otherwise a newline is taken only where the number of quotes before it is
 * even: in text the parser accepts, every quote opens or closes a quoted
 * field or is half of a doubled pair, so an even count means "outside
 * quotes". In text it rejects, a chunk may start in the wrong place, but the
 * first chunk with any problem is always one that started right (all
 * before it parsed cleanly), and the error reported is the first one in the
 * text: the same as a single thread would find.
 *
 * The delimiter is one of four (csv_delim.c); the lexer stops at it through
 * a table of bytes set per parse (csv_scan.c). When the text seems
 * separated by another one, the errors that shows in say so
 * (store__csv_hint()).
 *
 * Before that, one parallel read of equal ranges of the body counts their
 * newlines and quotes and finds the first NUL or invalid UTF-8 byte (ranges
 * start on a UTF-8 character boundary). The quote counts give the parity
 * at each range start, from where a short walk finds the chunk boundary;
 * the newline counts bound the rows of each chunk, which sizes the arrays
 * pass 1 writes into.
 */
#include "store/csv_internal.h"
#include "daemon/base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_CHUNK (64 * 1024)
#define NO_OFFSET ((size_t)-1)
#define NO_COL	  ((size_t)-1)

/* ---- reporting ---- */

static size_t line_of(const struct store__csv_parse *ps, size_t offset)
{
	return 1 + store__csv_count(ps->x.data, offset, '\n');
}

/* "row R (line L), column C ('name')" into buf; row 0 means the header. */
static void place(const struct store__csv_parse *ps, size_t row, size_t offset, size_t col,
		  char *buf, size_t cap)
{
	int n = row == 0 ? snprintf(buf, cap, "header (line %zu)", line_of(ps, offset))
			 : snprintf(buf, cap, "row %zu (line %zu)", row, line_of(ps, offset));

	if (n < 0 || (size_t)n >= cap || col == NO_COL)
		return;
	if (row > 0 && col < ps->x.ncols)
		snprintf(buf + n, cap - (size_t)n, ", column %zu ('%.40s')", col + 1,
			 ps->names[col]);
	else
		snprintf(buf + n, cap - (size_t)n, ", column %zu", col + 1);
}

static int report_kind(struct store__csv_parse *ps, enum store__csv_fault_kind kind, size_t row,
		       size_t offset, size_t col, size_t nfields)
{
	const char *sep = store__csv_delimiter_shown(ps->x.sep);
	char at[160];

	place(ps, row, offset, kind == STORE__CSV_RAGGED ? NO_COL : col, at, sizeof(at));
	switch (kind) {
	case STORE__CSV_RAGGED:
		if (nfields < ps->x.ncols)
			return fitd_error_set(ps->err, FITD_EFORMAT, "ragged_row",
					      "%s has %zu fields but the header has %zu columns: "
					      "column %zu ('%.40s') is missing",
					      at, nfields, ps->x.ncols, nfields + 1,
					      ps->names[nfields]);
		return fitd_error_set(ps->err, FITD_EFORMAT, "ragged_row",
				      "%s has %zu fields but the header has %zu columns: column "
				      "%zu is not in the header",
				      at, nfields, ps->x.ncols, ps->x.ncols + 1);
	case STORE__CSV_UNTERMINATED:
		return fitd_error_set(ps->err, FITD_EFORMAT, "unterminated_quote",
				      "%s: the quoted field that starts here is never closed", at);
	case STORE__CSV_BAD_QUOTE:
		return fitd_error_set(ps->err, FITD_EFORMAT, "bad_quote",
				      "%s: a closing quote is followed by something other than %s "
				      "or the end of the line",
				      at, sep);
	case STORE__CSV_STRAY_QUOTE:
		return fitd_error_set(ps->err, FITD_EFORMAT, "bad_quote",
				      "%s: a quote inside an unquoted field (quote the whole field "
				      "and double the quote)",
				      at);
	case STORE__CSV_NUL:
		return fitd_error_set(ps->err, FITD_EFORMAT, "nul_byte",
				      "%s: NUL byte at byte offset %zu", at, offset);
	case STORE__CSV_UTF8:
		return fitd_error_set(ps->err, FITD_EFORMAT, "invalid_utf8",
				      "%s: invalid UTF-8 at byte offset %zu", at, offset);
	case STORE__CSV_FIELD_TOO_LONG:
		return fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "field_too_long",
				      "%s: the field is longer than %zu bytes", at,
				      ps->x.max_field);
	default:
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "%s: out of memory", at);
	}
}

/* Reports a fault; one at the start of the text may be a wrong delimiter, and says so. */
static int report(struct store__csv_parse *ps, enum store__csv_fault_kind kind, size_t row,
		  size_t offset, size_t col, size_t nfields)
{
	int rc = report_kind(ps, kind, row, offset, col, nfields);
	bool quote = kind == STORE__CSV_BAD_QUOTE || kind == STORE__CSV_STRAY_QUOTE;

	if ((kind == STORE__CSV_RAGGED && row == 1) || (quote && row <= 1))
		store__csv_hint(ps);
	return rc;
}

/* ---- the header ---- */

/* Copies a field's value, unescaping doubled quotes; NULL when memory runs out. */
static char *field_dup(const struct store__csv_field *f)
{
	size_t n = (size_t)(f->stop - f->start), j = 0;
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	for (const char *p = f->start; p < f->stop; p++) {
		s[j++] = *p;
		if (f->escaped && *p == '"')
			p++;
	}
	s[j] = '\0';
	return s;
}

/* The column holding offset in the header, from the field starts seen. */
static size_t header_col(const size_t *starts, size_t n, size_t offset)
{
	size_t col = 0;

	while (col + 1 < n && starts[col + 1] <= offset)
		col++;
	return col;
}

/*
 * Lexes the header row at p: the offsets where its fields start (the first
 * max_columns + 1 of them, as size_t in starts) and their total count;
 * *next is the start of the body. Reports syntax and text errors,
 * whichever comes first.
 */
static int lex_header(struct store__csv_parse *ps, const char *p, const char *end,
		      struct fitd_buf *starts, size_t *count, const char **next)
{
	const char *hstart = p, *bad = NULL;
	enum store__csv_fault_kind k = STORE__CSV_OK, tk;
	struct store__csv_field f;
	bool row_end = false;
	size_t n = 0, tbad, *at;

	while (!row_end) {
		if (n <= ps->max_columns) {
			at = fitd_buf_grow(starts, sizeof(size_t));
			if (at == NULL)
				return fitd_error_set(ps->err, fitd_buf_status(starts), NULL,
						      "CSV header");
			*at = (size_t)(p - ps->x.data);
		}
		k = store__csv_lex(&ps->x, p, end, &f, &bad);
		if (k != STORE__CSV_OK)
			break;
		n++;
		p = store__csv_skip_term(f.term, end, ps->x.sep, &row_end);
	}
	tbad = store__csv_check_text(hstart, (size_t)((k ? bad : p) - hstart), &tk);
	if (tbad < (size_t)((k ? bad : p) - hstart)) {
		size_t off = (size_t)(hstart - ps->x.data) + tbad;

		size_t known = n + (k != STORE__CSV_OK);

		if (known > ps->max_columns + 1)
			known = ps->max_columns + 1;
		return report(ps, tk, 0, off, header_col((const size_t *)starts->data, known, off),
			      0);
	}
	if (k != STORE__CSV_OK)
		return report(ps, k, 0, (size_t)(bad - ps->x.data), n, 0);
	*count = n;
	*next = p;
	return FITD_OK;
}

struct name_at {
	const char *name;
	size_t col;
};

static int name_at_cmp(const void *pa, const void *pb)
{
	const struct name_at *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->col > b->col) - (a->col < b->col);
}

/* Reports the first column (in header order) whose name an earlier column has. */
static int check_duplicates(struct store__csv_parse *ps, const size_t *starts)
{
	struct name_at *v = malloc(ps->x.ncols * sizeof(*v));
	size_t dup = NO_COL, first = 0;

	if (v == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV header");
	for (size_t i = 0; i < ps->x.ncols; i++)
		v[i] = (struct name_at){ ps->names[i], i };
	qsort(v, ps->x.ncols, sizeof(*v), name_at_cmp);
	for (size_t i = 1; i < ps->x.ncols; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0 && v[i].col < dup) {
			dup = v[i].col;
			first = v[i - 1].col;
		}
	free(v);
	if (dup == NO_COL)
		return FITD_OK;
	return fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "duplicate_column",
			      "header (line %zu), column %zu: the name '%.40s' is already the "
			      "name of column %zu",
			      line_of(ps, starts[dup]), dup + 1, ps->names[dup], first + 1);
}

/* Copies the names of the ncols header fields, checking length and emptiness. */
static int take_names(struct store__csv_parse *ps, const size_t *starts)
{
	struct store__csv_field f;
	const char *bad, *end = ps->x.data + ps->len;

	ps->names = calloc(ps->x.ncols, sizeof(*ps->names));
	if (ps->names == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV header");
	for (size_t i = 0; i < ps->x.ncols; i++) {
		store__csv_lex(&ps->x, ps->x.data + starts[i], end, &f, &bad);
		if ((size_t)(f.stop - f.start) > ps->x.max_field)
			return report(ps, STORE__CSV_FIELD_TOO_LONG, 0, starts[i], i, 0);
		ps->names[i] = field_dup(&f);
		if (ps->names[i] == NULL)
			return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV header");
		if (ps->names[i][0] == '\0')
			return fitd_error_set(
			    ps->err, FITD_EUNPROCESSABLE, "empty_column_name",
			    "header (line %zu), column %zu: the column has no name",
			    line_of(ps, starts[i]), i + 1);
	}
	return check_duplicates(ps, starts);
}

static int parse_header(struct store__csv_parse *ps, const char *p, const char *end)
{
	struct fitd_buf starts;
	size_t count = 0;
	int rc;

	/* Only the first max_columns + 1 starts are kept: one more says there are too many. */
	fitd_buf_init(&starts, ps->max_columns < SIZE_MAX / sizeof(size_t) - 1
				   ? (ps->max_columns + 1) * sizeof(size_t)
				   : SIZE_MAX);
	rc = lex_header(ps, p, end, &starts, &count, &ps->body);
	if (rc == FITD_OK && count > ps->max_columns)
		rc = fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "too_many_columns",
				    "the header has %zu columns, more than the limit of %zu", count,
				    ps->max_columns);
	if (rc == FITD_OK) {
		ps->x.ncols = count;
		rc = take_names(ps, (const size_t *)starts.data);
	}
	if (rc == FITD_OK)
		rc = store__csv_check_one_column(ps);
	fitd_buf_release(&starts);
	return rc;
}

/* ---- chunks and threads ---- */

struct task {
	void (*fn)(struct store__csv_parse *, size_t);
	struct store__csv_parse *ps;
	size_t i;
};

static void *task_main(void *arg)
{
	struct task *t = arg;

	t->fn(t->ps, t->i);
	return NULL;
}

void store__csv_run(struct store__csv_parse *ps, size_t n,
		    void (*fn)(struct store__csv_parse *, size_t))
{
	pthread_t th[STORE_CSV_MAX_THREADS];
	struct task tasks[STORE_CSV_MAX_THREADS];
	bool started[STORE_CSV_MAX_THREADS] = { false };

	for (size_t i = 1; i < n && !ps->serial; i++) {
		tasks[i] = (struct task){ fn, ps, i };
		started[i] = pthread_create(&th[i], NULL, task_main, &tasks[i]) == 0;
	}
	fn(ps, 0);
	for (size_t i = 1; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fn(ps, i);
	}
}

/*
 * The first newline at or after from outside quotes, given the parity of
 * the quotes before from; *nl gets the newlines in [from, result).
 */
static const char *walk_to_bound(const char *from, const char *end, bool quotes, size_t parity,
				 size_t *nl)
{
	const char *q;

	*nl = 0;
	if (!quotes) {
		q = memchr(from, '\n', (size_t)(end - from));
		*nl = q != NULL;
		return q ? q + 1 : end;
	}
	for (q = from; q < end; q++) {
		if (*q == '"') {
			parity ^= 1;
		} else if (*q == '\n') {
			++*nl;
			if (parity == 0)
				return q + 1;
		}
	}
	return end;
}

/*
 * The first byte at or after p (and after floor) that is not a UTF-8
 * continuation byte. A survey range starting there begins where a
 * single-threaded scan also steps, so every range finds the same bad bytes
 * that scan would.
 */
static const char *utf8_boundary(const char *p, const char *floor, const char *end)
{
	if (p < floor)
		p = floor;
	while (p < end && ((unsigned char)*p & 0xc0) == 0x80)
		p++;
	return p;
}

static void survey_task(struct store__csv_parse *ps, size_t i)
{
	const char *begin = ps->ranges[i], *end = ps->ranges[i + 1];

	store__csv_survey(begin, (size_t)(end - begin), &ps->surveys[i]);
}

static int add_chunk(struct store__csv_parse *ps, const char *begin, const char *end,
		     size_t newlines)
{
	struct store__csv_chunk *c = &ps->chunks[ps->nchunks++];
	size_t clen = (size_t)(end - begin), by_size = clen / ps->x.ncols + 1;

	c->begin = begin;
	c->end = end;
	c->cap = newlines + 1 < by_size ? newlines + 1 : by_size;
	c->slot = ps->total_cap;
	c->text_bad = NO_OFFSET;
	fitd_buf_init(&c->scratch, ps->x.max_field);
	ps->total_cap += c->cap;
	c->row_off = malloc(c->cap * sizeof(*c->row_off));
	c->cat = malloc(ps->x.ncols);
	if (c->row_off == NULL || c->cat == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV chunks");
	memcpy(c->cat, ps->forced, ps->x.ncols);
	return FITD_OK;
}

/* Hands the first bad byte of the input (if any) to the chunk that holds it. */
static void place_text_error(struct store__csv_parse *ps, size_t nranges)
{
	for (size_t i = 0; i < nranges; i++) {
		const struct store__csv_survey *sv = &ps->surveys[i];
		size_t off = (size_t)(ps->ranges[i] - ps->x.data) + sv->bad;

		if (sv->bad == (size_t)(ps->ranges[i + 1] - ps->ranges[i]))
			continue;
		for (size_t k = 0; k < ps->nchunks; k++)
			if (ps->chunks[k].end > ps->x.data + off) {
				ps->chunks[k].text_bad = off;
				ps->chunks[k].text_kind = sv->bad_kind;
				break;
			}
		return;
	}
}

/*
 * Surveys want equal ranges of the body in parallel (newlines, quotes, bad
 * bytes), then moves each range start to the next row boundary. Chunk i's
 * newlines are its ranges' minus those walked over at its start plus those
 * walked over at its end.
 */
static int plan_chunks(struct store__csv_parse *ps)
{
	const char *end = ps->x.data + ps->len, *start = ps->body, *bound;
	size_t blen = (size_t)(end - ps->body), want = (size_t)ps->threads, parity = 0;
	size_t quotes = 0, newlines = 0, walked = 0, start_walked = 0;
	int rc = FITD_OK;

	if (want > blen / ps->min_chunk)
		want = blen / ps->min_chunk ? blen / ps->min_chunk : 1;
	ps->ranges[0] = ps->body;
	for (size_t i = 1; i < want; i++)
		ps->ranges[i] = utf8_boundary(ps->body + blen / want * i, ps->ranges[i - 1], end);
	ps->ranges[want] = end;
	store__csv_run(ps, want, survey_task);
	for (size_t i = 0; i < want; i++)
		quotes += ps->surveys[i].quotes;
	ps->chunks = calloc(want, sizeof(*ps->chunks));
	if (ps->chunks == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV chunks");
	for (size_t i = 0; i < want && rc == FITD_OK; i++) {
		newlines += ps->surveys[i].newlines;
		parity ^= ps->surveys[i].quotes & 1;
		bound = i + 1 == want
			    ? end
			    : walk_to_bound(ps->ranges[i + 1], end, quotes > 0, parity, &walked);
		if (i + 1 == want)
			walked = 0;
		if (bound <= start || (bound == end && i + 1 < want))
			continue;
		rc = add_chunk(ps, start, bound, newlines - start_walked + walked);
		start = bound;
		start_walked = walked;
		newlines = 0;
	}
	place_text_error(ps, want);
	return rc;
}

static void pass1_task(struct store__csv_parse *ps, size_t i)
{
	store__csv_pass1(&ps->x, &ps->chunks[i], ps->num);
}

/* ---- choosing the error ---- */

/* Row (in chunk c) and column of the byte at offset, which lies in a row c started. */
static void locate(const struct store__csv_parse *ps, const struct store__csv_chunk *c,
		   size_t offset, size_t *row, size_t *col)
{
	size_t started = c->nrows + (c->fault.kind != STORE__CSV_OK), lo = 0, hi = started;
	struct store__csv_field f;
	const char *p, *bad;
	bool row_end = false;

	*row = 0;
	*col = 0;
	if (started == 0)
		return; /* cannot happen: bad bytes are never in blank lines */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->row_off[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	*row = lo;
	p = ps->x.data + c->row_off[lo];
	while (store__csv_lex(&ps->x, p, c->end, &f, &bad) == STORE__CSV_OK &&
	       (size_t)(f.term - ps->x.data) <= offset) {
		p = store__csv_skip_term(f.term, c->end, ps->x.sep, &row_end);
		if (row_end)
			break;
		(*col)++;
	}
}

/* too_many_rows, naming the line where row max_rows + 1 starts (it is in chunk i or later). */
static int too_many_rows(struct store__csv_parse *ps, size_t i, size_t rows_before)
{
	for (; i < ps->nchunks; rows_before += ps->chunks[i++].nrows) {
		const struct store__csv_chunk *c = &ps->chunks[i];
		size_t started = c->nrows + (c->fault.kind != STORE__CSV_OK);

		if (ps->max_rows < rows_before + started)
			return fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "too_many_rows",
					      "the table has more than %zu rows (row %zu starts at "
					      "line %zu)",
					      ps->max_rows, ps->max_rows + 1,
					      line_of(ps, c->row_off[ps->max_rows - rows_before]));
	}
	return fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "too_many_rows",
			      "the table has more than %zu rows", ps->max_rows);
}

/* The first error in the text after pass 1, if any; counts the rows. */
static int pick_error(struct store__csv_parse *ps)
{
	size_t rows = 0;

	for (size_t i = 0; i < ps->nchunks; i++) {
		const struct store__csv_chunk *c = &ps->chunks[i];
		size_t off = c->fault.kind ? c->fault.offset : NO_OFFSET, row = c->fault.row;
		size_t col = c->fault.col;
		enum store__csv_fault_kind kind = c->fault.kind;

		if (c->text_bad < off) {
			kind = c->text_kind;
			off = c->text_bad;
			locate(ps, c, off, &row, &col);
		}
		if (ps->max_rows > 0 && (kind != STORE__CSV_OK ? rows + row >= ps->max_rows
							       : rows + c->nrows > ps->max_rows))
			return too_many_rows(ps, i, rows);
		if (kind != STORE__CSV_OK)
			return report(ps, kind, rows + row + 1, off, col, c->fault.nfields);
		rows += c->nrows;
	}
	ps->nrows = rows;
	if (rows == 0)
		return fitd_error_set(ps->err, FITD_EUNPROCESSABLE, "no_rows",
				      "the CSV has a header but no data rows");
	return FITD_OK;
}

/* ---- the API ---- */

static int mark_forced(struct store__csv_parse *ps, const struct store_csv_options *opt)
{
	ps->forced = calloc(ps->x.ncols, 1);
	if (ps->forced == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "CSV columns");
	for (size_t i = 0; opt != NULL && i < opt->ncategorical; i++)
		for (size_t col = 0; col < ps->x.ncols; col++)
			if (opt->categorical[i] && strcmp(opt->categorical[i], ps->names[col]) == 0)
				ps->forced[col] = 1;
	return FITD_OK;
}

static int parse_all(struct store__csv_parse *ps, const struct store_csv_options *opt,
		     struct fit_frame **out)
{
	const char *p = ps->x.data, *end = p + ps->len, *q;
	int rc;

	if (ps->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && (q = store__csv_skip_blank(p, end)) != p)
		p = q;
	if (p == end)
		return fitd_error_set(ps->err, FITD_EFORMAT, "empty_body",
				      "the body is empty: expected a CSV header row");
	ps->header = p;
	rc = parse_header(ps, p, end);
	if (rc == FITD_OK)
		rc = mark_forced(ps, opt);
	if (rc == FITD_OK)
		rc = plan_chunks(ps);
	if (rc == FITD_OK)
		rc = store__csv_alloc_columns(ps);
	if (rc != FITD_OK)
		return rc;
	store__csv_run(ps, ps->nchunks, pass1_task);
	rc = pick_error(ps);
	if (rc == FITD_OK)
		rc = store__csv_assemble(ps, out);
	return rc;
}

static void release(struct store__csv_parse *ps)
{
	for (size_t i = 0; ps->names && i < ps->x.ncols; i++)
		free(ps->names[i]);
	for (size_t i = 0; ps->chunks && i < ps->nchunks; i++) {
		struct store__csv_chunk *c = &ps->chunks[i];

		for (size_t k = 0; c->interns && k < ps->ncat; k++)
			fitd_intern_release(&c->interns[k]);
		free(c->interns);
		free(c->row_off);
		free(c->cat);
		fitd_buf_release(&c->scratch);
	}
	free(ps->block);
	free(ps->names);
	free(ps->forced);
	free(ps->chunks);
	free(ps->num);
	free(ps->catcols);
	free(ps->codes);
	fit_frame_builder_free(ps->b);
	if (ps->x.c_locale != (locale_t)0)
		freelocale(ps->x.c_locale);
}

static int parse(const char *data, size_t len, const struct store_csv_options *opt,
		 size_t min_chunk, bool serial, struct fit_frame **out, struct fitd_error *err)
{
	struct store__csv_parse ps = { .err = err, .min_chunk = min_chunk, .serial = serial };
	char sep = opt && opt->delimiter ? opt->delimiter : ',';
	int rc;

	*out = NULL;
	if (data == NULL && len > 0)
		return fitd_error_set(err, FITD_EINVAL, NULL, "no CSV data");
	if (store_csv_delimiter_name(sep) == NULL)
		return fitd_error_set(err, FITD_EINVAL, "invalid_delimiter",
				      "the delimiter must be ',', ';', a tab or '|'");
	store__csv_ctx_set_sep(&ps.x, sep);
	ps.delimiter_param = opt ? opt->delimiter_param : NULL;
	ps.x.data = data ? data : "";
	ps.len = len;
	ps.x.max_field = opt && opt->max_field_bytes ? opt->max_field_bytes : STORE_CSV_MAX_FIELD;
	ps.max_columns = opt && opt->max_columns ? opt->max_columns : STORE_CSV_MAX_COLUMNS;
	ps.max_rows = opt ? opt->max_rows : 0;
	ps.threads = opt && opt->threads > 1 ? opt->threads : 1;
	if (ps.threads > STORE_CSV_MAX_THREADS)
		ps.threads = STORE_CSV_MAX_THREADS;
	ps.x.c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (ps.x.c_locale == (locale_t)0)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "C locale");
	else
		rc = parse_all(&ps, opt, out);
	release(&ps);
	return rc;
}

int store_csv_parse(const char *data, size_t len, const struct store_csv_options *opt,
		    struct fit_frame **out, struct fitd_error *err)
{
	return parse(data, len, opt, MIN_CHUNK, false, out, err);
}

int store__csv_parse_chunked(const char *data, size_t len, const struct store_csv_options *opt,
			     size_t min_chunk, struct fit_frame **out, struct fitd_error *err)
{
	return parse(data, len, opt, min_chunk ? min_chunk : 1, true, out, err);
}

int store_csv_parse_file(const char *path, const struct store_csv_options *opt,
			 struct fit_frame **out, struct fitd_error *err)
{
	struct stat sb;
	void *map = NULL;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fitd_error_set(err, errno == ENOENT ? FITD_ENOTFOUND : FITD_EIO, NULL,
				      "opening %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size > SIZE_MAX) {
		rc = fitd_error_set(err, FITD_EIO, NULL, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (sb.st_size > 0) {
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			rc = fitd_error_set(err, errno == ENOMEM ? FITD_ENOMEM : FITD_EIO, NULL,
					    "mapping %s: %s", path, strerror(errno));
			goto out;
		}
	}
	rc = store_csv_parse(map, map ? (size_t)sb.st_size : 0, opt, out, err);
out:
	if (map != NULL)
		munmap(map, (size_t)sb.st_size);
	close(fd);
	return rc;
}

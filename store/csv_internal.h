/*
 * csv_internal.h - what the files of the CSV parser share.
 *
 *   csv.c       the API: options, header, chunks, threads, errors
 *   csv_delim.c the delimiters, their names, and the hints of another one
 *   csv_frame.c the frame: numeric columns adopted, categorical ones merged
 *   csv_scan.c  the hot loops: fields, numbers, the two passes over rows
 *   csv_text.c  byte counting, UTF-8 validation, missing tokens
 *
 * The input is cut into chunks that start and end at row boundaries, one
 * per thread. Pass 1 reads every row of a chunk, parses the numbers of
 * columns still believed numeric straight into per-column double arrays,
 * and flags columns that hold a value that is not a number. Pass 2 reads
 * the rows again for the categorical columns only and interns their values
 * per chunk; csv.c then merges the chunks' levels. Chunks write disjoint
 * parts of shared arrays and never touch each other's state.
 */
#ifndef STORE_CSV_INTERNAL_H
#define STORE_CSV_INTERNAL_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/base/buf.h"
#include "daemon/base/intern.h"
#include "store/csv.h"

/* What went wrong at a place in the text; the order is not significant. */
enum store__csv_fault_kind {
	STORE__CSV_OK = 0,
	STORE__CSV_RAGGED,
	STORE__CSV_UNTERMINATED,
	STORE__CSV_BAD_QUOTE,	/* something other than a terminator after a closing quote */
	STORE__CSV_STRAY_QUOTE, /* a quote inside an unquoted field */
	STORE__CSV_NUL,
	STORE__CSV_UTF8,
	STORE__CSV_FIELD_TOO_LONG,
	STORE__CSV_NOMEM,
};

struct store__csv_fault {
	enum store__csv_fault_kind kind;
	size_t offset;	/* byte offset in the whole input */
	size_t row;	/* row index in the chunk, from 0 */
	size_t col;	/* column index, from 0 */
	size_t nfields; /* ragged: fields the row has (a lower bound when it is malformed too) */
};

/* One lexed field. */
struct store__csv_field {
	const char *start; /* content, without the quotes of a quoted field */
	const char *stop;
	const char *term; /* the terminator: the delimiter, '\n', "\r\n", or the end */
	bool escaped;	  /* quoted with doubled quotes inside: the content needs unescaping */
};

/* Read-only facts shared by all chunks. */
struct store__csv_ctx {
	const char *data; /* the whole input */
	size_t ncols;
	size_t max_field;
	locale_t c_locale;    /* for strtod_l on numbers off the fast path */
	char sep;	      /* the delimiter */
	uint8_t special[256]; /* bytes an unquoted field stops at: sep, '\n', '\r', '"' */
};

struct store__csv_chunk {
	const char *begin; /* [begin, end) holds whole rows */
	const char *end;
	size_t slot;	 /* pass 1: row r goes to slot + r of the column arrays */
	size_t cap;	 /* pass 1: rows this chunk may hold */
	size_t nrows;	 /* rows read so far */
	size_t *row_off; /* cap row start offsets in the input */
	uint8_t *cat;	 /* ncols flags: column is (or must be) categorical */
	size_t text_bad; /* offset of the first NUL or bad UTF-8 byte, or (size_t)-1 */
	enum store__csv_fault_kind text_kind;
	struct store__csv_fault fault;
	struct fitd_intern *interns; /* pass 2: a column's distinct values, per categorical column */
	struct fitd_buf scratch; /* pass 2: an unescaped value; len is its room, max_field at most */
};

/*
 * Whether q is at a field terminator: the delimiter sep, '\n', "\r\n", a
 * '\r' that ends the input, or the end.
 */
static inline bool store__csv_at_term(const char *q, const char *end, char sep)
{
	return q == end || *q == sep || *q == '\n' ||
	       (*q == '\r' && (q + 1 == end || q[1] == '\n'));
}

/* The position after the terminator at q, and whether it ended the row. */
static inline const char *store__csv_skip_term(const char *q, const char *end, char sep,
					       bool *row_end)
{
	if (q == end) {
		*row_end = true;
		return q;
	}
	*row_end = *q != sep;
	return q + (*q == '\r' && q + 1 < end ? 2 : 1);
}

/* Skips a blank line at p < end (LF, CRLF, or a CR that ends the input); returns p when none. */
static inline const char *store__csv_skip_blank(const char *p, const char *end)
{
	if (*p == '\n')
		return p + 1;
	if (*p == '\r' && (p + 1 == end || p[1] == '\n'))
		return p + (p + 1 == end ? 1 : 2);
	return p;
}

/* ---- csv_scan.c ---- */

/* Sets x's delimiter to sep and the table of bytes an unquoted field stops at. */
void store__csv_ctx_set_sep(struct store__csv_ctx *x, char sep);

/*
 * Lexes the field at p. Returns STORE__CSV_OK, or a fault kind with *bad at
 * the offending byte (the opening quote of an unterminated field).
 */
enum store__csv_fault_kind store__csv_lex(const struct store__csv_ctx *x, const char *p,
					  const char *end, struct store__csv_field *f,
					  const char **bad);

/*
 * Parses the whole of [s, e) as a finite number with optional blanks
 * around it (spaces and tabs, but not sep).
 */
bool store__csv_number_all(const char *s, const char *e, char sep, locale_t loc, double *v);

/* Pass 1 over chunk c; num[col] is NULL for categorical columns. Sets c->fault on error. */
void store__csv_pass1(const struct store__csv_ctx *x, struct store__csv_chunk *c,
		      double *const *num);

/*
 * Pass 2 over the c->nrows rows of c: codes[k][base + r] gets row r's local
 * code (or -1) of the k-th of the ncat categorical columns catcols (ascending).
 */
void store__csv_pass2(const struct store__csv_ctx *x, struct store__csv_chunk *c,
		      const size_t *catcols, size_t ncat, int32_t *const *codes, size_t base);

/* ---- csv_text.c ---- */

/* Occurrences of byte b in [p, p + n). */
size_t store__csv_count(const char *p, size_t n, unsigned char b);

/* Offset of the first NUL or invalid UTF-8 byte in [p, p + n), or n; *kind says which. */
size_t store__csv_check_text(const char *p, size_t n, enum store__csv_fault_kind *kind);

/* What one read of a stretch of input finds. */
struct store__csv_survey {
	size_t newlines;
	size_t quotes;
	size_t bad; /* offset of the first NUL or invalid UTF-8 byte, or the length */
	enum store__csv_fault_kind bad_kind;
};

/* Counts newlines and quotes in [p, p + n) and finds its first bad byte, in one pass. */
void store__csv_survey(const char *p, size_t n, struct store__csv_survey *sv);

/* Whether [s, e) is a missing-value token. */
bool store__csv_missing(const char *s, const char *e);

/* ---- csv.c and csv_frame.c: one parse ---- */

#include "worker/fit/frame.h"

struct store__csv_parse {
	struct store__csv_ctx x;
	size_t len; /* input bytes */
	size_t max_columns;
	size_t max_rows; /* 0: no limit */
	int threads;
	size_t min_chunk;	     /* body bytes per chunk at least */
	bool serial;		     /* run the chunks one after another on the calling thread */
	const char *delimiter_param; /* options.delimiter_param */
	const char *header;	     /* the first byte of the header row */
	char **names;		     /* ncols column names */
	uint8_t *forced;	     /* ncols flags: named in options.categorical */
	const char *body;	     /* the first byte after the header row */
	const char *ranges[STORE_CSV_MAX_THREADS + 1]; /* survey ranges of the body */
	struct store__csv_survey surveys[STORE_CSV_MAX_THREADS];
	struct store__csv_chunk *chunks;
	size_t nchunks;
	double *block; /* the numeric candidates' values, until the builder owns it */
	double **num;  /* ncols arrays of total_cap values in block, or NULL */
	size_t total_cap;
	size_t nrows;
	size_t *catcols; /* the ncat categorical columns, ascending */
	size_t ncat;
	int32_t **codes; /* ncat code arrays, owned by the builder */
	struct fit_frame_builder *b;
	struct fitd_error *err;
};

/* ---- csv_delim.c ---- */

/* How messages show delimiter d ("','", "a tab"); d is one of the four. */
const char *store__csv_delimiter_shown(char d);

/*
 * Appends to ps->err's message which other delimiter the header's first
 * line holds most, and how to pass it, when it holds one: the likely
 * reason of a ragged first row or of a quote error at the start.
 */
void store__csv_hint(const struct store__csv_parse *ps);

/*
 * After the header: a header of one unquoted name that holds another
 * delimiter means the file is most likely separated by that one (a TSV
 * read with commas is one column named "a\tb\ty", its rows one value
 * each): FITD_EFORMAT wrong_delimiter. A quoted name is kept, as meant.
 */
int store__csv_check_one_column(struct store__csv_parse *ps);

/*
 * store_csv_parse() cutting the body into chunks of at least min_chunk bytes
 * (not 64 KiB) that run one after another on the calling thread, however
 * many threads opt asks for. For tests: a small input gets as many chunks
 * as a large one would, without the cost of threads.
 */
int store__csv_parse_chunked(const char *data, size_t len, const struct store_csv_options *opt,
			     size_t min_chunk, struct fit_frame **out, struct fitd_error *err);

/*
 * Runs fn(ps, i) for each i < n, i = 0 on this thread; a thread that fails
 * to start runs here, and so does every i when ps->serial.
 */
void store__csv_run(struct store__csv_parse *ps, size_t n,
		    void (*fn)(struct store__csv_parse *, size_t));

/* Allocates the numeric block and points ps->num into it (csv_frame.c). */
int store__csv_alloc_columns(struct store__csv_parse *ps);

/* After a clean pass 1: builds the frame into *out (csv_frame.c). */
int store__csv_assemble(struct store__csv_parse *ps, struct fit_frame **out);

#endif

/*
 * csv_scan.c - the hot loops of the CSV parser: lexing a field, parsing a
 * number, and the two passes over the rows of a chunk.
 *
 * Numbers take Clinger's fast path when they can: with at most 19
 * significant digits the digits fit a uint64 w, and when w <= 2^53 and the
 * decimal exponent e is within +-22, both w and 10^|e| are exact doubles, so
 * one IEEE multiplication or division gives the correctly rounded result,
 * bit for bit what strtod() returns. Anything else (more digits, larger
 * exponents) goes to strtod_l() in the C locale on a NUL-terminated copy.
 *
 * A field ends at the parse's delimiter (x->sep, one of four), found by the
 * lexer through the table x->special: the delimiter is a value in a
 * register, never a branch per kind of file, so every delimiter runs the
 * same loops at the same speed.
 *
 * Pass 1 tries a column's field as a number straight from the text; only
 * when that fails (quotes, letters, missing tokens) does it lex the field in
 * full. Once a chunk has seen a non-number in a column it stops parsing
 * numbers there. Every row start is recorded for pass 2 and for errors.
 */
#include "store/csv_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO53 9007199254740992ULL

static const double pow10_exact[23] = {
	1e0,  1e1,  1e2,  1e3,	1e4,  1e5,  1e6,  1e7,	1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool is_digit(char c)
{
	return (unsigned)(c - '0') < 10;
}

/* A space or a tab around a number, unless the tab is the delimiter. */
static inline bool is_blank(char c, char sep)
{
	return (c == ' ' || c == '\t') && c != sep;
}

void store__csv_ctx_set_sep(struct store__csv_ctx *x, char sep)
{
	memset(x->special, 0, sizeof(x->special));
	x->sep = sep;
	x->special[(unsigned char)sep] = 1;
	x->special['\n'] = 1;
	x->special['\r'] = 1;
	x->special['"'] = 1;
}

enum store__csv_fault_kind store__csv_lex(const struct store__csv_ctx *x, const char *p,
					  const char *end, struct store__csv_field *f,
					  const char **bad)
{
	const char *q;

	f->escaped = false;
	if (p < end && *p == '"') {
		for (q = p + 1;; q += 2) {
			q = memchr(q, '"', (size_t)(end - q));
			if (q == NULL) {
				*bad = p;
				return STORE__CSV_UNTERMINATED;
			}
			if (q + 1 == end || q[1] != '"')
				break;
			f->escaped = true;
		}
		f->start = p + 1;
		f->stop = q;
		if (!store__csv_at_term(q + 1, end, x->sep)) {
			*bad = q + 1;
			return STORE__CSV_BAD_QUOTE;
		}
		f->term = q + 1;
		return STORE__CSV_OK;
	}
	for (q = p; q < end; q++) {
		if (!x->special[(unsigned char)*q])
			continue;
		if (*q == '"') {
			*bad = q;
			return STORE__CSV_STRAY_QUOTE;
		}
		if (*q != '\r' || q + 1 == end || q[1] == '\n')
			break;
	}
	f->start = p;
	f->stop = q;
	f->term = q;
	return STORE__CSV_OK;
}

/* strtod_l() on a copy of [s, e): the exact answer for any decimal text. */
static double slow_number(const char *s, const char *e, locale_t loc)
{
	char small[128], *buf = small;
	size_t n = (size_t)(e - s);
	double v;

	if (n >= sizeof(small)) {
		buf = malloc(n + 1);
		if (buf == NULL)
			return NAN; /* refused as "not a number"; only for absurd numerals */
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	v = strtod_l(buf, NULL, loc);
	if (buf != small)
		free(buf);
	return v;
}

/* w * 10^e exactly, when both fit Clinger's conditions (possibly after moving digits). */
static bool fast_value(uint64_t w, int64_t e, double *v)
{
	if (w > TWO53)
		return false;
	if (e >= 0 && e <= 22) {
		*v = (double)w * pow10_exact[e];
		return true;
	}
	if (e < 0 && e >= -22) {
		*v = (double)w / pow10_exact[-e];
		return true;
	}
	for (; e > 22 && e <= 22 + 16; e--) {
		if (w > TWO53 / 10)
			return false;
		w *= 10;
	}
	if (e == 22) {
		*v = (double)w * pow10_exact[22];
		return true;
	}
	return false;
}

/*
 * Parses a number at p, allowing blanks around it. Returns the position
 * after it and its trailing blanks, or NULL when p holds no number or its
 * value is not finite. The caller checks what follows.
 */
static inline const char *parse_number(const char *p, const char *end, char sep, locale_t loc,
				       double *out)
{
	const char *start, *num_end;
	uint64_t w = 0;
	int64_t e10 = 0, ev = 0;
	int nd = 0;
	bool neg = false, any = false, exact = true, eneg = false;
	double v;

	while (p < end && is_blank(*p, sep))
		p++;
	start = p;
	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < end && is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		any = true;
		if (nd >= 19)
			exact = false;
		else if (w != 0 || d != 0)
			w = w * 10 + d, nd++;
	}
	if (p < end && *p == '.') {
		for (p++; p < end && is_digit(*p); p++) {
			unsigned d = (unsigned)(*p - '0');

			any = true;
			if (nd >= 19) {
				exact = false;
				continue;
			}
			if (w != 0 || d != 0)
				w = w * 10 + d, nd++;
			e10--;
		}
	}
	if (!any)
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return NULL;
		for (; p < end && is_digit(*p); p++)
			if (ev < 1000000)
				ev = ev * 10 + (*p - '0');
		e10 += eneg ? -ev : ev;
	}
	num_end = p;
	while (p < end && is_blank(*p, sep))
		p++;
	if (exact && w == 0) {
		*out = neg ? -0.0 : 0.0;
		return p;
	}
	if (exact && fast_value(w, e10, &v)) {
		*out = neg ? -v : v;
		return p;
	}
	v = slow_number(start, num_end, loc);
	if (!isfinite(v))
		return NULL;
	*out = v;
	return p;
}

/* ---- eight digits at a time ---- */

static const uint64_t pow10_u64[9] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/* 0x80 in each byte of w that is not an ASCII digit (exact per byte: no carries). */
static inline uint64_t nondigits(uint64_t w)
{
	uint64_t x = w ^ 0x3030303030303030ULL;

	return (((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
}

/* The value of the eight ASCII digits in w, first in memory most significant. */
static inline uint64_t eight_digits(uint64_t w)
{
	w = ((w & 0x0f0f0f0f0f0f0f0fULL) * 2561) >> 8;
	w = ((w & 0x00ff00ff00ff00ffULL) * 6553601) >> 16;
	return ((w & 0x0000ffff0000ffffULL) * 42949672960001ULL) >> 32;
}

/* The run of up to 8 digits at p: its length, and its value added to *w. */
static inline unsigned digit_run(const char *p, uint64_t *w)
{
	uint64_t word, m;
	unsigned n;

	memcpy(&word, p, 8);
	m = nondigits(word);
	n = m ? (unsigned)__builtin_ctzll(m) >> 3 : 8;
	if (n > 0)
		*w = *w * pow10_u64[n] + eight_digits(n == 8 ? word : word << (8 * (8 - n)));
	return n;
}

/*
 * The common shape of a number, [-]digits[.digits] with at most 19 digits
 * and a terminator right after, at p with at least 64 readable bytes.
 * Returns the terminator's position, or NULL to let parse_number() decide.
 */
static inline const char *parse_plain(const char *p, char sep, double *out)
{
	const char *q = p + (*p == '-');
	uint64_t w = 0;
	unsigned n, nd = 0, frac = 0;
	double v;

	do {
		n = digit_run(q, &w);
		q += n;
		nd += n;
	} while (n == 8 && nd <= 19);
	if (nd == 0)
		return NULL;
	if (*q == '.') {
		q++;
		do {
			n = digit_run(q, &w);
			q += n;
			nd += n;
			frac += n;
		} while (n == 8 && nd <= 19);
	}
	if (nd > 19 || !(*q == sep || *q == '\n' || (*q == '\r' && q[1] == '\n')))
		return NULL;
	if (!fast_value(w, -(int64_t)frac, &v))
		return NULL;
	*out = *p == '-' ? -v : v;
	return q;
}

bool store__csv_number_all(const char *s, const char *e, char sep, locale_t loc, double *v)
{
	const char *q = parse_number(s, e, sep, loc, v);

	return q != NULL && q == e;
}

/* ---- pass 1 ---- */

static void fault(struct store__csv_chunk *c, enum store__csv_fault_kind kind, const char *at,
		  const struct store__csv_ctx *x, size_t row, size_t col)
{
	c->fault.kind = kind;
	c->fault.offset = (size_t)(at - x->data);
	c->fault.row = row;
	c->fault.col = col;
}

/* Counts the fields of a row from field index col at p on, for the ragged_row message. */
static size_t count_fields(const struct store__csv_ctx *x, const char *p, const char *end,
			   size_t col)
{
	struct store__csv_field f;
	const char *bad;
	bool row_end = false;

	while (!row_end && store__csv_lex(x, p, end, &f, &bad) == STORE__CSV_OK) {
		col++;
		p = store__csv_skip_term(f.term, end, x->sep, &row_end);
	}
	return col;
}

/* A field pass 1 could not read as a plain number: lex it and classify it. */
static const char *slow_field(const struct store__csv_ctx *x, struct store__csv_chunk *c,
			      const char *p, const char *end, size_t col, double *dst)
{
	struct store__csv_field f;
	const char *bad;
	enum store__csv_fault_kind k = store__csv_lex(x, p, end, &f, &bad);
	double v;

	if (k != STORE__CSV_OK) {
		fault(c, k, bad, x, c->nrows, col);
		return NULL;
	}
	if ((size_t)(f.stop - f.start) > x->max_field) {
		fault(c, STORE__CSV_FIELD_TOO_LONG, p, x, c->nrows, col);
		return NULL;
	}
	if (c->cat[col])
		return f.term;
	if (!f.escaped && store__csv_missing(f.start, f.stop))
		*dst = NAN;
	else if (!f.escaped && store__csv_number_all(f.start, f.stop, x->sep, x->c_locale, &v))
		*dst = v;
	else
		c->cat[col] = 1;
	return f.term;
}

/* Reads one row at p into slot; returns the start of the next line, or NULL on a fault. */
static const char *row_pass1(const struct store__csv_ctx *x, struct store__csv_chunk *c,
			     const char *p, const char *end, double *const *num)
{
	size_t slot = c->slot + c->nrows, col = 0;
	const char sep = x->sep; /* a char may alias the stores below: read it once */
	bool row_end = false;
	double v, scrap;
	const char *q = NULL;

	for (;; col++) {
		q = NULL;

		if (col == x->ncols) {
			fault(c, STORE__CSV_RAGGED, p, x, c->nrows, col);
			c->fault.nfields = count_fields(x, p, end, col);
			return NULL;
		}
		if (!c->cat[col] && p < end && *p != '"') {
			if (end - p >= 64)
				q = parse_plain(p, sep, &v);
			if (q == NULL) {
				q = parse_number(p, end, sep, x->c_locale, &v);
				if (q != NULL && !store__csv_at_term(q, end, sep))
					q = NULL;
			}
			if (q != NULL && (size_t)(q - p) > x->max_field)
				q = NULL;
			if (q != NULL)
				num[col][slot] = v;
		}
		if (q == NULL)
			q = slow_field(x, c, p, end, col, num[col] ? &num[col][slot] : &scrap);
		if (q == NULL)
			return NULL;
		p = store__csv_skip_term(q, end, sep, &row_end);
		if (row_end)
			break;
	}
	if (col + 1 != x->ncols) {
		fault(c, STORE__CSV_RAGGED, q, x, c->nrows, col + 1);
		c->fault.nfields = col + 1;
		return NULL;
	}
	return p;
}

void store__csv_pass1(const struct store__csv_ctx *x, struct store__csv_chunk *c,
		      double *const *num)
{
	const char *p = c->begin, *end = c->end, *q;

	while (p < end) {
		q = store__csv_skip_blank(p, end);
		if (q != p) {
			p = q;
			continue;
		}
		if (c->nrows == c->cap) {
			fault(c, STORE__CSV_NOMEM, p, x, c->nrows, 0);
			return;
		}
		c->row_off[c->nrows] = (size_t)(p - x->data);
		p = row_pass1(x, c, p, end, num);
		if (p == NULL)
			return;
		c->nrows++;
	}
}

/* ---- pass 2 ---- */

/*
 * The value of f, unescaped into c->scratch when needed; NULL when memory
 * runs out. The scratch is reused for every value: it only grows, to the
 * longest one so far (as written, so at most max_field bytes), and its len
 * is the room it has, not the length of the value in it.
 */
static const char *field_value(struct store__csv_chunk *c, const struct store__csv_field *f,
			       size_t *len)
{
	size_t n = (size_t)(f->stop - f->start), j = 0;

	if (!f->escaped) {
		*len = n;
		return f->start;
	}
	if (n > c->scratch.len && fitd_buf_grow(&c->scratch, n - c->scratch.len) == NULL)
		return NULL;
	for (const char *s = f->start; s < f->stop; s++) {
		c->scratch.data[j++] = *s;
		if (*s == '"')
			s++; /* the second quote of a pair */
	}
	*len = j;
	return c->scratch.data;
}

/* Interns the categorical fields of the row at p; false when memory runs out. */
static bool row_pass2(const struct store__csv_ctx *x, struct store__csv_chunk *c, const char *p,
		      const char *end, const size_t *catcols, size_t ncat, int32_t *const *codes,
		      size_t at)
{
	struct store__csv_field f;
	const char *bad, *s;
	bool row_end = false;
	size_t len;

	for (size_t col = 0, k = 0; k < ncat; col++) {
		if (store__csv_lex(x, p, end, &f, &bad) != STORE__CSV_OK)
			return false; /* cannot happen: pass 1 accepted the row */
		if (col == catcols[k]) {
			int32_t code = -1;

			if (f.escaped || !store__csv_missing(f.start, f.stop)) {
				s = field_value(c, &f, &len);
				if (s == NULL ||
				    fitd_intern_add(&c->interns[k], s, len, &code) != FITD_OK)
					return false;
			}
			codes[k][at] = code;
			k++;
		}
		p = store__csv_skip_term(f.term, end, x->sep, &row_end);
	}
	return true;
}

void store__csv_pass2(const struct store__csv_ctx *x, struct store__csv_chunk *c,
		      const size_t *catcols, size_t ncat, int32_t *const *codes, size_t base)
{
	for (size_t r = 0; r < c->nrows; r++) {
		const char *p = x->data + c->row_off[r];

		if (!row_pass2(x, c, p, c->end, catcols, ncat, codes, base + r)) {
			fault(c, STORE__CSV_NOMEM, p, x, r, 0);
			return;
		}
	}
}

/*
 * csv_text.c - byte-level helpers of the CSV parser: counting a byte,
 * validating UTF-8 (and refusing NUL) and recognising missing-value
 * tokens. (Categorical values are interned by daemon/base/intern.h.)
 *
 * Counting and validation work eight bytes at a time on plain integers
 * (SWAR), so they run at memory speed without machine-specific code: a
 * word with no high bit set and no zero byte is ASCII text and is skipped
 * whole.
 */
#include "store/csv_internal.h"

#include <string.h>

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LOWS  0x7f7f7f7f7f7f7f7fULL

static uint64_t load64(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

/* 0x80 in each byte of w that is zero, 0 elsewhere (exact, no carries across bytes). */
static uint64_t zero_bytes(uint64_t w)
{
	return ~(((w & LOWS) + LOWS) | w | LOWS);
}

size_t store__csv_count(const char *p, size_t n, unsigned char b)
{
	uint64_t pat = ONES * b, acc = 0;
	size_t count = 0, i = 0, k = 0;

	for (; i + 8 <= n; i += 8) {
		acc += zero_bytes(load64(p + i) ^ pat) >> 7;
		if (++k == 31) { /* keeps the sum of the 8 byte counters below 256 */
			count += (acc * ONES) >> 56;
			acc = 0;
			k = 0;
		}
	}
	count += (acc * ONES) >> 56;
	for (; i < n; i++)
		count += (unsigned char)p[i] == b;
	return count;
}

/*
 * Bytes allowed after a lead byte: the range of the first continuation
 * byte (which rules out overlong forms, surrogates and code points above
 * U+10FFFF) and the number of continuation bytes.
 */
struct utf8_lead {
	unsigned char lo, hi, more;
};

static struct utf8_lead lead_of(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return (struct utf8_lead){ 0x80, 0xbf, 1 };
	if (c == 0xe0)
		return (struct utf8_lead){ 0xa0, 0xbf, 2 };
	if (c == 0xed)
		return (struct utf8_lead){ 0x80, 0x9f, 2 };
	if (c >= 0xe1 && c <= 0xef)
		return (struct utf8_lead){ 0x80, 0xbf, 2 };
	if (c == 0xf0)
		return (struct utf8_lead){ 0x90, 0xbf, 3 };
	if (c >= 0xf1 && c <= 0xf3)
		return (struct utf8_lead){ 0x80, 0xbf, 3 };
	if (c == 0xf4)
		return (struct utf8_lead){ 0x80, 0x8f, 3 };
	return (struct utf8_lead){ 0, 0, 0 };
}

/* Length of the valid sequence at p[0..n), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	struct utf8_lead l = lead_of(p[0]);

	if (l.more == 0 || n <= l.more || p[1] < l.lo || p[1] > l.hi)
		return 0;
	for (size_t i = 2; i <= l.more; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return (size_t)l.more + 1;
}

size_t store__csv_check_text(const char *s, size_t n, enum store__csv_fault_kind *kind)
{
	struct store__csv_survey sv;

	store__csv_survey(s, n, &sv);
	*kind = sv.bad_kind;
	return sv.bad;
}

/* Adds the byte counters of acc (each below 256 in total) to *count. */
static void flush(uint64_t *acc, size_t *count)
{
	*count += (*acc * ONES) >> 56;
	*acc = 0;
}

void store__csv_survey(const char *s, size_t n, struct store__csv_survey *sv)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t nl = 0, qt = 0;
	size_t i = 0, k = 0, len;

	memset(sv, 0, sizeof(*sv));
	sv->bad = n;
	while (i < n) {
		if (i + 8 <= n) {
			uint64_t w = load64(s + i);

			if ((w & HIGHS) == 0 && zero_bytes(w) == 0) {
				nl += zero_bytes(w ^ (ONES * '\n')) >> 7;
				qt += zero_bytes(w ^ (ONES * '"')) >> 7;
				i += 8;
				if (++k == 31) { /* keeps each sum of 8 byte counters below 256 */
					flush(&nl, &sv->newlines);
					flush(&qt, &sv->quotes);
					k = 0;
				}
				continue;
			}
		}
		sv->newlines += p[i] == '\n';
		sv->quotes += p[i] == '"';
		len = p[i] == 0 ? 0 : p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);
		if (len == 0 && sv->bad == n) {
			sv->bad = i;
			sv->bad_kind = p[i] == 0 ? STORE__CSV_NUL : STORE__CSV_UTF8;
		}
		i += len ? len : 1;
	}
	flush(&nl, &sv->newlines);
	flush(&qt, &sv->quotes);
}

bool store__csv_missing(const char *s, const char *e)
{
	size_t n;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	switch (n) {
	case 0:
		return true;
	case 1:
		return s[0] == '?';
	case 2:
		return s[0] == 'N' && s[1] == 'A';
	case 3:
		return memcmp(s, "N/A", 3) == 0 || memcmp(s, "n/a", 3) == 0 ||
		       memcmp(s, "NaN", 3) == 0 || memcmp(s, "nan", 3) == 0;
	case 4:
		return memcmp(s, "#N/A", 4) == 0 || memcmp(s, "NULL", 4) == 0 ||
		       memcmp(s, "null", 4) == 0;
	default:
		return false;
	}
}

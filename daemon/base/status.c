/*
 * status.c - names and messages of the fitd status codes, from the table in
 * status.h, and the struct fitd_error helpers.
 */
#include "daemon/base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *code;
	const char *message;
} status_table[FITD__IDX_COUNT] = { [FITD__IDX_OK] = { "ok", "success" },
#define FITD__ROW(name, c, m) [FITD__IDX_##name] = { c, m },
				    FITD_STATUS_MAP(FITD__ROW)
#undef FITD__ROW
};

static int status_index(int status)
{
	if (status > 0 || -status >= FITD__IDX_COUNT)
		return -1;
	return -status;
}

const char *fitd_status_code(int status)
{
	int i = status_index(status);

	return i < 0 ? "unknown_status" : status_table[i].code;
}

const char *fitd_strerror(int status)
{
	int i = status_index(status);

	return i < 0 ? "unknown status" : status_table[i].message;
}

/* Length of the valid UTF-8 character at s (1 to 4), or 0 when the bytes there are not one. */
static size_t utf8_char(const unsigned char *s)
{
	unsigned cp, min;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	cp = s[0] & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void fitd_utf8_scrub(char *s)
{
	char *w = s;

	while (*s != '\0') {
		size_t n = utf8_char((const unsigned char *)s);

		if (n == 0) {
			s++;
			continue;
		}
		memmove(w, s, n);
		w += n;
		s += n;
	}
	*w = '\0';
}

int fitd_error_set(struct fitd_error *err, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return status;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code ? code : fitd_status_code(status));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	fitd_utf8_scrub(err->message);
	return status;
}

void fitd_error_clear(struct fitd_error *err)
{
	if (err == NULL)
		return;
	err->status = FITD_OK;
	err->code[0] = '\0';
	err->message[0] = '\0';
}

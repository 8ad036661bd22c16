/*
 * status.c - names and messages of the fitd status codes, from the table in
 * status.h, and the struct fitd_error helpers.
 */
#include "worker/fit/status.h"

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

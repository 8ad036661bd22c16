/*
 * log.c - logfmt lines on stderr; see log.h.
 */
#include "daemon/base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static atomic_int log_level = FITD_LOG_INFO;

static const char *const level_names[] = {
	[FITD_LOG_ERROR] = "error",
	[FITD_LOG_WARN] = "warn",
	[FITD_LOG_INFO] = "info",
	[FITD_LOG_DEBUG] = "debug",
};

int fitd_log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *fitd_log_level_name(int level)
{
	if (level < FITD_LOG_ERROR || level > FITD_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void fitd_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

int fitd_log_get_level(void)
{
	return atomic_load(&log_level);
}

/* Appends src to dst[*len..cap), escaping control characters as \n, \t or \xNN. */
static void append_escaped(char *dst, size_t *len, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";

	for (; *src && *len + 4 < cap; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c != 0x7f) {
			dst[(*len)++] = (char)c;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			dst[(*len)++] = '\\';
			dst[(*len)++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else {
			dst[(*len)++] = '\\';
			dst[(*len)++] = 'x';
			dst[(*len)++] = hex[c >> 4];
			dst[(*len)++] = hex[c & 15];
		}
	}
}

static size_t format_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return n < cap ? n : cap - 1;
}

void fitd_log(int level, const char *event, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char fields[LOG_LINE_MAX];
	size_t len = 0;
	va_list ap;

	if (level > atomic_load(&log_level))
		return;
	if (getenv("JOURNAL_STREAM") == NULL)
		len = format_time(line, sizeof(line));
	len += (size_t)snprintf(line + len, sizeof(line) - len,
				"level=%s event=", fitd_log_level_name(level));
	append_escaped(line, &len, sizeof(line), event);
	if (fmt != NULL && fmt[0] != '\0') {
		va_start(ap, fmt);
		vsnprintf(fields, sizeof(fields), fmt, ap);
		va_end(ap);
		line[len++] = ' ';
		append_escaped(line, &len, sizeof(line), fields);
	}
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report a failed log write. */
	}
}

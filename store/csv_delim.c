/*
 * csv_delim.c - the four delimiters the CSV parser takes, their names (one
 * table, for the API's ?delimiter= and for messages), and the checks that
 * say when a text seems separated by another one than the parse's: the
 * header's first line is counted for each of the others, and the one it
 * holds most is named, with how the caller takes a delimiter
 * (options.delimiter_param).
 */
#include "store/csv_internal.h"

#include <stdio.h>
#include <string.h>

static const struct {
	char d;
	const char *name;
	const char *shown; /* in messages */
} delimiters[] = {
	{ ',', "comma", "','" },
	{ ';', "semicolon", "';'" },
	{ '\t', "tab", "a tab" },
	{ '|', "pipe", "'|'" },
};

#define NDELIMITERS (sizeof(delimiters) / sizeof(delimiters[0]))

char store_csv_delimiter_parse(const char *text)
{
	for (size_t i = 0; i < NDELIMITERS; i++)
		if ((text[0] == delimiters[i].d && text[1] == '\0') ||
		    strcmp(text, delimiters[i].name) == 0)
			return delimiters[i].d;
	return 0;
}

const char *store_csv_delimiter_name(char d)
{
	for (size_t i = 0; i < NDELIMITERS; i++)
		if (delimiters[i].d == d)
			return delimiters[i].name;
	return NULL;
}

/* The row of the delimiter table of d; d is one of them. */
static size_t delimiter_row(char d)
{
	size_t i = 0;

	while (i + 1 < NDELIMITERS && delimiters[i].d != d)
		i++;
	return i;
}

/*
 * The delimiter other than the parse's that the header's first line holds
 * most (the first of the table on a tie), its row into *row and its count
 * into *times; false when the line holds none.
 */
static bool other_delimiter(const struct store__csv_parse *ps, size_t *row, size_t *times)
{
	const char *end = ps->x.data + ps->len, *nl;
	size_t len;

	if (ps->header == NULL)
		return false;
	nl = memchr(ps->header, '\n', (size_t)(end - ps->header));
	len = (size_t)((nl ? nl : end) - ps->header);
	*times = 0;
	for (size_t i = 0; i < NDELIMITERS; i++) {
		size_t n = delimiters[i].d == ps->x.sep
			       ? 0
			       : store__csv_count(ps->header, len, (unsigned char)delimiters[i].d);

		if (n > *times) {
			*times = n;
			*row = i;
		}
	}
	return *times > 0;
}

/*
 * "pass ?delimiter=NAME" when the caller said how it takes a delimiter,
 * else that this input takes the parse's delimiter only.
 */
static void how_to_set(const struct store__csv_parse *ps, size_t row, char *buf, size_t cap)
{
	if (ps->delimiter_param != NULL)
		snprintf(buf, cap, "pass %s%s", ps->delimiter_param, delimiters[row].name);
	else
		snprintf(buf, cap, "write the file with %s (%s) instead: this input takes no other",
			 delimiters[delimiter_row(ps->x.sep)].shown,
			 delimiters[delimiter_row(ps->x.sep)].name);
}

const char *store__csv_delimiter_shown(char d)
{
	return delimiters[delimiter_row(d)].shown;
}

void store__csv_hint(const struct store__csv_parse *ps)
{
	char how[96];
	size_t row, times, used;

	if (ps->err == NULL || !other_delimiter(ps, &row, &times))
		return;
	how_to_set(ps, row, how, sizeof(how));
	used = strlen(ps->err->message);
	snprintf(ps->err->message + used, sizeof(ps->err->message) - used,
		 "; the header holds %s %zu time%s: if that is the separator, %s",
		 delimiters[row].shown, times, times == 1 ? "" : "s", how);
}

int store__csv_check_one_column(struct store__csv_parse *ps)
{
	char how[96];
	size_t row, times;

	if (ps->x.ncols != 1 || *ps->header == '"' || !other_delimiter(ps, &row, &times))
		return FITD_OK;
	how_to_set(ps, row, how, sizeof(how));
	return fitd_error_set(
	    ps->err, FITD_EFORMAT, "wrong_delimiter",
	    "header (line %zu): the only column, '%.40s', holds %s: if that "
	    "is the separator, %s; to keep one column, quote its name",
	    1 + store__csv_count(ps->x.data, (size_t)(ps->header - ps->x.data), '\n'), ps->names[0],
	    delimiters[row].shown, how);
}

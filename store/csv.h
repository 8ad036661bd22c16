/*
 * csv.h - the CSV parser of uploads: RFC 4180 text in, a typed
 * struct fit_frame out.
 *
 * Input: UTF-8 (validated; a leading byte order mark is skipped), a header
 * row of unique non-empty column names, then data rows with exactly as many
 * fields. Fields are separated by the delimiter (options.delimiter: a
 * comma, or one of ';', tab and '|'; the others are ordinary bytes) and may
 * be quoted with double quotes; a quoted field may hold delimiters,
 * newlines and doubled quotes (""). A quote anywhere else (inside an
 * unquoted field, or after a closing quote other than a doubled one) is an
 * error. Lines end in LF or CRLF; the last line may lack one; a lone CR is
 * an ordinary byte. Blank lines are skipped wherever they are (so a
 * trailing empty line is not a row). Fields are taken as written, except
 * that a number may have spaces or tabs around it (spaces only when tab is
 * the delimiter).
 *
 * A file separated by another delimiter than the one given is caught where
 * it can be: a header of one unquoted name that holds another of the four
 * delimiters is refused (wrong_delimiter: quote the name to keep it), and
 * a ragged first row or a quote error in the header or the first row says
 * which delimiter the header holds most, when it holds another one.
 *
 * Missing values: a field that is empty or, once the spaces and tabs around
 * it are trimmed, is one of  NA  N/A  n/a  #N/A  ?  NaN  nan  NULL  null.
 * ("None" is not on the list: it is a real level in many tables.) README.md
 * lists the same tokens; integration-datasets checks that they agree.
 *
 * Types: a column is numeric when every value that is not missing is a
 * finite decimal number ([+-] digits [. digits] [e[+-]digits], with digits
 * on at least one side of the point; no hex, no inf), and categorical
 * otherwise, its levels sorted in byte order. Numbers are parsed to the
 * double strtod() gives, correctly rounded: a numeral too large for a
 * double is not a number, one too small reads as 0. Columns named in
 * options.categorical stay categorical whatever their values.
 *
 * Errors fill struct fitd_error with one of these codes and a message that
 * names the data row (1-based, the header not counted), the physical line
 * and the column (1-based index and name) where they apply:
 *   FITD_EFORMAT (malformed):  empty_body, ragged_row, unterminated_quote,
 *     bad_quote, nul_byte, invalid_utf8, wrong_delimiter
 *   FITD_EINVAL: invalid_delimiter (options.delimiter is not one of the four)
 *   FITD_EUNPROCESSABLE (well-formed but unusable): no_rows,
 *     duplicate_column, empty_column_name, too_many_columns,
 *     field_too_long, too_many_rows
 *   FITD_ENOMEM, FITD_ETOOBIG, and FITD_ENOTFOUND or FITD_EIO (files) as usual.
 * When the input has several errors, the one earliest in the text is
 * reported, and the result (frame or error) does not depend on the number
 * of threads.
 *
 * The parser keeps no state between calls; concurrent calls are safe.
 */
#ifndef STORE_CSV_H
#define STORE_CSV_H

#include <stddef.h>

#include "worker/fit/frame.h"
#include "daemon/base/status.h"

#define STORE_CSV_MAX_COLUMNS 4096  /* default of max_columns */
#define STORE_CSV_MAX_FIELD   65536 /* default of max_field_bytes */
#define STORE_CSV_MAX_THREADS 64    /* threads beyond this are not used */

struct store_csv_options {
	char delimiter;		     /* ',' ';' '\t' '|'; 0: ',' */
	const char *delimiter_param; /* how the caller takes a delimiter, for the hints
				      * ("?delimiter=" gives "pass ?delimiter=tab"); NULL: it
				      * takes none, and the hints say to use this one */
	size_t max_columns;	     /* 0: STORE_CSV_MAX_COLUMNS */
	size_t max_field_bytes;	     /* per field as written, quotes excluded; 0: 65536 */
	size_t max_rows;	     /* data rows; 0: no limit */
	const char *const
	    *categorical; /* columns kept categorical; names not in the header are ignored */
	size_t ncategorical;
	int threads; /* parser threads; 0 or 1: the calling thread only */
};

/*
 * The delimiter that text names: the character itself (",", ";", "\t",
 * "|") or its name ("comma", "semicolon", "tab", "pipe"); 0 for anything
 * else. store_csv_delimiter_name() is the other way: the name of d, or
 * NULL when d is not one of the four. Both are pure; any thread.
 */
char store_csv_delimiter_parse(const char *text);
const char *store_csv_delimiter_name(char d);

/*
 * Parses len bytes at data. opt may be NULL for the defaults. On success
 * *out is a frame the caller frees with fit_frame_free(); on error *out is
 * NULL, err (if not NULL) says why and nothing is left allocated.
 */
int store_csv_parse(const char *data, size_t len, const struct store_csv_options *opt,
		    struct fit_frame **out, struct fitd_error *err);

/* The same for the file at path, which is mapped read-only, not read into memory. */
int store_csv_parse_file(const char *path, const struct store_csv_options *opt,
			 struct fit_frame **out, struct fitd_error *err);

#endif

/*
 * status.h - the one status vocabulary of fitd.
 *
 * Every library returns an int: 0 (FITD_OK) or a negative FITD_E* code from
 * the table below. The table gives each code a snake_case name, used as the
 * "code" of an HTTP error when nothing more precise is known, and a message.
 * It lives in daemon/base/, the library every other one links; it needs
 * nothing but libc.
 *
 * A struct fitd_error carries the detail of a failure to the caller: a more
 * precise snake_case code ("ragged_row") and a human message naming the row,
 * column or field. Functions that take one fill it on failure and leave it
 * untouched on success; passing NULL is always allowed.
 */
#ifndef FITD_STATUS_H
#define FITD_STATUS_H

#include <stddef.h>

/* X(NAME, code, message) */
#define FITD_STATUS_MAP(X)                                                       \
	X(EINVAL, "invalid_argument", "invalid argument")                        \
	X(ENOMEM, "out_of_memory", "out of memory")                              \
	X(EIO, "io_error", "input/output error")                                 \
	X(ENOSPC, "insufficient_storage", "no space left on the state device")   \
	X(ENOTFOUND, "not_found", "not found")                                   \
	X(ECONFLICT, "conflict", "conflicts with the current state")             \
	X(ETOOBIG, "payload_too_large", "payload too large")                     \
	X(ELENGTH, "length_required", "Content-Length required")                 \
	X(EFORMAT, "malformed", "malformed input")                               \
	X(EUNPROCESSABLE, "unprocessable", "well-formed but unusable input")     \
	X(ESTATE, "invalid_state", "not allowed in the current state")           \
	X(ECANCELLED, "cancelled", "cancelled")                                  \
	X(ETIMEOUT, "timeout", "deadline reached")                               \
	X(EDIVERGED, "diverged", "the fit diverged")                             \
	X(ESTORE, "store_error", "database error")                               \
	X(ESCHEMA, "schema_too_new", "the database was written by a newer fitd") \
	X(EUNAVAILABLE, "unavailable", "temporarily unavailable")                \
	X(EINTERNAL, "internal_error", "internal error")                         \
	X(ELIMIT, "limit_reached", "a limit is reached; retry later")

enum fitd__status_index {
	FITD__IDX_OK,
#define FITD__IDX(name, code, msg) FITD__IDX_##name,
	FITD_STATUS_MAP(FITD__IDX)
#undef FITD__IDX
	FITD__IDX_COUNT
};

enum fitd_status {
	FITD_OK = 0,
#define FITD__DEF(name, code, msg) FITD_##name = -FITD__IDX_##name,
	FITD_STATUS_MAP(FITD__DEF)
#undef FITD__DEF
};

#define FITD_ERROR_CODE_MAX    48
#define FITD_ERROR_MESSAGE_MAX 256

struct fitd_error {
	int status;			      /* a FITD_E* code */
	char code[FITD_ERROR_CODE_MAX];	      /* snake_case reason */
	char message[FITD_ERROR_MESSAGE_MAX]; /* one human sentence */
};

/* The snake_case name of a status; "unknown_status" for a value not in the table. */
const char *fitd_status_code(int status);

/* The message of a status; never NULL. */
const char *fitd_strerror(int status);

/*
 * Fills *err (when not NULL) and returns status, so a failure reads
 * `rc = fitd_error_set(err, FITD_EFORMAT, "ragged_row", "row %zu has ...", row);`.
 * A NULL code uses fitd_status_code(status). The message is truncated to fit
 * and scrubbed with fitd_utf8_scrub(), so a name cut short by a precision
 * ('%.40s') or by the truncation still leaves a message JSON can carry.
 */
int fitd_error_set(struct fitd_error *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Removes in place every byte of the NUL-terminated s that is not part of a
 * valid UTF-8 character (a character cut in two, a stray byte), leaving
 * valid UTF-8.
 */
void fitd_utf8_scrub(char *s);

/* Clears *err to FITD_OK with empty code and message; NULL is allowed. */
void fitd_error_clear(struct fitd_error *err);

#endif

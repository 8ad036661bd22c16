/*
 * log.h - one-line structured logs on stderr.
 *
 * Each line is logfmt: "ts=... level=info event=listening addr=127.0.0.1:8080".
 * When stderr is journald's stream (JOURNAL_STREAM is set) the timestamp is
 * left out, since the journal keeps its own. Control characters in a line
 * are escaped so a value from a client can never split a line.
 *
 * It lives in daemon/base/, which every library may use; the numeric core
 * never logs.
 *
 * The level is the one piece of mutable process state besides the config:
 * it is read and written atomically, so SIGHUP can change it while other
 * threads log.
 */
#ifndef FITD_LOG_H
#define FITD_LOG_H

enum fitd_log_level {
	FITD_LOG_ERROR = 0,
	FITD_LOG_WARN = 1,
	FITD_LOG_INFO = 2,
	FITD_LOG_DEBUG = 3,
};

/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int fitd_log_level_parse(const char *name);

const char *fitd_log_level_name(int level);

void fitd_log_set_level(int level);
int fitd_log_get_level(void);

/*
 * Writes one line: level, event, then the key=value text made from fmt
 * (which may be NULL). Thread-safe; a line is written with one write(2).
 */
void fitd_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define fitd_log_error(ev, ...) fitd_log(FITD_LOG_ERROR, ev, __VA_ARGS__)
#define fitd_log_warn(ev, ...)	fitd_log(FITD_LOG_WARN, ev, __VA_ARGS__)
#define fitd_log_info(ev, ...)	fitd_log(FITD_LOG_INFO, ev, __VA_ARGS__)
#define fitd_log_debug(ev, ...) fitd_log(FITD_LOG_DEBUG, ev, __VA_ARGS__)

#endif

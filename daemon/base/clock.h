/*
 * clock.h - the monotonic clock fitd measures durations and deadlines with.
 * It lives in daemon/base/, the library every other one links. The origin
 * is arbitrary: only differences mean anything, and the clock never goes
 * back. Thread-safe.
 */
#ifndef FITD_CLOCK_H
#define FITD_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t fitd_clock_ns(void);
/* The same in whole milliseconds. */
int64_t fitd_clock_ms(void);
/* The same in seconds. */
double fitd_clock_s(void);

#endif

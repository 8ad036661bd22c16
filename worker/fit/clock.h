/*
 * clock.h - the monotonic clock fitd measures durations and deadlines with.
 * It lives in the numeric core, the library every other one links, because
 * it needs nothing but libc. The origin is arbitrary: only differences mean
 * anything, and the clock never goes back. Thread-safe.
 */
#ifndef WORKER_FIT_CLOCK_H
#define WORKER_FIT_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t fit_clock_ns(void);
/* The same in whole milliseconds. */
int64_t fit_clock_ms(void);
/* The same in seconds. */
double fit_clock_s(void);

#endif

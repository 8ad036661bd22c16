/*
 * clock.c - the monotonic clock (clock.h).
 */
#include "worker/fit/clock.h"

#include <time.h>

int64_t fit_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fit_clock_ms(void)
{
	return fit_clock_ns() / 1000000;
}

double fit_clock_s(void)
{
	return (double)fit_clock_ns() * 1e-9;
}

/*
 * clock.c - the monotonic clock (clock.h).
 */
#include "daemon/base/clock.h"

#include <time.h>

int64_t fitd_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fitd_clock_ms(void)
{
	return fitd_clock_ns() / 1000000;
}

double fitd_clock_s(void)
{
	return (double)fitd_clock_ns() * 1e-9;
}

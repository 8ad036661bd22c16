/*
 * notify.c - sd_notify when built with libsystemd; see notify.h.
 */
#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>

#include "fitd_config.h"

#if FITD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void daemon_notify(const char *fmt, ...)
{
#if FITD_HAVE_SYSTEMD
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notify(0, line);
#else
	(void)fmt;
#endif
}

uint64_t daemon_watchdog_usec(void)
{
#if FITD_HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}

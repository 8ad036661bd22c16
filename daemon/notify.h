/*
 * notify.h - systemd notifications (READY=1, STOPPING=1, STATUS=, WATCHDOG=1).
 * Without libsystemd, or when not started by systemd, every call does nothing.
 */
#ifndef DAEMON_NOTIFY_H
#define DAEMON_NOTIFY_H

#include <stdint.h>

/* Sends one notification line made from fmt, e.g. "READY=1\nSTATUS=serving". */
void daemon_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd asked for, in microseconds; 0 when none. */
uint64_t daemon_watchdog_usec(void);

#endif

/*
 * notify: sd_notify(3) without libsystemd — one datagram to $NOTIFY_SOCKET (a path, or an
 * abstract name starting with '@'). Silently does nothing when the variable is unset.
 */
#ifndef AEQUA_SUPERVISOR_NOTIFY_H
#define AEQUA_SUPERVISOR_NOTIFY_H

#include <stdint.h>

int sd_notify_send(const char *state);
/* Half of $WATCHDOG_USEC in ms (when it is set for this pid), else 0. */
uint64_t sd_watchdog_period_ms(void);

#endif

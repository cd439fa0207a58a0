/* Diagnostics on stderr, prefixed with the program's name, and the exit
 * statuses every tool shares. Data never goes through here. */
#ifndef SONDE_LOG_H
#define SONDE_LOG_H

#include <stdbool.h>

enum sonde_exit {
	SONDE_EXIT_OK = 0,
	SONDE_EXIT_RUNTIME = 1,
	SONDE_EXIT_USAGE = 2,
	SONDE_EXIT_PRIVILEGE = 3,
	SONDE_EXIT_UNSUPPORTED = 4,
};

void sonde_log_init(const char *argv0);
const char *sonde_progname(void);
void sonde_set_verbosity(int level);
int sonde_verbosity(void);

/* "sonde-x: message" — for errors and warnings, always printed. */
void sonde_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed only with -v (level 1) or -vv (level 2). */
void sonde_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

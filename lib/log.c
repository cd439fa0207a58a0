#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sonde/log.h"

static const char *progname = "sonde";
static int verbosity;

void sonde_log_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		progname = slash ? slash + 1 : argv0;
}

const char *sonde_progname(void)
{
	return progname;
}

void sonde_set_verbosity(int level)
{
	verbosity = level;
}

int sonde_verbosity(void)
{
	return verbosity;
}

static void vlog(const char *fmt, va_list ap)
{
	/* One write per line keeps lines whole when several tools share a
	 * terminal or a log file. */
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s: ", progname);

	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void sonde_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void sonde_info(int level, const char *fmt, ...)
{
	va_list ap;

	if (verbosity < level)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

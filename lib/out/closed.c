#include <errno.h>
#include <stdio.h>

#include "sonde/out.h"

static bool closed;

bool sonde_out_closed(void)
{
	return closed;
}

int sonde_out_flush(FILE *f)
{
	if (closed)
		return -1;
	if (fflush(f) == 0 && !ferror(f))
		return 0;
	/* EPIPE is the reader going away; anything else (disk full) is just
	 * as final for a stream of output. Either way, stop writing. */
	closed = true;
	return -1;
}

#include <errno.h>
#include <stdio.h>

#include "sonde/out.h"

static bool closed;
/* Between sonde_out_hold() and sonde_out_release(): the stream a flush
 * was asked for and put off. */
static bool holding;
static FILE *held;

bool sonde_out_closed(void)
{
	return closed;
}

static int flush_now(FILE *f)
{
	if (fflush(f) == 0 && !ferror(f))
		return 0;
	/* EPIPE is the reader going away; anything else (disk full) is just
	 * as final for a stream of output. Either way, stop writing. */
	closed = true;
	return -1;
}

int sonde_out_flush(FILE *f)
{
	if (closed)
		return -1;
	if (holding && !ferror(f)) {
		if (held && held != f && flush_now(held))
			return -1;
		held = f;
		return 0;
	}
	return flush_now(f);
}

void sonde_out_hold(void)
{
	holding = true;
}

int sonde_out_release(void)
{
	FILE *f = held;

	holding = false;
	held = NULL;
	if (f)
		return flush_now(f);
	return closed ? -1 : 0;
}

#include <time.h>
#include <stdio.h>

#include "sonde/clock.h"

static uint64_t ts_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t sonde_now_mono_ns(void)
{
	return ts_ns(CLOCK_MONOTONIC);
}

uint64_t sonde_mono_to_wall_ns(uint64_t mono_ns)
{
	static uint64_t offset;

	if (!offset) {
		/* Bracket the realtime read to halve the error of the pair. */
		uint64_t before = ts_ns(CLOCK_MONOTONIC);
		uint64_t wall = ts_ns(CLOCK_REALTIME);
		uint64_t after = ts_ns(CLOCK_MONOTONIC);

		offset = wall - (before + (after - before) / 2);
	}
	return mono_ns + offset;
}

void sonde_format_clock(uint64_t wall_ns, char buf[16])
{
	time_t secs = wall_ns / 1000000000ull;
	struct tm tm;

	localtime_r(&secs, &tm);
	snprintf(buf, 16, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

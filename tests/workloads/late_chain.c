/* A shared library built without frame pointers that dlopen_late loads
 * only after the tools attached: late_chain_outer -> late_chain_inner ->
 * a leaf that spins or sleeps (the syscall made here, so the leaf is in
 * this library, not in libc). */
#include <time.h>

#include "sleep_here.h"

static volatile unsigned long sink;

#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* sleeps > 0: sleep that many times ms; else spin for ms. */
__attribute__((noinline)) void late_chain_inner(int sleeps, int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	double end = now() + ms / 1e3;

	for (int i = 0; i < sleeps; i++)
		sleep_here(&ts);
	while (!sleeps && now() < end)
		for (unsigned long i = 0; i < 100000; i++)
			sink += i * i;
	KEEP_FRAME();
}

__attribute__((noinline)) void late_chain_outer(int sleeps, int ms)
{
	late_chain_inner(sleeps, ms);
	KEEP_FRAME();
}

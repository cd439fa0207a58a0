/* Burns CPU in a function of its own for the milliseconds given, then
 * execs the rest of its arguments: a profiled process that becomes
 * another program under the same PID. Built without PIE, like
 * stacks_nopie, so both load their code at the same addresses and a
 * symbolizer that kept the first program's mappings would name the
 * second one's functions wrongly. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noinline)) void spin_before_exec(double until_ms)
{
	volatile unsigned long n = 0;

	while (now_ms() < until_ms)
		n++;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exec_after MS PROGRAM [ARG...]\n");
		return 2;
	}
	spin_before_exec(now_ms() + atoi(argv[1]));
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 1;
}

/* A context-switch storm of fixed size for bench/run's offcpu section: two
 * threads of one process (so that one -p PID selects both) pass a byte to
 * and fro over two pipes, each blocking until the other answers.
 *
 *     pingpong ROUNDS
 *
 * Prints its PID, waits for a line on stdin (time for a tracer to attach),
 * then prints the seconds the ROUNDS round trips took. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int to_echo[2], to_main[2];
static long rounds;

static void *echo(void *arg)
{
	char byte;

	(void)arg;
	for (long i = 0; i < rounds; i++)
		if (read(to_echo[0], &byte, 1) != 1 || write(to_main[1], &byte, 1) != 1)
			exit(1);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char byte = 'x', line[16];
	pthread_t thread;
	double start;

	rounds = argc == 2 ? atol(argv[1]) : 0;
	if (rounds <= 0) {
		fprintf(stderr, "usage: pingpong ROUNDS\n");
		return 2;
	}
	if (pipe(to_echo) || pipe(to_main) || pthread_create(&thread, NULL, echo, NULL))
		return 1;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	start = now();
	for (long i = 0; i < rounds; i++)
		if (write(to_echo[1], &byte, 1) != 1 || read(to_main[0], &byte, 1) != 1)
			return 1;
	printf("%.6f\n", now() - start);
	pthread_join(thread, NULL);
	return 0;
}

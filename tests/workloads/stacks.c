/* Known call chains for the sonde-profile and sonde-offcpu tests:
 * main -> workload_outer -> workload_middle -> a leaf that burns CPU, makes
 * syscalls or sleeps. Built twice: with frame pointers, and without.
 *
 *   stacks cpu       spin in workload_spin until killed
 *   stacks syscall   read /dev/zero in workload_syscalls until killed
 *   stacks sleep N MS   after "go" on stdin, sleep N times MS ms in
 *                    workload_sleep, print "done", wait for stdin to close
 *   stacks paths     the same with 128 distinct call chains, 1 ms each
 *   stacks depths N  the same on a second thread (depths_thread ->
 *                    workload_outer -> ...), with N 1 ms sleeps in
 *                    workload_shallow and N in workload_deep, DEEP_FRAMES
 *                    calls and ~4 KiB of stack (more with ASan) further
 *                    down, in turn
 *
 * STACKS_COMM in the environment renames the process (hostile names).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "sleep_here.h"

static volatile unsigned long sink;
/* Never set: the loops look finite to the compiler, which then keeps
 * the frames of functions that return. */
static volatile int stop;
static int sleeps = 10, sleep_ms = 100;

/* Calls are followed by an empty asm so none becomes a tail call and
 * every function keeps its own frame. */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

__attribute__((noinline)) void workload_spin(void)
{
	while (!stop)
		for (unsigned long i = 0; i < 1000000; i++)
			sink += i * i;
}

__attribute__((noinline)) void workload_syscalls(void)
{
	static char buf[1 << 20];
	int fd = open("/dev/zero", O_RDONLY);

	if (fd < 0)
		exit(1);
	while (!stop)
		sink += read(fd, buf, sizeof(buf));
	close(fd);
}


__attribute__((noinline)) void workload_sleep(void)
{
	struct timespec ts = {.tv_sec = sleep_ms / 1000, .tv_nsec = (sleep_ms % 1000) * 1000000L};

	for (int i = 0; i < sleeps; i++)
		sleep_here(&ts);
	KEEP_FRAME();
}

/* stacks paths: 2^PATH_BITS distinct call chains, one per number, each
 * bit choosing workload_path_a or workload_path_b at its level, ending in
 * one 1 ms sleep. */
#define PATH_BITS 7

__attribute__((noinline)) void workload_path_a(unsigned path, int level);
__attribute__((noinline)) void workload_path_b(unsigned path, int level);

static void path_next(unsigned path, int level)
{
	static const struct timespec ms = {.tv_nsec = 1000000L};

	if (level == PATH_BITS)
		sleep_here(&ms);
	else if (path >> level & 1)
		workload_path_b(path, level + 1);
	else
		workload_path_a(path, level + 1);
}

__attribute__((noinline)) void workload_path_a(unsigned path, int level)
{
	path_next(path, level);
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_path_b(unsigned path, int level)
{
	path_next(path, level);
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_paths(void)
{
	for (unsigned path = 0; path < 1u << PATH_BITS; path++)
		path_next(path, 0);
	KEEP_FRAME();
}

/* stacks depths: one thread blocking now near the top of its stack, now
 * kilobytes further down, as a copied stack's length is learned from the
 * first and must still hold the second. */
#define DEEP_FRAMES 16
static int depth_rounds;
static const struct timespec one_ms = {.tv_nsec = 1000000L};

__attribute__((noinline)) void workload_deep(int level)
{
	volatile char pad[200];

	pad[0] = (char)level;
	if (level == DEEP_FRAMES)
		sleep_here(&one_ms);
	else
		workload_deep(level + 1);
	sink += pad[0];
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_shallow(void)
{
	sleep_here(&one_ms);
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_depths(void)
{
	for (int i = 0; i < depth_rounds; i++) {
		workload_shallow();
		workload_deep(1);
	}
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_middle(void (*leaf)(void))
{
	leaf();
	KEEP_FRAME();
}

__attribute__((noinline)) void workload_outer(void (*leaf)(void))
{
	workload_middle(leaf);
	KEEP_FRAME();
}

/* A thread's stack is mapped well above its first frame (glibc keeps
 * the thread's descriptor there): a copy of a fixed size always fills. */
__attribute__((noinline)) void *depths_thread(void *arg)
{
	(void)arg;
	workload_outer(workload_depths);
	KEEP_FRAME();
	return NULL;
}

/* Says "ready" and waits for "go" on stdin; false when stdin ended. (Not
 * a wrapper around the run: the call chains must start at main.) */
static bool told_to_go(void)
{
	char line[16];

	printf("ready\n");
	return fgets(line, sizeof(line), stdin) != NULL;
}

/* Says "done" and stays until stdin closes: its symbols stay readable. */
static int done(void)
{
	char line[16];

	printf("done\n");
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("STACKS_COMM"))
		prctl(PR_SET_NAME, getenv("STACKS_COMM"));
	if (argc >= 2 && !strcmp(argv[1], "cpu")) {
		workload_outer(workload_spin);
	} else if (argc >= 2 && !strcmp(argv[1], "syscall")) {
		workload_outer(workload_syscalls);
	} else if (argc >= 2 && !strcmp(argv[1], "paths")) {
		if (!told_to_go())
			return 1;
		workload_outer(workload_paths);
		return done();
	} else if (argc >= 3 && !strcmp(argv[1], "depths")) {
		depth_rounds = atoi(argv[2]);
		if (!told_to_go())
			return 1;
		pthread_t thread;

		if (pthread_create(&thread, NULL, depths_thread, NULL) || pthread_join(thread, NULL))
			return 1;
		return done();
	} else if (argc >= 4 && !strcmp(argv[1], "sleep")) {
		sleeps = atoi(argv[2]);
		sleep_ms = atoi(argv[3]);
		if (!told_to_go())
			return 1;
		workload_outer(workload_sleep);
		return done();
	} else {
		fprintf(stderr, "usage: stacks cpu|syscall|paths|depths N|sleep N MS\n");
		return 2;
	}
	return 0;
}

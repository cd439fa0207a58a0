/* Loads code after the tools attached, as a plugin or a lazily loaded
 * library would:
 *
 *   dlopen_late LIB sleep N MS   each step after a "go" line on stdin: sleep
 *   dlopen_late LIB spin MS      50 ms in libc and print "slept"; dlopen LIB
 *                                and print "loaded"; run its late_chain_outer
 *                                (sleep N times MS ms, or spin MS ms) and
 *                                print "done"; then wait for stdin to close
 *
 * Built with frame pointers; LIB (late_chain.c) without.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

typedef void chain_fn(int sleeps, int ms);

__attribute__((noinline)) void dlopen_late_run(chain_fn *chain, int sleeps, int ms)
{
	chain(sleeps, ms);
	KEEP_FRAME();
}

int main(int argc, char **argv)
{
	char line[16];
	void *lib;
	chain_fn *chain;
	int sleeps, ms;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5 && !(argc == 4 && !strcmp(argv[2], "spin"))) {
		fprintf(stderr, "usage: dlopen_late LIB sleep N MS | dlopen_late LIB spin MS\n");
		return 2;
	}
	sleeps = !strcmp(argv[2], "sleep") ? atoi(argv[3]) : 0;
	ms = atoi(argv[argc - 1]);
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	/* A block the tools see before the library exists: an unwinder that
	 * set the process up then must learn of the library later. */
	usleep(50000);
	printf("slept\n");
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	lib = dlopen(argv[1], RTLD_NOW);
	chain = lib ? (chain_fn *)dlsym(lib, "late_chain_outer") : NULL;
	if (!chain) {
		fprintf(stderr, "dlopen_late: %s\n", dlerror());
		return 1;
	}
	printf("loaded\n");
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	dlopen_late_run(chain, sleeps, ms);
	printf("done\n");
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}

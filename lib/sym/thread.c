/* The symbolizer's background threads (the kallsyms reader, the libc
 * prefetch) start with every signal blocked: one they let through would
 * take the default action (SIGINT ends the process) before the tool's own
 * handling, on its main thread and maybe set up only later, saw it. */
#include <pthread.h>
#include <signal.h>

#include "internal.h"

int sym_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

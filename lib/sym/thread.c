/* The symbolizer's background threads (the kallsyms reader, the libc
 * prefetch).
 *
 * They start with every signal blocked: one they let through would take
 * the default action (SIGINT ends the process) before the tool's own
 * handling, on its main thread and maybe set up only later, saw it.
 *
 * They run under SCHED_IDLE: they read, while the tool traces, what only
 * its report needs, and they would otherwise take CPU time from the
 * workload being traced. Woken on a busy CPU, a thread of normal policy
 * competes with the tasks there (a context-switch storm ran ~10 % slower
 * while the ~130 ms of kallsyms and libc DWARF were read); an idle one
 * gives way at once and moves to a CPU with nothing else to do. Once the
 * tool waits for a thread's result it gets the normal policy back
 * (sym_thread_join), so that a report on a busy machine is not held up.
 *
 * (The normal policy is the one the tool was started under: SCHED_OTHER
 * or SCHED_BATCH; under any other, threads just keep it.)
 *
 * Leaving SCHED_IDLE takes CAP_SYS_NICE or an RLIMIT_NICE that allows the
 * thread's nice value, and the tools drop capabilities once attached: the
 * symbolizing ones keep CAP_SYS_NICE for this (SONDE_KEEP_PROC_READ), for
 * threads started after the drop; a thread started idle before it asks
 * the drop to keep CAP_SYS_NICE whatever the tool keeps. Without either,
 * threads keep the normal policy rather than risk being stuck idle. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include "sonde/caps.h"
#include "sonde/heap_prefault.h"

#include "internal.h"

/* Whether a thread made idle could be given the normal policy back: as
 * long as CAP_SYS_NICE is kept, or where RLIMIT_NICE allows nice 0 (20
 * minus the lowest nice value it allows). */
static bool can_leave_idle(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NICE, &r) && r.rlim_cur >= 20)
		return true;
	if (!sonde_caps_have(CAP_SYS_NICE))
		return false;
	/* Before the capability drop, which must then not take it away. */
	sonde_caps_keep_later(CAP_SYS_NICE);
	return true;
}

static void set_policy(pthread_t thread, int policy)
{
	struct sched_param none = {.sched_priority = 0};

	/* On failure the thread keeps the policy it has: only slower or
	 * less polite, never wrong. */
	pthread_setschedparam(thread, policy, &none);
}

static void *run_idle(void *arg)
{
	struct sym_thread *t = arg;
	bool prefaulted;
	void *ret;

	if (t->idle) {
		set_policy(pthread_self(), SCHED_IDLE);
		/* Joined already: the join's change may have come first. */
		if (atomic_load(&t->hurry))
			set_policy(pthread_self(), t->policy);
	}
	/* Faults taken in one call, as it fills fresh memory. */
	prefaulted = sonde_heap_prefault(t->prefault);
	ret = t->fn(t->arg);
	if (prefaulted)
		sonde_heap_prefault_end();
	return ret;
}

int sym_thread_start(struct sym_thread *t, void *(*fn)(void *), void *arg, size_t fill)
{
	sigset_t all, old;
	int err;

	t->fn = fn;
	t->arg = arg;
	t->prefault = fill;
	atomic_store(&t->hurry, false);
	/* A policy the user chose (real-time, or idle already) is kept. */
	t->policy = sched_getscheduler(0);
	t->idle = (t->policy == SCHED_OTHER || t->policy == SCHED_BATCH) && can_leave_idle();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t->id, NULL, run_idle, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void sym_thread_join(struct sym_thread *t)
{
	atomic_store(&t->hurry, true);
	if (t->idle)
		set_policy(t->id, t->policy);
	pthread_join(t->id, NULL);
}

/* lib/sym/thread.c: a background thread runs under SCHED_IDLE until the
 * tool waits for it, and then under the normal policy, even when the wait
 * comes before the thread has started, and when the tool dropped its
 * capabilities in between. Without CAP_SYS_NICE, and with an RLIMIT_NICE
 * that would not let it back, it is not made idle at all. */
#include <sched.h>
#include <stdatomic.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <time.h>

#include "../../lib/sym/internal.h"
#include "check.h"
#include "sonde/caps.h"

struct seen {
	atomic_int first;	/* the policy the work started under; -1: not yet */
	int last;		/* the policy it ended under */
};

/* The test's own policy, which threads return to; whether they can. */
static int normal;
static bool can_return;

/* Waits (at most 10 s) until the thread runs at the normal policy, which
 * only a join gives it back. */
static void *watch_policy(void *arg)
{
	struct seen *s = arg;
	struct timespec tick = {.tv_nsec = 1000000};

	atomic_store(&s->first, sched_getscheduler(0));
	for (int i = 0; i < 10000 && sched_getscheduler(0) != normal; i++)
		nanosleep(&tick, NULL);
	s->last = sched_getscheduler(0);
	return NULL;
}

/* Starts watch_policy on t and waits for it to run: it must start idle
 * where it could leave SCHED_IDLE again, else under the normal policy. */
static void started(struct sym_thread *t, struct seen *s)
{
	struct timespec tick = {.tv_nsec = 1000000};

	CHECK(sym_thread_start(t, watch_policy, s, 0) == 0);
	for (int i = 0; i < 10000 && atomic_load(&s->first) < 0; i++)
		nanosleep(&tick, NULL);
	CHECK_MSG(atomic_load(&s->first) == (can_return ? SCHED_IDLE : normal),
		  "started under policy %d", atomic_load(&s->first));
}

static void idle_until_joined(void)
{
	struct seen s = {.first = -1, .last = -1};
	struct sym_thread t;

	started(&t, &s);
	sym_thread_join(&t);
	CHECK_MSG(s.last == normal, "ended under policy %d", s.last);
}

static void joined_before_it_ran(void)
{
	/* Many rounds: the join lands before, while and after the thread
	 * makes itself idle. */
	for (int i = 0; i < 200; i++) {
		struct seen s = {.first = -1, .last = -1};
		struct sym_thread t;

		if (sym_thread_start(&t, watch_policy, &s, 0)) {
			CHECK(!"thread start");
			return;
		}
		sym_thread_join(&t);
		CHECK_MSG(s.last == normal, "round %d ended under policy %d", i, s.last);
		if (s.last != normal)
			return;
	}
}

/* A thread started idle, then the tool drops every capability it does not
 * ask to keep (none here): the thread's own need of CAP_SYS_NICE is kept.
 * Run last: the process keeps no other capability. */
static void idle_through_the_drop(void)
{
	struct seen s = {.first = -1, .last = -1};
	struct sym_thread t;

	started(&t, &s);
	if (sonde_caps_have(CAP_SYS_NICE))
		CHECK(sonde_caps_drop(SONDE_KEEP_NONE) == 0);
	sym_thread_join(&t);
	CHECK_MSG(s.last == normal, "ended under policy %d after the drop", s.last);
}

int main(void)
{
	struct rlimit r;

	normal = sched_getscheduler(0);
	/* Under a policy other than these (chrt -i, -f, -r) threads keep it. */
	can_return = (normal == SCHED_OTHER || normal == SCHED_BATCH) &&
		     (sonde_caps_have(CAP_SYS_NICE) || (!getrlimit(RLIMIT_NICE, &r) && r.rlim_cur >= 20));
	printf("%s\n", can_return ? "may leave SCHED_IDLE: threads start idle"
				  : "may not leave SCHED_IDLE: threads keep the policy");
	RUN(idle_until_joined);
	RUN(joined_before_it_ran);
	RUN(idle_through_the_drop);
	return CHECK_DONE();
}

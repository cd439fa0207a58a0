/* DWARF unwinding of a copied stack: a chain built without frame
 * pointers captures its registers and stack, and the unwinder must walk
 * it back to main through .eh_frame alone. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sonde/sym.h>
#include <sonde/unwind.h>

#include "check.h"
#include "unwindfix.h"

static struct unwindfix_stack st;

static const char *name_at(struct sonde_symbolizer *sym, uint64_t ip, bool ret)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t n = sonde_sym_user(sym, getpid(), ip, ret, frames, SONDE_SYM_MAX_FRAMES);

	return n && frames[n - 1].function ? frames[n - 1].function : "?";
}

static void walks_without_frame_pointers(void)
{
	struct sonde_symbolizer *sym = sonde_symbolizer_new();
	struct sonde_unwinder *u = sonde_unwinder_new(sym);
	struct sonde_user_regs regs;
	const char *expected[] = {"unwindfix_capture", "unwindfix_inner", "unwindfix_outer",
				  "unwindfix_run", "walks_without_frame_pointers"};
	uint64_t ips[64];
	size_t n;

	unwindfix_run(&st);
	CHECK(st.len >= 1024);
	regs = (struct sonde_user_regs){st.ip, st.sp, st.bp};
	n = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, st.len, ips, 64, NULL);
	CHECK(n >= 5);
	for (size_t i = 0; i < 5 && i < n; i++)
		CHECK_STR(name_at(sym, ips[i], i > 0), expected[i]);
	/* A copy cut short ends the walk early; the sampled frame remains. */
	n = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, 0, ips, 64, NULL);
	CHECK(n >= 1);
	CHECK_STR(name_at(sym, ips[0], false), "unwindfix_capture");
	sonde_unwinder_free(u);
	sonde_symbolizer_free(sym);
}

/* The cached per-address rules must find exactly what libdwfl finds, for
 * every length of copy (a copy cut short ends both walks at one place). */
static void same_frames_both_ways(struct sonde_unwinder *u, const struct unwindfix_stack *s)
{
	struct sonde_user_regs regs = {s->ip, s->sp, s->bp};
	uint64_t fast[64], slow[64];

	for (size_t len = 0; len <= s->len; len += len < 256 ? 8 : 256) {
		size_t n_fast, n_slow;

		sonde_unwinder_use_rules(u, true);
		n_fast = sonde_unwind_user(u, getpid(), gettid(), &regs, s->bytes, len, fast, 64, NULL);
		sonde_unwinder_use_rules(u, false);
		n_slow = sonde_unwind_user(u, getpid(), gettid(), &regs, s->bytes, len, slow, 64, NULL);
		CHECK_MSG(n_fast == n_slow, "copy of %zu bytes: %zu frames with rules, %zu by libdwfl",
			  len, n_fast, n_slow);
		for (size_t i = 0; i < n_fast && i < n_slow; i++)
			CHECK_MSG(fast[i] == slow[i], "copy of %zu bytes, frame %zu: %#llx against %#llx",
				  len, i, (unsigned long long)fast[i], (unsigned long long)slow[i]);
	}
}

static void rules_match_libdwfl(void)
{
	struct sonde_symbolizer *sym = sonde_symbolizer_new();
	struct sonde_unwinder *u = sonde_unwinder_new(sym);
	static struct unwindfix_stack through_libc;
	struct sonde_unwind_counts before, after;
	struct sonde_user_regs regs;
	uint64_t ips[64];
	size_t n;
	bool qsort_seen = false;

	unwindfix_run(&st);
	same_frames_both_ways(u, &st);
	unwindfix_via_qsort(&through_libc);
	CHECK(through_libc.len >= 1024);
	same_frames_both_ways(u, &through_libc);
	/* And that is the whole chain, through libc's sort. */
	regs = (struct sonde_user_regs){through_libc.ip, through_libc.sp, through_libc.bp};
	sonde_unwinder_use_rules(u, true);
	before = sonde_unwinder_counts(u);
	n = sonde_unwind_user(u, getpid(), gettid(), &regs, through_libc.bytes, through_libc.len,
			      ips, 64, NULL);
	after = sonde_unwinder_counts(u);
	/* The cached rules did it alone: libdwfl was not needed. */
	CHECK_U64(after.by_rules, before.by_rules + 1);
	CHECK_U64(after.by_libdwfl, before.by_libdwfl);
	CHECK(n >= 5);
	CHECK_STR(name_at(sym, ips[0], false), "unwindfix_capture");
	CHECK_STR(name_at(sym, ips[1], true), "unwindfix_compare");
	for (size_t i = 2; i < n && !qsort_seen; i++) {
		if (!strcmp(name_at(sym, ips[i], true), "unwindfix_via_qsort")) {
			qsort_seen = true;
			CHECK_STR(name_at(sym, ips[i + 1 < n ? i + 1 : i], true), "rules_match_libdwfl");
		}
	}
	CHECK(qsort_seen);
	sonde_unwinder_free(u);
	sonde_symbolizer_free(sym);
}

static void *capture_on_thread(void *arg)
{
	struct unwindfix_stack *s = arg;

	unwindfix_run(s);
	return NULL;
}

/* One walk of s with a copy of len bytes, with the cached rules or by
 * libdwfl alone; its frames in ips. */
static size_t walk_copy(struct sonde_unwinder *u, bool rules, const struct unwindfix_stack *s,
			size_t len, uint64_t *ips, struct sonde_unwind_reach *reach)
{
	struct sonde_user_regs regs = {s->ip, s->sp, s->bp};

	sonde_unwinder_use_rules(u, rules);
	return sonde_unwind_user(u, getpid(), gettid(), &regs, s->bytes, len, ips, 64, reach);
}

/* A walk that reaches a thread's outermost frame says where the stack it
 * needed ends; a copy up to there is enough for the whole walk, and one a
 * word shorter is not, which the walk says too. The BPF side sizes its
 * copies by this end, so a wrong one would cut stacks short. */
static void says_where_the_stack_ends(void)
{
	struct sonde_symbolizer *sym = sonde_symbolizer_new();
	struct sonde_unwinder *u = sonde_unwinder_new(sym);
	static struct unwindfix_stack on_thread;
	struct sonde_unwind_reach reach, again;
	uint64_t whole[64], ips[64];
	pthread_t thread;
	size_t n, needed;

	/* A new thread's stack is shallow: the copy reaches its start. */
	CHECK(!pthread_create(&thread, NULL, capture_on_thread, &on_thread));
	CHECK(!pthread_join(thread, NULL));
	CHECK(on_thread.len >= 1024);
	for (int rules = 0; rules <= 1; rules++) {
		n = walk_copy(u, rules, &on_thread, on_thread.len, whole, &reach);
		CHECK(n >= 6);
		CHECK_STR(name_at(sym, whole[n - 1], true), "__clone3");
		CHECK(!reach.past_copy);
		CHECK_MSG(reach.end > on_thread.sp && reach.end <= on_thread.sp + on_thread.len,
			  "end %#llx, stack from %#llx", (unsigned long long)reach.end,
			  (unsigned long long)on_thread.sp);
		needed = reach.end - on_thread.sp;
		CHECK_U64(walk_copy(u, rules, &on_thread, needed, ips, &again), n);
		CHECK(!memcmp(ips, whole, n * sizeof(ips[0])));
		CHECK_U64(again.end, reach.end);
		CHECK(!again.past_copy);
		CHECK(walk_copy(u, rules, &on_thread, needed - 8, ips, &again) < n);
		CHECK_U64(again.end, 0);
		CHECK(again.past_copy);
	}
	/* A walk cut short by the depth asked for knows no end. */
	sonde_unwinder_use_rules(u, true);
	CHECK(sonde_unwind_user(u, getpid(), gettid(),
				&(struct sonde_user_regs){on_thread.ip, on_thread.sp, on_thread.bp},
				on_thread.bytes, on_thread.len, ips, 3, &again) == 3);
	CHECK_U64(again.end, 0);
	CHECK(!again.past_copy);
	sonde_unwinder_free(u);
	sonde_symbolizer_free(sym);
}

/* Forgetting one process (it mapped new code) leaves the others as they
 * were: libdwfl holds on to where each process's state lives. */
static void forgetting_a_process_keeps_the_others(void)
{
	struct sonde_symbolizer *sym = sonde_symbolizer_new();
	struct sonde_unwinder *u = sonde_unwinder_new(sym);
	struct sonde_user_regs regs;
	uint64_t ips[64];
	size_t before, after;
	int pipefd[2];
	pid_t child;
	char c;

	unwindfix_run(&st);
	regs = (struct sonde_user_regs){st.ip, st.sp, st.bp};
	/* A second process with the same mappings: a child waiting to end. */
	CHECK(!pipe(pipefd));
	child = fork();
	if (!child) {
		close(pipefd[1]);
		_exit(read(pipefd[0], &c, 1) < 0);
	}
	close(pipefd[0]);
	sonde_unwinder_use_rules(u, false);	/* libdwfl's callbacks */
	CHECK(sonde_unwind_user(u, child, child, &regs, st.bytes, st.len, ips, 64, NULL) >= 5);
	before = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, st.len, ips, 64, NULL);
	CHECK(before >= 5);
	sonde_unwinder_forget(u, child);
	sonde_unwinder_forget(u, 999999999);	/* none such: nothing happens */
	after = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, st.len, ips, 64, NULL);
	CHECK_U64(after, before);
	/* And the forgotten one is set up again when asked. */
	CHECK(sonde_unwind_user(u, child, child, &regs, st.bytes, st.len, ips, 64, NULL) >= 5);
	close(pipefd[1]);
	waitpid(child, NULL, 0);
	sonde_unwinder_free(u);
	sonde_symbolizer_free(sym);
}

int main(void)
{
#if defined(__x86_64__)
	RUN(walks_without_frame_pointers);
	RUN(rules_match_libdwfl);
	RUN(forgetting_a_process_keeps_the_others);
	RUN(says_where_the_stack_ends);
#endif
	return CHECK_DONE();
}

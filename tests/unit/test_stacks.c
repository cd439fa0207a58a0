/* Folded frames: the separators and control characters a hostile
 * function or command name could hold never break a folded line. The
 * --unwind modes, and the user-space totals copied stacks go to. */
#include <errno.h>

#include <sonde/stacks.h>

#include "check.h"

static const char *folded(const char *text, bool kernel, bool inlined)
{
	static char buf[256];

	sonde_folded_frame(text, kernel, inlined, buf, sizeof(buf));
	return buf;
}

static void suffixes(void)
{
	CHECK_STR(folded("schedule", true, false), "schedule_[k]");
	CHECK_STR(folded("add_one", false, true), "add_one_[i]");
	CHECK_STR(folded("main", false, false), "main");
	CHECK_STR(folded("[unknown] (libfoo.so+0x1234)", false, false), "[unknown] (libfoo.so+0x1234)");
}

static void hostile(void)
{
	CHECK_STR(folded("a;b", false, false), "a:b");
	CHECK_STR(folded("evil\nname 9", false, false), "evil\\x0aname 9");
	CHECK_STR(folded("\x1b[31mred", false, false), "\\x1b[31mred");
}

static void truncates(void)
{
	char buf[6];

	sonde_folded_frame("schedule", true, false, buf, sizeof(buf));
	CHECK_STR(buf, "sched");
}

static void unwind_modes(void)
{
	enum sonde_unwind_mode m = SONDE_UNWIND_FP;

	CHECK(sonde_unwind_mode_parse("auto", &m) == 0 && m == SONDE_UNWIND_AUTO);
	CHECK(sonde_unwind_mode_parse("fp", &m) == 0 && m == SONDE_UNWIND_FP);
	CHECK(sonde_unwind_mode_parse("dwarf", &m) == 0 && m == SONDE_UNWIND_DWARF);
	CHECK(sonde_unwind_mode_parse("lbr", &m) == -EINVAL && m == SONDE_UNWIND_DWARF);
	CHECK(sonde_unwind_mode_parse("", &m) == -EINVAL);
}

/* Samples of one stack add up; another caller of the Go leaf (its
 * user_caller) is another stack. An aggregation never added to clears. */
static void user_space_totals(void)
{
	struct sonde_stack_agg *a = sonde_stack_agg_new();
	struct sonde_stack_key key = {.pid = 7, .user_stack_id = 3};
	const uint64_t ips[] = {0x1000, 0x2000};
	struct sonde_stack_entry e[3];

	CHECK(a);
	if (!a)
		return;
	sonde_stack_agg_clear(a);
	CHECK(sonde_stack_agg_add(a, &key, ips, 2, 5) == 0);
	key.user_stack_id = 4;	/* ignored: the ips are the stack */
	CHECK(sonde_stack_agg_add(a, &key, ips, 2, 6) == 0);
	key.user_caller = 0x3000;
	CHECK(sonde_stack_agg_add(a, &key, ips, 2, 1) == 0);
	CHECK_U64(sonde_stack_agg_count(a), 2);
	CHECK_U64(sonde_stack_agg_entries(a, e), 2);
	sonde_stacks_sort(e, 2);
	CHECK_U64(e[0].value.total, 11);
	CHECK_U64(e[0].value.count, 2);
	CHECK_U64(e[0].n_user_ips, 2);
	CHECK_U64(e[1].value.total, 1);
	sonde_stack_agg_free(a);
}

int main(void)
{
	RUN(suffixes);
	RUN(hostile);
	RUN(truncates);
	RUN(unwind_modes);
	RUN(user_space_totals);
	return CHECK_DONE();
}

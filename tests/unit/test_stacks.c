/* Folded frames: the separators and control characters a hostile
 * function or command name could hold never break a folded line. */
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

int main(void)
{
	RUN(suffixes);
	RUN(hostile);
	RUN(truncates);
	return CHECK_DONE();
}

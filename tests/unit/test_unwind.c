/* DWARF unwinding of a copied stack: a chain built without frame
 * pointers captures its registers and stack, and the unwinder must walk
 * it back to main through .eh_frame alone. */
#include <stdlib.h>
#include <string.h>
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
	n = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, st.len, ips, 64);
	CHECK(n >= 5);
	for (size_t i = 0; i < 5 && i < n; i++)
		CHECK_STR(name_at(sym, ips[i], i > 0), expected[i]);
	/* A copy cut short ends the walk early; the sampled frame remains. */
	n = sonde_unwind_user(u, getpid(), gettid(), &regs, st.bytes, 0, ips, 64);
	CHECK(n >= 1);
	CHECK_STR(name_at(sym, ips[0], false), "unwindfix_capture");
	sonde_unwinder_free(u);
	sonde_symbolizer_free(sym);
}

int main(void)
{
#if defined(__x86_64__)
	RUN(walks_without_frame_pointers);
#endif
	return CHECK_DONE();
}

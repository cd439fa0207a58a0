#include <sonde/probe_set.h>

#include "check.h"

/* A pretend kernel: which attach kinds work. */
static bool fake_kernel(const struct sonde_probe_alt *alt, char *why, size_t size, void *ctx)
{
	const unsigned *works = ctx;

	if (*works & (1u << alt->kind))
		return true;
	snprintf(why, size, "no %s here", sonde_attach_kind_name(alt->kind));
	return false;
}

#define BIT(k) (1u << (k))

static const struct sonde_probe functions[] = {
	{.name = "f returns", .alts = {{SONDE_ATTACH_FEXIT, "fx", "f"},
				       {SONDE_ATTACH_KRETPROBE, "kr", "f"}}},
	{.name = "f calls", .alts = {{SONDE_ATTACH_FENTRY, "fe", "f"},
				     {SONDE_ATTACH_KPROBE, "kp", "f"}}},
};

static const struct sonde_probe tracepoints[] = {
	{.name = "exits", .alts = {{SONDE_ATTACH_TRACEPOINT, "x", "c/exit"}}},
	{.name = "rare", .optional = true, .alts = {{SONDE_ATTACH_RAW_TP, "r", "c/rare"}}},
	{.name = "enters", .alts = {{SONDE_ATTACH_TRACEPOINT, "e", "c/enter"}}},
};

static const struct sonde_probe raw[] = {
	{.name = "all", .alts = {{SONDE_ATTACH_TP_BTF, "b", "c/all"},
				 {SONDE_ATTACH_RAW_TP, "r", "c/all"}}},
};

static const struct sonde_probe_set sets[] = {
	{"functions", functions, 2},
	{"tracepoints", tracepoints, 3},
	{"raw", raw, 1},
};

static int pick(unsigned works, enum sonde_attach_kind forced, char *reasons, size_t size)
{
	reasons[0] = 0;
	return sonde_probe_set_choose(sets, 3, forced, fake_kernel, &works, reasons, size);
}

static void best_set_first(void)
{
	char r[512];

	CHECK(pick(~0u, SONDE_ATTACH_NONE, r, sizeof(r)) == 0);
	CHECK_STR(r, "");
	/* kprobes alone make the function set usable. */
	CHECK(pick(BIT(SONDE_ATTACH_KPROBE) | BIT(SONDE_ATTACH_KRETPROBE), SONDE_ATTACH_NONE,
		   r, sizeof(r)) == 0);
}

static void falls_back_like_this_machine(void)
{
	char r[512];
	unsigned here = BIT(SONDE_ATTACH_TP_BTF) | BIT(SONDE_ATTACH_RAW_TP) |
			BIT(SONDE_ATTACH_TRACEPOINT);

	CHECK(pick(here, SONDE_ATTACH_NONE, r, sizeof(r)) == 1);
	/* The first probe that cannot attach says why the set was left. */
	CHECK_STR(r, "functions: f returns: fexit: no fexit here; kretprobe: no kretprobe here");
	/* An optional probe that cannot attach does not disqualify a set. */
	CHECK(pick(BIT(SONDE_ATTACH_TRACEPOINT), SONDE_ATTACH_NONE, r, sizeof(r)) == 1);
	CHECK(pick(BIT(SONDE_ATTACH_RAW_TP), SONDE_ATTACH_NONE, r, sizeof(r)) == 2);
	CHECK(pick(0, SONDE_ATTACH_NONE, r, sizeof(r)) == -1);
}

static void forced(void)
{
	char r[512];

	/* Forcing a kind picks the first set having it, even below a better one. */
	CHECK(pick(~0u, SONDE_ATTACH_TRACEPOINT, r, sizeof(r)) == 1);
	CHECK_STR(r, "functions: all: has no alternative of the forced kind");
	CHECK(pick(~0u, SONDE_ATTACH_TP_BTF, r, sizeof(r)) == 2);
	/* raw_tp is in an optional probe of the tracepoint set: that set
	 * qualifies, its required probes use what works. */
	CHECK(pick(~0u, SONDE_ATTACH_RAW_TP, r, sizeof(r)) == 1);
	/* Forced and unavailable everywhere. */
	CHECK(pick(BIT(SONDE_ATTACH_TRACEPOINT), SONDE_ATTACH_KPROBE, r, sizeof(r)) == -1);
	CHECK(pick(~0u, SONDE_ATTACH_NONE + 100, r, sizeof(r)) == -1);
	/* A short buffer truncates, never overflows. */
	CHECK(pick(0, SONDE_ATTACH_NONE, r, 12) == -1);
	CHECK(strlen(r) < 12);
}

int main(void)
{
	RUN(best_set_first);
	RUN(falls_back_like_this_machine);
	RUN(forced);
	return CHECK_DONE();
}

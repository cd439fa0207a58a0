#include <sonde/session.h>

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

static const struct sonde_probe probe = {
	.name = "test",
	.alts = {
		{SONDE_ATTACH_FENTRY, "f", "tcp_v4_connect"},
		{SONDE_ATTACH_KPROBE, "k", "tcp_v4_connect"},
		{SONDE_ATTACH_TRACEPOINT, "t", "sock/inet_sock_set_state"},
	},
};

static int pick(unsigned works, enum sonde_attach_kind forced, char *reasons, size_t size)
{
	reasons[0] = 0;
	return sonde_choose_alt(&probe, forced, fake_kernel, &works, reasons, size);
}

static void best_first(void)
{
	char r[256];
	unsigned all = (1u << SONDE_ATTACH_FENTRY) | (1u << SONDE_ATTACH_KPROBE) |
		       (1u << SONDE_ATTACH_TRACEPOINT);

	CHECK(pick(all, SONDE_ATTACH_NONE, r, sizeof(r)) == 0);
	CHECK_STR(r, "");
}

static void falls_back_like_this_machine(void)
{
	char r[256];

	/* No kprobes, fentry refused: the tracepoint is used. */
	CHECK(pick(1u << SONDE_ATTACH_TRACEPOINT, SONDE_ATTACH_NONE, r, sizeof(r)) == 2);
	CHECK_STR(r, "fentry: no fentry here; kprobe: no kprobe here");
}

static void nothing_works(void)
{
	char r[256];

	CHECK(pick(0, SONDE_ATTACH_NONE, r, sizeof(r)) == -1);
	CHECK_STR(r, "fentry: no fentry here; kprobe: no kprobe here; tracepoint: no tracepoint here");
	/* A short buffer truncates, never overflows. */
	CHECK(pick(0, SONDE_ATTACH_NONE, r, 10) == -1);
	CHECK(strlen(r) < 10);
}

static void forced(void)
{
	char r[256];
	unsigned all = (1u << SONDE_ATTACH_FENTRY) | (1u << SONDE_ATTACH_KPROBE) |
		       (1u << SONDE_ATTACH_TRACEPOINT);

	CHECK(pick(all, SONDE_ATTACH_KPROBE, r, sizeof(r)) == 1);
	CHECK(pick(all, SONDE_ATTACH_TRACEPOINT, r, sizeof(r)) == 2);
	/* Forced but unavailable: no silent fallback. */
	CHECK(pick(1u << SONDE_ATTACH_TRACEPOINT, SONDE_ATTACH_KPROBE, r, sizeof(r)) == -1);
	CHECK_STR(r, "kprobe: no kprobe here");
	/* A kind the probe does not have leaves the normal order. */
	CHECK(pick(all, SONDE_ATTACH_RAW_TP, r, sizeof(r)) == 0);
	CHECK(sonde_probe_has_kind(&probe, SONDE_ATTACH_KPROBE));
	CHECK(!sonde_probe_has_kind(&probe, SONDE_ATTACH_TP_BTF));
}

static void names(void)
{
	for (int k = SONDE_ATTACH_FENTRY; k <= SONDE_ATTACH_TRACEPOINT; k++)
		CHECK(sonde_attach_kind_parse(sonde_attach_kind_name(k)) == (enum sonde_attach_kind)k);
	CHECK(sonde_attach_kind_parse("bogus") == SONDE_ATTACH_NONE);
}

int main(void)
{
	RUN(best_first);
	RUN(falls_back_like_this_machine);
	RUN(nothing_works);
	RUN(forced);
	RUN(names);
	return CHECK_DONE();
}

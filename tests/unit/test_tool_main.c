/* sonde_tool_main() without the kernel: which hooks run on the ways that
 * end before the session (--help, a usage error, a setup that fails), and
 * that the parsed arguments reach setup and are freed (ASan sees a leak
 * of the -p list otherwise). The session itself is the integration
 * tests' part. */
#include <stdio.h>
#include <unistd.h>

#include <sonde/log.h>
#include <sonde/tool_main.h>

#include "check.h"

struct state {
	struct sonde_args args;
	int setups, teardowns;
	size_t pids_seen;
};

static struct state st;

static int setup(void *ctx, struct sonde_session_config *cfg)
{
	struct state *s = ctx;

	(void)cfg;
	s->setups++;
	s->pids_seen = s->args.n_pids;
	return SONDE_EXIT_USAGE;
}

static void teardown(void *ctx)
{
	struct state *s = ctx;

	s->teardowns++;
}

static const struct sonde_tool tool = {
	.name = "test",
	.summary = "test tool",
	.formats = SONDE_FMT_TABLE,
	.ctx = &st,
};

static const struct sonde_tool_main m = {&tool, &st.args, setup, teardown};

static int run(int argc, const char **argv)
{
	st = (struct state){0};
	return sonde_tool_main(&m, argc, (char **)argv);
}

#define RUN_ARGS(...) ({ const char *v_[] = {"sonde-test", __VA_ARGS__}; \
			 run(sizeof(v_) / sizeof(v_[0]), v_); })

static void parse_ends_first(void)
{
	CHECK_U64(RUN_ARGS("--version"), SONDE_EXIT_OK);
	CHECK_U64(st.setups + st.teardowns, 0);
	CHECK_U64(RUN_ARGS("--no-such-option"), SONDE_EXIT_USAGE);
	CHECK_U64(st.setups + st.teardowns, 0);
}

/* A setup that fails is cleaned up after, and its status is the exit
 * status: the session never runs. */
static void failed_setup_torn_down(void)
{
	char self[16];

	snprintf(self, sizeof(self), "%d", getpid());
	CHECK_U64(RUN_ARGS("-p", self), SONDE_EXIT_USAGE);
	CHECK_U64(st.setups, 1);
	CHECK_U64(st.teardowns, 1);
	CHECK_U64(st.pids_seen, 1);
	CHECK(st.args.pids == NULL);
}

int main(void)
{
	RUN(parse_ends_first);
	RUN(failed_setup_torn_down);
	return CHECK_DONE();
}

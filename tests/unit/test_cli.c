#include <stdlib.h>
#include <unistd.h>

#include <sonde/cli.h>
#include <sonde/log.h>
#include <sonde/session.h>

#include "check.h"

struct opts {
	bool flag;
	const char *value;
};

static const struct sonde_option options[] = {
	{"flag", 'f', NULL, "a flag"},
	{"value", SONDE_OPT_LONG, "X", "a value"},
	{0},
};

static int parse(int key, const char *arg, void *ctx)
{
	struct opts *o = ctx;

	if (key == 'f')
		o->flag = true;
	else if (key == SONDE_OPT_LONG)
		o->value = arg;
	return 0;
}

static struct opts o;
static const struct sonde_tool tool = {
	.name = "test",
	.summary = "test tool",
	.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
	.has_interval = true,
	.options = options,
	.parse = parse,
	.ctx = &o,
};

static int run(struct sonde_args *a, int argc, const char **argv)
{
	memset(&o, 0, sizeof(o));
	return sonde_cli_parse(&tool, argc, (char **)argv, a);
}

#define RUN_ARGS(a, ...) ({ const char *v_[] = {"sonde-test", __VA_ARGS__}; \
			    run(a, sizeof(v_) / sizeof(v_[0]), v_); })

static void common(void)
{
	struct sonde_args a;
	char self[16];

	snprintf(self, sizeof(self), "%d", getpid());
	CHECK(RUN_ARGS(&a, "-d", "500ms", "-i", "2", "-o", "json", "-v", "-f", "--value", "x",
		       "-p", self) == SONDE_CLI_CONTINUE);
	CHECK_U64(a.duration_ns, 500000000ull);
	CHECK_U64(a.interval_ns, 2000000000ull);
	CHECK(a.format == SONDE_FMT_JSON);
	CHECK(a.verbose == 1);
	CHECK(o.flag);
	CHECK_STR(o.value, "x");
	CHECK(a.n_pids == 1 && a.pids[0] == getpid());
	sonde_args_free(&a);
	sonde_set_verbosity(0);
}

static void positional_duration(void)
{
	struct sonde_args a;

	CHECK(RUN_ARGS(&a, "-f", "5") == SONDE_CLI_CONTINUE);
	CHECK_U64(a.duration_ns, 5000000000ull);
	CHECK(RUN_ARGS(&a, "2m") == SONDE_CLI_CONTINUE);
	CHECK_U64(a.duration_ns, 120000000000ull);
	CHECK(a.format == SONDE_FMT_TABLE);
}

static void usage_errors(void)
{
	struct sonde_args a;

	CHECK(RUN_ARGS(&a, "--nope") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-x") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-d") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-d", "soon") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-d", "0") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-o", "pprof") == SONDE_EXIT_USAGE);	/* not this tool's */
	CHECK(RUN_ARGS(&a, "-o", "xml") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-p", "0") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-p", "abc") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-p", "4194304") == SONDE_EXIT_USAGE);	/* no such process */
	CHECK(RUN_ARGS(&a, "-p", "1,") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-C", "xyz") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-c", "/x", "-C", "ab") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "5", "6") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "--attach", "uprobe-ish") == SONDE_EXIT_USAGE);
	CHECK(RUN_ARGS(&a, "-i", "0") == SONDE_EXIT_USAGE);
}

static void attach_methods(void)
{
	struct sonde_args a;

	CHECK(RUN_ARGS(&a, "--attach", "raw_tp") == SONDE_CLI_CONTINUE);
	CHECK(a.attach == SONDE_ATTACH_RAW_TP);
	CHECK(RUN_ARGS(&a, "--attach=tracepoint") == SONDE_CLI_CONTINUE);
	CHECK(a.attach == SONDE_ATTACH_TRACEPOINT);
}

static void help_and_version(void)
{
	struct sonde_args a;
	FILE *saved = stdout;

	stdout = fopen("/dev/null", "w");
	CHECK(RUN_ARGS(&a, "--help") == SONDE_EXIT_OK);
	CHECK(RUN_ARGS(&a, "-V") == SONDE_EXIT_OK);
	CHECK(RUN_ARGS(&a, "--list-options") == SONDE_EXIT_OK);
	fclose(stdout);
	stdout = saved;
}

static void ports(void)
{
	uint16_t p[4];
	size_t n;

	CHECK(sonde_parse_ports("80", p, 4, &n) == 0 && n == 1 && p[0] == 80);
	CHECK(sonde_parse_ports("80,443,8080", p, 4, &n) == 0 && n == 3 && p[2] == 8080);
	CHECK(sonde_parse_ports("", p, 4, &n) != 0);
	CHECK(sonde_parse_ports("0", p, 4, &n) != 0);
	CHECK(sonde_parse_ports("65536", p, 4, &n) != 0);
	CHECK(sonde_parse_ports("80,", p, 4, &n) != 0);
	CHECK(sonde_parse_ports(",80", p, 4, &n) != 0);
	CHECK(sonde_parse_ports("1,2,3,4,5", p, 4, &n) != 0);
	CHECK(sonde_parse_ports("http", p, 4, &n) != 0);
}

int main(void)
{
	/* usage errors print one line each to stderr; keep the log tidy */
	if (getenv("KEEP_STDERR") == NULL && !freopen("/dev/null", "w", stderr))
		return 1;
	RUN(common);
	RUN(positional_duration);
	RUN(usage_errors);
	RUN(attach_methods);
	RUN(help_and_version);
	RUN(ports);
	return CHECK_DONE();
}

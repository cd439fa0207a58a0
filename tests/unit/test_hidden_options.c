/* The hidden options the `sonde` front command reads from every tool:
 * --summary (sonde list), --list-options (completion), --plan (doctor). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sonde/cli.h>
#include <sonde/log.h>

#include "check.h"

static const struct sonde_option options[] = {
	{"flag", 'f', NULL, "a flag"},
	{0},
};

static int parse(int key, const char *arg, void *ctx)
{
	(void)key, (void)arg, (void)ctx;
	return 0;
}

static const struct sonde_tool tool = {
	.name = "test",
	.summary = "Count test things.",
	.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
	.options = options,
	.parse = parse,
};

/* Runs the parser on argv with stdout captured into out. */
static int run_captured(const char *opt, char *out, size_t size)
{
	char *argv[] = {"sonde-test", (char *)opt, NULL};
	FILE *saved = stdout, *tmp = tmpfile();
	struct sonde_args a;
	size_t n;
	int rc;

	stdout = tmp;
	rc = sonde_cli_parse(&tool, 2, argv, &a);
	fflush(tmp);
	stdout = saved;
	rewind(tmp);
	n = fread(out, 1, size - 1, tmp);
	out[n] = 0;
	fclose(tmp);
	if (rc == SONDE_CLI_CONTINUE)
		sonde_args_free(&a);
	return rc;
}

static void summary(void)
{
	char out[256];

	CHECK(run_captured("--summary", out, sizeof(out)) == SONDE_EXIT_OK);
	CHECK_STR(out, "Count test things.\n");
}

static void option_list_has_choices(void)
{
	char out[4096];

	CHECK(run_captured("--list-options", out, sizeof(out)) == SONDE_EXIT_OK);
	CHECK(strstr(out, "-f\t\ta flag\n") != NULL);
	CHECK(strstr(out, "--flag\t\ta flag\n") != NULL);
	CHECK(strstr(out, "\toutput format\ttable json\n") != NULL);
	CHECK(strstr(out, "tp_btf raw_tp tracepoint\n") != NULL);
	CHECK(strstr(out, "--interval") == NULL);	/* not a summarizing tool */
	CHECK(strstr(out, "--summary") == NULL);	/* hidden options stay hidden */
}

static void plan_sets_the_flag(void)
{
	char *argv[] = {"sonde-test", "--plan", "-f", NULL};
	struct sonde_args a;

	CHECK(sonde_cli_parse(&tool, 3, argv, &a) == SONDE_CLI_CONTINUE);
	CHECK(a.plan);
	sonde_args_free(&a);
	argv[1] = "-f";
	CHECK(sonde_cli_parse(&tool, 2, argv, &a) == SONDE_CLI_CONTINUE);
	CHECK(!a.plan);
	sonde_args_free(&a);
}

int main(void)
{
	RUN(summary);
	RUN(option_list_has_choices);
	RUN(plan_sets_the_flag);
	return CHECK_DONE();
}

/* sonde: lists the tools, runs one (`sonde profile -d 5` is sonde-profile
 * -d 5), reports what this node allows (`sonde doctor`), and on a terminal
 * with no arguments opens an interactive shell. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sonde/log.h>

#include "front/front.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sonde [COMMAND | TOOL [ARGS...]]\n"
		"Tracing tools for production Linux nodes, on whatever this kernel allows.\n"
		"\n"
		"Commands:\n"
		"  list [--names]    every tool with a one-line summary (--names: names only)\n"
		"  doctor [-v]       what this node allows and how each tool would attach here\n"
		"  shell             interactive shell (the default on a terminal)\n"
		"  help [TOOL]       this help, or a tool's\n"
		"  version           sonde's version\n"
		"  TOOL [ARGS...]    run sonde-TOOL with ARGS\n"
		"\n"
		"Examples:\n"
		"  sonde doctor                       what works on this node, and why not\n"
		"  sonde tcpconnect 10                watch TCP connects for 10 seconds\n"
		"  sonde help tcpconnect              a tool's options\n"
		"\n"
		"Exit status: that of the tool; for sonde itself 0 success, 1 runtime error,\n"
		"2 usage error, 3 missing privileges, 4 unsupported here.\n");
}

int cmd_list(const struct tool_set *set, int argc, char **argv)
{
	bool names_only = argc > 1 && !strcmp(argv[1], "--names");
	int width = 0;

	if (argc > 2 || (argc == 2 && !names_only)) {
		sonde_err("usage: sonde list [--names]");
		return SONDE_EXIT_USAGE;
	}
	for (size_t i = 0; i < set->n; i++)
		if ((int)strlen(set->tools[i].name) > width)
			width = strlen(set->tools[i].name);
	for (size_t i = 0; i < set->n; i++) {
		char *summary;

		if (names_only) {
			printf("%s\n", set->tools[i].name);
			continue;
		}
		summary = tool_summary(&set->tools[i]);
		printf("%-*s  %s\n", width, set->tools[i].name,
		       summary ? summary : "(gives no summary: is it a sonde tool?)");
		free(summary);
	}
	return SONDE_EXIT_OK;
}

/* Runs a tool in place of this process, so its exit status, signals and
 * terminal are the caller's, as if sonde-TOOL had been typed. */
static int exec_tool(const struct tool_set *set, const char *name, int argc, char **argv)
{
	const struct tool_entry *tool = tools_find(set, name);
	char **args;

	if (!tool) {
		sonde_err("no tool '%s' (sonde list shows them)", name);
		return SONDE_EXIT_USAGE;
	}
	args = calloc(argc + 1, sizeof(*args));
	if (!args)
		return SONDE_EXIT_RUNTIME;
	args[0] = (char *)tool->path;
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];
	execv(tool->path, args);
	sonde_err("cannot run %s: %s", tool->path, strerror(errno));
	free(args);
	return SONDE_EXIT_RUNTIME;
}

static int dispatch(struct tool_set *set, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "list"))
		return cmd_list(set, argc, argv);
	if (!strcmp(cmd, "doctor"))
		return cmd_doctor(set, argc, argv);
	if (!strcmp(cmd, "shell")) {
		if (argc == 1)
			return cmd_shell(set);
		sonde_err("usage: sonde shell");
		return SONDE_EXIT_USAGE;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("sonde %s\n", SONDE_VERSION);
		return SONDE_EXIT_OK;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		char *tool_help[] = {argv[0], "--help", NULL};

		if (argc == 1) {
			usage(stdout);
			return SONDE_EXIT_OK;
		}
		return exec_tool(set, argv[1], 2, tool_help);
	}
	if (cmd[0] == '-') {
		sonde_err("unknown option '%s' (see sonde --help)", cmd);
		return SONDE_EXIT_USAGE;
	}
	return exec_tool(set, cmd, argc, argv);
}

int main(int argc, char **argv)
{
	struct tool_set set;
	int rc;

	sonde_log_init("sonde");
	if (tools_discover(&set)) {
		sonde_err("out of memory");
		return SONDE_EXIT_RUNTIME;
	}
	if (argc > 1)
		rc = dispatch(&set, argc - 1, argv + 1);
	else if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
		rc = cmd_shell(&set);
	else {
		usage(stderr);
		rc = SONDE_EXIT_USAGE;
	}
	tools_free(&set);
	return rc;
}

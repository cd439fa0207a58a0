/* The shape every tool's main() has: parse the command line, open the BPF
 * skeleton and set its rodata, describe the session, run it, free what was
 * made. The order and the error paths live here once; a tool supplies its
 * description (struct sonde_tool) and two hooks:
 *
 *	static struct mytool t;
 *	const struct sonde_tool tool = {.name = "mytool", ..., .ctx = &t};
 *	const struct sonde_tool_main m = {&tool, &t.args, setup, teardown};
 *	return sonde_tool_main(&m, argc, argv);
 */
#ifndef SONDE_TOOL_MAIN_H
#define SONDE_TOOL_MAIN_H

#include "sonde/cli.h"
#include "sonde/session.h"

struct sonde_tool_main {
	const struct sonde_tool *tool;	/* its ctx is the tool's state, passed to the hooks */
	struct sonde_args *args;	/* where the parsed arguments go */
	/* Called once the command line parsed. Checks options that only make
	 * sense together, opens the skeleton, sets its rodata and fills cfg
	 * (cfg->args is filled in afterwards). Returns 0 to run the session,
	 * or an exit status after printing a one-line error. */
	int (*setup)(void *ctx, struct sonde_session_config *cfg);
	/* Optional. Called after the session, and after a setup that failed
	 * (so it copes with whatever setup left undone): says what only the
	 * tool counted, frees what setup made, the skeleton included. */
	void (*teardown)(void *ctx);
};

/* Returns the exit status for main() to return. */
int sonde_tool_main(const struct sonde_tool_main *m, int argc, char **argv);

#endif

/* The command-line contract every tool keeps (DESIGN.md), parsed in one
 * place. A tool describes itself and its own options; the library adds the
 * common ones, writes --help, validates, and hands back sonde_args. */
#ifndef SONDE_CLI_H
#define SONDE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sonde_format {
	SONDE_FMT_TABLE = 1 << 0,
	SONDE_FMT_JSON = 1 << 1,
	SONDE_FMT_FOLDED = 1 << 2,
	SONDE_FMT_PPROF = 1 << 3,
};

/* Keys of long-only options start here; below are short option letters. */
#define SONDE_OPT_LONG 0x100

struct sonde_option {
	const char *name;	/* long name, without "--" */
	int key;		/* short letter, or SONDE_OPT_LONG + n */
	const char *arg;	/* metavariable, NULL when the option takes none */
	const char *help;
};

struct sonde_tool {
	const char *name;	/* "tcpconnect": the binary is sonde-<name> */
	const char *summary;	/* one line, for --help and `sonde list` */
	const char *description;
	const char *examples;	/* one example per line */
	unsigned formats;	/* SONDE_FMT_* the tool can write */
	bool has_interval;	/* -i makes sense */
	const struct sonde_option *options; /* ends with a zeroed entry */
	/* Returns 0, or an exit status after printing a one-line error. */
	int (*parse)(int key, const char *arg, void *ctx);
	void *ctx;
};

struct sonde_args {
	pid_t *pids;
	size_t n_pids;
	const char *cgroup;
	const char *container;
	uint64_t duration_ns;	/* 0: until interrupted */
	uint64_t interval_ns;	/* 0: only at the end */
	enum sonde_format format;
	int verbose;
	int attach;		/* forced attach method (enum sonde_attach_kind), 0: best */
	bool strict;		/* any lost event makes the exit status 1 */
	/* Hidden --plan (for `sonde doctor`): the session only reports which
	 * attach method each probe would use, loading nothing. */
	bool plan;
};

#define SONDE_CLI_CONTINUE (-1)

/* Returns SONDE_CLI_CONTINUE to go on, or the exit status to end with:
 * 0 after --help/--version, 2 after a usage error (already printed). */
int sonde_cli_parse(const struct sonde_tool *tool, int argc, char **argv,
		    struct sonde_args *args);
void sonde_args_free(struct sonde_args *args);

/* Parses "80,443" into ports; used by tools with port filters. */
int sonde_parse_ports(const char *text, uint16_t *ports, size_t max, size_t *n);
/* Parses "12,34" into pids that exist; prints the error itself. */
int sonde_parse_pids(const char *text, pid_t **pids, size_t *n);

const char *sonde_format_name(enum sonde_format f);

#endif

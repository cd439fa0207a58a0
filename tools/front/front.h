/* The sonde front command: finds the sonde-<tool> executables, runs them,
 * and builds its sub-commands (list, doctor, shell) on what the tools say
 * about themselves through their hidden options (--summary, --plan,
 * --list-options). Nothing here knows the tools by name. */
#ifndef SONDE_FRONT_H
#define SONDE_FRONT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct tool_entry {
	char name[64];		/* "tcpconnect" */
	char path[PATH_MAX];	/* ".../sonde-tcpconnect" */
};

struct tool_set {
	struct tool_entry *tools;	/* sorted by name */
	size_t n;
};

/* Every sonde-<name> executable next to this program (the build tree's
 * tools/ or the installed bindir), then along $PATH; the first one found
 * of each name wins. Returns 0 or -errno. */
int tools_discover(struct tool_set *set);
void tools_free(struct tool_set *set);
const struct tool_entry *tools_find(const struct tool_set *set, const char *name);

/* A tool asked about itself (--summary, --plan, --list-options) answers at
 * once; one that does not know the question might start tracing instead. */
#define TOOL_ANSWER_TIMEOUT_MS 30000
#define RUN_TIMED_OUT (-2)

/* Runs path with argv (NULL-terminated) and stdin from /dev/null, and
 * collects its stdout and stderr (NUL-terminated, caller frees). After
 * timeout_ms it is interrupted (SIGINT, then SIGKILL). Returns its exit
 * status, 128 + the signal that killed it, RUN_TIMED_OUT, or -1 when it
 * could not run at all. */
int run_capture(const char *path, char *const argv[], int timeout_ms, char **out, char **err);

/* The tool's one-line summary (--summary), or NULL; caller frees. */
char *tool_summary(const struct tool_entry *tool);

int cmd_list(const struct tool_set *set, int argc, char **argv);
int cmd_doctor(const struct tool_set *set, int argc, char **argv);
int cmd_shell(struct tool_set *set);

/* The shell's tab completion, installed into readline; builtins are the
 * shell's own commands (NULL-terminated). Returns 0 or -1 (no memory). */
int completion_setup(const struct tool_set *set, const char *const *builtins);
void completion_free(void);

#endif

/* The interactive shell: GNU readline with tab completion (completion.c),
 * persistent history and a sticky target applied to the tools that follow.
 * A tool runs as a child in its own foreground process group, so Ctrl-C
 * stops the tool (which detaches cleanly) and the shell returns to its
 * prompt. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <sonde/cli.h>
#include <sonde/log.h>

#include "front.h"

#define HISTORY_LINES 1000

static const char *const builtins[] = {
	"help", "list", "doctor", "target", "container", "clear", "version", "exit", "quit", NULL,
};

static struct {
	struct tool_set *set;
	char history[PATH_MAX];
	char target_pids[256];		/* sticky -p */
	char target_container[80];	/* sticky -C */
	char prompt[400];
	char *line;			/* entered, waiting to run */
	bool have_line;
	bool done;
} sh;

static volatile sig_atomic_t interrupted, resized;
/* The handler also writes a byte here, which the main loop polls with the
 * terminal: a signal that lands just before poll() still wakes it. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGINT)
		interrupted = 1;
	else
		resized = 1;
	/* When the pipe is full a wake-up is pending anyway. */
	ssize_t ignored = write(signal_pipe[1], "", 1);

	(void)ignored;
	errno = saved;
}

static void drain_signal_pipe(void)
{
	char buf[64];

	while (read(signal_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* ---- history ---- */

static void history_setup(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int fd;

	if (state && *state) {
		snprintf(sh.history, sizeof(sh.history), "%s/sonde", state);
		mkdir(state, 0700);
		mkdir(sh.history, 0700);
		snprintf(sh.history, sizeof(sh.history), "%s/sonde/history", state);
	} else if (home && *home) {
		snprintf(sh.history, sizeof(sh.history), "%s/.sonde_history", home);
	} else {
		return;
	}
	/* append_history() only appends to a file that exists. */
	fd = open(sh.history, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		sonde_err("history not kept: %s: %s", sh.history, strerror(errno));
		sh.history[0] = 0;
		return;
	}
	close(fd);
	stifle_history(HISTORY_LINES);
	read_history(sh.history);
}

static void history_remember(const char *line)
{
	HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;

	if (last && !strcmp(last->line, line))
		return;
	add_history(line);
	if (sh.history[0])
		append_history(1, sh.history);
}

/* ---- the sticky target ---- */

static void update_prompt(void)
{
	if (sh.target_pids[0])
		snprintf(sh.prompt, sizeof(sh.prompt), "sonde [pid %s]> ", sh.target_pids);
	else if (sh.target_container[0])
		snprintf(sh.prompt, sizeof(sh.prompt), "sonde [container %s]> ", sh.target_container);
	else
		snprintf(sh.prompt, sizeof(sh.prompt), "sonde> ");
}

static void cmd_target(int argc, char **argv)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (argc == 1) {
		if (sh.target_pids[0])
			printf("target: pid %s\n", sh.target_pids);
		else if (sh.target_container[0])
			printf("target: container %s\n", sh.target_container);
		else
			printf("no target: tools trace everything\n");
		return;
	}
	if (argc > 2 || strlen(argv[1]) >= sizeof(sh.target_pids)) {
		sonde_err("usage: target PID[,PID...]");
		return;
	}
	if (sonde_parse_pids(argv[1], &pids, &n) == 0) {
		snprintf(sh.target_pids, sizeof(sh.target_pids), "%s", argv[1]);
		sh.target_container[0] = 0;
	}
	free(pids);
}

static void cmd_container(int argc, char **argv)
{
	if (argc != 2 || !*argv[1] || strspn(argv[1], "0123456789abcdef") != strlen(argv[1]) ||
	    strlen(argv[1]) >= sizeof(sh.target_container)) {
		sonde_err("usage: container ID (a hex container ID or a prefix of one)");
		return;
	}
	snprintf(sh.target_container, sizeof(sh.target_container), "%s", argv[1]);
	sh.target_pids[0] = 0;
}

/* Did the user name a target of their own on this command line? */
static bool has_own_target(int argc, char **argv)
{
	static const char *const flags[] = {"-p", "--pid", "-c", "--cgroup", "-C", "--container"};

	for (int i = 1; i < argc; i++)
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			size_t len = strlen(flags[f]);

			if (!strncmp(argv[i], flags[f], len) &&
			    (!argv[i][len] || argv[i][len] == '=' || flags[f][1] != '-'))
				return true;
		}
	return false;
}

/* ---- running tools ---- */

static int run_foreground(char *const argv[])
{
	bool tty = isatty(STDIN_FILENO);
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		sonde_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (tty)
			tcsetpgrp(STDIN_FILENO, getpid());	/* SIGTTOU still ignored */
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGTTOU, SIG_DFL);
		signal(SIGTTIN, SIG_DFL);
		signal(SIGWINCH, SIG_DFL);
		/* No job control here: Ctrl-Z would leave the shell waiting
		 * on a stopped tool. */
		signal(SIGTSTP, SIG_IGN);
		execv(argv[0], argv);
		sonde_err("cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	if (tty)
		tcsetpgrp(STDIN_FILENO, pid);
	interrupted = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			break;
		/* A Ctrl-C that reached us (no terminal, or before the child
		 * took the foreground) belongs to the tool. */
		if (interrupted) {
			interrupted = 0;
			kill(pid, SIGINT);
		}
	}
	if (tty)
		tcsetpgrp(STDIN_FILENO, getpgrp());
	interrupted = 0;
	drain_signal_pipe();
	if (WIFSIGNALED(status)) {
		sonde_err("%s ended by %s", argv[0], strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	if (WEXITSTATUS(status) && WEXITSTATUS(status) != 127)
		fprintf(stderr, "(exit status %d)\n", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

static void run_tool(const struct tool_entry *tool, int argc, char **argv)
{
	bool add_target = (sh.target_pids[0] || sh.target_container[0]) && !has_own_target(argc, argv);
	char **args = calloc(argc + 3, sizeof(*args));
	int n = 0;

	if (!args)
		return;
	args[n++] = (char *)tool->path;
	if (add_target) {
		args[n++] = sh.target_pids[0] ? "-p" : "-C";
		args[n++] = sh.target_pids[0] ? sh.target_pids : sh.target_container;
	}
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	run_foreground(args);
	free(args);
}

static void shell_help(int argc, char **argv)
{
	const struct tool_entry *tool;

	if (argc > 1) {
		char *args[] = {NULL, "--help", NULL};

		if (!(tool = tools_find(sh.set, argv[1]))) {
			sonde_err("no tool '%s' (list shows them)", argv[1]);
			return;
		}
		args[0] = (char *)tool->path;
		run_foreground(args);
		return;
	}
	printf("Type a tool's name and its options to run it; Tab completes tools, options\n"
	       "and PIDs. Ctrl-C stops the running tool; Ctrl-D or exit leaves.\n\n"
	       "  TOOL [OPTIONS]      run a tool (help TOOL: its options)\n"
	       "  target PID[,PID]    run the following tools with -p PID\n"
	       "  container ID        run the following tools with -C ID\n"
	       "  clear               forget the target\n"
	       "  list                the tools with a summary each\n"
	       "  doctor [-v]         what this node allows, tool by tool\n"
	       "  version, exit, quit\n\nTools:");
	for (size_t i = 0; i < sh.set->n; i++)
		printf(" %s", sh.set->tools[i].name);
	printf("\n");
}

static void execute(char *line)
{
	const struct tool_entry *tool;
	wordexp_t we;
	int rc, argc;
	char **argv;

	/* Shell syntax is the caller's shell's job: expand words and quotes,
	 * but run no commands. */
	rc = wordexp(line, &we, WRDE_NOCMD);
	if (rc == WRDE_BADCHAR || rc == WRDE_CMDSUB) {
		sonde_err("pipes, redirections, ;&(){} and $(...) are not for this shell: run `sonde TOOL ... | ...` from your shell");
		return;
	}
	if (rc) {
		sonde_err("cannot parse that line (unbalanced quotes?)");
		if (rc == WRDE_NOSPACE)
			wordfree(&we);
		return;
	}
	argc = we.we_wordc;
	argv = we.we_wordv;
	if (argc == 0) {
		wordfree(&we);
		return;
	}
	if (!strcmp(argv[0], "exit") || !strcmp(argv[0], "quit"))
		sh.done = true;
	else if (!strcmp(argv[0], "help"))
		shell_help(argc, argv);
	else if (!strcmp(argv[0], "list"))
		cmd_list(sh.set, argc, argv);
	else if (!strcmp(argv[0], "doctor"))
		cmd_doctor(sh.set, argc, argv);
	else if (!strcmp(argv[0], "version"))
		printf("sonde %s\n", SONDE_VERSION);
	else if (!strcmp(argv[0], "target"))
		cmd_target(argc, argv);
	else if (!strcmp(argv[0], "container"))
		cmd_container(argc, argv);
	else if (!strcmp(argv[0], "clear"))
		sh.target_pids[0] = sh.target_container[0] = 0;
	else if ((tool = tools_find(sh.set, argv[0])))
		run_tool(tool, argc, argv);
	else
		sonde_err("no command or tool '%s' (help lists them)", argv[0]);
	fflush(stdout);
	wordfree(&we);
}

/* ---- the loop ---- */

static void on_line(char *line)
{
	sh.line = line;
	sh.have_line = true;
	rl_callback_handler_remove();
}

static void abandon_line(void)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_point = rl_end = 0;
	fputs("^C\n", rl_outstream ? rl_outstream : stdout);
	rl_on_new_line();
	rl_redisplay();
}

int cmd_shell(struct tool_set *set)
{
	struct sigaction sa = {.sa_handler = on_signal};	/* no SA_RESTART: poll wakes */

	sh.set = set;
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK)) {
		sonde_err("pipe: %s", strerror(errno));
		return SONDE_EXIT_RUNTIME;
	}
	if (completion_setup(set, builtins)) {
		sonde_err("out of memory");
		close(signal_pipe[0]);
		close(signal_pipe[1]);
		return SONDE_EXIT_RUNTIME;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	signal(SIGTTOU, SIG_IGN);	/* taking the terminal back from a tool */
	signal(SIGTSTP, SIG_IGN);
	rl_readline_name = "sonde";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	history_setup();
	update_prompt();
	rl_callback_handler_install(sh.prompt, on_line);
	while (!sh.done) {
		struct pollfd pfd[2] = {
			{.fd = STDIN_FILENO, .events = POLLIN},
			{.fd = signal_pipe[0], .events = POLLIN},
		};
		int n = poll(pfd, 2, -1);

		drain_signal_pipe();
		if (interrupted) {
			interrupted = 0;
			abandon_line();
		}
		if (resized) {
			resized = 0;
			rl_resize_terminal();
		}
		if (n > 0 && pfd[0].revents)
			rl_callback_read_char();
		if (!sh.have_line)
			continue;
		sh.have_line = false;
		if (!sh.line) {		/* Ctrl-D */
			printf("\n");
			break;
		}
		if (*sh.line) {
			history_remember(sh.line);
			execute(sh.line);
		}
		free(sh.line);
		sh.line = NULL;
		if (!sh.done) {
			update_prompt();
			rl_callback_handler_install(sh.prompt, on_line);
		}
	}
	rl_callback_handler_remove();
	if (sh.history[0])
		history_truncate_file(sh.history, HISTORY_LINES);
	completion_free();
	close(signal_pipe[0]);
	close(signal_pipe[1]);
	return SONDE_EXIT_OK;
}

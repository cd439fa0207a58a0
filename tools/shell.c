/* The interactive shell: GNU readline with tab completion of commands, tool
 * names, each tool's options (from its --list-options), fixed option values,
 * PIDs with their command names and container IDs; persistent history; a sticky target
 * applied to the tools that follow. A tool runs as a child in its own
 * foreground process group, so Ctrl-C stops the tool (which detaches
 * cleanly) and the shell returns to its prompt. */
#include <ctype.h>
#include <dirent.h>
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
#include <sonde/container.h>
#include <sonde/log.h>

#include "front.h"

#define HISTORY_LINES 1000

/* One line of a tool's --list-options: "OPTION<TAB>ARG<TAB>HELP[<TAB>CHOICES]". */
struct tool_option {
	char *name;
	bool takes_arg;
	char *choices;	/* space-separated, or NULL */
};

struct option_cache {
	bool loaded;
	struct tool_option *opts;
	size_t n;
};

static const char *const builtins[] = {
	"help", "list", "doctor", "target", "container", "clear", "version", "exit", "quit", NULL,
};

static struct {
	struct tool_set *set;
	struct option_cache *cache;	/* one per tool, loaded when first completed */
	char history[PATH_MAX];
	char target_pids[256];		/* sticky -p */
	char target_container[80];	/* sticky -C */
	char prompt[400];
	char *line;			/* entered, waiting to run */
	bool have_line;
	bool done;
	/* what completion offers: */
	char **candidates;
	size_t n_candidates;
	bool candidates_are_pids;
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

/* ---- candidates for completion ---- */

static void candidates_clear(void)
{
	for (size_t i = 0; i < sh.n_candidates; i++)
		free(sh.candidates[i]);
	free(sh.candidates);
	sh.candidates = NULL;
	sh.n_candidates = 0;
	sh.candidates_are_pids = false;
}

static void candidate_add(const char *prefix, const char *word)
{
	char **grown = realloc(sh.candidates, (sh.n_candidates + 1) * sizeof(*grown));
	char *c;

	if (!grown)
		return;
	sh.candidates = grown;
	if (asprintf(&c, "%s%s", prefix, word) >= 0)
		sh.candidates[sh.n_candidates++] = c;
}

static char *candidate_generator(const char *text, int state)
{
	static size_t next;
	size_t len = strlen(text);

	if (!state)
		next = 0;
	while (next < sh.n_candidates) {
		const char *c = sh.candidates[next++];

		if (!strncmp(c, text, len))
			return strdup(c);
	}
	return NULL;
}

static void read_comm(const char *pid, char *comm, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	comm[0] = 0;
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, size, f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
}

/* PIDs running now; after "12," the next PID of a list is completed. */
static void add_pids(const char *text)
{
	const char *comma = strrchr(text, ',');
	char prefix[256] = "";
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (comma)
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(comma - text + 1), text);
	while (d && (e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]))
			candidate_add(prefix, e->d_name);
	if (d)
		closedir(d);
	sh.candidates_are_pids = true;
}

/* Lists PID matches as "PID  COMM" rather than bare numbers. */
static void display_pids(char **matches, int n, int max_len)
{
	char **shown = calloc(n + 2, sizeof(*shown));
	int width = 0;

	(void)max_len;
	if (!shown)
		return;
	for (int i = 1; i <= n; i++) {
		const char *comma = strrchr(matches[i], ',');
		const char *pid = comma ? comma + 1 : matches[i];
		char comm[32];

		read_comm(pid, comm, sizeof(comm));
		if (asprintf(&shown[i], "%-7s %s", pid, comm) < 0)
			shown[i] = NULL;
		if (shown[i] && (int)strlen(shown[i]) > width)
			width = strlen(shown[i]);
	}
	shown[0] = strdup("");
	rl_display_match_list(shown, n, width);
	rl_forced_update_display();
	for (int i = 0; i <= n; i++)
		free(shown[i]);
	free(shown);
}

/* Container IDs of the processes running now, each once. */
static void add_containers(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], text[8192], id[SONDE_CONTAINER_ID_LEN + 1];
		bool seen = false;
		size_t n;
		FILE *f;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cgroup", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = 0;
		if (!sonde_container_id_from_cgroup_file(text, n, id))
			continue;
		for (size_t i = 0; i < sh.n_candidates && !seen; i++)
			seen = !strcmp(sh.candidates[i], id);
		if (!seen)
			candidate_add("", id);
	}
	if (d)
		closedir(d);
}

/* ---- tools' options ---- */

static const struct option_cache *tool_options(const struct tool_entry *tool)
{
	struct option_cache *c = &sh.cache[tool - sh.set->tools];
	char *argv[] = {(char *)tool->path, "--list-options", NULL};
	char *out, *err, *line, *save = NULL;

	if (c->loaded)
		return c;
	c->loaded = true;
	if (run_capture(tool->path, argv, TOOL_ANSWER_TIMEOUT_MS, &out, &err) == 0 && out) {
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[4] = {line};
			struct tool_option *grown;
			int n = 1;

			for (char *p = line; n < 4 && (p = strchr(p, '\t')); n++)
				*p++ = 0, f[n] = p;
			grown = realloc(c->opts, (c->n + 1) * sizeof(*grown));
			if (!grown)
				break;
			c->opts = grown;
			c->opts[c->n++] = (struct tool_option){
				.name = strdup(f[0]),
				.takes_arg = n > 1 && *f[1],
				.choices = n > 3 ? strdup(f[3]) : NULL,
			};
		}
	}
	free(out);
	free(err);
	return c;
}

static const struct tool_option *find_option(const struct option_cache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->opts[i].name, name))
			return &c->opts[i];
	return NULL;
}

static bool is_pid_option(const char *name)
{
	return !strcmp(name, "-p") || !strcmp(name, "--pid");
}

static bool is_container_option(const char *name)
{
	return !strcmp(name, "-C") || !strcmp(name, "--container");
}

/* After a tool's name: its options, or the value of the option before. */
static void add_tool_words(const struct tool_entry *tool, const char *prev, const char *text)
{
	const struct option_cache *c = tool_options(tool);
	const struct tool_option *o = prev ? find_option(c, prev) : NULL;

	if (o && o->takes_arg) {
		if (is_pid_option(o->name)) {
			add_pids(text);
		} else if (is_container_option(o->name)) {
			add_containers();
		} else if (o->choices) {
			char *words = strdup(o->choices), *w, *save = NULL;

			for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
				candidate_add("", w);
			free(words);
		}
		return;
	}
	if (text[0] == '-')
		for (size_t i = 0; i < c->n; i++)
			candidate_add("", c->opts[i].name);
}

/* ---- completion ---- */

static char **complete(const char *text, int start, int end)
{
	char *before = strndup(rl_line_buffer, start), *words[64], *save = NULL;
	const struct tool_entry *tool;
	char **matches = NULL;
	int n = 0;

	(void)end;
	rl_attempted_completion_over = 1;	/* never fall back to file names */
	rl_completion_display_matches_hook = NULL;
	candidates_clear();
	if (!before)
		return NULL;
	for (char *w = strtok_r(before, " \t", &save); w && n < 64; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	if (n == 0) {
		for (const char *const *b = builtins; *b; b++)
			candidate_add("", *b);
		for (size_t i = 0; i < sh.set->n; i++)
			candidate_add("", sh.set->tools[i].name);
	} else if (n == 1 && !strcmp(words[0], "help")) {
		for (size_t i = 0; i < sh.set->n; i++)
			candidate_add("", sh.set->tools[i].name);
	} else if (n == 1 && !strcmp(words[0], "target")) {
		add_pids(text);
	} else if (n == 1 && !strcmp(words[0], "container")) {
		add_containers();
	} else if ((tool = tools_find(sh.set, words[0]))) {
		add_tool_words(tool, n > 1 ? words[n - 1] : NULL, text);
	}
	if (sh.candidates_are_pids)
		rl_completion_display_matches_hook = display_pids;
	if (sh.n_candidates)
		matches = rl_completion_matches(text, candidate_generator);
	free(before);
	return matches;
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
	sh.cache = calloc(set->n + 1, sizeof(*sh.cache));
	if (!sh.cache)
		return SONDE_EXIT_RUNTIME;
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK)) {
		sonde_err("pipe: %s", strerror(errno));
		free(sh.cache);
		return SONDE_EXIT_RUNTIME;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	signal(SIGTTOU, SIG_IGN);	/* taking the terminal back from a tool */
	signal(SIGTSTP, SIG_IGN);
	rl_readline_name = "sonde";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = complete;
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
	candidates_clear();
	for (size_t i = 0; i < set->n; i++) {
		for (size_t j = 0; j < sh.cache[i].n; j++) {
			free(sh.cache[i].opts[j].name);
			free(sh.cache[i].opts[j].choices);
		}
		free(sh.cache[i].opts);
	}
	free(sh.cache);
	close(signal_pipe[0]);
	close(signal_pipe[1]);
	return SONDE_EXIT_OK;
}

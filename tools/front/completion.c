/* Tab completion in the shell: commands and tool names, a tool's options
 * (asked from the tool with --list-options, once per tool), fixed option
 * values (-o, --attach), PIDs shown with their command names, and the
 * container IDs of running processes. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include <sonde/container.h>

#include "front.h"

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

static struct {
	const struct tool_set *set;
	const char *const *builtins;
	struct option_cache *cache;	/* one per tool, loaded when first completed */
	/* what the current completion offers: */
	char **candidates;
	size_t n_candidates;
	bool candidates_are_pids;
} comp;

/* ---- candidates ---- */

static void candidates_clear(void)
{
	for (size_t i = 0; i < comp.n_candidates; i++)
		free(comp.candidates[i]);
	free(comp.candidates);
	comp.candidates = NULL;
	comp.n_candidates = 0;
	comp.candidates_are_pids = false;
}

static void candidate_add(const char *prefix, const char *word)
{
	char **grown = realloc(comp.candidates, (comp.n_candidates + 1) * sizeof(*grown));
	char *c;

	if (!grown)
		return;
	comp.candidates = grown;
	if (asprintf(&c, "%s%s", prefix, word) >= 0)
		comp.candidates[comp.n_candidates++] = c;
}

static char *candidate_generator(const char *text, int state)
{
	static size_t next;
	size_t len = strlen(text);

	if (!state)
		next = 0;
	while (next < comp.n_candidates) {
		const char *c = comp.candidates[next++];

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
	comp.candidates_are_pids = true;
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
		for (size_t i = 0; i < comp.n_candidates && !seen; i++)
			seen = !strcmp(comp.candidates[i], id);
		if (!seen)
			candidate_add("", id);
	}
	if (d)
		closedir(d);
}

/* ---- tools' options ---- */

static const struct option_cache *tool_options(const struct tool_entry *tool)
{
	struct option_cache *c = &comp.cache[tool - comp.set->tools];
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
		for (const char *const *b = comp.builtins; *b; b++)
			candidate_add("", *b);
		for (size_t i = 0; i < comp.set->n; i++)
			candidate_add("", comp.set->tools[i].name);
	} else if (n == 1 && !strcmp(words[0], "help")) {
		for (size_t i = 0; i < comp.set->n; i++)
			candidate_add("", comp.set->tools[i].name);
	} else if (n == 1 && !strcmp(words[0], "target")) {
		add_pids(text);
	} else if (n == 1 && !strcmp(words[0], "container")) {
		add_containers();
	} else if ((tool = tools_find(comp.set, words[0]))) {
		add_tool_words(tool, n > 1 ? words[n - 1] : NULL, text);
	}
	if (comp.candidates_are_pids)
		rl_completion_display_matches_hook = display_pids;
	if (comp.n_candidates)
		matches = rl_completion_matches(text, candidate_generator);
	free(before);
	return matches;
}

/* ---- setup ---- */

int completion_setup(const struct tool_set *set, const char *const *builtins)
{
	comp.set = set;
	comp.builtins = builtins;
	comp.cache = calloc(set->n + 1, sizeof(*comp.cache));
	if (!comp.cache)
		return -1;
	rl_attempted_completion_function = complete;
	return 0;
}

void completion_free(void)
{
	candidates_clear();
	for (size_t i = 0; i < comp.set->n; i++) {
		for (size_t j = 0; j < comp.cache[i].n; j++) {
			free(comp.cache[i].opts[j].name);
			free(comp.cache[i].opts[j].choices);
		}
		free(comp.cache[i].opts);
	}
	free(comp.cache);
	comp.cache = NULL;
}

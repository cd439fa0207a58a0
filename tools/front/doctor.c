/* sonde doctor: what this node allows a tracer, and what each tool will do
 * here. The kernel features come from libsonde's probes, the node's state
 * (mounts, lockdown, capabilities, sysctls) from lib/node.c, and each tool
 * answers for itself through --plan, so a tool added later is covered
 * without a line here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <sonde/features.h>
#include <sonde/log.h>
#include <sonde/node.h>

#include "front.h"

/* "  NAME  VALUE  DETAIL", aligned, without trailing blanks. */
static void row(const char *name, const char *value, const char *detail)
{
	if (detail && *detail)
		printf("  %-26s %-5s %s\n", name, value, detail);
	else
		printf("  %-26s %s\n", name, value);
}

static void kernel_features(bool privileged)
{
	printf("Kernel features\n");
	if (!privileged)
		printf("  (probed without CAP_BPF and CAP_PERFMON: a \"no\" may mean only that this\n"
		       "   process may not; run as root to see what the kernel has)\n");
	for (int f = 0; f < SONDE_FEAT_COUNT; f++) {
		bool has = sonde_feature_has(f);

		row(sonde_feature_name(f), has ? "yes" : "no",
		       has ? "" : sonde_feature_reason(f));
	}
}

/* Recorded before anything probes the kernel: probing tracepoints mounts
 * tracefs when it is missing, and the report should say so. */
struct mounts {
	bool tracefs, debugfs;
	char tracefs_dir[256], debugfs_dir[256];
};

static void read_mounts(struct mounts *m)
{
	m->tracefs = !sonde_mount_point("tracefs", m->tracefs_dir, sizeof(m->tracefs_dir));
	m->debugfs = !sonde_mount_point("debugfs", m->debugfs_dir, sizeof(m->debugfs_dir));
}

static void sysctl_row(const char *name, const char *(*meaning)(long))
{
	long v;
	char value[24];

	if (sonde_read_sysctl(name, &v)) {
		row(strchr(name, '/') + 1, "?", "not readable");
		return;
	}
	snprintf(value, sizeof(value), "%ld", v);
	row(strchr(name, '/') + 1, value, meaning(v));
}

static const char *unprivileged_bpf_meaning(long v)
{
	return v ? "only privileged processes may use bpf(2) (sonde needs root or capabilities anyway)"
		 : "unprivileged bpf(2) allowed";
}

static const char *perf_paranoid_meaning(long v)
{
	return v >= 2 ? "perf events need CAP_PERFMON (held by root)" : "perf events open to users";
}

static const char *kptr_restrict_meaning(long v)
{
	return v >= 2 ? "kernel addresses hidden even from root: kernel stacks show no symbols"
		      : "kernel symbols readable with privileges";
}

static void lockdown_row(void)
{
	char mode[32], detail[256];
	bool mounted;
	int rc = sonde_lockdown(mode, sizeof(mode), &mounted);
	const char *meaning;

	if (rc == -ENOENT) {
		snprintf(mode, sizeof(mode), "none");
		meaning = "this kernel has no lockdown LSM";
	} else if (rc) {
		snprintf(detail, sizeof(detail), "cannot be read: %s", strerror(-rc));
		row("lockdown", "?", detail);
		return;
	} else if (!strcmp(mode, "confidentiality")) {
		meaning = "BPF may not read kernel memory: most tracing is refused";
	} else if (!strcmp(mode, "integrity")) {
		meaning = "the kernel cannot be modified; tracing works";
	} else {
		meaning = "no restrictions";
	}
	snprintf(detail, sizeof(detail), "%s%s", meaning,
		 mounted ? " (securityfs was not mounted; sonde mounted it at /sys/kernel/security)" : "");
	row("lockdown", mode, detail);
}

/* Returns whether the capabilities suffice to load tracing programs. */
static bool node_state(const struct mounts *before)
{
	const char *tracefs = sonde_tracefs();
	char line[256], caps[256];
	bool enough;

	printf("\nNode\n");
	if (before->tracefs)
		row("tracefs", "yes", before->tracefs_dir);
	else if (tracefs) {
		snprintf(line, sizeof(line), "was not mounted; sonde mounted it at %s", tracefs);
		row("tracefs", "yes", line);
	} else
		row("tracefs", "no", "not mounted and cannot be mounted: classic tracepoints unavailable");
	row("debugfs", before->debugfs ? "yes" : "no",
	       before->debugfs ? before->debugfs_dir : "not mounted (not needed: tracefs is used directly)");
	lockdown_row();
	enough = sonde_caps_held(caps, sizeof(caps));
	row("capabilities", enough ? "yes" : "no", caps);
	if (!enough)
		row("", "", "tools need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: run as root");
	sysctl_row("kernel/unprivileged_bpf_disabled", unprivileged_bpf_meaning);
	sysctl_row("kernel/perf_event_paranoid", perf_paranoid_meaning);
	sysctl_row("kernel/kptr_restrict", kptr_restrict_meaning);
	return enough;
}

/* Appends word to a space-separated list unless it is already there. */
static void add_word(char *list, size_t size, const char *word)
{
	size_t len = strlen(list), wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || !p[wl]))
			return;
	snprintf(list + len, size - len, "%s%s", len ? " " : "", word);
}

/* What a tool's --plan said: "PROBE<TAB>METHOD<TAB>DETAIL" lines
 * (lib/plan.c), summed up for one row. */
struct plan {
	char methods[256];	/* the attach methods chosen, each once */
	char skipped[512];	/* optional probes left out */
	char reason[512];	/* the first required probe that cannot attach */
	char probes[4096];	/* every line, for -v */
	bool own;		/* the tool sets up more itself */
};

static void read_plan(char *out, struct plan *p)
{
	char *line, *save = NULL;

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *method = strchr(line, '\t'), *detail;
		size_t len;

		if (!method || !(detail = strchr(method + 1, '\t')))
			continue;
		*method++ = 0;
		*detail++ = 0;
		if (!strcmp(method, "+own")) {
			p->own = true;
		} else if (strcmp(method, "-")) {
			add_word(p->methods, sizeof(p->methods), method);
		} else if (!strncmp(detail, "skipped", 7)) {
			len = strlen(p->skipped);
			snprintf(p->skipped + len, sizeof(p->skipped) - len, "%s%s", len ? ", " : "", line);
		} else if (!p->reason[0]) {
			snprintf(p->reason, sizeof(p->reason), "%s: %s", line, detail);
		}
		len = strlen(p->probes);
		snprintf(p->probes + len, sizeof(p->probes) - len, "      %-24s %-10s %s\n",
			 line, method, detail);
	}
}

/* The first line of a tool's stderr, without its "sonde-NAME: " prefix. */
static const char *first_error(char *err)
{
	char *colon;

	err[strcspn(err, "\n")] = 0;
	colon = strstr(err, ": ");
	return colon ? colon + 2 : err;
}

/* One row per tool; returns false when the tool cannot run here. */
static bool tool_plan(const struct tool_entry *tool, int verbose)
{
	char *argv[] = {(char *)tool->path, "--plan", NULL};
	struct plan p = {0};
	char *out, *err, how[800];
	int rc = run_capture(tool->path, argv, TOOL_ANSWER_TIMEOUT_MS, &out, &err);
	bool runs = true;

	if (!out || !err) {
		row(tool->name, "no", "cannot run it: out of memory");
		free(out);
		free(err);
		return false;
	}
	read_plan(out, &p);
	if (rc == RUN_TIMED_OUT) {
		row(tool->name, "?", "did not answer --plan in time: it may not know it (stopped)");
	} else if (rc == SONDE_EXIT_USAGE) {
		/* A tool that cannot plan without arguments (e.g. it needs
		 * -p PID) is not known to fail here. */
		row(tool->name, "?", *err ? first_error(err) : "needs arguments to say");
	} else if (rc == 0) {
		snprintf(how, sizeof(how), "%s%s%s%s",
			 p.methods[0] || !p.own ? p.methods : "its own setup at run time",
			 p.skipped[0] ? " (without " : "", p.skipped, p.skipped[0] ? ")" : "");
		row(tool->name, "yes", how);
	} else {
		row(tool->name, "no", p.reason[0] ? p.reason : *err ? first_error(err) : "cannot run (no reason given)");
		runs = false;
	}
	if (verbose)
		fputs(p.probes, stdout);
	free(out);
	free(err);
	return runs;
}

int cmd_doctor(const struct tool_set *set, int argc, char **argv)
{
	struct mounts before;
	struct utsname u;
	char caps[256];
	bool enough, all_tools = true;
	int verbose = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			verbose = 1;
		} else {
			sonde_err("usage: sonde doctor [-v]");
			return SONDE_EXIT_USAGE;
		}
	}
	read_mounts(&before);
	uname(&u);
	printf("sonde %s on Linux %s (%s)\n\n", SONDE_VERSION, u.release, u.machine);
	kernel_features(sonde_caps_held(caps, sizeof(caps)));
	enough = node_state(&before);
	printf("\nTools%s\n", verbose ? " (each probe: method and target, or why not)" : "");
	for (size_t i = 0; i < set->n; i++)
		all_tools &= tool_plan(&set->tools[i], verbose);
	fflush(stdout);
	if (!enough)
		return SONDE_EXIT_PRIVILEGE;
	return all_tools ? SONDE_EXIT_OK : SONDE_EXIT_UNSUPPORTED;
}

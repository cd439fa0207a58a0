/* sonde-gclat: garbage collections of Go, Java (HotSpot) and Python
 * (CPython) processes: one event per collection with its duration, and for
 * Go the stop-the-world time within the cycle; or log2 histograms. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/golang.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/runtime_targets.h>
#include <sonde/session.h>
#include <sonde/uprobe.h>

#include "gclat.h"
#include "gclat.skel.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define OPT_HIST SONDE_OPT_LONG
#define OPT_BINARY (SONDE_OPT_LONG + 1)
#define OPT_PAUSES (SONDE_OPT_LONG + 2)

static const char *const runtime_names[GCLAT_N_RUNTIMES] = {
	[GCLAT_GO] = "go", [GCLAT_JAVA] = "java", [GCLAT_PYTHON] = "python",
};

/* Where each runtime is probed: Go functions by name (found in the
 * binary's pclntab, stripped or not), USDT probes by provider and name. */
struct go_probe {
	const char *func;
	const char *prog;
};

static const struct go_probe go_probes[] = {
	{"runtime.gcResetMarkState", "go_gc_commit"},
	{"runtime.stopTheWorldWithSema", "go_stop_the_world"},
	{"runtime.startTheWorldWithSema", "go_start_the_world"},
	{"runtime.gcMarkTermination", "go_mark_termination"},
};

/* Every program this tool loads: all are attached by attach_runtimes. */
static const char *const extra_progs[] = {
	"go_gc_commit", "go_stop_the_world", "go_start_the_world", "go_mark_termination",
	"java_gc_begin", "java_gc_end", "python_gc_start", "python_gc_done", NULL,
};

/* System-wide, programs started later are probed when they exec. */
static const struct sonde_probe exec_probes[] = {SONDE_PROGRAM_STARTS_PROBE};

struct usdt_probe {
	const char *provider;
	const char *name;
	const char *prog;
};

static const struct usdt_probe java_probes[] = {
	{"hotspot", "gc__begin", "java_gc_begin"},
	{"hotspot", "gc__end", "java_gc_end"},
};

static const struct usdt_probe python_probes[] = {
	{"python", "gc__start", "python_gc_start"},
	{"python", "gc__done", "python_gc_done"},
};

/* What gclat knows about a runtime file. */
struct runtime_file {
	enum gclat_runtime runtime;
	uint64_t go_entries[N_OF(go_probes)];
};

struct runtime_hist {
	uint64_t count;
	uint64_t duration_slots[SONDE_HIST_SLOTS];
	uint64_t pause_slots[SONDE_HIST_SLOTS];
};

struct gclat {
	struct sonde_args args;
	bool hist;
	bool pauses;		/* Go pauses as events of their own */
	const char *binary_path;
	struct gclat_bpf *skel;
	struct sonde_rt_targets *targets;
	struct runtime_hist hists[GCLAT_N_RUNTIMES];
	struct sonde_table table;
	struct sonde_json json;
};

static const struct sonde_option options[] = {
	{"hist", OPT_HIST, NULL, "print log2 histograms of GC durations (and Go pauses) per runtime"},
	{"pauses", OPT_PAUSES, NULL, "also print each Go stop-the-world pause (adds an event column/field)"},
	{"binary", OPT_BINARY, "PATH", "trace every process running this Go binary, libjvm.so or CPython"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct gclat *g = ctx;

	switch (key) {
	case OPT_HIST:
		g->hist = true;
		return 0;
	case OPT_PAUSES:
		g->pauses = true;
		return 0;
	case OPT_BINARY:
		if (access(arg, R_OK)) {
			sonde_err("--binary %s: %m", arg);
			return SONDE_EXIT_USAGE;
		}
		g->binary_path = arg;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

/* ---- finding the runtimes ---- */

static bool file_has_usdt(int fd, const struct usdt_probe *probes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sonde_elf_has_usdt(fd, probes[i].provider, probes[i].name) != 1)
			return false;
	return true;
}

/* Go: the entries of the probed runtime functions. -ENOENT when one is
 * missing (a Go release that renamed it). */
static int go_entries(int fd, uint64_t entries[N_OF(go_probes)], const char **missing)
{
	struct sonde_gopclntab *t;
	int err = sonde_gopclntab_open_fd(fd, &t);

	if (err)
		return err;
	for (size_t i = 0; i < N_OF(go_probes) && !err; i++) {
		struct sonde_go_func f;

		if (sonde_gopclntab_find(t, go_probes[i].func, &f, 1) < 1) {
			*missing = go_probes[i].func;
			err = -ENOENT;
		} else {
			entries[i] = f.entry;
		}
	}
	sonde_gopclntab_free(t);
	return err;
}

/* Which runtime the file is, if any. Prints why a runtime that is there
 * cannot be traced. */
static enum sonde_rt_class classify(int fd, const char *path, void *data, void *ctx)
{
	struct runtime_file *r = data;
	struct sonde_go_buildinfo bi;
	const char *missing = NULL;

	(void)ctx;
	if (!sonde_go_buildinfo_read_fd(fd, &bi)) {
		r->runtime = GCLAT_GO;
		if (!go_entries(fd, r->go_entries, &missing))
			return SONDE_RT_RUNTIME;
		sonde_err("%s (%s): %s not found in its function table", path, bi.version,
			  missing ? missing : "the GC functions");
		return SONDE_RT_UNUSABLE;
	}
	if (file_has_usdt(fd, java_probes, N_OF(java_probes))) {
		r->runtime = GCLAT_JAVA;
		return SONDE_RT_RUNTIME;
	}
	if (file_has_usdt(fd, python_probes, N_OF(python_probes))) {
		r->runtime = GCLAT_PYTHON;
		return SONDE_RT_RUNTIME;
	}
	return SONDE_RT_NOT_RUNTIME;
}

/* A Go binary holds its runtime; other programs may map one: libjvm.so,
 * or a libpython (CPython built --enable-shared). */
static bool self_contained(const void *data)
{
	return ((const struct runtime_file *)data)->runtime == GCLAT_GO;
}

static bool mapped_candidate(const char *base)
{
	return !strcmp(base, "libjvm.so") || !strncmp(base, "libpython", 9);
}

/* A java launcher that has just started has not loaded its libjvm.so yet;
 * it will load the one next to it, <home>/lib/server/libjvm.so, for
 * <home>/bin/java (the default -server VM). */
static bool java_launcher_vm(pid_t pid, char *lib, size_t size)
{
	char exe[64], target[PATH_MAX];
	ssize_t n;
	char *slash;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	n = readlink(exe, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	slash = strrchr(target, '/');
	if (!slash || strcmp(slash, "/java"))
		return false;
	*slash = 0;
	slash = strrchr(target, '/');
	if (!slash || strcmp(slash, "/bin"))
		return false;
	*slash = 0;
	snprintf(lib, size, "/proc/%d/root%s/lib/server/libjvm.so", (int)pid, target);
	return true;
}

/* ---- attaching ---- */

static int attach_failed(const char *what, const char *path)
{
	int err = errno;

	sonde_err("cannot attach to %s in %s: %s", what, path, strerror(err));
	return err == EPERM || err == EACCES ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
}

static int add(struct sonde_session *s, struct bpf_link *link, const char *what, const char *path)
{
	if (!link)
		return attach_failed(what, path);
	if (sonde_session_add_link(s, link)) {
		errno = ENOSPC;
		return attach_failed(what, path);
	}
	return 0;
}

static int attach_file(struct sonde_session *s, const struct sonde_rt_file *b, void *ctx)
{
	struct gclat *g = ctx;
	const struct runtime_file *r = b->data;
	struct bpf_object *obj = g->skel->obj;
	const struct usdt_probe *usdt = r->runtime == GCLAT_JAVA ? java_probes : python_probes;
	int rc = 0;

	if (r->runtime == GCLAT_GO) {
		for (size_t i = 0; i < N_OF(go_probes) && !rc; i++) {
			struct bpf_program *prog = bpf_object__find_program_by_name(obj, go_probes[i].prog);

			rc = add(s, sonde_uprobe_attach_vaddr(prog, b->pid, b->path, r->go_entries[i]),
				 go_probes[i].func, b->path);
		}
	} else {
		for (size_t i = 0; i < 2 && !rc; i++) {
			struct bpf_program *prog = bpf_object__find_program_by_name(obj, usdt[i].prog);

			rc = add(s, bpf_program__attach_usdt(prog, b->pid, b->path, usdt[i].provider,
							     usdt[i].name, NULL),
				 usdt[i].name, b->path);
		}
	}
	if (!rc)
		sonde_info(1, "tracing %s GC in %s%s", runtime_names[r->runtime], b->path,
			   b->pid < 0 ? " (every process running it)" : "");
	return rc;
}

static int attach_runtimes(struct sonde_session *s, void *ctx)
{
	struct gclat *g = ctx;

	return sonde_rt_targets_attach(g->targets, s);
}

/* ---- output ---- */

/* EVENT comes last: it is shown only with --pauses. */
enum { COL_TIME, COL_PID, COL_COMM, COL_RUNTIME, COL_DURATION, COL_PAUSE, COL_GEN,
       COL_COLLECTED, COL_EVENT, N_COLS };

static const struct sonde_column columns[N_COLS] = {
	[COL_TIME] = {"TIME", 8, true},
	[COL_PID] = {"PID", 7, false},
	[COL_COMM] = {"COMM", 16, true},
	[COL_RUNTIME] = {"RUNTIME", 7, true},
	[COL_DURATION] = {"DURATION(ms)", 12, false},
	[COL_PAUSE] = {"PAUSE(ms)", 9, false},
	[COL_GEN] = {"GEN", 3, false},
	[COL_COLLECTED] = {"COLLECTED", 9, false},
	[COL_EVENT] = {"EVENT", 5, true},
};

static const char *event_name(const struct gclat_event *e)
{
	return e->kind == GCLAT_KIND_PAUSE ? "pause" : "gc";
}

static int print_table(struct gclat *g, const struct gclat_event *e, uint64_t wall)
{
	char when[16], pid[16], comm[17], dur[32], pause[32] = "-", gen[16] = "-",
	     collected[32] = "-";
	const char *cells[N_COLS];

	sonde_format_clock(wall, when);
	snprintf(pid, sizeof(pid), "%u", e->pid);
	snprintf(comm, sizeof(comm), "%.16s", e->comm);
	snprintf(dur, sizeof(dur), "%.3f", e->duration_ns / 1e6);
	if (e->runtime == GCLAT_GO)
		snprintf(pause, sizeof(pause), "%.3f", e->pause_ns / 1e6);
	if (e->runtime == GCLAT_PYTHON) {
		snprintf(gen, sizeof(gen), "%d", e->generation);
		snprintf(collected, sizeof(collected), "%lld", (long long)e->collected);
	}
	cells[COL_TIME] = when;
	cells[COL_PID] = pid;
	cells[COL_COMM] = comm;
	cells[COL_RUNTIME] = runtime_names[e->runtime];
	cells[COL_DURATION] = dur;
	cells[COL_PAUSE] = pause;
	cells[COL_GEN] = gen;
	cells[COL_COLLECTED] = collected;
	cells[COL_EVENT] = event_name(e);
	return sonde_table_row(&g->table, cells);
}

/* Every field in every event, null where the runtime has no such figure. */
static int print_json(struct gclat *g, const struct gclat_event *e, uint64_t wall)
{
	struct sonde_json *j = &g->json;

	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", wall);
	sonde_json_u64(j, "pid", e->pid);
	sonde_json_strn(j, "comm", e->comm, strnlen(e->comm, sizeof(e->comm)));
	sonde_json_str(j, "runtime", runtime_names[e->runtime]);
	sonde_json_u64(j, "duration_ns", e->duration_ns);
	if (e->runtime == GCLAT_GO)
		sonde_json_u64(j, "pause_ns", e->pause_ns);
	else
		sonde_json_null(j, "pause_ns");
	if (e->runtime == GCLAT_PYTHON) {
		sonde_json_i64(j, "generation", e->generation);
		sonde_json_i64(j, "collected", e->collected);
	} else {
		sonde_json_null(j, "generation");
		sonde_json_null(j, "collected");
	}
	sonde_json_str(j, "container", sonde_container_of_pid(e->pid));
	if (g->pauses)
		sonde_json_str(j, "event", event_name(e));
	return sonde_json_emit(j, stdout);
}

/* Collections are rare (a few per second at most), so histograms are
 * kept here rather than in BPF maps. */
static void count(struct gclat *g, const struct gclat_event *e)
{
	struct runtime_hist *h = &g->hists[e->runtime];

	h->count++;
	h->duration_slots[sonde_log2_slot(e->duration_ns / 1000)]++;
	if (e->runtime == GCLAT_GO)
		h->pause_slots[sonde_log2_slot(e->pause_ns / 1000)]++;
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct gclat *g = ctx;
	const struct gclat_event *e = data;
	uint64_t wall;

	if (size < sizeof(*e) || e->runtime >= GCLAT_N_RUNTIMES)
		return 0;
	if (e->kind == GCLAT_KIND_EXEC) {
		sonde_rt_targets_program_started(g->targets, e->pid);
		return 0;
	}
	if (g->hist) {
		count(g, e);
		return 0;
	}
	wall = sonde_mono_to_wall_ns(e->ts_ns);
	return g->args.format == SONDE_FMT_JSON ? print_json(g, e, wall) : print_table(g, e, wall);
}

static int print_hists(struct gclat *g)
{
	uint64_t wall = sonde_mono_to_wall_ns(sonde_now_mono_ns());
	bool any = false;
	char when[16];

	for (int r = 0; r < GCLAT_N_RUNTIMES; r++) {
		struct runtime_hist *h = &g->hists[r];

		if (!h->count)
			continue;
		if (g->args.format == SONDE_FMT_JSON) {
			sonde_json_begin(&g->json);
			sonde_json_u64(&g->json, "ts_ns", wall);
			sonde_json_str(&g->json, "runtime", runtime_names[r]);
			sonde_json_u64(&g->json, "count", h->count);
			sonde_hist_json(&g->json, "duration_us", h->duration_slots, SONDE_HIST_SLOTS);
			if (r == GCLAT_GO)
				sonde_hist_json(&g->json, "pause_us", h->pause_slots, SONDE_HIST_SLOTS);
			if (sonde_json_emit(&g->json, stdout) < 0)
				return -1;
		} else {
			if (!any && g->args.interval_ns) {
				sonde_format_clock(wall, when);
				printf("\n%s\n", when);
			}
			printf("\nruntime = %s: %llu collections, duration\n", runtime_names[r],
			       (unsigned long long)h->count);
			sonde_hist_print(stdout, h->duration_slots, SONDE_HIST_SLOTS, "usecs");
			if (r == GCLAT_GO) {
				printf("\nruntime = go: stop-the-world pause per cycle\n");
				sonde_hist_print(stdout, h->pause_slots, SONDE_HIST_SLOTS, "usecs");
			}
		}
		any = true;
		memset(h, 0, sizeof(*h));
	}
	if (g->args.format == SONDE_FMT_TABLE && !any && !g->args.interval_ns)
		printf("no garbage collections seen\n");
	return sonde_out_flush(stdout);
}

static int on_hist_tick(void *ctx)
{
	return print_hists(ctx);
}

static void destroy_skel(struct gclat_bpf **skel)
{
	gclat_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct gclat g;
	const struct sonde_tool tool = {
		.name = "gclat",
		.summary = "Trace garbage collections of Go, Java and Python processes.",
		.description =
			"One line per collection: Go GC cycles (from the start of sweep termination\n"
			"to the end of mark termination, as GODEBUG=gctrace=1 counts them, with the\n"
			"stop-the-world time within the cycle), HotSpot collections (USDT\n"
			"hotspot:gc__begin/gc__end in libjvm.so) and CPython collections (USDT\n"
			"python:gc__start/gc__done, with the generation and the number of objects\n"
			"collected). Go functions are found in the binary's own function table, so\n"
			"stripped Go binaries work; only uprobes on function entries are used.\n"
			"--pauses also prints each Go stop-the-world pause as an event of its own\n"
			"(EVENT column / \"event\" field: \"gc\" or \"pause\").\n"
			"--hist prints log2 histograms per runtime instead, at the end or every -i.\n"
			"Targets: -p PID, --binary PATH (every process running that Go binary,\n"
			"libjvm.so or python), or with neither every process: the runtimes running\n"
			"at start, and those of programs started later, probed when they exec (a\n"
			"program's first milliseconds may pass before that). A Python or Java built\n"
			"without its USDT probes (--with-dtrace, --enable-dtrace) cannot be traced.",
		.examples =
			"  sonde-gclat                          every Go, Java and Python process\n"
			"  sonde-gclat -p 1234                  one process\n"
			"  sonde-gclat --binary /usr/local/bin/server --hist -i 10\n"
			"  sonde-gclat -o json | jq 'select(.pause_ns > 1000000)'\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &g,
	};
	struct gclat_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	const struct sonde_rt_kind runtime_kind = {
		.classify = classify,
		.data_size = sizeof(struct runtime_file),
		.attach = attach_file,
		.mapped_candidate = mapped_candidate,
		.self_contained = self_contained,
		.will_load = java_launcher_vm,
		.process_what = "Go, Java or Python runtime with GC probes",
		.file_what = "is no Go binary and has no HotSpot or CPython GC probes",
		.ctx = &g,
	};
	int rc = sonde_cli_parse(&tool, argc, argv, &g.args);
	bool follow = false;

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	rc = 0;
	if (g.args.interval_ns && !g.hist) {
		sonde_err("-i prints histograms: use it with --hist");
		rc = SONDE_EXIT_USAGE;
	} else if (g.pauses && g.hist) {
		sonde_err("--hist already counts Go pauses per cycle: --pauses is for events");
		rc = SONDE_EXIT_USAGE;
	} else if (g.binary_path && g.args.n_pids) {
		sonde_err("-p and --binary are two different targets: give one");
		rc = SONDE_EXIT_USAGE;
	}
	if (!rc) {
		g.targets = sonde_rt_targets_new(&runtime_kind);
		if (!g.targets) {
			sonde_err("%m");
			rc = SONDE_EXIT_RUNTIME;
		}
	}
	/* Before reading other processes' files: without privileges, say
	 * that rather than "not a runtime". */
	if (!rc && !g.args.plan)
		rc = sonde_caps_check();
	if (!rc && !g.args.plan)
		rc = sonde_rt_targets_find(g.targets, g.binary_path, g.args.pids, g.args.n_pids);
	/* --plan reports what system-wide mode would attach. */
	if (!rc && g.args.plan && !g.args.n_pids && !g.binary_path)
		sonde_rt_targets_set_follow(g.targets, true);
	follow = !rc && sonde_rt_targets_follow(g.targets);
	if (!rc) {
		skel = SONDE_OPEN_SKELETON(gclat_bpf);
		if (!skel) {
			sonde_err("cannot open the BPF object: %m");
			rc = SONDE_EXIT_RUNTIME;
		}
	}
	if (rc) {
		sonde_rt_targets_free(g.targets);
		sonde_args_free(&g.args);
		return rc;
	}
	g.skel = skel;
	skel->rodata->report_pauses = g.pauses;
	sonde_table_init(&g.table, columns, g.pauses ? N_COLS : N_COLS - 1, stdout);

	const struct sonde_session_config cfg = {
		.what = "garbage collections",
		.args = &g.args,
		.obj = skel->obj,
		.probes = exec_probes,
		.n_probes = follow ? N_OF(exec_probes) : 0,
		.header = g.hist ? NULL : &g.table,
		.on_event = on_event,
		.on_interval = g.hist ? on_hist_tick : NULL,
		.on_end = g.hist ? on_hist_tick : NULL,
		.attach_extra = attach_runtimes,
		.extra_progs = extra_progs,
		.keep_caps = follow ? SONDE_KEEP_BPF | SONDE_KEEP_PROC_READ : SONDE_KEEP_NONE,
		.ctx = &g,
	};
	rc = sonde_session_run(&cfg);
	sonde_json_free(&g.json);
	sonde_rt_targets_free(g.targets);
	sonde_args_free(&g.args);
	return rc;
}

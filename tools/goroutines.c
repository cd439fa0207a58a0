/* sonde-goroutines: how many goroutines each Go process has, created
 * where (the go statement) to run what (the start function), how old the
 * oldest is, and which creation sites leak. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/core_btf.h>
#include <sonde/duration.h>
#include <sonde/golang.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/retinsn.h>
#include <sonde/runtime_targets.h>
#include <sonde/session.h>
#include <sonde/sym.h>
#include <sonde/uprobe.h>

#include "goroutines.h"
#include "goroutines.skel.h"
#include "goroutines/summary.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define OPT_BINARY SONDE_OPT_LONG
#define OPT_LEAK_AGE (SONDE_OPT_LONG + 1)
/* newproc1 returns in a handful of places. */
#define MAX_RETURNS 16

/* What the tool knows about a Go binary it probes. */
struct go_binary {
	char version[64];
	uint64_t newproc1, goexit0;
	uint64_t runtime_main;	/* the main goroutine's start: checks the layout */
	uint64_t returns[MAX_RETURNS];
	size_t n_returns;
	struct sonde_go_g_offsets offsets;
	const char *allgs_from;	/* what located runtime.allgs; NULL: nothing */
	uint64_t allgs;
	uint64_t cookie;	/* for the uprobes: see goroutines.h */
};

struct goroutines {
	struct sonde_args args;
	const char *binary_path;
	uint64_t leak_age_ns;
	struct goroutines_bpf *skel;
	struct sonde_rt_targets *targets;
	struct sonde_symbolizer *sym;
	struct summary summary;
};

static const struct sonde_option options[] = {
	{"binary", OPT_BINARY, "PATH", "trace every process running this Go binary, now and later"},
	{"leak-age", OPT_LEAK_AGE, "DUR",
	 "report creation sites with goroutines alive longer than DUR (e.g. 30s)"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct goroutines *t = ctx;

	switch (key) {
	case OPT_BINARY:
		if (access(arg, R_OK)) {
			sonde_err("--binary %s: %m", arg);
			return SONDE_EXIT_USAGE;
		}
		t->binary_path = arg;
		return 0;
	case OPT_LEAK_AGE:
		if (sonde_parse_duration(arg, &t->leak_age_ns) || !t->leak_age_ns) {
			sonde_err("--leak-age %s: not a duration (e.g. 30s, 5m)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

/* ---- finding Go binaries ---- */

static int function_entry(const struct sonde_gopclntab *tab, const char *name,
			  struct sonde_go_func *f)
{
	return sonde_gopclntab_find(tab, name, f, 1) == 1 ? 0 : -ENOENT;
}

/* Where newproc1 returns: every exit must be a RET (a tail call or an
 * indirect jump would leave without our seeing the new g). */
static int newproc1_returns(int fd, const struct sonde_go_func *f, struct go_binary *b,
			    const char **why)
{
	struct sonde_func_exit exits[MAX_RETURNS];
	int n = sonde_func_exits_fd(fd, f->entry, f->end, exits, MAX_RETURNS);

	if (n < 0) {
		*why = "runtime.newproc1 could not be decoded";
		return n;
	}
	if (n == 0 || n > MAX_RETURNS) {
		*why = n ? "runtime.newproc1 returns in too many places" : "runtime.newproc1 never returns";
		return -ENOTSUP;
	}
	for (int i = 0; i < n; i++) {
		if (exits[i].kind != SONDE_EXIT_RET) {
			*why = "runtime.newproc1 leaves by a jump, not only by returns";
			return -ENOTSUP;
		}
		b->returns[i] = exits[i].vaddr;
	}
	b->n_returns = (size_t)n;
	return 0;
}

/* Go 1.17's newproc1 took (fn, argp, narg, callergp, callerpc); 1.18 on
 * take (fn, callergp, callerpc, ...). */
static unsigned callerpc_reg(const char *version)
{
	return strstr(version, "go1.17") ? GOROUTINES_CALLERPC_RSI : GOROUTINES_CALLERPC_RCX;
}

static enum sonde_rt_class classify(int fd, const char *path, void *data, void *ctx)
{
	struct go_binary *b = data;
	struct sonde_go_buildinfo bi;
	struct sonde_gopclntab *tab;
	struct sonde_go_func newproc1, goexit0, runtime_main;
	enum sonde_go_layout_source source;
	const char *why = NULL;
	int err;

	(void)ctx;
	if (sonde_go_buildinfo_read_fd(fd, &bi))
		return SONDE_RT_NOT_RUNTIME;
	snprintf(b->version, sizeof(b->version), "%s", bi.version);
	err = sonde_gopclntab_open_fd(fd, &tab);
	if (err) {
		sonde_err("%s (%s): no readable function table (%s)", path, bi.version, strerror(-err));
		return SONDE_RT_UNUSABLE;
	}
	if (function_entry(tab, "runtime.newproc1", &newproc1))
		why = "runtime.newproc1 not found in its function table";
	else if (function_entry(tab, "runtime.goexit0", &goexit0))
		why = "runtime.goexit0 not found in its function table";
	else if (function_entry(tab, "runtime.main", &runtime_main))
		why = "runtime.main not found in its function table";
	else if (!newproc1_returns(fd, &newproc1, b, &why))
		why = NULL;
	sonde_gopclntab_free(tab);
	if (!why && (err = sonde_go_g_offsets_fd(fd, &b->offsets, &source)))
		why = err == -ENOTSUP ? "a Go release whose runtime.g layout is not known"
				      : "runtime.g's layout could not be read";
	if (why) {
		sonde_err("%s (%s): %s", path, bi.version, why);
		return SONDE_RT_UNUSABLE;
	}
	b->newproc1 = newproc1.entry;
	b->goexit0 = goexit0.entry;
	b->runtime_main = runtime_main.entry;
	if (!sonde_go_variable_address(fd, "runtime.allgs", &b->allgs))
		b->allgs_from = "its symbols";
	else if (!sonde_go_allgs_from_code(fd, &b->allgs))
		b->allgs_from = "the code of runtime.allgadd";
	b->cookie = b->offsets.goid | (uint64_t)callerpc_reg(bi.version)
					       << GOROUTINES_COOKIE_REG_SHIFT;
	sonde_info(1, "%s: %s, runtime.g layout from %s, runtime.allgs located through %s", path,
		   bi.version, source == SONDE_GO_LAYOUT_DWARF ? "its DWARF" : "the table for its release",
		   b->allgs_from ? b->allgs_from : "nothing");
	return SONDE_RT_RUNTIME;
}

/* ---- attaching ---- */

static int attach_at(struct goroutines *t, struct sonde_session *s, const char *prog_name,
		     const struct sonde_rt_file *f, uint64_t vaddr, const char *what)
{
	const struct go_binary *b = f->data;
	struct bpf_program *prog = bpf_object__find_program_by_name(t->skel->obj, prog_name);
	struct bpf_link *link = sonde_uprobe_attach_vaddr_cookie(prog, f->pid, f->path, vaddr,
								 b->cookie);
	int err = errno;

	if (link && !sonde_session_add_link(s, link))
		return 0;
	if (link)
		err = ENOSPC;
	sonde_err("cannot attach to %s in %s: %s", what, f->path, strerror(err));
	return err == EPERM || err == EACCES ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
}

static int attach_file(struct sonde_session *s, const struct sonde_rt_file *f, void *ctx)
{
	struct goroutines *t = ctx;
	const struct go_binary *b = f->data;
	int rc = attach_at(t, s, "newproc_entry", f, b->newproc1, "runtime.newproc1");

	for (size_t i = 0; i < b->n_returns && !rc; i++)
		rc = attach_at(t, s, "newproc_return", f, b->returns[i], "a return of runtime.newproc1");
	if (!rc)
		rc = attach_at(t, s, "goexit", f, b->goexit0, "runtime.goexit0");
	if (!rc)
		sonde_info(1, "tracing goroutines in %s%s", f->path,
			   f->pid < 0 ? " (every process running it)" : "");
	return rc;
}

static int attach_runtimes(struct sonde_session *s, void *ctx)
{
	struct goroutines *t = ctx;

	return sonde_rt_targets_attach(t->targets, s);
}

/* ---- goroutines that existed before ---- */

struct seeding {
	int map_fd;
	pid_t pid;
	uint64_t main_start;	/* where runtime.main is in the process */
	bool checked, mismatch;
};

static int seed_one(const struct sonde_go_g_info *g, void *ctx)
{
	struct seeding *sd = ctx;
	struct goroutine_key key = {.tgid = (uint32_t)sd->pid, .goid = g->goid};
	struct goroutine value = {.created_ns = 0, .gopc = g->gopc, .startpc = g->startpc};

	/* The first g made is the main goroutine, id 1, running runtime.main:
	 * a layout that reads it otherwise would misread every other. */
	if (!sd->checked) {
		sd->checked = true;
		sd->mismatch = g->goid != 1 || g->startpc != sd->main_start;
		if (sd->mismatch)
			return 1;
	}

	/* One the probes saw created meanwhile is already there. */
	bpf_map_update_elem(sd->map_fd, &key, &value, BPF_NOEXIST);
	return 0;
}

/* A process found running a probed binary: its goroutines so far go in
 * the table, read from its runtime's list, or are declared unknown. */
static void on_process(pid_t pid, const struct sonde_rt_file *f, void *ctx)
{
	struct goroutines *t = ctx;
	const struct go_binary *b = f->data;
	struct seeding sd = {bpf_map__fd(t->skel->maps.goroutines), pid};
	struct proc_state *p = summary_process(&t->summary, pid);
	uint64_t bias;
	int n = -ENOENT;

	sonde_sym_user_prepare(t->sym, pid);
	if (!p)
		return;
	if (b->allgs_from && !(n = sonde_go_load_bias(pid, &bias))) {
		sd.main_start = b->runtime_main + bias;
		n = sonde_go_read_allgs(pid, b->allgs, bias, &b->offsets, seed_one, &sd);
	}
	if (n >= 0 && !sd.mismatch) {
		p->baseline = BASELINE_KNOWN;
		sonde_info(1, "PID %d (%s): %d goroutines already running", (int)pid, p->comm, n);
		return;
	}
	p->baseline = BASELINE_UNKNOWN;
	sonde_err("PID %d (%s): goroutines that existed before sonde attached are unknown (%s): "
		  "live counts only those created since",
		  (int)pid, p->comm,
		  !b->allgs_from ? "runtime.allgs could not be located"
		  : sd.mismatch ? "its main goroutine does not read right with the runtime.g layout"
				: strerror(-n));
}

/* ---- events and summaries ---- */

static int on_event(void *ctx, const void *data, size_t size)
{
	struct goroutines *t = ctx;
	const struct goroutines_exec_event *e = data;

	if (size < sizeof(*e))
		return 0;
	/* The process' old program, and its goroutines, are gone. */
	summary_forget(&t->summary, (pid_t)e->pid);
	sonde_rt_targets_program_started(t->targets, (pid_t)e->pid);
	return 0;
}

static int on_ready(void *ctx)
{
	struct goroutines *t = ctx;

	summary_started(&t->summary, sonde_now_mono_ns());
	return 0;
}

static int on_interval(void *ctx)
{
	struct goroutines *t = ctx;

	return summary_print(&t->summary, false);
}

static int on_end(void *ctx)
{
	struct goroutines *t = ctx;

	return summary_print(&t->summary, true) < 0 && !sonde_out_closed() ? -1 : 0;
}

static const struct sonde_probe exec_probes[] = {SONDE_PROGRAM_STARTS_PROBE};

static const char *const extra_progs[] = {"newproc_entry", "newproc_return", "goexit", NULL};

static void destroy_skel(struct goroutines_bpf **skel)
{
	goroutines_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct goroutines t;
	const struct sonde_tool tool = {
		.name = "goroutines",
		.summary = "Count the goroutines of Go processes by creation site, and find leaks.",
		.description =
			"Per Go process: goroutines live, created and exited (with rates), grouped by\n"
			"creation site (the function and file:line of the go statement) and start\n"
			"function, with the age of the oldest; at the end, or every -i.\n"
			"Goroutines that existed before sonde attached are read from the runtime's\n"
			"list (runtime.allgs) in the process' memory, located by the binary's symbols\n"
			"or, stripped, by decoding runtime.allgadd, and checked against the main\n"
			"goroutine; where that fails they are reported as unknown (live: null in\n"
			"JSON, a lower bound \">=N\" in the table) and only later ones are counted.\n"
			"Their age counts from the time sonde attached.\n"
			"Leaks: --leak-age DUR reports sites with goroutines alive longer than DUR;\n"
			"with -i, sites whose live count grew in each of the last 3 intervals are\n"
			"reported too.\n"
			"Go functions are found in the binary's own function table, so stripped\n"
			"binaries work; only uprobes are used (at runtime.newproc1's entry and return\n"
			"instructions and runtime.goexit0's entry), never uretprobes.\n"
			"Targets: -p PID, --binary PATH (every process running it, now and later),\n"
			"or with neither every Go process: those running at start, and programs\n"
			"started later, probed when they exec.",
		.examples =
			"  sonde-goroutines -p 1234 -i 10        every 10s, by creation site\n"
			"  sonde-goroutines --leak-age 5m -i 1m  sites holding goroutines for 5 minutes\n"
			"  sonde-goroutines --binary /usr/local/bin/server -o json\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &t,
	};
	const struct sonde_rt_kind go_kind = {
		.classify = classify,
		.data_size = sizeof(struct go_binary),
		.attach = attach_file,
		.on_process = on_process,
		.process_what = "Go program",
		.file_what = "is not a Go binary",
		.ctx = &t,
	};
	struct goroutines_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	int rc = sonde_cli_parse(&tool, argc, argv, &t.args);
	bool follow = false;

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	rc = 0;
	if (t.binary_path && t.args.n_pids) {
		sonde_err("-p and --binary are two different targets: give one");
		rc = SONDE_EXIT_USAGE;
	}
	if (!rc) {
		t.targets = sonde_rt_targets_new(&go_kind);
		t.sym = sonde_symbolizer_new();
		skel = SONDE_OPEN_SKELETON(goroutines_bpf);
		if (!t.targets || !t.sym || !skel) {
			sonde_err("cannot set up: %m");
			rc = SONDE_EXIT_RUNTIME;
		}
	}
	t.skel = skel;
	if (!rc)
		summary_init(&t.summary, skel ? skel->obj : NULL, t.sym, &t.args, t.leak_age_ns);
	/* Before reading other processes' files: without privileges, say
	 * that rather than "not a Go program". */
	if (!rc && !t.args.plan)
		rc = sonde_caps_check();
	if (!rc && !t.args.plan)
		rc = sonde_rt_targets_find(t.targets, t.binary_path, t.args.pids, t.args.n_pids);
	if (!rc && t.args.plan && !t.args.n_pids && !t.binary_path)
		sonde_rt_targets_set_follow(t.targets, true);
	follow = !rc && sonde_rt_targets_follow(t.targets);
	if (!rc) {
		const struct sonde_session_config cfg = {
			.what = "goroutines",
			.args = &t.args,
			.obj = skel->obj,
			.probes = exec_probes,
			.n_probes = follow ? N_OF(exec_probes) : 0,
			.on_event = on_event,
			.on_ready = on_ready,
			.on_interval = on_interval,
			.on_end = on_end,
			.attach_extra = attach_runtimes,
			.extra_progs = extra_progs,
			.keep_caps = follow ? SONDE_KEEP_BPF | SONDE_KEEP_PROC_READ : SONDE_KEEP_PROC_READ,
			.ctx = &t,
		};
		rc = sonde_session_run(&cfg);
	}
	summary_free(&t.summary);
	sonde_symbolizer_free(t.sym);
	sonde_rt_targets_free(t.targets);
	sonde_args_free(&t.args);
	return rc;
}

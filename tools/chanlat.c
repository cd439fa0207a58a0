/* sonde-chanlat: where goroutines block on channels, and for how long:
 * per call site (function and file:line of the channel operation) and
 * channel, how many sends, receives and selects ran there, how many
 * blocked, and their blocked time from park to ready; optionally the
 * scheduling latency that followed (ready to running). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/cli.h>
#include <sonde/clock.h>
#include <sonde/core_btf.h>
#include <sonde/golang.h>
#include <sonde/grow.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/retinsn.h>
#include <sonde/runtime_targets.h>
#include <sonde/session.h>
#include <sonde/sym.h>
#include <sonde/uprobe.h>

#include "chanlat.h"
#include "chanlat.skel.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define OPT_HIST SONDE_OPT_LONG
#define OPT_BINARY (SONDE_OPT_LONG + 1)
#define OPT_SCHED (SONDE_OPT_LONG + 2)
/* Return instructions probed per function; Go's channel functions have
 * one or two. */
#define MAX_RETS 16

static const char *const op_names[CHANLAT_N_OPS] = {
	[CHANLAT_SEND] = "send", [CHANLAT_RECV] = "recv", [CHANLAT_SELECT] = "select",
};

/* The runtime functions probed, found by name in the binary's pclntab
 * (stripped or not): a probe at the entry, and for channel operations one
 * at each return instruction too, where they are counted. A function the
 * linker left out (a program without select has no selectgo) is simply
 * not probed. */
enum need { OPTIONAL, REQUIRED, FOR_SCHED };

struct go_probe {
	const char *func;
	const char *entry_prog;
	const char *return_prog;	/* NULL: entry only */
	enum need need;
};

static const struct go_probe go_probes[] = {
	{"runtime.chansend1", "chan_send", "chan_return", OPTIONAL},
	{"runtime.chanrecv1", "chan_recv", "chan_return", OPTIONAL},
	{"runtime.chanrecv2", "chan_recv", "chan_return", OPTIONAL},
	{"runtime.selectgo", "chan_select", "select_return", OPTIONAL},
	{"runtime.selectnbsend", "chan_nb_send", "chan_return", OPTIONAL},
	{"runtime.selectnbrecv", "chan_nb_recv", "chan_return", OPTIONAL},
	{"runtime.gopark", "go_park", NULL, REQUIRED},
	{"runtime.ready", "go_ready", NULL, REQUIRED},
	{"runtime.execute", "go_execute", NULL, FOR_SCHED},
};

/* The channel operations: at least one must be there. */
#define N_OP_PROBES 6

static const char *const extra_progs[] = {
	"chan_send", "chan_recv", "chan_select", "chan_nb_send", "chan_nb_recv", "chan_return",
	"select_return", "go_park", "go_ready", "go_execute", NULL,
};

static const struct sonde_probe exec_probes[] = {SONDE_PROGRAM_STARTS_PROBE};

/* What chanlat knows about a Go binary: where each function is. */
struct go_file {
	bool present[N_OF(go_probes)];
	uint64_t entry[N_OF(go_probes)];
	uint64_t rets[N_OF(go_probes)][MAX_RETS];
	unsigned n_rets[N_OF(go_probes)];
};

/* One summary row: a map entry taken out of the kernel, and its site's
 * name. */
struct row {
	struct chanlat_key key;
	struct chanlat_stats stats;
	char site[256];
};

struct chanlat {
	struct sonde_args args;
	bool hist;
	bool sched;
	const char *binary_path;
	struct chanlat_bpf *skel;
	struct sonde_rt_targets *targets;
	struct sonde_symbolizer *sym;
	struct row *rows;
	size_t n_rows, cap_rows;
	struct sonde_table table;
	struct sonde_json json;
};

static const struct sonde_option options[] = {
	{"hist", OPT_HIST, NULL, "also print a log2 histogram of blocked times per site and channel"},
	{"sched", OPT_SCHED, NULL, "also time ready -> running (scheduling latency) after each block"},
	{"binary", OPT_BINARY, "PATH", "trace every process running this Go binary"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct chanlat *c = ctx;

	switch (key) {
	case OPT_HIST:
		c->hist = true;
		return 0;
	case OPT_SCHED:
		c->sched = true;
		return 0;
	case OPT_BINARY:
		if (access(arg, R_OK)) {
			sonde_err("--binary %s: %m", arg);
			return SONDE_EXIT_USAGE;
		}
		c->binary_path = arg;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

/* ---- finding the Go runtime functions ---- */

/* Go 1.17 brought the register ABI (arguments in registers, g in r14)
 * that the BPF side reads. A development build ("devel go1.x-...") is
 * taken to be recent. */
static bool register_abi(const char *version)
{
	int minor;

	return sscanf(version, "go1.%d", &minor) != 1 || minor >= 17;
}

/* Every return of function i, or why they cannot all be probed. */
static int find_returns(int fd, const struct sonde_go_func *f, struct go_file *r, size_t i,
			const char *path)
{
	struct sonde_func_exit exits[MAX_RETS];
	int n = sonde_func_exits_fd(fd, f->entry, f->end, exits, MAX_RETS);

	if (n == -ENOTSUP) {
		sonde_err("%s: not an amd64 binary (chanlat reads amd64 Go registers)", path);
		return -1;
	}
	if (n < 0 || n > MAX_RETS) {
		sonde_err("%s: the return instructions of %s cannot be found (%s)", path, f->name,
			  n < 0 ? strerror(-n) : "too many");
		return -1;
	}
	for (int j = 0; j < n; j++) {
		if (exits[j].kind != SONDE_EXIT_RET) {
			sonde_err("%s: %s leaves by a %s at %#llx: its returns cannot all be probed",
				  path, f->name, sonde_func_exit_kind_name(exits[j].kind),
				  (unsigned long long)exits[j].vaddr);
			return -1;
		}
		r->rets[i][j] = exits[j].vaddr;
	}
	r->n_rets[i] = (unsigned)n;
	return 0;
}

static enum sonde_rt_class classify(int fd, const char *path, void *data, void *ctx)
{
	struct chanlat *c = ctx;
	struct go_file *r = data;
	struct sonde_go_buildinfo bi;
	struct sonde_gopclntab *t;
	size_t ops = 0;
	int err;

	if (sonde_go_buildinfo_read_fd(fd, &bi))
		return SONDE_RT_NOT_RUNTIME;
	if (!register_abi(bi.version)) {
		sonde_err("%s: built by %s; chanlat needs Go 1.17 or later (register ABI)", path,
			  bi.version);
		return SONDE_RT_UNUSABLE;
	}
	err = sonde_gopclntab_open_fd(fd, &t);
	if (err) {
		sonde_err("%s (%s): no function table: %s", path, bi.version, strerror(-err));
		return SONDE_RT_UNUSABLE;
	}
	for (size_t i = 0; i < N_OF(go_probes); i++) {
		struct sonde_go_func f;

		if (sonde_gopclntab_find(t, go_probes[i].func, &f, 1) < 1) {
			if (go_probes[i].need == REQUIRED ||
			    (go_probes[i].need == FOR_SCHED && c->sched)) {
				sonde_err("%s (%s): %s not found in its function table", path,
					  bi.version, go_probes[i].func);
				err = -ENOENT;
				break;
			}
			continue;
		}
		if (go_probes[i].return_prog && find_returns(fd, &f, r, i, path)) {
			err = -EINVAL;
			break;
		}
		r->present[i] = true;
		r->entry[i] = f.entry;
		ops += i < N_OP_PROBES;
	}
	sonde_gopclntab_free(t);
	if (!err && !ops) {
		sonde_err("%s (%s): does no channel operations (no chansend/chanrecv/select in it)",
			  path, bi.version);
		err = -ENOENT;
	}
	return err ? SONDE_RT_UNUSABLE : SONDE_RT_RUNTIME;
}

/* ---- attaching ---- */

static int attach_failed(int err, const char *what, const char *path)
{
	sonde_err("cannot attach to %s in %s: %s", what, path, strerror(err));
	return err == EPERM || err == EACCES ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
}

/* 0 or -errno. */
static int attach_at(struct chanlat *c, struct sonde_session *s, const char *prog_name,
		     const struct sonde_rt_file *f, uint64_t vaddr)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(c->skel->obj, prog_name);
	struct bpf_link *link = sonde_uprobe_attach_vaddr(prog, f->pid, f->path, vaddr);

	if (!link)
		return -errno;
	return sonde_session_add_link(s, link) ? -ENOSPC : 0;
}

static int attach_file(struct sonde_session *s, const struct sonde_rt_file *f, void *ctx)
{
	struct chanlat *c = ctx;
	const struct go_file *r = f->data;
	const char *what = NULL;
	int err = 0;

	for (size_t i = 0; i < N_OF(go_probes) && !err; i++) {
		const struct go_probe *p = &go_probes[i];

		if (!r->present[i] || (p->need == FOR_SCHED && !c->sched))
			continue;
		what = p->func;
		err = attach_at(c, s, p->entry_prog, f, r->entry[i]);
		for (unsigned j = 0; j < r->n_rets[i] && !err; j++)
			err = attach_at(c, s, p->return_prog, f, r->rets[i][j]);
	}
	/* Found through a process (/proc/PID/exe) that has exited since:
	 * nothing left to trace there, the others go on. */
	if (err == -ENOENT && f->pid < 0 && !strncmp(f->path, "/proc/", 6)) {
		sonde_info(1, "%s: the process exited before its probes were attached", f->path);
		return 0;
	}
	if (err)
		return attach_failed(-err, what, f->path);
	sonde_info(1, "tracing channel operations in %s%s", f->path,
		   f->pid < 0 ? " (every process running it)" : "");
	return 0;
}

static int attach_runtimes(struct sonde_session *s, void *ctx)
{
	struct chanlat *c = ctx;

	return sonde_rt_targets_attach(c->targets, s);
}

/* Read a process' mappings while it lives: its sites are named at the
 * next summary, maybe after it exited. */
static void on_process(pid_t pid, const struct sonde_rt_file *f, void *ctx)
{
	struct chanlat *c = ctx;

	(void)f;
	sonde_sym_user_prepare(c->sym, pid);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct chanlat *c = ctx;
	const struct chanlat_event *e = data;

	if (size < sizeof(*e))
		return 0;
	if (e->kind == CHANLAT_EVENT_EXEC)
		sonde_rt_targets_program_started(c->targets, (pid_t)e->pid);
	else if (e->kind == CHANLAT_EVENT_NEW_PROCESS)
		sonde_sym_user_prepare(c->sym, (pid_t)e->pid);
	return 0;
}

/* ---- summaries ---- */

/* Takes every entry out of the stats map: each summary covers the time
 * since the previous one. */
static int drain(struct chanlat *c)
{
	int fd = bpf_map__fd(c->skel->maps.stats);
	struct chanlat_key key, next;
	struct chanlat_key *keys = NULL;
	size_t n_keys = 0, cap = 0;
	bool first = true;

	c->n_rows = 0;
	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		if (SONDE_GROW(keys, cap, n_keys + 1, 256))
			break;
		keys[n_keys++] = next;
		key = next;
		first = false;
	}
	if (n_keys > c->cap_rows) {
		struct row *r = realloc(c->rows, n_keys * sizeof(*r));

		if (!r) {
			free(keys);
			sonde_err("out of memory reading %zu sites", n_keys);
			return -1;
		}
		c->rows = r;
		c->cap_rows = n_keys;
	}
	for (size_t i = 0; i < n_keys; i++) {
		struct row *r = &c->rows[c->n_rows];

		r->key = keys[i];
		if (!bpf_map_lookup_and_delete_elem(fd, &keys[i], &r->stats))
			c->n_rows++;
	}
	free(keys);
	return 0;
}

static int by_blocked_time(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->stats.total_blocked_ns != y->stats.total_blocked_ns)
		return x->stats.total_blocked_ns < y->stats.total_blocked_ns ? 1 : -1;
	if (x->stats.count != y->stats.count)
		return x->stats.count < y->stats.count ? 1 : -1;
	if (x->key.pid != y->key.pid)
		return x->key.pid < y->key.pid ? -1 : 1;
	return strcmp(x->site, y->site);
}

/* "main.worker (server.go:42)": the innermost frame at the call, so an
 * operation in an inlined function is named after that function. */
static void site_name(struct chanlat *c, const struct row *r, char *buf, size_t size)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t n = sonde_sym_user(c->sym, (pid_t)r->key.pid, r->key.site, true, frames,
				  SONDE_SYM_MAX_FRAMES);

	if (n)
		sonde_frame_format(&frames[0], SONDE_FRAME_LINE, buf, size);
	else
		snprintf(buf, size, "%#llx", (unsigned long long)r->key.site);
}

static void widen(const __u64 *slots, uint64_t wide[SONDE_HIST_SLOTS])
{
	memset(wide, 0, SONDE_HIST_SLOTS * sizeof(*wide));
	for (size_t i = 0; i < CHANLAT_HIST_SLOTS; i++)
		wide[i] = slots[i];
}

enum { COL_PID, COL_OP, COL_COUNT, COL_BLOCKED, COL_TOTAL, COL_MAX, COL_CHAN, COL_SITE,
       COL_SCHED_COUNT, COL_SCHED_TOTAL, COL_SCHED_MAX, N_COLS };

/* The scheduling columns come last: shown only with --sched. */
static const struct sonde_column columns[N_COLS] = {
	[COL_PID] = {"PID", 7, false},
	[COL_OP] = {"OP", 6, true},
	[COL_COUNT] = {"COUNT", 8, false},
	[COL_BLOCKED] = {"BLOCKED", 8, false},
	[COL_TOTAL] = {"TOTAL(ms)", 10, false},
	[COL_MAX] = {"MAX(ms)", 9, false},
	[COL_CHAN] = {"CHAN", 14, true},
	[COL_SITE] = {"SITE", 40, true},
	[COL_SCHED_COUNT] = {"RUN", 6, false},
	[COL_SCHED_TOTAL] = {"RUNLAT(ms)", 10, false},
	[COL_SCHED_MAX] = {"RUNMAX(ms)", 10, false},
};

static int print_row_table(struct chanlat *c, const struct row *r, const char *site)
{
	char pid[16], count[24], blocked[24], total[32], max[32], chan[24], scount[24],
	     stotal[32], smax[32];
	const char *cells[N_COLS];
	uint64_t wide[SONDE_HIST_SLOTS];

	snprintf(pid, sizeof(pid), "%u", r->key.pid);
	snprintf(count, sizeof(count), "%llu", (unsigned long long)r->stats.count);
	snprintf(blocked, sizeof(blocked), "%llu", (unsigned long long)r->stats.blocked_count);
	snprintf(total, sizeof(total), "%.3f", r->stats.total_blocked_ns / 1e6);
	snprintf(max, sizeof(max), "%.3f", r->stats.max_blocked_ns / 1e6);
	if (r->key.chan)
		snprintf(chan, sizeof(chan), "%#llx", (unsigned long long)r->key.chan);
	else
		snprintf(chan, sizeof(chan), "-");
	snprintf(scount, sizeof(scount), "%llu", (unsigned long long)r->stats.sched_count);
	snprintf(stotal, sizeof(stotal), "%.3f", r->stats.total_sched_ns / 1e6);
	snprintf(smax, sizeof(smax), "%.3f", r->stats.max_sched_ns / 1e6);
	cells[COL_PID] = pid;
	cells[COL_OP] = op_names[r->key.op];
	cells[COL_COUNT] = count;
	cells[COL_BLOCKED] = blocked;
	cells[COL_TOTAL] = total;
	cells[COL_MAX] = max;
	cells[COL_CHAN] = chan;
	cells[COL_SITE] = site;
	cells[COL_SCHED_COUNT] = scount;
	cells[COL_SCHED_TOTAL] = stotal;
	cells[COL_SCHED_MAX] = smax;
	if (sonde_table_row(&c->table, cells) < 0)
		return -1;
	if (c->hist && r->stats.blocked_count) {
		widen(r->stats.blocked_slots, wide);
		sonde_hist_print(stdout, wide, SONDE_HIST_SLOTS, "usecs blocked");
		if (c->sched && r->stats.sched_count) {
			widen(r->stats.sched_slots, wide);
			sonde_hist_print(stdout, wide, SONDE_HIST_SLOTS, "usecs ready->running");
		}
		/* The next row gets its own header: a histogram came between. */
		c->table.header_done = false;
	}
	return 0;
}

static int print_row_json(struct chanlat *c, const struct row *r, const char *site)
{
	struct sonde_json *j = &c->json;
	uint64_t wide[SONDE_HIST_SLOTS];
	char chan[24];

	sonde_json_begin(j);
	sonde_json_u64(j, "pid", r->key.pid);
	sonde_json_str(j, "op", op_names[r->key.op]);
	sonde_json_str(j, "site", site);
	if (r->key.chan) {
		snprintf(chan, sizeof(chan), "%#llx", (unsigned long long)r->key.chan);
		sonde_json_str(j, "chan", chan);
	} else {
		sonde_json_null(j, "chan");
	}
	sonde_json_u64(j, "count", r->stats.count);
	sonde_json_u64(j, "blocked_count", r->stats.blocked_count);
	sonde_json_u64(j, "total_blocked_ns", r->stats.total_blocked_ns);
	sonde_json_u64(j, "max_blocked_ns", r->stats.max_blocked_ns);
	if (c->sched) {
		sonde_json_u64(j, "sched_count", r->stats.sched_count);
		sonde_json_u64(j, "total_sched_ns", r->stats.total_sched_ns);
		sonde_json_u64(j, "max_sched_ns", r->stats.max_sched_ns);
	}
	if (c->hist) {
		widen(r->stats.blocked_slots, wide);
		sonde_hist_json(j, "blocked_us", wide, SONDE_HIST_SLOTS);
		if (c->sched) {
			widen(r->stats.sched_slots, wide);
			sonde_hist_json(j, "sched_us", wide, SONDE_HIST_SLOTS);
		}
	}
	return sonde_json_emit(j, stdout);
}

static int by_site(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->key.pid != y->key.pid)
		return x->key.pid < y->key.pid ? -1 : 1;
	if (x->key.op != y->key.op)
		return x->key.op < y->key.op ? -1 : 1;
	if (x->key.chan != y->key.chan)
		return x->key.chan < y->key.chan ? -1 : 1;
	return strcmp(x->site, y->site);
}

static void add_stats(struct chanlat_stats *to, const struct chanlat_stats *from)
{
	to->count += from->count;
	to->blocked_count += from->blocked_count;
	to->total_blocked_ns += from->total_blocked_ns;
	to->sched_count += from->sched_count;
	to->total_sched_ns += from->total_sched_ns;
	if (from->max_blocked_ns > to->max_blocked_ns)
		to->max_blocked_ns = from->max_blocked_ns;
	if (from->max_sched_ns > to->max_sched_ns)
		to->max_sched_ns = from->max_sched_ns;
	for (size_t i = 0; i < CHANLAT_HIST_SLOTS; i++) {
		to->blocked_slots[i] += from->blocked_slots[i];
		to->sched_slots[i] += from->sched_slots[i];
	}
}

/* Names every row's site, then merges rows whose sites have the same
 * name: a function inlined into several callers does its operation at
 * several addresses, but it is one line of source. */
static void name_and_merge(struct chanlat *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_rows; i++) {
		if (c->rows[i].key.op >= CHANLAT_N_OPS)
			continue;
		c->rows[n] = c->rows[i];
		site_name(c, &c->rows[n], c->rows[n].site, sizeof(c->rows[n].site));
		n++;
	}
	c->n_rows = 0;
	if (!n)
		return;
	qsort(c->rows, n, sizeof(*c->rows), by_site);
	for (size_t i = 0; i < n; i++) {
		struct row *last = c->n_rows ? &c->rows[c->n_rows - 1] : NULL;

		if (last && !by_site(last, &c->rows[i]))
			add_stats(&last->stats, &c->rows[i].stats);
		else
			c->rows[c->n_rows++] = c->rows[i];
	}
	qsort(c->rows, c->n_rows, sizeof(*c->rows), by_blocked_time);
}

static int print_summary(void *ctx)
{
	struct chanlat *c = ctx;

	if (drain(c))
		return -1;
	name_and_merge(c);
	if (c->args.format == SONDE_FMT_TABLE) {
		if (c->args.interval_ns) {
			char when[16];

			sonde_format_clock(sonde_mono_to_wall_ns(sonde_now_mono_ns()), when);
			printf("\n%s\n", when);
		}
		if (!c->n_rows)
			printf("no channel operations seen\n");
		c->table.header_done = false;
	}
	for (size_t i = 0; i < c->n_rows; i++) {
		const struct row *r = &c->rows[i];
		int rc = c->args.format == SONDE_FMT_JSON ? print_row_json(c, r, r->site)
							  : print_row_table(c, r, r->site);

		if (rc < 0)
			return -1;
	}
	return sonde_out_flush(stdout);
}

static int on_ready(void *ctx)
{
	struct chanlat *c = ctx;

	for (size_t i = 0; i < c->args.n_pids; i++)
		sonde_sym_user_prepare(c->sym, c->args.pids[i]);
	return 0;
}

static void destroy_skel(struct chanlat_bpf **skel)
{
	chanlat_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct chanlat c;
	const struct sonde_tool tool = {
		.name = "chanlat",
		.summary = "Show where goroutines block on channels, and for how long.",
		.description =
			"Per call site (the function and file:line that did the channel operation)\n"
			"and channel: how many sends, receives and selects ran, how many of them\n"
			"blocked, and the time blocked, from the goroutine parking to it being made\n"
			"ready again (total and maximum). A select is counted under the channel of\n"
			"the case it chose (none: its default). --sched also times the scheduling\n"
			"latency that followed (ready to running); --hist adds log2 histograms.\n"
			"A summary at the end, or every -i (each covering the interval).\n"
			"Go 1.17 or later on amd64; functions are found in the binary's own\n"
			"function table, so stripped binaries work. Only uprobes are used, at\n"
			"function entries and at return instructions found by decoding the code\n"
			"(uretprobes break Go programs).\n"
			"Targets: -p PID, --binary PATH (every process running that Go binary,\n"
			"now and later), or with neither every Go process: those running at start\n"
			"and those started later (probed when they exec).",
		.examples =
			"  sonde-chanlat -p 1234 -d 10          ten seconds of one process\n"
			"  sonde-chanlat --binary ./server -i 5 a summary every five seconds\n"
			"  sonde-chanlat --hist --sched -p 1234\n"
			"  sonde-chanlat -o json | jq 'select(.blocked_count > 0)'\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &c,
	};
	struct chanlat_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	const struct sonde_rt_kind go_kind = {
		.classify = classify,
		.data_size = sizeof(struct go_file),
		.attach = attach_file,
		.on_process = on_process,
		.process_what = "Go program (1.17+, amd64) doing channel operations",
		.file_what = "is no Go binary",
		.ctx = &c,
	};
	int rc = sonde_cli_parse(&tool, argc, argv, &c.args);
	bool follow = false;

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	rc = 0;
	if (c.binary_path && c.args.n_pids) {
		sonde_err("-p and --binary are two different targets: give one");
		rc = SONDE_EXIT_USAGE;
	}
	if (!rc) {
		c.targets = sonde_rt_targets_new(&go_kind);
		c.sym = sonde_symbolizer_new();
		if (!c.targets || !c.sym) {
			sonde_err("%m");
			rc = SONDE_EXIT_RUNTIME;
		}
	}
	/* Before reading other processes' files: without privileges, say
	 * that rather than "not a Go program". */
	if (!rc && !c.args.plan)
		rc = sonde_caps_check();
	if (!rc && !c.args.plan)
		rc = sonde_rt_targets_find(c.targets, c.binary_path, c.args.pids, c.args.n_pids);
	/* --plan reports what system-wide mode would attach. */
	if (!rc && c.args.plan && !c.args.n_pids && !c.binary_path)
		sonde_rt_targets_set_follow(c.targets, true);
	follow = !rc && sonde_rt_targets_follow(c.targets);
	if (!rc) {
		skel = SONDE_OPEN_SKELETON(chanlat_bpf);
		if (!skel) {
			sonde_err("cannot open the BPF object: %m");
			rc = SONDE_EXIT_RUNTIME;
		}
	}
	if (!rc) {
		c.skel = skel;
		skel->rodata->measure_sched = c.sched;
		sonde_table_init(&c.table, columns, c.sched ? N_COLS : COL_SCHED_COUNT, stdout);

		const struct sonde_session_config cfg = {
			.what = "channel operations",
			.args = &c.args,
			.obj = skel->obj,
			.probes = exec_probes,
			.n_probes = follow ? N_OF(exec_probes) : 0,
			.on_event = on_event,
			.on_ready = on_ready,
			.on_interval = print_summary,
			.on_end = print_summary,
			.attach_extra = attach_runtimes,
			.extra_progs = extra_progs,
			/* Sites are named from the processes' files at each
			 * summary; programs started later are probed. */
			.keep_caps = SONDE_KEEP_PROC_READ | (follow ? SONDE_KEEP_BPF : SONDE_KEEP_NONE),
			.ctx = &c,
		};
		rc = sonde_session_run(&cfg);
	}
	sonde_json_free(&c.json);
	free(c.rows);
	sonde_symbolizer_free(c.sym);
	sonde_rt_targets_free(c.targets);
	sonde_args_free(&c.args);
	return rc;
}

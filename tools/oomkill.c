/* sonde-oomkill: who was OOM-killed, by whose allocation, how big, and in
 * which memory cgroup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/features.h>
#include <sonde/kfunc_ranges.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/proc_open.h>
#include <sonde/session.h>
#include <sonde/tool_main.h>
#include <sonde/tp_proto.h>

#include "oomkill.h"
#include "oomkill.skel.h"

#define MEMCG_PATH_MAX (OOMKILL_MEMCG_DEPTH * OOMKILL_MEMCG_NAME + 8)

/* Functions an OOM kill's kernel stack passes through. Any of the first
 * group means a memory cgroup's charge hit its limit (some are inlined on
 * some builds, hence several); out_of_memory alone means the page
 * allocator (or sysrq-f) ran out. */
enum oom_path_func {
	FN_MEMCG_OOM, FN_MEMCG_OOM_INNER, FN_TRY_CHARGE_MEMCG, FN_TRY_CHARGE,
	FN_MEMCG_OOM_SYNC, FN_MEMCG1_OOM_SYNC, FN_OUT_OF_MEMORY, N_PATH_FUNCS,
};

static const char *const path_funcs[N_PATH_FUNCS] = {
	[FN_MEMCG_OOM] = "mem_cgroup_out_of_memory",
	[FN_MEMCG_OOM_INNER] = "mem_cgroup_oom",
	[FN_TRY_CHARGE_MEMCG] = "try_charge_memcg",
	[FN_TRY_CHARGE] = "try_charge",
	[FN_MEMCG_OOM_SYNC] = "mem_cgroup_oom_synchronize",
	[FN_MEMCG1_OOM_SYNC] = "memcg1_oom_synchronize",
	[FN_OUT_OF_MEMORY] = "out_of_memory",
};

struct oomkill {
	struct sonde_args args;
	FILE *kallsyms;		/* until oom_funcs is read from it */
	struct sonde_kfunc_ranges *oom_funcs;
	bool one_memory_node;	/* no cpuset or mempolicy constraint possible */
	struct sonde_table table;
	struct sonde_json json;
	struct oomkill_bpf *skel;
};

static const char *const constraint_names[] = {
	[OOMKILL_CONSTRAINT_UNKNOWN] = "unknown",
	[OOMKILL_CONSTRAINT_SYSTEM] = "system",
	[OOMKILL_CONSTRAINT_CPUSET] = "cpuset",
	[OOMKILL_CONSTRAINT_MEMPOLICY] = "mempolicy",
	[OOMKILL_CONSTRAINT_MEMCG] = "memcg",
};

/* Read at the first kill that needs them: reading kallsyms takes about
 * 45 ms, most of this tool's start-up, and OOM kills are rare. */
static const struct sonde_kfunc_ranges *oom_funcs(struct oomkill *o)
{
	if (o->kallsyms) {
		o->oom_funcs = sonde_kfunc_ranges_read(o->kallsyms, path_funcs, N_PATH_FUNCS);
		fclose(o->kallsyms);
		o->kallsyms = NULL;
		sonde_info(1, "%zu kernel OOM-path function ranges known for the constraint",
			   sonde_kfunc_ranges_count(o->oom_funcs));
	}
	return o->oom_funcs;
}

/* On the tracepoint path the kernel's verdict is out of reach; the stack
 * tells a memcg charge from the page allocator. The page allocator's OOM
 * is system-wide unless a cpuset or a memory policy narrowed the nodes,
 * which cannot happen with a single memory node. */
static enum oomkill_constraint constraint_from_stack(struct oomkill *o,
						     const struct oomkill_event *e)
{
	bool out_of_memory = false;
	int n = e->stack_bytes > 0 ? e->stack_bytes / 8 : 0;

	for (int i = 0; i < n && i < OOMKILL_STACK_DEPTH; i++) {
		int fn = sonde_kfunc_ranges_find(oom_funcs(o), e->stack[i]);

		if (fn >= 0 && fn < FN_OUT_OF_MEMORY)
			return OOMKILL_CONSTRAINT_MEMCG;
		if (fn == FN_OUT_OF_MEMORY)
			out_of_memory = true;
	}
	if (out_of_memory && o->one_memory_node)
		return OOMKILL_CONSTRAINT_SYSTEM;
	return OOMKILL_CONSTRAINT_UNKNOWN;
}

static const char *constraint_of(struct oomkill *o, const struct oomkill_event *e)
{
	enum oomkill_constraint c = e->constraint;

	if (c == OOMKILL_CONSTRAINT_UNKNOWN)
		c = constraint_from_stack(o, e);
	return c <= OOMKILL_CONSTRAINT_MEMCG ? constraint_names[c] : "unknown";
}

/* "/a/b/c" from the names leaf first; "" when unknown. A path deeper than
 * the kernel side copies starts with "/...". */
static void memcg_path(const struct oomkill_event *e, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	if (!(e->flags & OOMKILL_HAVE_MEMCG))
		return;
	if (e->flags & OOMKILL_MEMCG_TRUNCATED)
		len += snprintf(buf + len, size - len, "/...");
	for (int i = e->memcg_depth - 1; i >= 0 && len < size; i--)
		len += snprintf(buf + len, size - len, "/%.*s", OOMKILL_MEMCG_NAME,
				e->memcg_names[i]);
	if (!e->memcg_depth && len < size)
		snprintf(buf + len, size - len, "/");
}

static bool read_loadavg(double avg[3])
{
	FILE *f = fopen("/proc/loadavg", "re");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%lf %lf %lf", &avg[0], &avg[1], &avg[2]) == 3;
	fclose(f);
	return ok;
}

/* Without the victim's task at hand (pid-only mark_victim), its name is
 * read while the killed process still exists, if it does. */
enum { COL_TIME, COL_TPID, COL_TCOMM, COL_VPID, COL_VCOMM, COL_RSS, COL_CONSTRAINT,
       COL_MEMCG, N_COLS };

static const struct sonde_column columns[N_COLS] = {
	[COL_TIME] = {"TIME", 8, true},
	[COL_TPID] = {"TRIGGER_PID", 11, false},
	[COL_TCOMM] = {"TRIGGER_COMM", 16, true},
	[COL_VPID] = {"VICTIM_PID", 10, false},
	[COL_VCOMM] = {"VICTIM_COMM", 16, true},
	[COL_RSS] = {"RSS(MB)", 8, false},
	[COL_CONSTRAINT] = {"CONSTRAINT", 10, true},
	[COL_MEMCG] = {"MEMCG", 5, true},
};

struct row {
	const struct oomkill_event *e;
	uint64_t wall;
	const char *victim_comm;
	const char *constraint;
	const char *memcg;
};

static int print_table(struct oomkill *o, const struct row *r)
{
	const struct oomkill_event *e = r->e;
	char when[16], tpid[16], vpid[16], rss[32], tcomm[17];
	const char *cells[N_COLS];

	sonde_format_clock(r->wall, when);
	snprintf(tpid, sizeof(tpid), "%u", e->trigger_pid);
	snprintf(vpid, sizeof(vpid), "%u", e->victim_pid);
	snprintf(tcomm, sizeof(tcomm), "%.16s", e->trigger_comm);
	if (e->flags & OOMKILL_HAVE_FIGURES)
		snprintf(rss, sizeof(rss), "%.1f",
			 (e->anon_rss_kb + e->file_rss_kb + e->shmem_rss_kb) / 1024.0);
	else
		snprintf(rss, sizeof(rss), "-");
	cells[COL_TIME] = when;
	cells[COL_TPID] = tpid;
	cells[COL_TCOMM] = tcomm;
	cells[COL_VPID] = vpid;
	cells[COL_VCOMM] = r->victim_comm[0] ? r->victim_comm : "?";
	cells[COL_RSS] = rss;
	cells[COL_CONSTRAINT] = r->constraint;
	cells[COL_MEMCG] = r->memcg[0] ? r->memcg : "-";
	return sonde_table_row(&o->table, cells);
}

static void json_figure(struct sonde_json *j, const struct oomkill_event *e, const char *key,
			uint64_t kb)
{
	if (e->flags & OOMKILL_HAVE_FIGURES)
		sonde_json_u64(j, key, kb);
	else
		sonde_json_null(j, key);
}

static int print_json(struct oomkill *o, const struct row *r)
{
	const struct oomkill_event *e = r->e;
	struct sonde_json *j = &o->json;
	char id[SONDE_CONTAINER_ID_LEN + 1];
	const char *container = "";
	double avg[3];

	if (sonde_container_id_from_path(r->memcg, id))
		container = id;
	else
		container = sonde_container_of_pid(e->victim_pid);
	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", r->wall);
	sonde_json_u64(j, "victim_pid", e->victim_pid);
	sonde_json_str(j, "victim_comm", r->victim_comm);
	if (e->flags & OOMKILL_HAVE_VICTIM)
		sonde_json_u64(j, "victim_uid", e->victim_uid);
	else
		sonde_json_null(j, "victim_uid");
	sonde_json_u64(j, "trigger_pid", e->trigger_pid);
	sonde_json_strn(j, "trigger_comm", e->trigger_comm, strnlen(e->trigger_comm, 16));
	json_figure(j, e, "total_vm_kb", e->total_vm_kb);
	json_figure(j, e, "anon_rss_kb", e->anon_rss_kb);
	json_figure(j, e, "file_rss_kb", e->file_rss_kb);
	json_figure(j, e, "shmem_rss_kb", e->shmem_rss_kb);
	json_figure(j, e, "pgtables_kb", e->pgtables_kb);
	if (e->flags & OOMKILL_HAVE_VICTIM)
		sonde_json_i64(j, "oom_score_adj", e->oom_score_adj);
	else
		sonde_json_null(j, "oom_score_adj");
	if (e->flags & OOMKILL_HAVE_MEMCG)
		sonde_json_str(j, "memcg", r->memcg);
	else
		sonde_json_null(j, "memcg");
	sonde_json_str(j, "container", container);
	sonde_json_str(j, "constraint", r->constraint);
	if (read_loadavg(avg)) {
		sonde_json_array_begin(j, "loadavg");
		for (int i = 0; i < 3; i++)
			sonde_json_double(j, NULL, avg[i]);
		sonde_json_array_end(j);
	} else {
		sonde_json_null(j, "loadavg");
	}
	return sonde_json_emit(j, stdout);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct oomkill *o = ctx;
	const struct oomkill_event *e = data;
	char memcg[MEMCG_PATH_MAX], victim_comm[17];
	struct row r = {.e = e, .victim_comm = victim_comm, .memcg = memcg};

	if (size < sizeof(*e) || e->memcg_depth > OOMKILL_MEMCG_DEPTH)
		return 0;
	r.wall = sonde_mono_to_wall_ns(e->ts_ns);
	r.constraint = constraint_of(o, e);
	memcg_path(e, memcg, sizeof(memcg));
	if (e->flags & OOMKILL_HAVE_VICTIM)
		snprintf(victim_comm, sizeof(victim_comm), "%.16s", e->victim_comm);
	else
		sonde_comm_of(e->victim_pid, victim_comm);
	if (o->args.format == SONDE_FMT_JSON)
		return print_json(o, &r);
	return print_table(o, &r);
}

/* Both tables name the same alternatives; they differ in the tp_btf and
 * raw_tp mark_victim programs, which must match the tracepoint's prototype
 * on this kernel: PROTO is "task" or "pid". */
#define OOM_KILL_PROBE(proto) {							\
	.name = "OOM kills",							\
	.alts = {								\
		{SONDE_ATTACH_FENTRY, "kill_process_fentry", "oom_kill_process"},	\
		{SONDE_ATTACH_KPROBE, "kill_process_kprobe", "oom_kill_process"},	\
		{SONDE_ATTACH_TP_BTF, "mark_victim_" proto "_btf", "oom/mark_victim"},	\
		{SONDE_ATTACH_RAW_TP, "mark_victim_" proto "_raw", "oom/mark_victim"},	\
		{SONDE_ATTACH_TRACEPOINT, "mark_victim_tp", "oom/mark_victim"},	\
	},									\
}

static const struct sonde_probe probes_task_proto[] = {OOM_KILL_PROBE("task")};
static const struct sonde_probe probes_pid_proto[] = {OOM_KILL_PROBE("pid")};

/* Does oom:mark_victim pass the victim's task (6.9 and later, and stable
 * backports) rather than its pid? From the BTF prototype; without BTF
 * (where only raw_tp and the classic tracepoint can attach), from the
 * record, which gained the victim's figures in the same change. */
static bool mark_victim_passes_task(void)
{
	int kind = sonde_tp_arg_kind(sonde_vmlinux_btf(), "mark_victim", 0);
	const char *tracefs;
	char path[512], line[256];
	bool figures = false;
	FILE *f;

	if (kind >= 0)
		return kind == BTF_KIND_PTR;
	tracefs = sonde_tracefs();
	if (!tracefs)
		return false;
	snprintf(path, sizeof(path), "%s/events/oom/mark_victim/format", tracefs);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!figures && fgets(line, sizeof(line), f))
		figures = strstr(line, " total_vm;") != NULL;
	fclose(f);
	return figures;
}

/* /sys/devices/system/node/has_memory is "0" on one node, "0-1" or "0,2"
 * on more; absent without NUMA. */
static bool one_memory_node(void)
{
	FILE *f = fopen("/sys/devices/system/node/has_memory", "re");
	char nodes[256] = "";

	if (!f)
		return true;
	if (!fgets(nodes, sizeof(nodes), f))
		nodes[0] = 0;
	fclose(f);
	return !strpbrk(nodes, ",-");
}

static int setup(void *ctx, struct sonde_session_config *cfg)
{
	struct oomkill *o = ctx;
	bool task_proto;

	o->skel = SONDE_OPEN_SKELETON(oomkill_bpf);
	if (!o->skel) {
		sonde_err("cannot open the BPF object: %m");
		return SONDE_EXIT_RUNTIME;
	}
	o->skel->rodata->page_kb = sysconf(_SC_PAGESIZE) / 1024;
	task_proto = mark_victim_passes_task();
	sonde_info(1, "oom:mark_victim passes the victim's %s", task_proto ? "task" : "pid");
	/* Opened now, read later: kallsyms shows addresses only to a file
	 * opened with CAP_SYSLOG, which the session drops once attached, and
	 * the kernel decides that at open. */
	o->kallsyms = fopen("/proc/kallsyms", "re");
	o->one_memory_node = one_memory_node();
	sonde_table_init(&o->table, columns, N_COLS, stdout);
	*cfg = (struct sonde_session_config){
		.what = "OOM kills",
		.obj = o->skel->obj,
		.probes = task_proto ? probes_task_proto : probes_pid_proto,
		.n_probes = 1,
		.header = &o->table,
		.on_event = on_event,
		.ctx = o,
	};
	return 0;
}

static void teardown(void *ctx)
{
	struct oomkill *o = ctx;

	sonde_kfunc_ranges_free(o->oom_funcs);
	if (o->kallsyms)
		fclose(o->kallsyms);
	oomkill_bpf__destroy(o->skel);
	sonde_json_free(&o->json);
}

int main(int argc, char **argv)
{
	static struct oomkill o;
	const struct sonde_tool tool = {
		.name = "oomkill",
		.summary = "Trace OOM kills: victim, triggering task, memory figures, memory cgroup.",
		.description =
			"Each OOM kill is printed as it happens: the process killed (victim), the task\n"
			"whose allocation could not be satisfied (trigger), the victim's memory at the\n"
			"time (virtual size, anonymous, file and shmem RSS, page tables), its\n"
			"oom_score_adj and UID, the victim's memory cgroup (and container), whether\n"
			"the OOM was a memory cgroup hitting its limit (memcg) or the whole machine\n"
			"running out (system), and the load averages.\n"
			"-p matches the victim or the trigger; -c and -C match the victim's cgroup.",
		.examples =
			"  sonde-oomkill                        print OOM kills until Ctrl-C\n"
			"  sonde-oomkill -o json                as JSON Lines (memcg, loadavg, ...)\n"
			"  sonde-oomkill -c /sys/fs/cgroup/memory/batch   only victims in that cgroup\n"
			"  sonde-oomkill -C 3f2a1b -d 1h        only container 3f2a1b..., for an hour\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.ctx = &o,
	};
	const struct sonde_tool_main m = {&tool, &o.args, setup, teardown};

	return sonde_tool_main(&m, argc, argv);
}

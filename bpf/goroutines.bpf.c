// SPDX-License-Identifier: GPL-2.0
/* sonde-goroutines: every goroutine of the traced Go processes, from
 * uprobes user space attaches in the runtime (found through the binary's
 * pclntab, stripped or not):
 *   runtime.newproc1, entry     the go statement's pc and the function to
 *                               run, from the register arguments;
 *   runtime.newproc1, each RET  the new g (RAX): its goid, read at the
 *                               offset the binary's DWARF or Go release
 *                               gives. Never a uretprobe: one on Go code
 *                               crashes the program when its stack moves;
 *   runtime.goexit0, entry      a goroutine ends (its g in RAX).
 * newproc1 runs on the system stack of one thread from entry to return,
 * so the thread id pairs them. */
#include "sonde_events.bpf.h"
#include "sonde_exec.bpf.h"
#include "goroutines.h"

/* Each uprobe's cookie says how to read the binary it is attached to
 * (the Go releases of traced programs may differ): see goroutines.h. */
#define GOID_OFFSET(ctx) ((__u32)(bpf_get_attach_cookie(ctx) & GOROUTINES_COOKIE_OFFSET_MASK))
#define CALLERPC_REG(ctx) ((__u32)(bpf_get_attach_cookie(ctx) >> GOROUTINES_COOKIE_REG_SHIFT))

#define MAX_GOROUTINES (1 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_GOROUTINES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct goroutine_key);
	__type(value, struct goroutine);
} goroutines SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct site_key);
	__type(value, struct site_counts);
} sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tgid */
	__type(value, struct proc_counts);
} procs SEC(".maps");

/* newproc1 under way on a thread: what its entry saw. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* thread id */
	__type(value, struct goroutine);
} starting SEC(".maps");

static __always_inline void *lookup_or_init(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	if (bpf_map_update_elem(map, key, zero, BPF_NOEXIST) && !bpf_map_lookup_elem(map, key)) {
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

SEC("uprobe")
int newproc_entry(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct goroutine g = {};
	__u64 fn = BPF_CORE_READ(ctx, ax);	/* *funcval: its first word is the code */

	if (!sonde_current_selected())
		return 0;
	if (CALLERPC_REG(ctx) == GOROUTINES_CALLERPC_RSI)
		g.gopc = BPF_CORE_READ(ctx, si);
	else
		g.gopc = BPF_CORE_READ(ctx, cx);
	if (bpf_probe_read_user(&g.startpc, sizeof(g.startpc), (void *)fn))
		g.startpc = 0;
	if (bpf_map_update_elem(&starting, &tid, &g, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	return 0;
}

SEC("uprobe")
int newproc_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct goroutine *g = bpf_map_lookup_elem(&starting, &tid);
	struct goroutine_key key = {.tgid = id >> 32};
	struct site_key site = {.tgid = id >> 32};
	struct site_counts zero_site = {}, *sc;
	struct proc_counts zero_proc = {}, *pc;
	__u64 newg = BPF_CORE_READ(ctx, ax);

	if (!g)
		return 0;
	if (!newg || bpf_probe_read_user(&key.goid, sizeof(key.goid), (void *)(newg + GOID_OFFSET(ctx)))) {
		bpf_map_delete_elem(&starting, &tid);
		return 0;
	}
	g->created_ns = bpf_ktime_get_ns();
	site.gopc = g->gopc;
	site.startpc = g->startpc;
	if (bpf_map_update_elem(&goroutines, &key, g, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	bpf_map_delete_elem(&starting, &tid);
	sc = lookup_or_init(&sites, &site, &zero_site);
	if (sc)
		__sync_fetch_and_add(&sc->created, 1);
	pc = lookup_or_init(&procs, &key.tgid, &zero_proc);
	if (pc)
		__sync_fetch_and_add(&pc->created, 1);
	return 0;
}

SEC("uprobe")
int goexit(struct pt_regs *ctx)
{
	struct goroutine_key key = {.tgid = bpf_get_current_pid_tgid() >> 32};
	struct proc_counts zero_proc = {}, *pc;
	struct goroutine *g;
	__u64 gp = BPF_CORE_READ(ctx, ax);

	if (!sonde_current_selected())
		return 0;
	if (!gp || bpf_probe_read_user(&key.goid, sizeof(key.goid), (void *)(gp + GOID_OFFSET(ctx))))
		return 0;
	pc = lookup_or_init(&procs, &key.tgid, &zero_proc);
	if (pc)
		__sync_fetch_and_add(&pc->exited, 1);
	g = bpf_map_lookup_elem(&goroutines, &key);
	if (!g) {
		if (pc)
			__sync_fetch_and_add(&pc->untracked_exits, 1);
		return 0;
	}
	if (g->created_ns) {
		struct site_key site = {.tgid = key.tgid, .gopc = g->gopc, .startpc = g->startpc};
		struct site_counts *sc = bpf_map_lookup_elem(&sites, &site);

		if (sc)
			__sync_fetch_and_add(&sc->exited, 1);
	}
	bpf_map_delete_elem(&goroutines, &key);
	return 0;
}

/* ---- programs started later (system-wide mode) ---- */

static __always_inline int on_exec(void)
{
	struct goroutines_exec_event *e;

	if (!sonde_current_selected())
		return 0;
	e = sonde_event_reserve(sizeof(*e));
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	sonde_event_submit(e);
	return 0;
}

SONDE_PROGRAM_START_PROGS(on_exec)

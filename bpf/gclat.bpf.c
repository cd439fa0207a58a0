// SPDX-License-Identifier: GPL-2.0
/* sonde-gclat: garbage collections of Go, HotSpot and CPython processes,
 * from uprobes user space attaches at the runtimes' own entry points.
 *
 * Go has no USDT probes, and uretprobes must never be placed on Go code
 * (a moved goroutine stack meets the trampoline's return address and the
 * runtime throws), so a Go cycle is pieced together from function entries
 * alone, per process:
 *   runtime.gcResetMarkState   the runtime has committed to a cycle
 *   runtime.stopTheWorldWithSema   a stop-the-world begins (the first one
 *                              after the commitment is sweep termination,
 *                              where the runtime's gctrace clock starts)
 *   runtime.startTheWorldWithSema  it ends
 *   runtime.gcMarkTermination  mark termination (world stopped) is running:
 *                              the next start of the world ends the cycle.
 * HotSpot (gc__begin/gc__end) and CPython (gc__start/gc__done) mark both
 * ends of a collection with USDT probes, fired by the collecting thread.
 *
 * System-wide, every exec is reported too, for user space to probe the
 * runtimes of programs started after it. */
#include "sonde_events.bpf.h"
#include <bpf/usdt.bpf.h>
#include "sonde_exec.bpf.h"
#include "gclat.h"

/* Also send each Go stop-the-world pause of a cycle (--pauses). */
const volatile bool report_pauses = false;

#define GO_ARMED (1 << 0)	/* gcResetMarkState seen, cycle not begun */
#define GO_TERMINATING (1 << 1)	/* gcMarkTermination seen */

struct go_cycle {
	__u64 start_ns;		/* 0: no cycle under way */
	__u64 stw_start_ns;	/* 0: the world is running */
	__u64 pause_ns;
	__u32 pauses;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* tgid */
	__type(value, struct go_cycle);
} go_cycles SEC(".maps");

/* A collection begun by a thread of a JVM or CPython process. */
struct usdt_start {
	__u64 start_ns;
	__s32 generation;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);	/* thread id */
	__type(value, struct usdt_start);
} usdt_starts SEC(".maps");

static __always_inline struct gclat_event *new_event(__u8 runtime, __u64 now, __u64 start)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gclat_event *e = sonde_event_reserve(sizeof(*e));

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = now - start;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->runtime = runtime;
	/* The process' name: the collecting thread's own ("VM Thread",
	 * "GC Thread#0") says less. */
	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	return e;
}

static __always_inline struct go_cycle *go_state(bool create)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_cycle *c = bpf_map_lookup_elem(&go_cycles, &tgid);
	struct go_cycle zero = {};

	if (c || !create)
		return c;
	if (bpf_map_update_elem(&go_cycles, &tgid, &zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&go_cycles, &tgid)) {
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&go_cycles, &tgid);
}

SEC("uprobe")
int go_gc_commit(struct pt_regs *ctx)
{
	struct go_cycle *c;

	if (!sonde_current_selected())
		return 0;
	c = go_state(true);
	if (c && !c->start_ns)
		c->flags = GO_ARMED;
	return 0;
}

SEC("uprobe")
int go_stop_the_world(struct pt_regs *ctx)
{
	struct go_cycle *c = go_state(false);
	__u64 now = bpf_ktime_get_ns();

	if (!c)
		return 0;
	if (!c->start_ns && (c->flags & GO_ARMED)) {
		c->start_ns = now;
		c->flags &= ~GO_ARMED;
	}
	if (c->start_ns)
		c->stw_start_ns = now;
	return 0;
}

SEC("uprobe")
int go_mark_termination(struct pt_regs *ctx)
{
	struct go_cycle *c = go_state(false);

	if (c && c->start_ns)
		c->flags |= GO_TERMINATING;
	return 0;
}

SEC("uprobe")
int go_start_the_world(struct pt_regs *ctx)
{
	struct go_cycle *c = go_state(false);
	__u64 now = bpf_ktime_get_ns();
	struct gclat_event *e;

	if (!c || !c->start_ns || !c->stw_start_ns)
		return 0;
	c->pause_ns += now - c->stw_start_ns;
	c->pauses++;
	if (report_pauses) {
		e = new_event(GCLAT_GO, now, c->stw_start_ns);
		if (e) {
			e->kind = GCLAT_KIND_PAUSE;
			e->pause_ns = e->duration_ns;
			e->pauses = c->pauses;
			sonde_event_submit(e);
		}
	}
	c->stw_start_ns = 0;
	if (!(c->flags & GO_TERMINATING))
		return 0;
	e = new_event(GCLAT_GO, now, c->start_ns);
	if (e) {
		e->pause_ns = c->pause_ns;
		e->pauses = c->pauses;
		sonde_event_submit(e);
	}
	__builtin_memset(c, 0, sizeof(*c));
	return 0;
}

static __always_inline int usdt_begin(__s32 generation)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct usdt_start s = {.start_ns = bpf_ktime_get_ns(), .generation = generation};

	if (!sonde_current_selected())
		return 0;
	if (bpf_map_update_elem(&usdt_starts, &tid, &s, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	return 0;
}

static __always_inline int usdt_end(__u8 runtime, __s64 collected)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct usdt_start *s = bpf_map_lookup_elem(&usdt_starts, &tid);
	struct gclat_event *e;

	if (!s)
		return 0;
	e = new_event(runtime, bpf_ktime_get_ns(), s->start_ns);
	if (e) {
		e->generation = s->generation;
		e->collected = collected;
		sonde_event_submit(e);
	}
	bpf_map_delete_elem(&usdt_starts, &tid);
	return 0;
}

SEC("usdt")
int BPF_USDT(java_gc_begin, int full)
{
	return usdt_begin(-1);
}

SEC("usdt")
int BPF_USDT(java_gc_end)
{
	return usdt_end(GCLAT_JAVA, -1);
}

SEC("usdt")
int BPF_USDT(python_gc_start, int generation)
{
	return usdt_begin(generation);
}

SEC("usdt")
int BPF_USDT(python_gc_done, long collected)
{
	return usdt_end(GCLAT_PYTHON, collected);
}

/* ---- programs started later (system-wide mode) ---- */

static __always_inline int on_exec(void)
{
	struct gclat_event *e;

	if (!sonde_current_selected())
		return 0;
	e = new_event(GCLAT_GO, bpf_ktime_get_ns(), 0);
	if (!e)
		return 0;
	e->kind = GCLAT_KIND_EXEC;
	sonde_event_submit(e);
	return 0;
}

SONDE_PROGRAM_START_PROGS(on_exec)

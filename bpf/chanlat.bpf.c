// SPDX-License-Identifier: GPL-2.0
/* sonde-chanlat: where goroutines block on channels, and for how long,
 * from uprobes user space places in Go's runtime (Go 1.17+ on amd64: the
 * register ABI, the current goroutine's g in r14).
 *
 * An operation is followed from the runtime function the compiler calls
 * for it to that function's return instructions (never a uretprobe: it
 * breaks Go programs whose stacks move):
 *   chansend1(c, elem)                      c <- v          RAX = c
 *   chanrecv1(c, elem), chanrecv2(c, elem)  <-c, v, ok := <-c, range
 *   selectgo(cas0, order0, pc0, nsends, nrecvs, block) -> (casi, recvOK)
 *                                           a select of several cases;
 *                                           the chosen case's channel is
 *                                           cas0[casi].c at the return
 *   selectnbsend(c, elem), selectnbrecv(elem, c)  a select with one case
 *                                           and a default: never blocks,
 *                                           but is counted at its return
 *                                           like the others: an entry
 *                                           probe can fire twice for one
 *                                           call (see op_begin).
 * In between, the goroutine may park and be made ready again:
 *   gopark(...)         runs on the goroutine itself (r14 = its g)
 *   ready(gp, ...)      runs on the waker's system stack: RAX = the g
 *                       made runnable (goready, what channel wakes use)
 *   execute(gp, ...)    the scheduler runs gp: RAX = gp (--sched only:
 *                       it runs at every goroutine switch).
 * Blocked time is park -> ready, summed over the parks within the
 * operation; scheduling latency is ready -> execute. State in flight is
 * keyed by (process, g): a goroutine moves between threads while parked,
 * so thread ids would not find it again. */
#include "sonde_events.bpf.h"
#include "sonde_exec.bpf.h"
#include "chanlat.h"

/* Also time ready -> running (--sched; execute is probed only then). */
const volatile bool measure_sched = false;

/* An amd64 scase is {c *hchan, elem unsafe.Pointer}. */
#define SCASE_SIZE 16

struct g_key {
	__u64 g;
	__u32 tgid;
	__u32 pad;
};

struct in_flight {
	__u64 site;
	__u64 chan;
	__u64 cas0_off;		/* selectgo's case array, from the stack pointer */
	__u64 park_ns;		/* 0: not parked */
	__u64 ready_ns;		/* 0: not waiting to run */
	__u64 blocked_ns;
	__u64 sched_ns;
	__u32 parks;
	__u32 scheds;
	__u32 op;
};

/* LRU: an operation that never returns (a send on a closed channel
 * panics) leaves its entry behind; the oldest go first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct g_key);
	__type(value, struct in_flight);
} in_flight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct chanlat_key);
	__type(value, struct chanlat_stats);
} stats SEC(".maps");

/* A zeroed value to create stats entries from: too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chanlat_stats);
} zero_stats SEC(".maps");

/* Processes seen, so user space hears of each once (it then reads the
 * process' mappings, to name sites after the process exits). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} seen_pids SEC(".maps");

static __always_inline void send_event(__u32 pid, __u32 kind)
{
	struct chanlat_event *e = sonde_event_reserve(sizeof(*e));

	if (!e)
		return;
	e->pid = pid;
	e->kind = kind;
	sonde_event_submit(e);
}

static __always_inline void note_process(__u32 tgid)
{
	__u8 one = 1;

	if (bpf_map_lookup_elem(&seen_pids, &tgid))
		return;
	bpf_map_update_elem(&seen_pids, &tgid, &one, BPF_ANY);
	send_event(tgid, CHANLAT_EVENT_NEW_PROCESS);
}

static __always_inline __u32 log2_slot(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 slot = 0;

	for (int i = 0; i < CHANLAT_HIST_SLOTS - 1; i++) {
		if (us < 2)
			break;
		us >>= 1;
		slot++;
	}
	return slot;
}

static __always_inline void set_max(__u64 *max, __u64 v)
{
	/* Racy against another CPU updating the same site: a maximum may
	 * be lost in a tie of microseconds, never a count. */
	if (v > *max)
		*max = v;
}

static __always_inline struct chanlat_stats *stats_of(const struct chanlat_key *key)
{
	struct chanlat_stats *s = bpf_map_lookup_elem(&stats, key);
	__u32 zero = 0;
	struct chanlat_stats *init;

	if (s)
		return s;
	init = bpf_map_lookup_elem(&zero_stats, &zero);
	if (!init)
		return NULL;
	if (bpf_map_update_elem(&stats, key, init, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&stats, key)) {
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&stats, key);
}

static __always_inline void account(__u32 tgid, const struct in_flight *op)
{
	struct chanlat_key key = {.site = op->site, .chan = op->chan, .pid = tgid, .op = op->op};
	struct chanlat_stats *s = stats_of(&key);

	if (!s)
		return;
	__sync_fetch_and_add(&s->count, 1);
	if (op->parks) {
		__sync_fetch_and_add(&s->blocked_count, 1);
		__sync_fetch_and_add(&s->total_blocked_ns, op->blocked_ns);
		set_max(&s->max_blocked_ns, op->blocked_ns);
		__sync_fetch_and_add(&s->blocked_slots[log2_slot(op->blocked_ns)], 1);
	}
	if (op->scheds) {
		__sync_fetch_and_add(&s->sched_count, 1);
		__sync_fetch_and_add(&s->total_sched_ns, op->sched_ns);
		set_max(&s->max_sched_ns, op->sched_ns);
		__sync_fetch_and_add(&s->sched_slots[log2_slot(op->sched_ns)], 1);
	}
}

/* The return address at a function's entry: where in the caller the
 * operation was. */
static __always_inline __u64 call_site(struct pt_regs *ctx)
{
	__u64 ret = 0;

	bpf_probe_read_user(&ret, sizeof(ret), (void *)ctx->sp);
	return ret;
}

/* At the entry, before the function's stack check. A check that fails
 * (the stack must grow, or the scheduler asked for preemption through the
 * stack guard) calls morestack and then runs the function again from its
 * first instruction: the entry probe fires once more for the same call.
 * So the entry only remembers the operation, overwriting what an earlier
 * run of the same prologue left; it is counted at a return.
 *
 * cas0: selectgo's case array, which lives in its caller's frame. The
 * runtime may move the goroutine's stack while it is parked, so the array
 * is remembered relative to the stack pointer: at a return instruction
 * the stack pointer is where it was at the entry, on whichever stack. */
static __always_inline int op_begin(struct pt_regs *ctx, __u32 op, __u64 chan, __u64 cas0)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct g_key key = {.g = ctx->r14, .tgid = pid_tgid >> 32};
	struct in_flight f = {.site = call_site(ctx), .chan = chan, .cas0_off = cas0 - ctx->sp,
			      .op = op};

	if (!sonde_current_selected())
		return 0;
	note_process(key.tgid);
	if (bpf_map_update_elem(&in_flight, &key, &f, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	return 0;
}

static __always_inline struct in_flight *find(__u64 g)
{
	struct g_key key = {.g = g, .tgid = bpf_get_current_pid_tgid() >> 32};

	return bpf_map_lookup_elem(&in_flight, &key);
}

static __always_inline int op_end(struct pt_regs *ctx, bool select)
{
	struct g_key key = {.g = ctx->r14, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct in_flight *f = bpf_map_lookup_elem(&in_flight, &key);
	__u64 now = bpf_ktime_get_ns();

	if (!f)
		return 0;
	/* Woken without ready() (e.g. from the netpoller's list): the wait
	 * lasted until now. */
	if (f->park_ns) {
		f->blocked_ns += now - f->park_ns;
		f->parks++;
		f->park_ns = 0;
	}
	if (select) {
		long casi = (long)ctx->ax;
		__u64 chan = 0;

		if (casi >= 0 && casi < 65536)
			bpf_probe_read_user(&chan, sizeof(chan),
					    (void *)(ctx->sp + f->cas0_off + casi * SCASE_SIZE));
		f->chan = chan;
	}
	account(key.tgid, f);
	bpf_map_delete_elem(&in_flight, &key);
	return 0;
}

SEC("uprobe")
int chan_send(struct pt_regs *ctx)
{
	return op_begin(ctx, CHANLAT_SEND, ctx->ax, 0);
}

SEC("uprobe")
int chan_recv(struct pt_regs *ctx)
{
	return op_begin(ctx, CHANLAT_RECV, ctx->ax, 0);
}

SEC("uprobe")
int chan_select(struct pt_regs *ctx)
{
	return op_begin(ctx, CHANLAT_SELECT, 0, ctx->ax);
}

SEC("uprobe")
int chan_nb_send(struct pt_regs *ctx)
{
	return op_begin(ctx, CHANLAT_SELECT, ctx->ax, 0);
}

SEC("uprobe")
int chan_nb_recv(struct pt_regs *ctx)
{
	return op_begin(ctx, CHANLAT_SELECT, ctx->bx, 0);
}

SEC("uprobe")
int chan_return(struct pt_regs *ctx)
{
	return op_end(ctx, false);
}

SEC("uprobe")
int select_return(struct pt_regs *ctx)
{
	return op_end(ctx, true);
}

SEC("uprobe")
int go_park(struct pt_regs *ctx)
{
	struct in_flight *f = find(ctx->r14);

	if (f)
		f->park_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uprobe")
int go_ready(struct pt_regs *ctx)
{
	struct in_flight *f = find(ctx->ax);
	__u64 now;

	if (!f || !f->park_ns)
		return 0;
	now = bpf_ktime_get_ns();
	f->blocked_ns += now - f->park_ns;
	f->parks++;
	f->park_ns = 0;
	if (measure_sched)
		f->ready_ns = now;
	return 0;
}

SEC("uprobe")
int go_execute(struct pt_regs *ctx)
{
	struct in_flight *f = find(ctx->ax);

	if (!f || !f->ready_ns)
		return 0;
	f->sched_ns += bpf_ktime_get_ns() - f->ready_ns;
	f->scheds++;
	f->ready_ns = 0;
	return 0;
}

/* ---- programs started later (system-wide mode) ---- */

static __always_inline int on_exec(void)
{
	if (sonde_current_selected())
		send_event(bpf_get_current_pid_tgid() >> 32, CHANLAT_EVENT_EXEC);
	return 0;
}

SONDE_PROGRAM_START_PROGS(on_exec)

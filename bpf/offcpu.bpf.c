// SPDX-License-Identifier: GPL-2.0
/* sonde-offcpu: time tasks spend blocked, by stack. When a task leaves the
 * CPU its stacks and the time are remembered; when it runs again the time
 * it was away is added to the totals of those stacks. With --waker, the
 * stacks of whoever woke it are part of the key too. A user stack that
 * frame pointers cannot walk is copied at the switch-out straight into a
 * ring buffer record for DWARF unwinding in user space; when the block
 * ends, a small record with its key and time follows if it counts, and
 * user space joins the two by thread. */
#include "sonde_unwind.bpf.h"
#include "offcpu.h"

#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_NOLOAD 0x400
#define TASK_DEAD 0x80

const volatile __u64 min_block_ns = 1000;
const volatile __u64 max_block_ns = ~0ull;
const volatile __u32 state_classes = 0;	/* 0: any */
const volatile bool state_raw = false;	/* --state NUMBER: raw TASK_* bits */
const volatile __u32 state_raw_mask = 0;
const volatile __u32 threads = OFFCPU_ALL_THREADS;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool track_wakers = false;

/* user_stack_id of a task whose user stack was copied to user space. */
#define USER_STACK_COPIED (-0x10001)

struct switched_out {
	__u64 ts_ns;		/* when it left the CPU; 0: back on it */
	__u64 runtime_ns;	/* the task's CPU time so far (se.sum_exec_runtime) */
	__u64 user_caller;
	__u32 pid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

struct waker {
	__u32 pid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[16];
};

/* Per thread, its block in progress: written when it leaves the CPU,
 * ended (ts_ns 0) when it gets the CPU back. An entry stays while its
 * thread lives and is written in place, so a switch costs two lookups
 * rather than an insert and a delete, each of which takes a bucket lock
 * and moves an element between free lists; the thread's last switch
 * removes it. LRU: should a removal be missed, the entries of threads
 * long gone are the ones given up first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);	/* tid */
	__type(value, struct switched_out);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);	/* tid of the task woken */
	__type(value, struct waker);
} wakers SEC(".maps");

static __always_inline __u32 state_class(bool preempt, __u32 state)
{
	if (preempt || state == 0)
		return OFFCPU_STATE_R;
	if (state & TASK_INTERRUPTIBLE)
		return OFFCPU_STATE_S;
	if (state & TASK_UNINTERRUPTIBLE)
		return state & TASK_NOLOAD ? OFFCPU_STATE_I : OFFCPU_STATE_D;
	return OFFCPU_STATE_OTHER;
}

static __always_inline bool state_wanted(bool preempt, __u32 state)
{
	if (state_raw)
		return state_raw_mask ? (state & state_raw_mask) != 0 : state == 0;
	return !state_classes || (state_class(preempt, state) & state_classes);
}

static __always_inline bool threads_wanted(__u32 flags)
{
	bool kthread = flags & SONDE_PF_KTHREAD;

	if (threads == OFFCPU_USER_THREADS)
		return !kthread;
	if (threads == OFFCPU_KERNEL_THREADS)
		return kthread;
	return true;
}

/* The user stack of prev (current): a stack id, or USER_STACK_COPIED
 * when it was copied to user space, to be unwound there and joined with
 * the block's end (send_ended). With the ring buffer full, the frame
 * pointers walk it: the block's time is kept. */
static __always_inline __s32 user_stack(void *ctx, __u32 flags, __u32 tid, __u32 pid,
					__u64 *caller)
{
	struct sonde_user_start at;
	struct sonde_stack_key key = {};
	struct pt_regs *regs;

	if (flags & SONDE_PF_KTHREAD)
		return SONDE_STACK_NONE;
	regs = sonde_user_regs();
	if (!sonde_user_stack_copied(pid, regs, caller))
		return sonde_stack_id(ctx, true);
	sonde_user_start_at(&at, regs);
	key.pid = pid;
	key.tid = tid;
	if (sonde_send_user_sample(&at, &key, 0, SONDE_SAMPLE_PENDING)) {
		sonde_stat_inc(OFFCPU_STAT_COPY_NO_ROOM);
		return sonde_stack_id(ctx, true);
	}
	return USER_STACK_COPIED;
}

/* A counted block of a task whose user stack was copied: its key and
 * time, for user space to add to the copy's stack. */
static __always_inline void send_ended(const struct sonde_stack_key *key, __u64 delta)
{
	struct sonde_stack_ended *e = sonde_event_reserve(sizeof(*e));

	if (!e)
		return;
	e->key = *key;
	e->key.user_stack_id = SONDE_STACK_NONE;
	e->value = delta;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* The block out (of task tid) ended at end: add it to the totals of its
 * stacks, and mark it ended. */
static __always_inline void block_ended(__u32 tid, struct switched_out *out, __u64 end)
{
	struct sonde_stack_key key = {};
	struct waker *w;
	__u64 delta = end > out->ts_ns ? end - out->ts_ns : 0;

	key.pid = out->pid;
	key.tid = tid;
	key.user_stack_id = out->user_stack_id;
	key.kernel_stack_id = out->kernel_stack_id;
	key.other_user_stack_id = SONDE_STACK_NONE;
	key.other_kernel_stack_id = SONDE_STACK_NONE;
	key.user_caller = out->user_caller;
	__builtin_memcpy(key.comm, out->comm, sizeof(key.comm));
	out->ts_ns = 0;
	if (track_wakers) {
		w = bpf_map_lookup_elem(&wakers, &tid);
		if (w) {
			key.other_pid = w->pid;
			key.other_user_stack_id = w->user_stack_id;
			key.other_kernel_stack_id = w->kernel_stack_id;
			__builtin_memcpy(key.other_comm, w->comm, sizeof(key.other_comm));
			bpf_map_delete_elem(&wakers, &tid);
		}
	}
	if (delta < min_block_ns || delta > max_block_ns)
		return;
	if (key.user_stack_id == USER_STACK_COPIED)
		send_ended(&key, delta);
	else
		sonde_stack_add(&key, delta);
}

static __always_inline void switch_in(__u32 tid, __u64 now)
{
	struct switched_out *out = bpf_map_lookup_elem(&blocked, &tid);

	if (out && out->ts_ns)
		block_ended(tid, out, now);
}

/* The task leaving the CPU is current: its stacks are the ones
 * bpf_get_stackid sees, and its fields are read through the BTF-typed
 * pointer bpf_get_current_task_btf() gives, with plain loads rather than
 * a probe read each (whatever the attach type: raw_tp and classic
 * tracepoints pass untyped task pointers). */
static __always_inline void switch_out(void *ctx, bool preempt, __u64 now)
{
	struct task_struct *prev = bpf_get_current_task_btf();
	struct switched_out out = {.ts_ns = now}, *entry;
	__u32 tid = prev->pid, state, flags;
	__u64 runtime;

	if (!tid || !sonde_current_selected())
		return;
	runtime = prev->se.sum_exec_runtime;
	entry = bpf_map_lookup_elem(&blocked, &tid);
	/* Still blocked, as far as we know, yet running: the switch that
	 * put it back on a CPU was not seen. It has been running since then
	 * (a switch away would be this one), so it came back as long ago as
	 * the CPU time it used since it left. */
	if (entry && entry->ts_ns) {
		sonde_stat_inc(OFFCPU_STAT_RESUME_UNSEEN);
		block_ended(tid, entry, now - (runtime - entry->runtime_ns));
	}
	state = prev->__state;
	flags = prev->flags;
	/* A task's last switch (it exited) never ends: nothing to time, and
	 * a copy of its stack would wait in user space for good. */
	if (state & TASK_DEAD) {
		if (entry)
			bpf_map_delete_elem(&blocked, &tid);
		return;
	}
	if (!state_wanted(preempt, state) || !threads_wanted(flags))
		return;
	out.runtime_ns = runtime;
	out.pid = prev->tgid;
	out.user_stack_id = user_stacks ? user_stack(ctx, flags, tid, out.pid, &out.user_caller)
					: SONDE_STACK_NONE;
	out.kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	bpf_get_current_comm(out.comm, sizeof(out.comm));
	/* On failure a copy already sent waits in user space until the
	 * task's next one replaces it. */
	if (entry)
		*entry = out;
	else if (bpf_map_update_elem(&blocked, &tid, &out, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
}

static __always_inline int on_switch(void *ctx, bool preempt, __u32 next_tid)
{
	__u64 now = bpf_ktime_get_ns();

	switch_out(ctx, preempt, now);
	switch_in(next_tid, now);
	return 0;
}

/* current wakes the task tid: remember who, only for tasks we track. */
static __always_inline int on_waking(void *ctx, __u32 tid)
{
	struct switched_out *out = bpf_map_lookup_elem(&blocked, &tid);
	__u64 id = bpf_get_current_pid_tgid();
	struct waker w = {};

	if (!out || !out->ts_ns)
		return 0;
	w.pid = id >> 32;
	w.user_stack_id = user_stacks && (__u32)id ? sonde_stack_id(ctx, true) : SONDE_STACK_NONE;
	w.kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	if (bpf_map_update_elem(&wakers, &tid, &w, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, next->pid);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, BPF_CORE_READ(next, pid));
}

/* The classic tracepoint's record (format file layout); it has no task
 * pointers, but the task switching out is still current. */
struct sched_switch_record {
	__u64 common;
	char prev_comm[16];
	__s32 prev_pid;
	__s32 prev_prio;
	long prev_state;
	char next_comm[16];
	__s32 next_pid;
	__s32 next_prio;
};

SEC("tracepoint/sched/sched_switch")
int switch_tp(struct sched_switch_record *ctx)
{
	return on_switch(ctx, false, ctx->next_pid);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(waking_btf, struct task_struct *p)
{
	return on_waking(ctx, p->pid);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(waking_raw, struct task_struct *p)
{
	return on_waking(ctx, BPF_CORE_READ(p, pid));
}

struct sched_waking_record {
	__u64 common;
	char comm[16];
	__s32 pid;
	__s32 prio;
	__s32 target_cpu;
};

SEC("tracepoint/sched/sched_waking")
int waking_tp(struct sched_waking_record *ctx)
{
	return on_waking(ctx, ctx->pid);
}

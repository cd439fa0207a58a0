/* BPF side of --unwind: per process, the code ranges that frame pointers
 * do not walk right (filled by lib/stacks_unwind.c), and the copy of a
 * user stack for DWARF unwinding in user space. */
#ifndef SONDE_UNWIND_BPF_H
#define SONDE_UNWIND_BPF_H

#include "sonde_stacks.bpf.h"
#include "../lib/include/sonde/unwind_ranges.h"

const volatile __u32 sonde_unwind_mode = SONDE_UNWIND_AUTO;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);	/* pid */
	__type(value, struct sonde_code_ranges);
} sonde_code_ranges SEC(".maps");

/* How the code at addr is walked. A global function, which the verifier
 * checks once: inlined, each step of the loop was a branch of its own in
 * each of the caller's paths, for a third of the program's load time. (A
 * binary search costs the verifier more still: each step's bounds are
 * constants it follows apart.) */
__noinline __u32 sonde_code_kind_at(const struct sonde_code_ranges *r, __u64 addr)
{
	if (!r)
		return SONDE_CODE_FRAME_POINTERS;
	for (__u32 i = 0; i < SONDE_CODE_RANGES; i++) {
		if (i >= r->n)
			break;
		if (addr >= r->r[i].start && addr < r->r[i].end)
			return r->r[i].kind;
	}
	return SONDE_CODE_FRAME_POINTERS;
}

/* Whether the user stack of current (process pid, user registers regs)
 * is copied for DWARF rather than walked by frame pointers; for Go code,
 * sets *caller to the return address at the stack pointer. */
static __always_inline bool sonde_user_stack_copied(__u32 pid, struct pt_regs *regs, __u64 *caller)
{
	const struct sonde_code_ranges *r;
	__u64 ret;

	*caller = 0;
	if (sonde_unwind_mode == SONDE_UNWIND_DWARF)
		return true;
	r = bpf_map_lookup_elem(&sonde_code_ranges, &pid);
	if (!r)
		return false;	/* not classified yet */
	switch (sonde_code_kind_at(r, PT_REGS_IP_CORE(regs))) {
	case SONDE_CODE_NO_FRAME_POINTERS:
		return sonde_unwind_mode == SONDE_UNWIND_AUTO;
	case SONDE_CODE_GO:
		/* Only a word that points into Go code: anything else would
		 * split the totals of one stack by a local variable's value. */
		if (!bpf_probe_read_user(&ret, sizeof(ret), (void *)PT_REGS_SP_CORE(regs)) &&
		    sonde_code_kind_at(r, ret) == SONDE_CODE_GO)
			*caller = ret;
		return false;
	}
	return r->all_no_fp && sonde_unwind_mode == SONDE_UNWIND_AUTO;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SONDE_STACK_ENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);	/* tid */
	__type(value, __u64);	/* where its stack ends (unwind_ranges.h) */
} sonde_stack_ends SEC(".maps");

/* The user registers a copied sample starts its walk from. */
struct sonde_user_start {
	__u64 ip, sp, bp;
	__u32 tid;
	__u32 unused;
};

/* The user registers regs of current, where its copied sample starts. */
static __always_inline void sonde_user_start_at(struct sonde_user_start *at, struct pt_regs *regs)
{
	at->ip = PT_REGS_IP_CORE(regs);
	at->sp = PT_REGS_SP_CORE(regs);
	at->bp = PT_REGS_FP_CORE(regs);
	at->tid = (__u32)bpf_get_current_pid_tgid();
	at->unused = 0;
}

/* Copied stacks are big (up to 8 KiB) and, in a busy system, many: user
 * space is woken once the ring buffer is a quarter full rather than for
 * each one (a wakeup costs it more than reading one). The session reads
 * what is left at each tick, before each interval's report and at the
 * end. */
static __always_inline void sonde_user_sample_submit(struct sonde_user_sample *e)
{
	bpf_ringbuf_submit(e, sonde_events_filling() ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* A sample record with room for room bytes of stack (a constant, so that
 * the reservation has a size the verifier knows), filled in but for the
 * copy; NULL when the ring is full. */
static __always_inline struct sonde_user_sample *sonde_sample_with_room(
	const struct sonde_user_start *at, const struct sonde_stack_key *key, __u64 value,
	__u32 flags, __u64 end, const __u32 room)
{
	struct sonde_user_sample *e = bpf_ringbuf_reserve(&events, SONDE_USER_SAMPLE_SIZE(room), 0);

	if (!e)
		return NULL;
	e->key = *key;
	e->value = value;
	e->flags = flags;
	e->ip = at->ip;
	e->sp = at->sp;
	e->bp = at->bp;
	e->tid = at->tid;
	e->stack_end = end;
	e->unused = 0;
	e->stack_len = 0;
	return e;
}

/* The stack from the stack pointer up to the thread's known end, want
 * bytes, in one read into a record sized for it, sent. A read that fails
 * (the end is stale) leaves the copy empty: the walk then falls short,
 * and user space forgets the end. */
static __always_inline int sonde_send_to_end(const struct sonde_user_start *at,
					     const struct sonde_stack_key *key, __u64 value,
					     __u32 flags, __u64 end, __u64 want, const __u32 room)
{
	struct sonde_user_sample *e = sonde_sample_with_room(at, key, value, flags, end, room);

	if (!e)
		return -1;
	/* Bounded where it is used: older verifiers (6.1) lose a bound
	 * checked on another copy of the value. */
	barrier_var(want);
	if (want <= room && !bpf_probe_read_user(e->stack, want, (void *)at->sp))
		e->stack_len = want;
	sonde_user_sample_submit(e);
	return 0;
}

/* Sends a ring buffer record holding the user registers and stack of
 * current (where at says), with key, value and flags; -1 when the ring
 * buffer is full. Where user space has learned the thread's stack end,
 * the copy reaches just that far and the record is sized for it;
 * elsewhere it holds SONDE_USER_STACK_BYTES, copied piece by piece so
 * that it stops at the top of the stack.
 *
 * A global function, which the verifier checks once on its own: inlined,
 * each record size was a path of its own through all of the caller's code
 * after it, and loading took milliseconds longer. */
__noinline int sonde_send_user_sample(const struct sonde_user_start *at,
				      const struct sonde_stack_key *key, __u64 value, __u32 flags)
{
	struct sonde_user_sample *e;
	__u64 *known, end = 0, want;
	__u32 tid;

	if (!at || !key)
		return -1;
	tid = at->tid;
	known = bpf_map_lookup_elem(&sonde_stack_ends, &tid);
	if (known) {
		end = *known;
		/* A stack pointer elsewhere: another stack (a signal's, a
		 * coroutine's), or another thread reusing the tid. */
		if (end <= at->sp || end - at->sp > SONDE_USER_STACK_BYTES)
			end = 0;
	}
	if (end) {
		want = end - at->sp;
		if (want <= SONDE_USER_STACK_MIN)
			return sonde_send_to_end(at, key, value, flags, end, want, SONDE_USER_STACK_MIN);
		if (want <= SONDE_USER_STACK_MIN * 2)
			return sonde_send_to_end(at, key, value, flags, end, want,
						 SONDE_USER_STACK_MIN * 2);
		if (want <= SONDE_USER_STACK_MIN * 4)
			return sonde_send_to_end(at, key, value, flags, end, want,
						 SONDE_USER_STACK_MIN * 4);
		if (want <= SONDE_USER_STACK_MIN * 8)
			return sonde_send_to_end(at, key, value, flags, end, want,
						 SONDE_USER_STACK_MIN * 8);
		return sonde_send_to_end(at, key, value, flags, end, want, SONDE_USER_STACK_BYTES);
	}
	e = sonde_sample_with_room(at, key, value, flags, 0, SONDE_USER_STACK_BYTES);
	if (!e)
		return -1;
	for (int i = 0; i < SONDE_USER_STACK_BYTES / SONDE_USER_STACK_PIECE; i++) {
		if (bpf_probe_read_user(e->stack + i * SONDE_USER_STACK_PIECE, SONDE_USER_STACK_PIECE,
					(void *)(at->sp + i * SONDE_USER_STACK_PIECE)))
			break;
		e->stack_len += SONDE_USER_STACK_PIECE;
	}
	sonde_user_sample_submit(e);
	return 0;
}

/* The user registers of current: saved where it entered the kernel, or
 * where an interrupt hit it in user mode. */
static __always_inline struct pt_regs *sonde_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#endif

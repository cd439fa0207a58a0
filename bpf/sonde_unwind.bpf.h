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

static __always_inline __u32 sonde_code_kind_at(const struct sonde_code_ranges *r, __u64 addr)
{
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

/* A sample record with room for room bytes of stack (a constant, so that
 * the reservation has a size the verifier knows), holding the user
 * registers and the stack from the stack pointer up: the want bytes up to
 * the thread's known stack end in one read, or else as much as there is
 * room for, piece by piece. */
static __always_inline struct sonde_user_sample *sonde_sample_with_room(struct pt_regs *regs,
									__u32 tid, __u64 end,
									__u64 want,
									const __u32 room)
{
	const __u32 piece = room < SONDE_USER_STACK_PIECE ? room : SONDE_USER_STACK_PIECE;
	struct sonde_user_sample *e;
	__u64 sp = PT_REGS_SP_CORE(regs);

	e = bpf_ringbuf_reserve(&events, SONDE_USER_SAMPLE_SIZE(room), 0);
	if (!e)
		return NULL;
	e->ip = PT_REGS_IP_CORE(regs);
	e->sp = sp;
	e->bp = PT_REGS_FP_CORE(regs);
	e->tid = tid;
	e->stack_end = end;
	e->unused = 0;
	e->stack_len = 0;
	if (end) {
		/* Bounded where it is used: older verifiers (6.1) lose a
		 * bound checked on another copy of the value. */
		barrier_var(want);
		if (want <= room && !bpf_probe_read_user(e->stack, want, (void *)sp)) {
			e->stack_len = want;
			return e;
		}
	}
	for (__u32 i = 0; i < room / piece; i++) {
		if (bpf_probe_read_user(e->stack + i * piece, piece, (void *)(sp + i * piece)))
			break;
		e->stack_len += piece;
	}
	return e;
}

/* A ring buffer record holding the user registers and stack of current
 * (user registers regs), for the caller to fill in its key and submit;
 * NULL when the ring buffer is full. The copy reaches the thread's stack
 * end where user space has learned it, and is sized for that. */
static __always_inline struct sonde_user_sample *sonde_user_sample_reserve(struct pt_regs *regs)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 sp = PT_REGS_SP_CORE(regs), end = 0, want = SONDE_USER_STACK_BYTES;
	__u64 *known = bpf_map_lookup_elem(&sonde_stack_ends, &tid);

	if (known) {
		end = *known;
		/* A stack pointer elsewhere: another stack (a signal's, a
		 * coroutine's), or another thread reusing the tid. */
		if (end > sp && end - sp <= SONDE_USER_STACK_BYTES)
			want = end - sp;
		else
			end = 0;
	}
	if (want <= SONDE_USER_STACK_MIN)
		return sonde_sample_with_room(regs, tid, end, want, SONDE_USER_STACK_MIN);
	if (want <= SONDE_USER_STACK_MIN * 2)
		return sonde_sample_with_room(regs, tid, end, want, SONDE_USER_STACK_MIN * 2);
	if (want <= SONDE_USER_STACK_MIN * 4)
		return sonde_sample_with_room(regs, tid, end, want, SONDE_USER_STACK_MIN * 4);
	if (want <= SONDE_USER_STACK_MIN * 8)
		return sonde_sample_with_room(regs, tid, end, want, SONDE_USER_STACK_MIN * 8);
	return sonde_sample_with_room(regs, tid, end, want, SONDE_USER_STACK_BYTES);
}

/* Copied stacks are big (up to 8 KiB) and, in a busy system, many: user space is
 * woken once the ring buffer is a quarter full rather than for each one
 * (a wakeup costs it more than reading one). The session reads what is
 * left before each interval's report and at the end. */
static __always_inline void sonde_user_sample_submit(struct sonde_user_sample *e)
{
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	bpf_ringbuf_submit(e, pending >= size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* The user registers of current: saved where it entered the kernel, or
 * where an interrupt hit it in user mode. */
static __always_inline struct pt_regs *sonde_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#endif

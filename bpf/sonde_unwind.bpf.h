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

/* Registers and the top of the user stack of current into e. */
static __always_inline void sonde_user_stack_copy(struct sonde_user_sample *e, struct pt_regs *regs)
{
	__u64 sp = PT_REGS_SP_CORE(regs);

	e->ip = PT_REGS_IP_CORE(regs);
	e->sp = sp;
	e->bp = PT_REGS_FP_CORE(regs);
	e->stack_len = 0;
	for (int i = 0; i < SONDE_USER_STACK_BYTES / SONDE_USER_STACK_PIECE; i++) {
		if (bpf_probe_read_user(e->stack + i * SONDE_USER_STACK_PIECE, SONDE_USER_STACK_PIECE,
					(void *)(sp + i * SONDE_USER_STACK_PIECE)))
			break;
		e->stack_len += SONDE_USER_STACK_PIECE;
	}
}

/* Copied stacks are big (8 KiB) and, in a busy system, many: user space is
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

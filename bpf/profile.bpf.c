// SPDX-License-Identifier: GPL-2.0
/* sonde-profile: on-CPU stacks sampled by a timed perf event on every CPU,
 * counted in the kernel per (process, comm, user stack, kernel stack). */
#include "sonde_stacks.bpf.h"
#include "profile.h"

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool include_idle = false;
const volatile bool dwarf_unwind = false;

/* The user registers saved when the task entered the kernel, or when the
 * sampling interrupt hit it in user mode, and the stack above them. */
static __always_inline int send_user_sample(struct bpf_perf_event_data *ctx, __u64 id)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct profile_user_sample *e = sonde_event_reserve(sizeof(*e));
	__u64 sp;

	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = id;
	e->kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	e->ip = PT_REGS_IP_CORE(regs);
	e->sp = sp = PT_REGS_SP_CORE(regs);
	e->bp = PT_REGS_FP_CORE(regs);
	e->stack_len = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	for (int i = 0; i < PROFILE_STACK_BYTES / PROFILE_STACK_PIECE; i++) {
		if (bpf_probe_read_user(e->stack + i * PROFILE_STACK_PIECE, PROFILE_STACK_PIECE,
					(void *)(sp + i * PROFILE_STACK_PIECE)))
			break;
		e->stack_len += PROFILE_STACK_PIECE;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sonde_stack_key key = {};

	/* Thread id 0 is a CPU's idle task. */
	if ((__u32)id == 0 && !include_idle)
		return 0;
	if (!sonde_current_selected())
		return 0;
	if (dwarf_unwind && user_stacks &&
	    !(BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags) & SONDE_PF_KTHREAD))
		return send_user_sample(ctx, id);
	key.pid = id >> 32;
	key.user_stack_id = user_stacks ? sonde_stack_id(ctx, true) : SONDE_STACK_NONE;
	key.kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	key.other_user_stack_id = SONDE_STACK_NONE;
	key.other_kernel_stack_id = SONDE_STACK_NONE;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	sonde_stack_add(&key, 1);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* sonde-profile: on-CPU stacks sampled by a timed perf event on every CPU,
 * counted in the kernel per (process, comm, user stack, kernel stack);
 * user stacks that frame pointers cannot walk are copied to user space
 * for DWARF unwinding instead (sonde_unwind.bpf.h). */
#include "sonde_unwind.bpf.h"
#include "profile.h"

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool include_idle = false;

/* The kernel stack is walked before the copy is sent: one path through
 * the rest of the program, whatever the record's size. */
static __always_inline int send_user_sample(struct bpf_perf_event_data *ctx,
					    struct sonde_stack_key *key, struct pt_regs *regs)
{
	struct sonde_user_start at;

	sonde_user_start_at(&at, regs);
	key->kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	if (sonde_send_user_sample(&at, key, 1, 0))
		sonde_stat_inc(SONDE_STAT_LOST_EVENTS);
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
	key.pid = id >> 32;
	key.user_stack_id = SONDE_STACK_NONE;
	key.other_user_stack_id = SONDE_STACK_NONE;
	key.other_kernel_stack_id = SONDE_STACK_NONE;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	if (user_stacks &&
	    !(bpf_get_current_task_btf()->flags & SONDE_PF_KTHREAD)) {
		struct pt_regs *regs = sonde_user_regs();

		if (sonde_user_stack_copied(key.pid, regs, &key.user_caller))
			return send_user_sample(ctx, &key, regs);
		key.user_stack_id = sonde_stack_id(ctx, true);
	}
	key.kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	sonde_stack_add(&key, 1);
	return 0;
}

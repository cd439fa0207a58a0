// SPDX-License-Identifier: GPL-2.0
/* sonde-profile: on-CPU stacks sampled by a timed perf event on every CPU,
 * counted in the kernel per (process, comm, user stack, kernel stack). */
#include "sonde_stacks.bpf.h"
#include "profile.h"

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool include_idle = false;

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
	key.user_stack_id = user_stacks ? sonde_stack_id(ctx, true) : SONDE_STACK_NONE;
	key.kernel_stack_id = kernel_stacks ? sonde_stack_id(ctx, false) : SONDE_STACK_NONE;
	key.other_user_stack_id = SONDE_STACK_NONE;
	key.other_kernel_stack_id = SONDE_STACK_NONE;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	sonde_stack_add(&key, 1);
	return 0;
}

/* Stacks aggregated in the kernel: the key and value of the totals map,
 * shared by the BPF side (bpf/sonde_stacks.bpf.h) and lib/stacks.c. */
#ifndef SONDE_STACK_KEY_H
#define SONDE_STACK_KEY_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SONDE_STACK_DEPTH 127
/* Stack ids: >= 0 in the stack map; this when the stack was not asked
 * for or does not exist (a kernel thread has no user stack); any other
 * negative value is the -errno bpf_get_stackid returned. */
#define SONDE_STACK_NONE (-0x10000)
/* Set in the id of a stack kept in sonde_overflow: its bucket in
 * sonde_stacks held another stack (see bpf/sonde_stacks.bpf.h). */
#define SONDE_STACK_OVERFLOW_BIT 0x40000000

struct sonde_stack_key {
	__u32 pid;		/* tgid; 0 for the idle task */
	__u32 tid;		/* 0 when the tool aggregates per process */
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	/* A second task's stacks (the waker, for off-CPU time). */
	__u32 other_pid;
	__s32 other_user_stack_id;
	__s32 other_kernel_stack_id;
	char comm[16];
	char other_comm[16];
	__u32 unused;		/* explicit padding: keys are compared whole */
	/* Go code: the return address at the user stack pointer, for a
	 * leaf without a frame (lib/sym decides from the pcsp table); 0
	 * otherwise. */
	__u64 user_caller;
};

/* Sent on the events ring buffer the first time a process shows up, so
 * user space reads its mappings while it is alive, and again when it has
 * exec'd another program since (exec = 1): its mappings are new. */
struct sonde_stack_new_process {
	__u32 pid;
	__u32 exec;
};

struct sonde_stack_value {
	__u64 total;		/* samples, or nanoseconds */
	__u64 count;		/* how many times it was added to */
};

#endif

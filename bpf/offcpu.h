/* Switches and state classes of sonde-offcpu; its totals go to the maps
 * of sonde_stacks.bpf.h. */
#ifndef SONDE_OFFCPU_H
#define SONDE_OFFCPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "sonde_stats.h"

/* What a task was doing when it left the CPU, from its state. */
enum offcpu_state_class {
	OFFCPU_STATE_R = 1 << 0,	/* still runnable: preempted */
	OFFCPU_STATE_S = 1 << 1,	/* interruptible sleep */
	OFFCPU_STATE_D = 1 << 2,	/* uninterruptible sleep (I/O, locks) */
	OFFCPU_STATE_I = 1 << 3,	/* idle kernel thread wait (TASK_IDLE) */
	OFFCPU_STATE_OTHER = 1 << 4,	/* stopped, traced, parked, dead */
};

enum offcpu_threads {
	OFFCPU_ALL_THREADS,
	OFFCPU_USER_THREADS,
	OFFCPU_KERNEL_THREADS,
};

/* Counted on the BPF side, reported at the end. */
enum offcpu_stat {
	/* A task left the CPU again with no switch back onto it seen in
	 * between: the kernel did not report it (this machine's 6.18 skips
	 * about one in a few thousand under load; a classic tracepoint's
	 * event can be dropped by perf's recursion guard). The block it
	 * ended still counts, up to when the task got the CPU back, worked
	 * out from the CPU time the task has used since. */
	OFFCPU_STAT_RESUME_UNSEEN = SONDE_STAT_TOOL,
	/* A user stack to be copied for DWARF found the ring buffer full:
	 * walked by frame pointers instead, its block still counts. */
	OFFCPU_STAT_COPY_NO_ROOM,
};

#endif

/* What sonde-chanlat's BPF side shares with user space: per call site and
 * channel, how often goroutines did a channel operation there, how many
 * of those blocked and for how long (in-kernel aggregation, read at each
 * summary); and a few events (a process seen for the first time, a
 * program started). */
#ifndef SONDE_CHANLAT_H
#define SONDE_CHANLAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum chanlat_op {
	CHANLAT_SEND,
	CHANLAT_RECV,
	CHANLAT_SELECT,
	CHANLAT_N_OPS,
};

struct chanlat_key {
	__u64 site;		/* return address into the code that did the operation */
	__u64 chan;		/* the channel (for select, the chosen case's; 0 for default) */
	__u32 pid;		/* tgid */
	__u32 op;		/* enum chanlat_op */
};

/* log2 buckets of microseconds: [2^i, 2^(i+1)) us, bucket 0 also < 1 us. */
#define CHANLAT_HIST_SLOTS 32

struct chanlat_stats {
	__u64 count;		/* operations that returned */
	__u64 blocked_count;	/* of those, how many parked */
	__u64 total_blocked_ns;	/* parked until made ready */
	__u64 max_blocked_ns;
	__u64 sched_count;	/* made ready, then run (--sched) */
	__u64 total_sched_ns;
	__u64 max_sched_ns;
	__u64 blocked_slots[CHANLAT_HIST_SLOTS];
	__u64 sched_slots[CHANLAT_HIST_SLOTS];
};

enum chanlat_event_kind {
	CHANLAT_EVENT_NEW_PROCESS,	/* first operation seen in this process */
	CHANLAT_EVENT_EXEC,		/* a process started a program (system-wide mode) */
};

struct chanlat_event {
	__u32 pid;
	__u32 kind;
};

#endif

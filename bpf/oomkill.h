/* Events sonde-oomkill's BPF side sends to user space: one per OOM kill. */
#ifndef SONDE_OOMKILL_H
#define SONDE_OOMKILL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* The victim's memory cgroup travels as its path components, leaf first:
 * the cgroup may be gone (a container torn down) by the time user space
 * reads the event, so the names are copied in the kernel. */
#define OOMKILL_MEMCG_DEPTH 16
#define OOMKILL_MEMCG_NAME 256	/* NAME_MAX + 1: names are never cut */
/* Kernel return addresses at mark_victim time, to tell a memcg OOM from a
 * page-allocator one when the oom_control is out of reach. */
#define OOMKILL_STACK_DEPTH 40

enum oomkill_constraint {
	OOMKILL_CONSTRAINT_UNKNOWN,
	OOMKILL_CONSTRAINT_SYSTEM,	/* CONSTRAINT_NONE: all of memory */
	OOMKILL_CONSTRAINT_CPUSET,
	OOMKILL_CONSTRAINT_MEMPOLICY,
	OOMKILL_CONSTRAINT_MEMCG,
};

enum oomkill_flags {
	OOMKILL_HAVE_VICTIM = 1 << 0,	/* victim_comm, victim_uid, oom_score_adj */
	OOMKILL_HAVE_FIGURES = 1 << 1,	/* the *_kb memory figures */
	OOMKILL_HAVE_MEMCG = 1 << 2,	/* memcg_names/memcg_depth are valid */
	OOMKILL_MEMCG_TRUNCATED = 1 << 3, /* deeper than OOMKILL_MEMCG_DEPTH */
};

struct oomkill_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 pgtables_kb;
	__u32 victim_pid;	/* tgid, or the record's pid when the task is unknown */
	__u32 victim_uid;
	__u32 trigger_pid;	/* tgid of the task whose allocation failed */
	__s32 stack_bytes;	/* of stack[], <= 0 when none was taken */
	__s16 oom_score_adj;
	__u8 constraint;	/* enum oomkill_constraint, as the kernel decided */
	__u8 flags;		/* enum oomkill_flags */
	__u8 memcg_depth;
	__u8 pad[3];
	char victim_comm[16];
	char trigger_comm[16];
	__u64 stack[OOMKILL_STACK_DEPTH];
	char memcg_names[OOMKILL_MEMCG_DEPTH][OOMKILL_MEMCG_NAME];
};

#endif

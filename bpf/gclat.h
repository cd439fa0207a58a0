/* Events sonde-gclat's BPF side sends to user space: one per garbage
 * collection (a Go cycle, a HotSpot collection, a CPython collection). */
#ifndef SONDE_GCLAT_H
#define SONDE_GCLAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum gclat_runtime {
	GCLAT_GO,
	GCLAT_JAVA,
	GCLAT_PYTHON,
	GCLAT_N_RUNTIMES,
};

enum gclat_kind {
	GCLAT_KIND_GC,		/* a collection ended */
	GCLAT_KIND_EXEC,	/* a process started a program: a runtime to probe? */
	GCLAT_KIND_PAUSE,	/* Go: one stop-the-world within a cycle ended */
};

struct gclat_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC, at the collection's end */
	__u64 duration_ns;
	__u64 pause_ns;		/* Go: stop-the-world time within the cycle */
	__s64 collected;	/* Python: objects collected */
	__u32 pid;		/* tgid */
	__s32 generation;	/* Python: the generation collected */
	__u32 pauses;		/* Go: how many stop-the-world spans */
	__u8 runtime;		/* enum gclat_runtime */
	__u8 kind;		/* enum gclat_kind */
	__u8 pad[2];
	char comm[16];
};

#endif

/* Maps and events sonde-goroutines' BPF side shares with user space:
 * every goroutine alive in a traced process, counts per creation site and
 * per process, and "a program started" events (system-wide mode). */
#ifndef SONDE_GOROUTINES_H
#define SONDE_GOROUTINES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Where runtime.newproc1 finds the pc of the go statement: Go 1.17 passes
 * it as its fifth register argument, 1.18 on as its third. */
enum goroutines_callerpc_reg {
	GOROUTINES_CALLERPC_RCX,
	GOROUTINES_CALLERPC_RSI,
};

/* A uprobe's cookie: the offset of goid in runtime.g, and for newproc1's
 * entry where the go statement's pc is. */
#define GOROUTINES_COOKIE_OFFSET_MASK 0xffff
#define GOROUTINES_COOKIE_REG_SHIFT 16

struct goroutine_key {
	__u32 tgid;
	__u32 pad;
	__u64 goid;
};

struct goroutine {
	__u64 created_ns;	/* CLOCK_MONOTONIC; 0: existed before sonde attached */
	__u64 gopc;		/* return address of the go statement's call */
	__u64 startpc;		/* entry of the goroutine's function */
};

struct site_key {
	__u32 tgid;
	__u32 pad;
	__u64 gopc;
	__u64 startpc;
};

struct site_counts {
	__u64 created;		/* seen created since attach */
	__u64 exited;		/* of those, seen exiting */
};

struct proc_counts {
	__u64 created;
	__u64 exited;		/* every exit seen, of goroutines known or not */
	__u64 untracked_exits;	/* exits of goroutines not in the table */
};

struct goroutines_exec_event {
	__u32 pid;
};

#endif

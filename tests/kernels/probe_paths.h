/* Events of the test-only probe-paths program (see probe_paths.bpf.c). */
#ifndef SONDE_PROBE_PATHS_H
#define SONDE_PROBE_PATHS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Which program saw the call: the event itself proves the path. */
enum probe_paths_via {
	PROBE_PATHS_FENTRY,
	PROBE_PATHS_KPROBE,
	PROBE_PATHS_TRACEPOINT,
};

struct probe_paths_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__s64 request_ns;	/* the sleep asked for */
	__u32 pid;
	__u32 tid;
	__u8 via;
	__u8 pad[7];
	char comm[16];
};

#endif

/* What sonde-fsslower's BPF side shares with user space: the operations it
 * times, the syscalls it knows, the slow-operation event and the per-op
 * latency histograms of --dist. */
#ifndef SONDE_FSSLOWER_H
#define SONDE_FSSLOWER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum fsslower_op {
	FSSLOWER_READ,
	FSSLOWER_WRITE,
	FSSLOWER_OPEN,
	FSSLOWER_FSYNC,
	FSSLOWER_FDATASYNC,
	FSSLOWER_N_OPS,
};

/* How the syscall-level programs read a syscall's arguments. User space
 * maps this architecture's syscall numbers to these (syscall_calls[]), so
 * the BPF object carries no per-architecture number table. */
enum fsslower_call {
	FSSLOWER_CALL_NONE,
	FSSLOWER_CALL_READ,	/* read(fd, buf, count): offset is f_pos */
	FSSLOWER_CALL_PREAD,	/* pread64/preadv(fd, .., .., pos) */
	FSSLOWER_CALL_PREADV2,	/* preadv2(fd, vec, vlen, pos, ..): pos -1 means f_pos */
	FSSLOWER_CALL_WRITE,
	FSSLOWER_CALL_PWRITE,
	FSSLOWER_CALL_PWRITEV2,
	FSSLOWER_CALL_OPEN,	/* open/creat(filename, ...) */
	FSSLOWER_CALL_OPENAT,	/* openat/openat2(dfd, filename, ...) */
	FSSLOWER_CALL_FSYNC,
	FSSLOWER_CALL_FDATASYNC,
};

/* Syscall numbers below this are looked up in syscall_calls[]. */
#define FSSLOWER_MAX_SYSCALLS 1024

#define FSSLOWER_FS_NAME_LEN 16
/* Path components, leaf first, each NUL-terminated. A component read
 * starts only while FSSLOWER_NAME_MAX bytes still fit. */
#define FSSLOWER_PATH_BUF 1024
#define FSSLOWER_NAME_MAX 256

enum fsslower_path_flags {
	FSSLOWER_PATH_USER = 1 << 0,	/* path as the caller passed it (failed open) */
	FSSLOWER_PATH_ROOTED = 1 << 1,	/* the walk reached the root: the path is absolute */
	FSSLOWER_PATH_TRUNCATED = 1 << 2, /* deeper than the walk goes: leading part missing */
};

struct fsslower_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC at completion */
	__u64 latency_ns;
	__s64 ret;		/* bytes, the new fd, 0, or -errno */
	__s64 offset;		/* file offset for reads and writes */
	__u32 pid;
	__u32 tid;
	__u8 op;		/* enum fsslower_op */
	__u8 path_flags;	/* enum fsslower_path_flags */
	__u16 path_len;		/* bytes used in path */
	char comm[16];
	char fs[FSSLOWER_FS_NAME_LEN];
	char path[FSSLOWER_PATH_BUF];
};

#define FSSLOWER_HIST_SLOTS 64

/* --dist: per-op latency in microseconds, log2 buckets. */
struct fsslower_hist {
	__u64 slots[FSSLOWER_HIST_SLOTS];
	__u64 count;
	__u64 sum_ns;
};

#endif

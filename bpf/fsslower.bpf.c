// SPDX-License-Identifier: GPL-2.0
/* sonde-fsslower: file operations slower than a threshold, or their latency
 * distribution. An operation is timed from its start to its end on the
 * same thread (keyed by thread id); the file it works on is resolved from
 * the fd in BPF, and the threshold and the file-system filter are applied
 * here so only slow operations on wanted files reach user space.
 *
 * Four sets of programs time the same operations at different layers;
 * user space loads one set:
 *   - one file system's own file operations (ext4_file_read_iter,
 *     ext4_file_write_iter, ext4_file_open, ext4_sync_file, or another
 *     file system's), with fentry/fexit or kprobes, for -t;
 *   - VFS functions (vfs_read, vfs_write, vfs_readv, vfs_writev,
 *     do_sys_openat2, vfs_fsync_range), likewise;
 *   - per-syscall tracepoints (syscalls:sys_enter_read, ...), which run
 *     only for the syscalls asked for;
 *   - the raw sys_enter/sys_exit tracepoints (tp_btf or raw_tp), which run
 *     for every syscall and dispatch on its number. */
#include "sonde_events.bpf.h"
#include "fsslower.h"

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFCHR 0020000
/* Pseudo file systems (pipefs, sockfs, anon_inodefs, nsfs, ...) are
 * kernel-internal mounts that no path reaches. */
#define SB_NOUSER (1u << 31)
#define TS_COMPAT 0x0002	/* x86 thread_info.status: in a 32-bit syscall */

/* A dentry walk step either adds a path component or crosses a mount. */
#define PATH_WALK_STEPS 48
#define PATH_MAX_PARTS 32	/* a power of two */

const volatile __u64 min_latency_ns = 10000000;
const volatile bool dist_mode = false;
const volatile __u32 self_tgid = 0;
/* -t: only files on this file-system type; "" for every file. */
const volatile char fs_filter[FSSLOWER_FS_NAME_LEN] = {};
/* syscall number -> enum fsslower_call, filled by user space. */
const volatile __u8 syscall_calls[FSSLOWER_MAX_SYSCALLS] = {};

struct op_start {
	__u64 ts_ns;
	struct file *file;	/* NULL for an open until it returns */
	const char *filename;	/* user pointer, for opens */
	__s64 offset;
	__u8 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);	/* thread id */
	__type(value, struct op_start);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FSSLOWER_N_OPS);
	__type(key, __u32);
	__type(value, struct fsslower_hist);
} hists SEC(".maps");

static __always_inline bool tracing_current(void)
{
	return (bpf_get_current_pid_tgid() >> 32) != self_tgid && sonde_current_selected();
}

static __always_inline struct file *fd_to_file(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline void read_fs_name(struct file *file, char *name)
{
	const char *type = BPF_CORE_READ(file, f_inode, i_sb, s_type, name);

	if (bpf_probe_read_kernel_str(name, FSSLOWER_FS_NAME_LEN, type) < 0)
		name[0] = 0;
}

static __always_inline bool fs_matches(struct file *file)
{
	char name[FSSLOWER_FS_NAME_LEN];

	read_fs_name(file, name);
	for (int i = 0; i < FSSLOWER_FS_NAME_LEN; i++) {
		if (name[i] != fs_filter[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

/* With -t, exactly the files of that file system. Otherwise files that a
 * path can reach, minus sockets and character devices (terminals): their
 * waits are not file I/O and would drown the slow operations. */
static __always_inline bool file_wanted(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u16 type;

	if (!inode)
		return false;
	if (fs_filter[0])
		return fs_matches(file);
	type = BPF_CORE_READ(inode, i_mode) & S_IFMT;
	if (type == S_IFSOCK || type == S_IFCHR)
		return false;
	return !(BPF_CORE_READ(inode, i_sb, s_flags) & SB_NOUSER);
}

static __always_inline void store_start(struct op_start *start)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	start->ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&inflight, &tid, start, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
}

/* A read, write or sync on an open file. use_fpos: the offset is the
 * file's position before the operation, not an explicit one. */
static __always_inline int start_file_op(__u8 op, struct file *file, bool use_fpos, __s64 offset)
{
	struct op_start start = {.op = op, .file = file, .offset = offset};

	if (!file || !file_wanted(file))
		return 0;
	if (use_fpos)
		start.offset = BPF_CORE_READ(file, f_pos);
	store_start(&start);
	return 0;
}

static __always_inline int start_open(const char *filename)
{
	struct op_start start = {.op = FSSLOWER_OPEN, .filename = filename};

	store_start(&start);
	return 0;
}

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xffff) << 4;
	v >>= r;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	return r | (v >> 1);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32((__u32)v);
}

static __always_inline void count_latency(__u32 op, __u64 latency_ns)
{
	struct fsslower_hist *h = bpf_map_lookup_elem(&hists, &op);
	__u32 slot;

	if (!h)
		return;
	slot = log2_u64(latency_ns / 1000);
	if (slot >= FSSLOWER_HIST_SLOTS)
		slot = FSSLOWER_HIST_SLOTS - 1;
	h->slots[slot]++;
	h->count++;
	h->sum_ns += latency_ns;
}

/* Name pointers of a path, leaf first, between the two steps of
 * build_path. A map value rather than the stack: indexed by a variable. */
struct path_names {
	const unsigned char *names[PATH_MAX_PARTS];
	__u32 n_parts;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_names);
} path_scratch SEC(".maps");

/* Walks from the file's dentry up to the root of its mount namespace,
 * crossing mount points through struct mount, and stores the names leaf
 * first. Bounded: a deeper path keeps its last components only.
 *
 * Written for the verifier, whose work must stay small: two steps, first
 * collecting the name pointers (branching on mount crossings), then
 * copying the strings (advancing a variable offset). The first step keeps
 * its count and outcome in the map, which the verifier does not track, so
 * its loop has one state per step rather than one per path. A global function, verified
 * once on its own rather than once per state its callers reach it in; as
 * such it takes the file as a plain number. */
__noinline int build_path(struct fsslower_event *e, __u64 file_addr)
{
	struct file *file = (struct file *)file_addr;
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	struct path_names *scratch;
	__u32 zero = 0, n_parts, flags, off = 0;

	scratch = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!e || !scratch)
		return 0;
	scratch->n_parts = 0;
	scratch->flags = FSSLOWER_PATH_TRUNCATED;
	for (int i = 0; i < PATH_WALK_STEPS; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		__u32 k = scratch->n_parts;

		if (k >= PATH_MAX_PARTS)
			break;
		if (dentry == mnt_root) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (up == mnt) {
				scratch->flags = FSSLOWER_PATH_ROOTED;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vfsmnt = &up->mnt;
			continue;
		}
		if (dentry == parent) {
			/* Root of a file system no mount shows: nothing above. */
			scratch->flags = 0;
			break;
		}
		scratch->names[k & (PATH_MAX_PARTS - 1)] = BPF_CORE_READ(dentry, d_name.name);
		scratch->n_parts = k + 1;
		dentry = parent;
	}
	n_parts = scratch->n_parts;
	flags = scratch->flags;
	for (__u32 i = 0; i < PATH_MAX_PARTS; i++) {
		long n;

		if (i >= n_parts)
			break;
		if (off > FSSLOWER_PATH_BUF - FSSLOWER_NAME_MAX) {
			flags = FSSLOWER_PATH_TRUNCATED;
			break;
		}
		n = bpf_probe_read_kernel_str(&e->path[off], FSSLOWER_NAME_MAX,
					      scratch->names[i & (PATH_MAX_PARTS - 1)]);
		if (n <= 0)
			break;
		off += n;
	}
	e->path_len = off;
	e->path_flags = flags;
	return 0;
}

/* An event is built here and sent with only the part of its path buffer
 * in use: paths are mostly a few dozen bytes of the 1 KB, and the ring
 * buffer held only ~230 full-size events (lost within a few ms whenever
 * user space was off the CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fsslower_event);
} event_scratch SEC(".maps");

static __always_inline void emit(const struct op_start *start, struct file *file, __s64 ret,
				 __u64 now, __u64 latency_ns)
{
	__u32 zero = 0;
	struct fsslower_event *e = bpf_map_lookup_elem(&event_scratch, &zero);
	__u64 id = bpf_get_current_pid_tgid();
	__u64 size;
	long n;

	if (!e)
		return;
	e->ts_ns = now;
	e->latency_ns = latency_ns;
	e->ret = ret;
	e->offset = start->offset;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->op = start->op;
	e->path_flags = 0;
	e->path_len = 0;
	e->fs[0] = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (file) {
		read_fs_name(file, e->fs);
		build_path(e, (__u64)file);
	} else if (start->filename) {
		n = bpf_probe_read_user_str(e->path, FSSLOWER_PATH_BUF, start->filename);
		if (n > 0) {
			e->path_len = n;
			e->path_flags = FSSLOWER_PATH_USER;
		}
	}
	size = offsetof(struct fsslower_event, path) + e->path_len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	if (bpf_ringbuf_output(&events, e, size, sonde_event_wake_flags()))
		sonde_stat_inc(SONDE_STAT_LOST_EVENTS);
}

static __always_inline int finish_op(__s64 ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct op_start *found = bpf_map_lookup_elem(&inflight, &tid);
	struct op_start start;
	struct file *file;
	__u64 now, latency_ns;

	if (!found)
		return 0;
	start = *found;
	bpf_map_delete_elem(&inflight, &tid);
	now = bpf_ktime_get_ns();
	latency_ns = now - start.ts_ns;
	if (latency_ns < min_latency_ns)
		return 0;
	file = start.file;
	if (start.op == FSSLOWER_OPEN && !file) {
		/* An open of a syscall or of the VFS: the opened file is
		 * known only now; a failed one has none, so it cannot match
		 * a file-system filter. (A file system's own open had its
		 * file from the start.) */
		file = ret >= 0 ? fd_to_file(ret) : NULL;
		if (file ? !file_wanted(file) : fs_filter[0] != 0)
			return 0;
	}
	if (dist_mode)
		count_latency(start.op, latency_ns);
	else
		emit(&start, file, ret, now, latency_ns);
	return 0;
}

/* ---- syscall level ---- */

static __always_inline int on_syscall_enter(long nr, __u64 arg0, __u64 arg1, __u64 arg3)
{
	__u8 call;

	if (nr < 0 || nr >= FSSLOWER_MAX_SYSCALLS)
		return 0;
	call = syscall_calls[nr];
	if (call == FSSLOWER_CALL_NONE || !tracing_current())
		return 0;
	switch (call) {
	case FSSLOWER_CALL_READ:
		return start_file_op(FSSLOWER_READ, fd_to_file(arg0), true, 0);
	case FSSLOWER_CALL_PREAD:
		return start_file_op(FSSLOWER_READ, fd_to_file(arg0), false, arg3);
	case FSSLOWER_CALL_PREADV2:
		return start_file_op(FSSLOWER_READ, fd_to_file(arg0), (__s64)arg3 == -1, arg3);
	case FSSLOWER_CALL_WRITE:
		return start_file_op(FSSLOWER_WRITE, fd_to_file(arg0), true, 0);
	case FSSLOWER_CALL_PWRITE:
		return start_file_op(FSSLOWER_WRITE, fd_to_file(arg0), false, arg3);
	case FSSLOWER_CALL_PWRITEV2:
		return start_file_op(FSSLOWER_WRITE, fd_to_file(arg0), (__s64)arg3 == -1, arg3);
	case FSSLOWER_CALL_OPEN:
		return start_open((const char *)arg0);
	case FSSLOWER_CALL_OPENAT:
		return start_open((const char *)arg1);
	case FSSLOWER_CALL_FSYNC:
		return start_file_op(FSSLOWER_FSYNC, fd_to_file(arg0), false, 0);
	case FSSLOWER_CALL_FDATASYNC:
		return start_file_op(FSSLOWER_FDATASYNC, fd_to_file(arg0), false, 0);
	}
	return 0;
}

/* The per-syscall records share this layout (see any
 * events/syscalls/sys_enter_* format): the arguments follow the number. */
struct syscall_enter_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* A program may not read past the end of the smallest record it is
 * attached to, so the enter programs differ by how many arguments they
 * read (arg1 and arg3: expressions of ctx, or 0): the fd or file name
 * (first two), the fd and the offset (fourth), or only the fd (fsync,
 * fdatasync). One program serves every exit. */
#define SYSCALL_ENTER_TP(prog, tracepoint, arg1, arg3)				\
	SEC("tracepoint/syscalls/" tracepoint)					\
	int prog(struct syscall_enter_record *ctx)				\
	{									\
		return on_syscall_enter(ctx->nr, ctx->args[0], arg1, arg3);	\
	}

SYSCALL_ENTER_TP(syscall_enter_tp, "sys_enter_read", ctx->args[1], 0)
SYSCALL_ENTER_TP(syscall_enter_pos_tp, "sys_enter_pread64", 0, ctx->args[3])
SYSCALL_ENTER_TP(syscall_enter_fd_tp, "sys_enter_fsync", 0, 0)

SEC("tracepoint/syscalls/sys_exit_read")
int syscall_exit_tp(struct syscall_exit_record *ctx)
{
	return finish_op(ctx->ret);
}

/* The raw tracepoints see 32-bit syscalls too, whose numbers mean other
 * calls; the per-syscall tracepoints skip those, and so does this. */
static __always_inline bool in_compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
#else
	return false;
#endif
}

static __always_inline int on_raw_syscall_enter(struct pt_regs *regs, long nr)
{
	/* Every syscall of the system passes here: leave the ones not
	 * asked for before reading anything else. */
	if (nr < 0 || nr >= FSSLOWER_MAX_SYSCALLS || syscall_calls[nr] == FSSLOWER_CALL_NONE ||
	    in_compat_syscall())
		return 0;
	return on_syscall_enter(nr, PT_REGS_PARM1_CORE_SYSCALL(regs),
				PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM4_CORE_SYSCALL(regs));
}

/* The enter and exit programs of raw sys_enter/sys_exit, as tp_btf or
 * raw_tp programs (section prefix sec, program names ending in suffix). */
#define RAW_SYSCALL_PROGS(sec, suffix)						\
	SEC(sec "/sys_enter")							\
	int BPF_PROG(syscall_enter_##suffix, struct pt_regs *regs, long nr)	\
	{									\
		return on_raw_syscall_enter(regs, nr);				\
	}									\
	SEC(sec "/sys_exit")							\
	int BPF_PROG(syscall_exit_##suffix, struct pt_regs *regs, long ret)	\
	{									\
		return finish_op(ret);						\
	}

RAW_SYSCALL_PROGS("tp_btf", btf)
RAW_SYSCALL_PROGS("raw_tp", raw)

/* ---- kernel functions: the VFS, or a file system's own ---- */

static __always_inline int start_vfs_rw(__u8 op, struct file *file, loff_t *pos)
{
	loff_t offset = 0;

	if (!tracing_current())
		return 0;
	/* pos is NULL for stream files; then f_pos stands, as in the
	 * syscall-level programs. */
	if (!pos)
		return start_file_op(op, file, true, 0);
	bpf_probe_read_kernel(&offset, sizeof(offset), pos);
	return start_file_op(op, file, false, offset);
}

static __always_inline int start_vfs_open(const char *filename)
{
	return tracing_current() ? start_open(filename) : 0;
}

static __always_inline int start_fsync(struct file *file, int datasync)
{
	if (!tracing_current())
		return 0;
	return start_file_op(datasync ? FSSLOWER_FDATASYNC : FSSLOWER_FSYNC, file, false, 0);
}

/* A file system's read_iter/write_iter: the file and position are the
 * kiocb's. */
static __always_inline int start_fs_iter(__u8 op, struct kiocb *iocb)
{
	if (!tracing_current())
		return 0;
	return start_file_op(op, BPF_CORE_READ(iocb, ki_filp), false, BPF_CORE_READ(iocb, ki_pos));
}

/* A file system's open: the file exists already (finish_op keeps it),
 * the path lookup is over; only the file system's own work is timed. */
static __always_inline int start_fs_open(struct file *file)
{
	return tracing_current() ? start_file_op(FSSLOWER_OPEN, file, false, 0) : 0;
}

/* The three programs timing one kernel function: prog_entry (fentry),
 * prog_exit (fexit) and prog_kprobe (its end is one of the kretprobes
 * below). start: what the function's start does, in terms of its
 * parameters, which follow (all of them, as fexit needs them before the
 * return value). func is only the default target: user space attaches
 * each program where its probe table says. */
#define TIMED_FUNC(prog, func, start, ret_type, ...)				\
	SEC("fentry/" #func)							\
	int BPF_PROG(prog##_entry, __VA_ARGS__)					\
	{									\
		return start;							\
	}									\
	SEC("fexit/" #func)							\
	int BPF_PROG(prog##_exit, __VA_ARGS__, ret_type ret)			\
	{									\
		return finish_op(ret);						\
	}									\
	SEC("kprobe/" #func)							\
	int BPF_KPROBE(prog##_kprobe, __VA_ARGS__)				\
	{									\
		return start;							\
	}

/* VFS functions: every file system, but below the syscalls. */
TIMED_FUNC(vfs_read, vfs_read, start_vfs_rw(FSSLOWER_READ, file, pos), ssize_t,
	   struct file *file, char *buf, size_t count, loff_t *pos)
TIMED_FUNC(vfs_write, vfs_write, start_vfs_rw(FSSLOWER_WRITE, file, pos), ssize_t,
	   struct file *file, const char *buf, size_t count, loff_t *pos)
TIMED_FUNC(vfs_readv, vfs_readv, start_vfs_rw(FSSLOWER_READ, file, pos), ssize_t,
	   struct file *file, const struct iovec *vec, unsigned long vlen, loff_t *pos,
	   rwf_t flags)
TIMED_FUNC(vfs_writev, vfs_writev, start_vfs_rw(FSSLOWER_WRITE, file, pos), ssize_t,
	   struct file *file, const struct iovec *vec, unsigned long vlen, loff_t *pos,
	   rwf_t flags)
TIMED_FUNC(openat2, do_sys_openat2, start_vfs_open(filename), int,
	   int dfd, const char *filename, struct open_how *how)
TIMED_FUNC(fsync, vfs_fsync_range, start_fsync(file, datasync), int,
	   struct file *file, loff_t start, loff_t end, int datasync)

/* One file system's file_operations (ext4_file_read_iter, xfs_file_fsync,
 * ...): the same shapes for every file system, so one set of programs
 * serves whichever user space attaches them to. */
TIMED_FUNC(fs_read, ext4_file_read_iter, start_fs_iter(FSSLOWER_READ, iocb), ssize_t,
	   struct kiocb *iocb, struct iov_iter *to)
TIMED_FUNC(fs_write, ext4_file_write_iter, start_fs_iter(FSSLOWER_WRITE, iocb), ssize_t,
	   struct kiocb *iocb, struct iov_iter *from)
TIMED_FUNC(fs_open, ext4_file_open, start_fs_open(file), int,
	   struct inode *inode, struct file *file)
TIMED_FUNC(fs_fsync, ext4_sync_file, start_fsync(file, datasync), int,
	   struct file *file, loff_t start, loff_t end, int datasync)

/* A kretprobe only ends what its kprobe began, so one program serves
 * every function returning ssize_t and one every function returning int
 * (whose upper register half is undefined). */
SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(ssize_return_kretprobe, long ret)
{
	return finish_op(ret);
}

SEC("kretprobe/vfs_fsync_range")
int BPF_KRETPROBE(int_return_kretprobe, int ret)
{
	return finish_op(ret);
}

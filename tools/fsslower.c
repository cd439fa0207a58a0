/* sonde-fsslower: which file operations are slow, or how their latencies
 * are distributed. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/duration.h>
#include <sonde/log.h>
#include <sonde/net.h>
#include <sonde/out.h>
#include <sonde/probe_set.h>
#include <sonde/session.h>

#include "fsslower.h"
#include "fsslower.skel.h"

#define DEFAULT_MIN_NS 10000000ull
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

enum { OPT_DIST = SONDE_OPT_LONG };

struct fsslower {
	struct sonde_args args;
	uint64_t min_ns;
	bool min_given;
	bool dist;
	const char *fs_type;
	struct fsslower_bpf *skel;
	struct sonde_table table;
	struct sonde_json json;
};

static const struct sonde_option options[] = {
	{"min", 'm', "MS", "only operations taking at least MS milliseconds (default 10; 0: all); "
			   "a unit may be given instead (250us)"},
	{"type", 't', "FSTYPE", "only files on this file-system type (ext4, xfs, nfs4, tmpfs, ...); "
				"for ext4, xfs, btrfs, f2fs, nfs, nfs4: its own functions where possible"},
	{"dist", OPT_DIST, NULL, "print per-operation latency histograms instead of events"},
	{0},
};

/* "-m 5" and "-m 2.5" are milliseconds; "-m 250us" has its own unit. */
static int parse_min(const char *text, uint64_t *ns)
{
	char *end;
	double ms;

	if (*text && strspn(text, "0123456789.") == strlen(text)) {
		ms = strtod(text, &end);
		if (*end || ms > 3.6e6)
			return -1;
		*ns = (uint64_t)(ms * 1e6);
		return 0;
	}
	return sonde_parse_duration(text, ns) ? -1 : 0;
}

static bool valid_fs_type(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= FSSLOWER_FS_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static int parse_option(int key, const char *arg, void *ctx)
{
	struct fsslower *t = ctx;

	switch (key) {
	case 'm':
		if (parse_min(arg, &t->min_ns)) {
			sonde_err("invalid threshold '%s' (milliseconds, e.g. 10, 0.5, or 250us)", arg);
			return SONDE_EXIT_USAGE;
		}
		t->min_given = true;
		return 0;
	case 't':
		if (!valid_fs_type(arg)) {
			sonde_err("invalid file-system type '%s' (a name like ext4 or tmpfs, at most %d characters)",
				  arg, FSSLOWER_FS_NAME_LEN - 1);
			return SONDE_EXIT_USAGE;
		}
		t->fs_type = arg;
		return 0;
	case OPT_DIST:
		t->dist = true;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

static const char *const op_names[FSSLOWER_N_OPS] = {
	[FSSLOWER_READ] = "read",
	[FSSLOWER_WRITE] = "write",
	[FSSLOWER_OPEN] = "open",
	[FSSLOWER_FSYNC] = "fsync",
	[FSSLOWER_FDATASYNC] = "fdatasync",
};

static const char op_letters[FSSLOWER_N_OPS] = "RWOFD";

static bool op_moves_bytes(unsigned op)
{
	return op == FSSLOWER_READ || op == FSSLOWER_WRITE;
}

/* The BPF side stores path components leaf first; join them root first.
 * The event carries `avail` bytes of its path buffer. */
static size_t assemble_path(const struct fsslower_event *e, size_t avail, char *out, size_t size)
{
	size_t len = e->path_len < avail ? e->path_len : avail;
	const char *parts[FSSLOWER_PATH_BUF / 2];
	size_t n = 0, o = 0;

	if (e->path_flags & FSSLOWER_PATH_USER)
		return snprintf(out, size, "%.*s", (int)strnlen(e->path, len), e->path);
	for (size_t i = 0; i < len && n < sizeof(parts) / sizeof(parts[0]);) {
		parts[n++] = e->path + i;
		i += strnlen(e->path + i, len - i) + 1;
	}
	out[0] = 0;
	if (e->path_flags & FSSLOWER_PATH_TRUNCATED)
		o += snprintf(out + o, size - o, "...");
	if (!n && (e->path_flags & FSSLOWER_PATH_ROOTED))
		o += snprintf(out + o, size - o, "/");
	for (size_t k = n; k-- > 0 && o < size;) {
		bool slash = k + 1 < n || (e->path_flags & (FSSLOWER_PATH_ROOTED | FSSLOWER_PATH_TRUNCATED));
		size_t plen = strnlen(parts[k], e->path + len - parts[k]);

		o += snprintf(out + o, size - o, "%s%.*s", slash ? "/" : "", (int)plen, parts[k]);
	}
	return o < size ? o : size - 1;
}

enum { COL_TIME, COL_COMM, COL_PID, COL_OP, COL_BYTES, COL_OFF, COL_LAT, COL_FS, COL_FILE, N_COLS };

static const struct sonde_column columns[N_COLS] = {
	[COL_TIME] = {"TIME", 8, true},
	[COL_COMM] = {"COMM", 16, true},
	[COL_PID] = {"PID", 7, false},
	[COL_OP] = {"T", 1, true},
	[COL_BYTES] = {"BYTES", 7, false},
	[COL_OFF] = {"OFF_KB", 8, false},
	[COL_LAT] = {"LAT(ms)", 9, false},
	[COL_FS] = {"FS", 8, true},
	[COL_FILE] = {"FILENAME", 8, true},
};

static int print_table(struct fsslower *t, const struct fsslower_event *e, uint64_t wall,
		       const char *path)
{
	char when[16], comm[17], pid[16], op[2] = {op_letters[e->op], 0};
	char bytes[32], off[32], lat[32], fs[FSSLOWER_FS_NAME_LEN + 1], err[16];
	const char *cells[N_COLS];

	sonde_format_clock(wall, when);
	snprintf(comm, sizeof(comm), "%.16s", e->comm);
	snprintf(pid, sizeof(pid), "%u", e->pid);
	if (e->ret < 0)
		snprintf(bytes, sizeof(bytes), "%s", sonde_errno_name((int)-e->ret, err));
	else if (op_moves_bytes(e->op))
		snprintf(bytes, sizeof(bytes), "%lld", (long long)e->ret);
	else
		snprintf(bytes, sizeof(bytes), "-");
	if (op_moves_bytes(e->op))
		snprintf(off, sizeof(off), "%lld", (long long)(e->offset / 1024));
	else
		snprintf(off, sizeof(off), "-");
	snprintf(lat, sizeof(lat), "%.2f", e->latency_ns / 1e6);
	snprintf(fs, sizeof(fs), "%.*s", FSSLOWER_FS_NAME_LEN, e->fs);
	cells[COL_TIME] = when;
	cells[COL_COMM] = comm;
	cells[COL_PID] = pid;
	cells[COL_OP] = op;
	cells[COL_BYTES] = bytes;
	cells[COL_OFF] = off;
	cells[COL_LAT] = lat;
	cells[COL_FS] = fs[0] ? fs : "-";
	cells[COL_FILE] = path[0] ? path : "-";
	return sonde_table_row(&t->table, cells);
}

static int print_json(struct fsslower *t, const struct fsslower_event *e, uint64_t wall,
		      const char *path, size_t path_len)
{
	struct sonde_json *j = &t->json;
	char err[16];

	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", wall);
	sonde_json_u64(j, "pid", e->pid);
	sonde_json_u64(j, "tid", e->tid);
	sonde_json_strn(j, "comm", e->comm, strnlen(e->comm, sizeof(e->comm)));
	sonde_json_str(j, "op", op_names[e->op]);
	if (op_moves_bytes(e->op)) {
		sonde_json_i64(j, "bytes", e->ret < 0 ? 0 : e->ret);
		sonde_json_i64(j, "offset", e->offset);
	} else {
		sonde_json_null(j, "bytes");
		sonde_json_null(j, "offset");
	}
	sonde_json_u64(j, "latency_ns", e->latency_ns);
	sonde_json_strn(j, "file", path, path_len);
	sonde_json_strn(j, "fs", e->fs, strnlen(e->fs, sizeof(e->fs)));
	if (e->ret < 0)
		sonde_json_str(j, "error", sonde_errno_name((int)-e->ret, err));
	sonde_json_str(j, "container", sonde_container_of_pid(e->pid));
	return sonde_json_emit(j, stdout);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct fsslower *t = ctx;
	const struct fsslower_event *e = data;
	char path[FSSLOWER_PATH_BUF + 8];
	size_t path_len;
	uint64_t wall;

	/* Events end where their path does. */
	if (size < offsetof(struct fsslower_event, path) || size > sizeof(*e) ||
	    e->op >= FSSLOWER_N_OPS)
		return 0;
	wall = sonde_mono_to_wall_ns(e->ts_ns);
	path_len = assemble_path(e, size - offsetof(struct fsslower_event, path), path, sizeof(path));
	if (t->args.format == SONDE_FMT_JSON)
		return print_json(t, e, wall, path, path_len);
	return print_table(t, e, wall, path);
}

/* ---- --dist ---- */

/* Sums one op's per-CPU histograms and, for interval output, resets them. */
static int read_hist(struct fsslower *t, uint32_t op, struct fsslower_hist *sum, bool reset)
{
	int ncpu = libbpf_num_possible_cpus();
	struct fsslower_hist *per_cpu;
	size_t size;
	int err;

	if (ncpu <= 0)
		return -1;
	size = (size_t)ncpu * sizeof(*per_cpu);
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -1;
	err = bpf_map__lookup_elem(t->skel->maps.hists, &op, sizeof(op), per_cpu, size, 0);
	memset(sum, 0, sizeof(*sum));
	for (int c = 0; !err && c < ncpu; c++) {
		for (int s = 0; s < FSSLOWER_HIST_SLOTS; s++)
			sum->slots[s] += per_cpu[c].slots[s];
		sum->count += per_cpu[c].count;
		sum->sum_ns += per_cpu[c].sum_ns;
	}
	if (!err && reset) {
		memset(per_cpu, 0, size);
		err = bpf_map__update_elem(t->skel->maps.hists, &op, sizeof(op), per_cpu, size, 0);
	}
	free(per_cpu);
	return err;
}

static int print_dists(struct fsslower *t, bool reset)
{
	uint64_t wall = sonde_mono_to_wall_ns(sonde_now_mono_ns());
	bool any = false;
	char when[16];

	for (uint32_t op = 0; op < FSSLOWER_N_OPS; op++) {
		struct fsslower_hist h;
		uint64_t slots[FSSLOWER_HIST_SLOTS];

		if (read_hist(t, op, &h, reset)) {
			sonde_err("cannot read the latency histograms");
			return -1;
		}
		if (!h.count)
			continue;
		for (int s = 0; s < FSSLOWER_HIST_SLOTS; s++)
			slots[s] = h.slots[s];
		if (t->args.format == SONDE_FMT_JSON) {
			sonde_json_begin(&t->json);
			sonde_json_u64(&t->json, "ts_ns", wall);
			sonde_json_str(&t->json, "op", op_names[op]);
			sonde_json_u64(&t->json, "count", h.count);
			sonde_json_u64(&t->json, "sum_ns", h.sum_ns);
			sonde_hist_json(&t->json, "latency_us", slots, FSSLOWER_HIST_SLOTS);
			if (sonde_json_emit(&t->json, stdout) < 0)
				return -1;
			continue;
		}
		if (!any && t->args.interval_ns) {
			sonde_format_clock(wall, when);
			printf("\n%s\n", when);
		}
		printf("\noperation = %s (count %llu, average %.3f ms)\n", op_names[op],
		       (unsigned long long)h.count, h.sum_ns / 1e6 / h.count);
		sonde_hist_print(stdout, slots, FSSLOWER_HIST_SLOTS, "usecs");
		any = true;
	}
	if (t->args.format == SONDE_FMT_TABLE && !any && !t->args.interval_ns)
		printf("no file operations seen\n");
	return sonde_out_flush(stdout);
}

static int on_interval(void *ctx)
{
	return print_dists(ctx, true);
}

static int on_end(void *ctx)
{
	return print_dists(ctx, false);
}

/* ---- probes ---- */

/* VFS functions: below the syscalls, so also reads and writes the kernel
 * does for others (e.g. loop devices, nfsd). Every end is attached before
 * its start, so no operation is started that could not be ended. */
#define VFS_END(fn, ret_prog, optional_) \
	{.name = #fn " returns", .optional = optional_, .alts = { \
		{SONDE_ATTACH_FEXIT, #fn "_exit", #fn}, \
		{SONDE_ATTACH_KRETPROBE, ret_prog, #fn}}}
#define VFS_START(fn, optional_) \
	{.name = #fn " calls", .optional = optional_, .alts = { \
		{SONDE_ATTACH_FENTRY, #fn "_entry", #fn}, \
		{SONDE_ATTACH_KPROBE, #fn "_kprobe", #fn}}}

static const struct sonde_probe vfs_probes[] = {
	VFS_END(vfs_read, "ssize_return_kretprobe", false),
	VFS_END(vfs_write, "ssize_return_kretprobe", false),
	VFS_END(vfs_readv, "ssize_return_kretprobe", true),
	VFS_END(vfs_writev, "ssize_return_kretprobe", true),
	{.name = "do_sys_openat2 returns", .alts = {
		{SONDE_ATTACH_FEXIT, "openat2_exit", "do_sys_openat2"},
		{SONDE_ATTACH_KRETPROBE, "int_return_kretprobe", "do_sys_openat2"}}},
	{.name = "vfs_fsync_range returns", .alts = {
		{SONDE_ATTACH_FEXIT, "fsync_exit", "vfs_fsync_range"},
		{SONDE_ATTACH_KRETPROBE, "int_return_kretprobe", "vfs_fsync_range"}}},
	VFS_START(vfs_read, false),
	VFS_START(vfs_write, false),
	VFS_START(vfs_readv, true),
	VFS_START(vfs_writev, true),
	{.name = "do_sys_openat2 calls", .alts = {
		{SONDE_ATTACH_FENTRY, "openat2_entry", "do_sys_openat2"},
		{SONDE_ATTACH_KPROBE, "openat2_kprobe", "do_sys_openat2"}}},
	{.name = "vfs_fsync_range calls", .alts = {
		{SONDE_ATTACH_FENTRY, "fsync_entry", "vfs_fsync_range"},
		{SONDE_ATTACH_KPROBE, "fsync_kprobe", "vfs_fsync_range"}}},
};

/* A file system's own file_operations, for -t: below the VFS, so also its
 * asynchronous (aio, io_uring) and in-kernel (splice, loop, nfsd) reads
 * and writes; its open is only the file system's part, after the path
 * lookup. NFS v4 opens through its own function. */
static const struct fs_functions {
	const char *type;	/* as -t and /proc/mounts name it */
	const char *read, *write, *open, *fsync;
} fs_functions[] = {
	{"ext4", "ext4_file_read_iter", "ext4_file_write_iter", "ext4_file_open", "ext4_sync_file"},
	{"xfs", "xfs_file_read_iter", "xfs_file_write_iter", "xfs_file_open", "xfs_file_fsync"},
	{"btrfs", "btrfs_file_read_iter", "btrfs_file_write_iter", "btrfs_file_open",
	 "btrfs_sync_file"},
	{"f2fs", "f2fs_file_read_iter", "f2fs_file_write_iter", "f2fs_file_open", "f2fs_sync_file"},
	{"nfs", "nfs_file_read", "nfs_file_write", "nfs_file_open", "nfs_file_fsync"},
	{"nfs4", "nfs_file_read", "nfs_file_write", "nfs4_file_open", "nfs_file_fsync"},
};

enum { FS_READ, FS_WRITE, FS_OPEN, FS_FSYNC, FS_N_FUNCS };

/* The probes timing one file system's functions, built for the -t given:
 * every end before its start, like the VFS ones. */
struct fs_probes {
	char set_name[48];	/* "ext4 file operations" */
	char names[2 * FS_N_FUNCS][96];
	struct sonde_probe probes[2 * FS_N_FUNCS];
};

static void fill_fs_probes(struct fs_probes *p, const struct fs_functions *fs)
{
	/* The programs of bpf/fsslower.bpf.c's TIMED_FUNC(fs_*) and the
	 * kretprobe for the function's return type. */
	static const struct {
		const char *entry, *exit, *kprobe, *kretprobe;
	} progs[FS_N_FUNCS] = {
		[FS_READ] = {"fs_read_entry", "fs_read_exit", "fs_read_kprobe",
			     "ssize_return_kretprobe"},
		[FS_WRITE] = {"fs_write_entry", "fs_write_exit", "fs_write_kprobe",
			      "ssize_return_kretprobe"},
		[FS_OPEN] = {"fs_open_entry", "fs_open_exit", "fs_open_kprobe",
			     "int_return_kretprobe"},
		[FS_FSYNC] = {"fs_fsync_entry", "fs_fsync_exit", "fs_fsync_kprobe",
			      "int_return_kretprobe"},
	};
	const char *funcs[FS_N_FUNCS] = {fs->read, fs->write, fs->open, fs->fsync};

	snprintf(p->set_name, sizeof(p->set_name), "%s file operations", fs->type);
	for (int f = 0; f < FS_N_FUNCS; f++) {
		char *end_name = p->names[f], *start_name = p->names[FS_N_FUNCS + f];

		snprintf(end_name, sizeof(p->names[0]), "%s returns", funcs[f]);
		snprintf(start_name, sizeof(p->names[0]), "%s calls", funcs[f]);
		p->probes[f] = (struct sonde_probe){.name = end_name, .alts = {
			{SONDE_ATTACH_FEXIT, progs[f].exit, funcs[f]},
			{SONDE_ATTACH_KRETPROBE, progs[f].kretprobe, funcs[f]}}};
		p->probes[FS_N_FUNCS + f] = (struct sonde_probe){.name = start_name, .alts = {
			{SONDE_ATTACH_FENTRY, progs[f].entry, funcs[f]},
			{SONDE_ATTACH_KPROBE, progs[f].kprobe, funcs[f]}}};
	}
}

static const struct fs_functions *fs_functions_of(const char *type)
{
	for (size_t i = 0; type && i < N_OF(fs_functions); i++)
		if (!strcmp(fs_functions[i].type, type))
			return &fs_functions[i];
	return NULL;
}

/* Per-syscall tracepoints: the programs run only for these syscalls. The
 * enter programs differ by the arguments they read (a program may not read
 * past the smallest record it is attached to); BPF tells the calls apart
 * by number (syscall_calls). Optional: calls an architecture or an older
 * kernel may lack. */
#define TRACED_SYSCALLS(X) \
	X(read, "", false) X(readv, "", false) \
	X(pread64, "_pos", false) X(preadv, "_pos", false) X(preadv2, "_pos", true) \
	X(write, "", false) X(writev, "", false) \
	X(pwrite64, "_pos", false) X(pwritev, "_pos", false) X(pwritev2, "_pos", true) \
	X(open, "", true) X(creat, "", true) X(openat, "", false) X(openat2, "", true) \
	X(fsync, "_fd", false) X(fdatasync, "_fd", false)
#define SYSCALL_EXIT(sc, args_, optional_) \
	{.name = #sc " returns", .optional = optional_, .alts = { \
		{SONDE_ATTACH_TRACEPOINT, "syscall_exit_tp", "syscalls/sys_exit_" #sc}}},
#define SYSCALL_ENTER(sc, args_, optional_) \
	{.name = #sc " calls", .optional = optional_, .alts = { \
		{SONDE_ATTACH_TRACEPOINT, "syscall_enter" args_ "_tp", "syscalls/sys_enter_" #sc}}},

static const struct sonde_probe syscall_tp_probes[] = {
	TRACED_SYSCALLS(SYSCALL_EXIT)
	TRACED_SYSCALLS(SYSCALL_ENTER)
};

/* The raw syscall tracepoints run for every syscall of the system: the
 * last resort, where the per-syscall ones are missing. */
static const struct sonde_probe raw_syscall_probes[] = {
	{.name = "syscall returns", .alts = {
		{SONDE_ATTACH_TP_BTF, "syscall_exit_btf", "raw_syscalls/sys_exit"},
		{SONDE_ATTACH_RAW_TP, "syscall_exit_raw", "raw_syscalls/sys_exit"}}},
	{.name = "syscall calls", .alts = {
		{SONDE_ATTACH_TP_BTF, "syscall_enter_btf", "raw_syscalls/sys_enter"},
		{SONDE_ATTACH_RAW_TP, "syscall_enter_raw", "raw_syscalls/sys_enter"}}},
};

/* The layers, best first, after the file system's own functions. */
static const struct sonde_probe_set generic_sets[] = {
	{"VFS functions", vfs_probes, N_OF(vfs_probes)},
	{"syscall tracepoints", syscall_tp_probes, N_OF(syscall_tp_probes)},
	{"raw syscall tracepoints", raw_syscall_probes, N_OF(raw_syscall_probes)},
};

static const struct {
	long nr;
	enum fsslower_call call;
} known_syscalls[] = {
	{SYS_read, FSSLOWER_CALL_READ},
	{SYS_readv, FSSLOWER_CALL_READ},
	{SYS_pread64, FSSLOWER_CALL_PREAD},
	{SYS_preadv, FSSLOWER_CALL_PREAD},
	{SYS_preadv2, FSSLOWER_CALL_PREADV2},
	{SYS_write, FSSLOWER_CALL_WRITE},
	{SYS_writev, FSSLOWER_CALL_WRITE},
	{SYS_pwrite64, FSSLOWER_CALL_PWRITE},
	{SYS_pwritev, FSSLOWER_CALL_PWRITE},
	{SYS_pwritev2, FSSLOWER_CALL_PWRITEV2},
#ifdef SYS_open
	{SYS_open, FSSLOWER_CALL_OPEN},
#endif
#ifdef SYS_creat
	{SYS_creat, FSSLOWER_CALL_OPEN},
#endif
	{SYS_openat, FSSLOWER_CALL_OPENAT},
	{SYS_openat2, FSSLOWER_CALL_OPENAT},
	{SYS_fsync, FSSLOWER_CALL_FSYNC},
	{SYS_fdatasync, FSSLOWER_CALL_FDATASYNC},
};

/* Chooses the layer to time operations at: with -t naming a file system
 * whose functions are known, those functions (where fentry or kprobes
 * reach them), else the first generic layer this kernel allows; -t then
 * filters in BPF. Fills sets (at least N_OF(generic_sets) + 1) and returns
 * the index of the chosen one, or -1. */
static int choose_probe_set(const struct fsslower *t, struct fs_probes *fs_probes,
			    struct sonde_probe_set *sets)
{
	const struct fs_functions *fs = fs_functions_of(t->fs_type);
	char reasons[2048] = "";
	size_t n = 0;
	int set;

	if (fs) {
		fill_fs_probes(fs_probes, fs);
		sets[n++] = (struct sonde_probe_set){fs_probes->set_name, fs_probes->probes,
						     N_OF(fs_probes->probes)};
	} else if (t->fs_type) {
		sonde_info(1, "no functions of its own known for %s: filtering by file-system type",
			   t->fs_type);
	}
	for (size_t i = 0; i < N_OF(generic_sets); i++)
		sets[n++] = generic_sets[i];
	set = sonde_probe_set_choose(sets, n, t->args.attach, NULL, NULL, reasons, sizeof(reasons));
	if (set < 0) {
		if (t->args.attach)
			sonde_err("cannot trace file operations with %s: %s",
				  sonde_attach_kind_name(t->args.attach), reasons);
		else
			sonde_err("cannot trace file operations on this kernel: %s", reasons);
		return -1;
	}
	sonde_info(1, "timing file operations at the %s%s%s%s", sets[set].name,
		   set ? " (passed over: " : "", set ? reasons : "", set ? ")" : "");
	return set;
}

static void configure(struct fsslower *t)
{
	struct fsslower_bpf *skel = t->skel;

	skel->rodata->min_latency_ns = t->min_ns;
	skel->rodata->dist_mode = t->dist;
	skel->rodata->self_tgid = getpid();
	if (t->fs_type)
		strncpy((char *)skel->rodata->fs_filter, t->fs_type, FSSLOWER_FS_NAME_LEN - 1);
	for (size_t i = 0; i < N_OF(known_syscalls); i++)
		if (known_syscalls[i].nr >= 0 && known_syscalls[i].nr < FSSLOWER_MAX_SYSCALLS)
			skel->rodata->syscall_calls[known_syscalls[i].nr] = known_syscalls[i].call;
}

static void destroy_skel(struct fsslower_bpf **skel)
{
	fsslower_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct fsslower t = {.min_ns = DEFAULT_MIN_NS};
	const struct sonde_tool tool = {
		.name = "fsslower",
		.summary = "Trace file operations (read, write, open, fsync) slower than a threshold.",
		.description =
			"Each read, write, pread/pwrite, readv/writev (and their p/v2 forms),\n"
			"open/openat/openat2/creat, fsync and fdatasync that takes at least -m\n"
			"milliseconds is printed with the process, the file (its full path as seen\n"
			"from the process's mount namespace, or the name as passed to a failed open),\n"
			"the file-system type, the bytes moved, the file offset and the latency. The\n"
			"threshold and filters apply in the kernel: fast operations never reach user\n"
			"space. Sockets, character devices (terminals) and pseudo files such as\n"
			"anonymous pipes are left out unless -t names their file system.\n"
			"With -t ext4, xfs, btrfs, f2fs, nfs or nfs4, that file system's own file\n"
			"operations (ext4_file_read_iter, ...) are timed where fentry or kprobes\n"
			"reach them, which also sees io_uring, aio and in-kernel I/O; elsewhere the\n"
			"VFS functions or the syscalls, filtered by type (-v says which and why).\n"
			"--dist prints a log2 latency histogram per operation instead (every\n"
			"operation counts unless -m is given), at the end or every -i.",
		.examples =
			"  sonde-fsslower                         operations slower than 10 ms\n"
			"  sonde-fsslower -m 1 -t ext4            slower than 1 ms, ext4 files only\n"
			"  sonde-fsslower -m 0 -p 1234 10         everything process 1234 does for 10 s\n"
			"  sonde-fsslower --dist -t nfs4 -i 5     NFS latency histograms every 5 s\n"
			"  sonde-fsslower -o json | jq 'select(.op == \"fsync\")'\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &t,
	};
	struct fsslower_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	static struct fs_probes fs_probes;
	struct sonde_probe_set sets[N_OF(generic_sets) + 1];
	int rc = sonde_cli_parse(&tool, argc, argv, &t.args);
	int set;

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	if (t.args.interval_ns && !t.dist) {
		sonde_err("-i prints histograms: use it with --dist");
		sonde_args_free(&t.args);
		return SONDE_EXIT_USAGE;
	}
	if (t.dist && !t.min_given)
		t.min_ns = 0;
	/* Choosing probes the kernel, which needs the privileges the session
	 * would check later: without them, say so rather than "unsupported". */
	rc = sonde_caps_check();
	if (!rc) {
		set = choose_probe_set(&t, &fs_probes, sets);
		rc = set < 0 ? SONDE_EXIT_UNSUPPORTED : 0;
	}
	if (rc) {
		sonde_args_free(&t.args);
		return rc;
	}
	skel = SONDE_OPEN_SKELETON(fsslower_bpf);
	if (!skel) {
		sonde_err("cannot open the BPF object: %m");
		sonde_args_free(&t.args);
		return SONDE_EXIT_RUNTIME;
	}
	t.skel = skel;
	configure(&t);
	sonde_table_init(&t.table, columns, N_COLS, stdout);

	const struct sonde_session_config cfg = {
		.what = t.dist ? "file operation latency" : "slow file operations",
		.args = &t.args,
		.obj = skel->obj,
		.probes = sets[set].probes,
		.n_probes = sets[set].n_probes,
		.header = t.dist ? NULL : &t.table,
		.on_event = t.dist ? NULL : on_event,
		.on_interval = t.dist ? on_interval : NULL,
		.on_end = t.dist ? on_end : NULL,
		.ctx = &t,
	};
	rc = sonde_session_run(&cfg);
	sonde_json_free(&t.json);
	sonde_args_free(&t.args);
	return rc;
}

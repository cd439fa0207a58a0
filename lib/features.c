#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sonde/btf_names.h"
#include "sonde/features.h"
#include "sonde/heap_prefault.h"
#include "sonde/log.h"

#define TRACEFS_MAGIC 0x74726163

struct feature_state {
	bool probed;
	bool present;
	char reason[160];
};

static struct feature_state state[SONDE_FEAT_COUNT];
static struct btf *vmlinux_btf;

static const char *const names[SONDE_FEAT_COUNT] = {
	[SONDE_FEAT_BTF] = "btf",
	[SONDE_FEAT_KPROBE] = "kprobe",
	[SONDE_FEAT_FENTRY] = "fentry",
	[SONDE_FEAT_TP_BTF] = "tp_btf",
	[SONDE_FEAT_RAW_TP] = "raw_tracepoint",
	[SONDE_FEAT_TRACEPOINT] = "tracepoint",
	[SONDE_FEAT_UPROBE] = "uprobe",
	[SONDE_FEAT_USDT] = "usdt",
	[SONDE_FEAT_RINGBUF] = "ringbuf",
	[SONDE_FEAT_HW_PMU] = "hardware_pmu",
	[SONDE_FEAT_PERF_CPU_CLOCK] = "perf_cpu_clock",
};

const char *sonde_feature_name(enum sonde_feature f)
{
	return f < SONDE_FEAT_COUNT ? names[f] : "?";
}

/* Kernels since 6.16 let /sys/kernel/btf/vmlinux be mapped. Parsing it
 * from the mapping takes a third of the time libbpf's reader does, which
 * copies the 5 MB file a page per read() into a growing buffer. Returns
 * NULL where the file cannot be mapped. */
static struct btf *parse_mapped_vmlinux_btf(void)
{
	struct btf *btf = NULL;
	struct stat st;
	void *data;
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && st.st_size > 0) {
		/* Populated: one call rather than a fault per page. */
		data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (data != MAP_FAILED) {
			btf = btf__new(data, st.st_size);
			munmap(data, st.st_size);
		}
	}
	close(fd);
	return btf;
}

static void load_vmlinux_btf(void)
{
	sonde_heap_prefault_for_btf();
	vmlinux_btf = parse_mapped_vmlinux_btf();
	if (!vmlinux_btf)
		vmlinux_btf = btf__load_vmlinux_btf();
	if (!vmlinux_btf)
		vmlinux_btf = NULL;
}

/* Once, whichever thread asks first: lib/core_btf.c reads it on a thread
 * of its own while the tool's main thread goes on. */
const struct btf *sonde_vmlinux_btf(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load_vmlinux_btf);
	return vmlinux_btf;
}

static bool is_tracefs(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && st.f_type == TRACEFS_MAGIC;
}

const char *sonde_tracefs(void)
{
	static const char *found;
	static bool tried;

	if (tried)
		return found;
	tried = true;
	if (is_tracefs("/sys/kernel/tracing"))
		return found = "/sys/kernel/tracing";
	if (is_tracefs("/sys/kernel/debug/tracing"))
		return found = "/sys/kernel/debug/tracing";
	/* Many minimal hosts and debug pods never mount it. Mounting tracefs
	 * changes nothing else and is what `perf` users do by hand. */
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0) {
		sonde_info(1, "mounted tracefs at /sys/kernel/tracing");
		return found = "/sys/kernel/tracing";
	}
	return NULL;
}

static int load_trivial(enum bpf_prog_type type, enum bpf_attach_type attach,
			__u32 btf_id)
{
	const struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = attach,
		    .attach_btf_id = btf_id);

	return bpf_prog_load(type, NULL, "GPL", insns, 2, &opts);
}

static void set(enum sonde_feature f, bool present, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set(enum sonde_feature f, bool present, const char *fmt, ...)
{
	va_list ap;

	state[f].probed = true;
	state[f].present = present;
	state[f].reason[0] = 0;
	if (!present && fmt) {
		va_start(ap, fmt);
		vsnprintf(state[f].reason, sizeof(state[f].reason), fmt, ap);
		va_end(ap);
	}
}

static void probe_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		set(SONDE_FEAT_BTF, false, "/sys/kernel/btf/vmlinux is missing (kernel built without CONFIG_DEBUG_INFO_BTF)");
	else if (!sonde_vmlinux_btf())
		set(SONDE_FEAT_BTF, false, "/sys/kernel/btf/vmlinux could not be parsed");
	else
		set(SONDE_FEAT_BTF, true, NULL);
}

static void probe_kprobe(void)
{
	const char *tracefs;
	char path[256];

	if (!access("/sys/bus/event_source/devices/kprobe/type", R_OK)) {
		set(SONDE_FEAT_KPROBE, true, NULL);
		return;
	}
	tracefs = sonde_tracefs();
	if (tracefs) {
		snprintf(path, sizeof(path), "%s/kprobe_events", tracefs);
		if (!access(path, W_OK)) {
			set(SONDE_FEAT_KPROBE, true, NULL);
			return;
		}
	}
	set(SONDE_FEAT_KPROBE, false, "no kprobe PMU and no kprobe_events in tracefs (kernel built without CONFIG_KPROBES)");
}

static void probe_tracing_prog(enum sonde_feature f, enum bpf_attach_type attach,
			       const char *target, __u32 kind)
{
	const struct btf *btf = sonde_vmlinux_btf();
	int id, fd, link;

	if (!btf) {
		set(f, false, "needs kernel BTF");
		return;
	}
	id = sonde_btf_find(btf, target, kind);
	if (id < 0) {
		set(f, false, "%s not found in kernel BTF", target);
		return;
	}
	fd = load_trivial(BPF_PROG_TYPE_TRACING, attach, id);
	if (fd < 0) {
		set(f, false, "the kernel refused to load a %s program (%s)",
		    names[f], strerror(errno));
		return;
	}
	/* Some kernels load the program and refuse only the attachment. */
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link < 0) {
		set(f, false, "the kernel refused to attach a %s program (%s)",
		    names[f], strerror(errno));
	} else {
		set(f, true, NULL);
		close(link);
	}
	close(fd);
}

static void probe_prog_type(enum sonde_feature f, enum bpf_prog_type type)
{
	int ret = libbpf_probe_bpf_prog_type(type, NULL);

	if (ret == 1)
		set(f, true, NULL);
	else
		set(f, false, "the kernel does not load %s programs", names[f]);
}

static void probe_tracepoint(void)
{
	probe_prog_type(SONDE_FEAT_TRACEPOINT, BPF_PROG_TYPE_TRACEPOINT);
	if (state[SONDE_FEAT_TRACEPOINT].present && !sonde_tracefs())
		set(SONDE_FEAT_TRACEPOINT, false, "tracefs is not mounted and could not be mounted at /sys/kernel/tracing");
}

static void probe_uprobe(void)
{
	if (!access("/sys/bus/event_source/devices/uprobe/type", R_OK))
		set(SONDE_FEAT_UPROBE, true, NULL);
	else
		set(SONDE_FEAT_UPROBE, false, "no uprobe PMU (kernel built without CONFIG_UPROBE_EVENTS)");
	/* libbpf implements USDT on top of uprobes and a BPF-side spec map. */
	if (state[SONDE_FEAT_UPROBE].present)
		set(SONDE_FEAT_USDT, true, NULL);
	else
		set(SONDE_FEAT_USDT, false, "USDT needs uprobes");
}

static int perf_open(__u32 type, __u64 config)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = type,
		.config = config,
		.sample_freq = 49,
		.freq = 1,
		.disabled = 1,
	};

	return syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
}

static void probe_perf(void)
{
	int fd = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);

	if (fd >= 0) {
		set(SONDE_FEAT_HW_PMU, true, NULL);
		close(fd);
	} else {
		set(SONDE_FEAT_HW_PMU, false, "no hardware cycle counter (%s); profiling uses the cpu-clock software event",
		    strerror(errno));
	}
	fd = perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK);
	if (fd >= 0) {
		set(SONDE_FEAT_PERF_CPU_CLOCK, true, NULL);
		close(fd);
	} else {
		set(SONDE_FEAT_PERF_CPU_CLOCK, false, "perf_event_open(cpu-clock) failed: %s", strerror(errno));
	}
}

static void probe(enum sonde_feature f)
{
	if (state[f].probed)
		return;
	switch (f) {
	case SONDE_FEAT_BTF:
		probe_btf();
		break;
	case SONDE_FEAT_KPROBE:
		probe_kprobe();
		break;
	case SONDE_FEAT_FENTRY:
		probe_tracing_prog(f, BPF_TRACE_FENTRY, "vfs_read", BTF_KIND_FUNC);
		break;
	case SONDE_FEAT_TP_BTF:
		probe_tracing_prog(f, BPF_TRACE_RAW_TP, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
		break;
	case SONDE_FEAT_RAW_TP:
		probe_prog_type(f, BPF_PROG_TYPE_RAW_TRACEPOINT);
		break;
	case SONDE_FEAT_TRACEPOINT:
		probe_tracepoint();
		break;
	case SONDE_FEAT_UPROBE:
	case SONDE_FEAT_USDT:
		probe_uprobe();
		break;
	case SONDE_FEAT_RINGBUF:
		if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1)
			set(f, true, NULL);
		else
			set(f, false, "BPF ring buffer maps are not supported (kernel older than 5.8)");
		break;
	case SONDE_FEAT_HW_PMU:
	case SONDE_FEAT_PERF_CPU_CLOCK:
		probe_perf();
		break;
	case SONDE_FEAT_COUNT:
		break;
	}
}

bool sonde_feature_has(enum sonde_feature f)
{
	if (f >= SONDE_FEAT_COUNT)
		return false;
	probe(f);
	return state[f].present;
}

bool sonde_feature_probed(enum sonde_feature f)
{
	return f < SONDE_FEAT_COUNT && state[f].probed;
}

const char *sonde_feature_reason(enum sonde_feature f)
{
	if (f >= SONDE_FEAT_COUNT)
		return "unknown feature";
	probe(f);
	return state[f].reason;
}

void sonde_features_print(FILE *out)
{
	for (int f = 0; f < SONDE_FEAT_COUNT; f++) {
		bool has = sonde_feature_has(f);

		fprintf(out, "%-16s %s%s%s\n", names[f], has ? "yes" : "no",
			has ? "" : " — ", has ? "" : state[f].reason);
	}
}

bool sonde_kernel_has_tracepoint(const char *cat_name)
{
	const struct btf *btf;
	const char *slash = strchr(cat_name, '/');
	const char *tracefs;
	char buf[256];

	/* A mounted tracefs answers first: the kernel's BTF may still be
	 * being parsed on another thread (lib/core_btf.c). */
	if (is_tracefs("/sys/kernel/tracing")) {
		snprintf(buf, sizeof(buf), "/sys/kernel/tracing/events/%s", cat_name);
		if (access(buf, F_OK) == 0)
			return true;
	}
	btf = sonde_vmlinux_btf();
	/* The syscalls/ events are made by the syscall tracer, not by
	 * TRACE_EVENT: no btf_trace_ typedef ever names them. */
	if (btf && slash && strncmp(cat_name, "syscalls/", 9)) {
		snprintf(buf, sizeof(buf), "btf_trace_%s", slash + 1);
		if (sonde_btf_find(btf, buf, BTF_KIND_TYPEDEF) >= 0)
			return true;
	}
	tracefs = sonde_tracefs();
	if (!tracefs)
		return false;
	snprintf(buf, sizeof(buf), "%s/events/%s", tracefs, cat_name);
	return access(buf, F_OK) == 0;
}

/* Finds a kernel symbol in /proc/kallsyms (a compiler suffix such as
 * ".isra.0" still matches); module gets the module that has it, "" for the
 * kernel itself. */
static bool find_ksym(const char *name, char *module, size_t module_size)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], sym[256], mod[80];
	size_t len = strlen(name);
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "ffffffff81000000 T name\t[module]" */
		int n = sscanf(line, "%*s %*s %255s %79s", sym, mod);

		if (n >= 1 && !strncmp(sym, name, len) && (sym[len] == 0 || sym[len] == '.')) {
			found = true;
			if (n == 2 && mod[0] == '[' && mod[strlen(mod) - 1] == ']')
				snprintf(module, module_size, "%.*s", (int)strlen(mod) - 2, mod + 1);
			else
				snprintf(module, module_size, "%s", "");
		}
	}
	fclose(f);
	return found;
}

bool sonde_kernel_has_btf_func(const char *name)
{
	const struct btf *btf = sonde_vmlinux_btf();
	char module[64], path[128];
	struct btf *module_btf;
	bool found;

	if (!btf)
		return false;
	if (sonde_btf_find(btf, name, BTF_KIND_FUNC) >= 0)
		return true;
	/* A loaded module's function (xfs_file_read_iter): its BTF is split
	 * off vmlinux's, one file per module; libbpf finds it there too. */
	if (!find_ksym(name, module, sizeof(module)) || !module[0])
		return false;
	snprintf(path, sizeof(path), "/sys/kernel/btf/%s", module);
	module_btf = btf__parse_split(path, (struct btf *)btf);
	found = module_btf && btf__find_by_name_kind(module_btf, name, BTF_KIND_FUNC) >= 0;
	btf__free(module_btf);
	return found;
}

bool sonde_kernel_has_ksym(const char *name)
{
	char module[64];

	return find_ksym(name, module, sizeof(module));
}

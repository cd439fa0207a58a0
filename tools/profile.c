/* sonde-profile: where CPU time goes, as sampled on-CPU stacks. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/cli.h>
#include <sonde/core_btf.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/perf_sample.h>
#include <sonde/session.h>
#include <sonde/stacks.h>
#include <sonde/sym.h>

#include "profile.h"
#include "profile.skel.h"

enum { OPT_CPU = SONDE_OPT_LONG, OPT_TOP, OPT_STORAGE, OPT_UNWIND };

struct profile {
	struct sonde_args args;
	struct profile_bpf *skel;
	unsigned hz;
	bool user_only;
	bool kernel_only;
	bool idle;
	int cpu;
	size_t top;
	uint32_t stack_storage;
	enum sonde_unwind_mode unwind;
	struct sonde_stack_printer printer;
};

static const struct sonde_option options[] = {
	{"frequency", 'F', "HZ", "samples per second on each CPU (default 49)"},
	{"user-stacks-only", 'U', NULL, "only user stacks"},
	{"kernel-stacks-only", 'K', NULL, "only kernel stacks"},
	{"include-idle", 'I', NULL, "also count the idle task (pid 0) of each CPU"},
	{"cpu", OPT_CPU, "N", "sample only CPU N"},
	{"top", OPT_TOP, "N", "table: print the N most frequent stacks (default 20, 0: all)"},
	{"unwind", OPT_UNWIND, "auto|fp|dwarf",
	 "walk user stacks by frame pointers (in the kernel), with DWARF CFI (in user space, from a copy of up to 8 KiB of stack per sample), or auto (default): DWARF where the code has no frame pointers"},
	{"stack-storage-size", OPT_STORAGE, "N",
	 "distinct stacks the kernel can hold (default 16384); raise it when stacks are lost"},
	{0},
};

static int parse_uint(const char *arg, unsigned long max, unsigned long *value)
{
	char *end;

	errno = 0;
	*value = strtoul(arg, &end, 10);
	return errno || end == arg || *end || *value > max || arg[0] == '-' ? -1 : 0;
}

static int parse_option(int key, const char *arg, void *ctx)
{
	struct profile *p = ctx;
	unsigned long v;

	switch (key) {
	case 'F':
		if (parse_uint(arg, 100000, &v) || !v) {
			sonde_err("invalid frequency '%s' (1-100000 Hz)", arg);
			return SONDE_EXIT_USAGE;
		}
		p->hz = v;
		return 0;
	case 'U':
		p->user_only = true;
		return 0;
	case 'K':
		p->kernel_only = true;
		return 0;
	case 'I':
		p->idle = true;
		return 0;
	case OPT_CPU:
		if (parse_uint(arg, SONDE_MAX_CPUS - 1, &v)) {
			sonde_err("invalid CPU '%s'", arg);
			return SONDE_EXIT_USAGE;
		}
		p->cpu = v;
		return 0;
	case OPT_STORAGE:
		if (parse_uint(arg, 1048576, &v) || v < 1024) {
			sonde_err("invalid --stack-storage-size '%s' (1024-1048576)", arg);
			return SONDE_EXIT_USAGE;
		}
		p->stack_storage = v;
		return 0;
	case OPT_UNWIND:
		if (sonde_unwind_mode_parse(arg, &p->unwind)) {
			sonde_err("invalid --unwind '%s' (auto, fp or dwarf)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case OPT_TOP:
		if (parse_uint(arg, INT_MAX, &v)) {
			sonde_err("invalid --top '%s'", arg);
			return SONDE_EXIT_USAGE;
		}
		p->top = v;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct profile *p = ctx;

	return sonde_stacks_on_event(&p->printer, data, size);
}

static int on_interval(void *ctx)
{
	struct profile *p = ctx;

	return sonde_stacks_print_all(&p->printer, true);
}

static int on_end(void *ctx)
{
	struct profile *p = ctx;

	/* A reader that left (`| head`) is a normal end, not an error. */
	return sonde_stacks_print_all(&p->printer, false) < 0 && !sonde_out_closed() ? -1 : 0;
}

/* Before capabilities are dropped (kallsyms hides addresses otherwise):
 * opened here, read on a thread of its own once attached (on_ready),
 * instead of holding up the report at the end. */
static int load_symbols(void *ctx)
{
	struct profile *p = ctx;

	if (!p->user_only)
		sonde_stacks_load_kernel_symbols(&p->printer);
	return 0;
}

static int attach_sampler(struct sonde_session *s, void *ctx)
{
	struct profile *p = ctx;

	if (!p->kernel_only)
		sonde_stacks_attach_user(&p->printer, p->args.pids, p->args.n_pids);
	return sonde_perf_sample_attach(s, p->skel->progs.profile_sample, p->hz, p->cpu);
}

/* Attached: the kernel's symbols (if opened) are read meanwhile, on a
 * thread. */
static int on_ready(void *ctx)
{
	sonde_stacks_read_ahead(&((struct profile *)ctx)->printer);
	return 0;
}

static int on_tick(void *ctx)
{
	sonde_stacks_poll_mappings(&((struct profile *)ctx)->printer);
	return 0;
}

static void destroy_skel(struct profile_bpf **skel)
{
	profile_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct profile p = {.hz = PROFILE_DEFAULT_HZ, .cpu = -1, .top = 20,
				     .stack_storage = SONDE_STACK_STORAGE_DEFAULT};
	static const char *const extra_progs[] = {"profile_sample", NULL};
	const struct sonde_tool tool = {
		.name = "profile",
		.summary = "Sample on-CPU stacks: where is CPU time going?",
		.description =
			"Every CPU is sampled HZ times a second by a timer (the hardware cycle\n"
			"counter where there is one, else the cpu-clock software event); each sample\n"
			"records the running task's user and kernel stacks, counted in the kernel\n"
			"per process, command name and stack pair. At the end (or every -i), the\n"
			"stacks are symbolized: kernel functions from /proc/kallsyms, user functions\n"
			"from each process's ELF files as it sees them (containers included), with\n"
			"separate debug files, inlined functions and JIT perf maps. User stacks are\n"
			"walked by frame pointers in the kernel where the code keeps them (each\n"
			"file's function prologues say so); where it does not (most distribution\n"
			"libraries), a sample's registers and stack are copied and walked here with\n"
			"the binaries' DWARF call frame information (--unwind auto, the default;\n"
			"--unwind fp or dwarf forces one way). Go leaf functions without a frame\n"
			"keep their caller through Go's own table of stack pointer offsets.\n"
			"Output: a table of the top stacks, folded lines for flame graphs (kernel\n"
			"frames end in _[k], inlined ones in _[i]), or JSON Lines.",
		.examples =
			"  sonde-profile 10                          top stacks over 10 seconds\n"
			"  sonde-profile -p 1234 -F 99 -o folded 30 | flamegraph.pl > cpu.svg\n"
			"  sonde-profile -U -C 3f2a1b -o json 10     user stacks of one container\n"
			"  sonde-profile --cpu 3 -K -I 5             what CPU 3 does in the kernel\n"
			"  sonde-profile -p 1234 --unwind dwarf 10   DWARF for every user stack\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_FOLDED | SONDE_FMT_JSON | SONDE_FMT_PPROF,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &p,
	};
	struct profile_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	int rc = sonde_cli_parse(&tool, argc, argv, &p.args);

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	if (p.user_only && p.kernel_only) {
		sonde_err("-U and -K exclude each other");
		sonde_args_free(&p.args);
		return SONDE_EXIT_USAGE;
	}
	skel = SONDE_OPEN_SKELETON(profile_bpf);
	if (!skel) {
		sonde_err("cannot open the BPF object: %m");
		sonde_args_free(&p.args);
		return SONDE_EXIT_RUNTIME;
	}
	p.skel = skel;
	if (sonde_stacks_set_storage(skel->obj, p.stack_storage, p.unwind)) {
		sonde_err("cannot size the stack map");
		sonde_args_free(&p.args);
		return SONDE_EXIT_RUNTIME;
	}
	skel->rodata->user_stacks = !p.kernel_only;
	skel->rodata->kernel_stacks = !p.user_only;
	skel->rodata->include_idle = p.idle;
	skel->rodata->sonde_unwind_mode = p.unwind;
	p.printer = (struct sonde_stack_printer){
		.obj = skel->obj,
		.sym = sonde_symbolizer_new(),
		.format = p.args.format,
		.unit = SONDE_STACK_SAMPLES,
		.period_ns = 1000000000ll / p.hz,
		.top = p.top,
		.out = stdout,
	};
	if (!p.printer.sym || sonde_stack_printer_unwind(&p.printer, p.unwind)) {
		sonde_err("out of memory");
		sonde_stack_printer_free(&p.printer);
		sonde_symbolizer_free(p.printer.sym);
		sonde_args_free(&p.args);
		return SONDE_EXIT_RUNTIME;
	}

	const struct sonde_session_config cfg = {
		.what = "on-CPU stacks",
		.args = &p.args,
		.obj = skel->obj,
		.before_load = load_symbols,
		.attach_extra = attach_sampler,
		.on_ready = on_ready,
		.on_tick = on_tick,
		/* Only where there is a watch to read (not with --unwind fp). */
		.tick_ns = p.unwind != SONDE_UNWIND_FP ? SONDE_STACKS_MAPPINGS_TICK_NS : 0,
		.extra_progs = extra_progs,
		.on_event = on_event,
		.on_interval = on_interval,
		.on_end = on_end,
		.ctx = &p,
		/* Symbols are read from other processes' files at the end. */
		.keep_caps = SONDE_KEEP_PROC_READ,
	};
	rc = sonde_session_run(&cfg);
	sonde_stack_printer_end(&p.printer);
	sonde_args_free(&p.args);
	return rc;
}

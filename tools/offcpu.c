/* sonde-offcpu: where threads block, and for how long. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sonde/caps.h>
#include <sonde/cli.h>
#include <sonde/core_btf.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/session.h>
#include <sonde/stacks.h>
#include <sonde/sym.h>

#include "offcpu.h"
#include "offcpu.skel.h"

enum { OPT_STATE = SONDE_OPT_LONG, OPT_WAKER, OPT_TOP, OPT_STORAGE, OPT_UNWIND };

struct offcpu {
	struct sonde_args args;
	struct offcpu_bpf *skel;
	uint64_t min_us;
	uint64_t max_us;
	uint32_t state_classes;
	bool state_raw;
	uint32_t state_raw_mask;
	enum offcpu_threads threads;
	bool user_only;
	bool kernel_only;
	bool waker;
	size_t top;
	uint32_t stack_storage;
	enum sonde_unwind_mode unwind;
	struct sonde_stack_printer printer;
};

static const struct sonde_option options[] = {
	{"min-block", 'm', "US", "only blocks of at least US microseconds (default 1)"},
	{"max-block", 'M', "US", "only blocks of at most US microseconds"},
	{"state", OPT_STATE, "STATES",
	 "only these leaving states: letters of RSDIT (preempted, sleep, uninterruptible, idle, other) or a TASK_* mask"},
	{"user-threads-only", 'u', NULL, "only user threads"},
	{"kernel-threads-only", 'k', NULL, "only kernel threads"},
	{"user-stacks-only", 'U', NULL, "only user stacks"},
	{"kernel-stacks-only", 'K', NULL, "only kernel stacks"},
	{"waker", OPT_WAKER, NULL, "add the stacks of the task that woke the blocked one"},
	{"top", OPT_TOP, "N", "table: print the N longest-blocked stacks (default 20, 0: all)"},
	{"unwind", OPT_UNWIND, "auto|fp|dwarf",
	 "walk user stacks by frame pointers (in the kernel), with DWARF CFI (in user space, from a copy of up to 8 KiB of stack per block), or auto (default): DWARF where the code has no frame pointers"},
	{"stack-storage-size", OPT_STORAGE, "N",
	 "distinct stacks the kernel can hold (default 16384); raise it when stacks are lost"},
	{0},
};

static int parse_u64(const char *arg, uint64_t *value)
{
	char *end;

	errno = 0;
	*value = strtoull(arg, &end, 10);
	return errno || end == arg || *end || arg[0] == '-' ? -1 : 0;
}

static int parse_state(struct offcpu *o, const char *arg)
{
	static const char letters[] = "RSDIT";
	uint64_t raw;

	if (isdigit((unsigned char)arg[0])) {
		if (parse_u64(arg, &raw) || raw > UINT32_MAX)
			return -1;
		o->state_raw = true;
		o->state_raw_mask = raw;
		return 0;
	}
	o->state_classes = 0;
	for (const char *c = arg; *c; c++) {
		const char *at = *c ? strchr(letters, toupper((unsigned char)*c)) : NULL;

		if (*c == ',')
			continue;
		if (!at)
			return -1;
		o->state_classes |= 1u << (at - letters);
	}
	return o->state_classes ? 0 : -1;
}

static int parse_option(int key, const char *arg, void *ctx)
{
	struct offcpu *o = ctx;
	uint64_t v;

	switch (key) {
	case 'm':
	case 'M':
		if (parse_u64(arg, &v) || v > UINT64_MAX / 1000) {
			sonde_err("invalid %s '%s' (microseconds)", key == 'm' ? "--min-block" : "--max-block", arg);
			return SONDE_EXIT_USAGE;
		}
		*(key == 'm' ? &o->min_us : &o->max_us) = v;
		return 0;
	case OPT_STATE:
		if (parse_state(o, arg)) {
			sonde_err("invalid --state '%s' (letters of RSDIT, or a TASK_* bit mask)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case 'u':
		o->threads = OFFCPU_USER_THREADS;
		return 0;
	case 'k':
		o->threads = OFFCPU_KERNEL_THREADS;
		return 0;
	case 'U':
		o->user_only = true;
		return 0;
	case 'K':
		o->kernel_only = true;
		return 0;
	case OPT_WAKER:
		o->waker = true;
		return 0;
	case OPT_STORAGE:
		if (parse_u64(arg, &v) || v < 1024 || v > 1048576) {
			sonde_err("invalid --stack-storage-size '%s' (1024-1048576)", arg);
			return SONDE_EXIT_USAGE;
		}
		o->stack_storage = v;
		return 0;
	case OPT_UNWIND:
		if (sonde_unwind_mode_parse(arg, &o->unwind)) {
			sonde_err("invalid --unwind '%s' (auto, fp or dwarf)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case OPT_TOP:
		if (parse_u64(arg, &v) || v > INT_MAX) {
			sonde_err("invalid --top '%s'", arg);
			return SONDE_EXIT_USAGE;
		}
		o->top = v;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

/* Counted on the BPF side; the session reports them with its own. */
static const struct sonde_stat_name bpf_stats[] = {
	{OFFCPU_STAT_RESUME_UNSEEN,
	 "returns to the CPU the kernel did not report: those blocks end where the task's CPU time since says",
	 false},
	{OFFCPU_STAT_COPY_NO_ROOM,
	 "user stacks walked by frame pointers, not DWARF: the ring buffer had no room for their copy",
	 false},
};

static int on_event(void *ctx, const void *data, size_t size)
{
	struct offcpu *o = ctx;

	return sonde_stacks_on_event(&o->printer, data, size);
}

static int on_interval(void *ctx)
{
	struct offcpu *o = ctx;

	return sonde_stacks_print_all(&o->printer, true);
}

static int on_end(void *ctx)
{
	struct offcpu *o = ctx;

	if (o->printer.ended_without_copy)
		sonde_err("%llu blocks left out: their copied stacks were dropped to bound memory",
			  (unsigned long long)o->printer.ended_without_copy);
	/* A reader that left (`| head`) is a normal end, not an error. */
	return sonde_stacks_print_all(&o->printer, false) < 0 && !sonde_out_closed() ? -1 : 0;
}

/* Before capabilities are dropped (kallsyms hides addresses otherwise):
 * opened here, read on a thread of its own once attached (on_ready),
 * instead of holding up the report at the end. */
static int load_symbols(void *ctx)
{
	struct offcpu *o = ctx;

	if (!o->user_only)
		sonde_stacks_load_kernel_symbols(&o->printer);
	return 0;
}

/* While -p targets are still alive, and before capabilities are dropped
 * (sonde_stacks_attach_user says why). */
static int attach_user(struct sonde_session *s, void *ctx)
{
	struct offcpu *o = ctx;

	(void)s;
	if (!o->kernel_only)
		sonde_stacks_attach_user(&o->printer, o->args.pids, o->args.n_pids);
	return 0;
}

/* Attached: the kernel's symbols (if opened) are read meanwhile, on a
 * thread. */
static int on_ready(void *ctx)
{
	sonde_stacks_read_ahead(&((struct offcpu *)ctx)->printer);
	return 0;
}

static int on_tick(void *ctx)
{
	sonde_stacks_poll_mappings(&((struct offcpu *)ctx)->printer);
	return 0;
}

static const struct sonde_probe probes[] = {
	/* raw_tp before tp_btf: the program reads the task leaving the CPU
	 * the same way under both (it is current, read through
	 * bpf_get_current_task_btf()), and a tp_btf program makes libbpf
	 * parse all of the kernel's BTF to find its attach point, a fifth
	 * of the start-up. */
	{
		.name = "context switches",
		.alts = {
			{SONDE_ATTACH_RAW_TP, "switch_raw", "sched/sched_switch"},
			{SONDE_ATTACH_TP_BTF, "switch_btf", "sched/sched_switch"},
			{SONDE_ATTACH_TRACEPOINT, "switch_tp", "sched/sched_switch"},
		},
	},
	/* Only with --waker. */
	{
		.name = "wakeups",
		.alts = {
			{SONDE_ATTACH_RAW_TP, "waking_raw", "sched/sched_waking"},
			{SONDE_ATTACH_TP_BTF, "waking_btf", "sched/sched_waking"},
			{SONDE_ATTACH_TRACEPOINT, "waking_tp", "sched/sched_waking"},
		},
	},
};

static void destroy_skel(struct offcpu_bpf **skel)
{
	offcpu_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct offcpu o = {.min_us = 1, .max_us = UINT64_MAX / 1000, .top = 20,
				    .stack_storage = SONDE_STACK_STORAGE_DEFAULT};
	const struct sonde_tool tool = {
		.name = "offcpu",
		.summary = "Blocked (off-CPU) time by stack: where do threads wait, and how long?",
		.description =
			"Each time a thread leaves a CPU, its user and kernel stacks and the time are\n"
			"remembered; when it runs again, the time it was away is added to those stacks'\n"
			"total in the kernel, per thread and command name. Blocks shorter than -m or\n"
			"longer than -M are not counted; --state keeps only some reasons for leaving\n"
			"(D: uninterruptible, typically disk I/O and locks). With --waker the stacks of\n"
			"the thread that woke it up are part of the key too. User stacks are walked by\n"
			"frame pointers in the kernel where the code keeps them; where it does not\n"
			"(most distribution libraries, glibc's system call wrappers), the registers\n"
			"and the top of the stack are copied as the thread leaves the CPU and walked\n"
			"here with DWARF call frame information (--unwind auto, the default; the\n"
			"waker's stacks always by frame pointers). Output: a table of the\n"
			"longest-blocked stacks, folded lines with microseconds for flame graphs\n"
			"(kernel frames end in _[k]), or JSON Lines with every frame.",
		.examples =
			"  sonde-offcpu -p 1234 10                     where 1234 waits, over 10 s\n"
			"  sonde-offcpu -o folded -m 1000 30 | flamegraph.pl --countname=us > off.svg\n"
			"  sonde-offcpu --state D -K 10                uninterruptible sleeps in the kernel\n"
			"  sonde-offcpu --waker -p 1234 -o folded 10   who wakes 1234 up\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_FOLDED | SONDE_FMT_JSON | SONDE_FMT_PPROF,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &o,
	};
	struct offcpu_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	int rc = sonde_cli_parse(&tool, argc, argv, &o.args);

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	if ((o.user_only && o.kernel_only) || o.min_us > o.max_us) {
		sonde_err(o.min_us > o.max_us ? "--min-block is above --max-block"
					      : "-U and -K exclude each other");
		sonde_args_free(&o.args);
		return SONDE_EXIT_USAGE;
	}
	skel = SONDE_OPEN_SKELETON(offcpu_bpf);
	if (!skel) {
		sonde_err("cannot open the BPF object: %m");
		sonde_args_free(&o.args);
		return SONDE_EXIT_RUNTIME;
	}
	o.skel = skel;
	if (sonde_stacks_set_storage(skel->obj, o.stack_storage, o.unwind)) {
		sonde_err("cannot size the stack map");
		sonde_args_free(&o.args);
		return SONDE_EXIT_RUNTIME;
	}
	skel->rodata->min_block_ns = o.min_us * 1000;
	skel->rodata->max_block_ns = o.max_us * 1000;
	skel->rodata->state_classes = o.state_classes;
	skel->rodata->state_raw = o.state_raw;
	skel->rodata->state_raw_mask = o.state_raw_mask;
	skel->rodata->threads = o.threads;
	skel->rodata->user_stacks = !o.kernel_only;
	skel->rodata->kernel_stacks = !o.user_only;
	skel->rodata->track_wakers = o.waker;
	/* Unused without --waker: its 32768 preallocated entries would cost
	 * a millisecond to create. */
	if (!o.waker && bpf_map__set_max_entries(skel->maps.wakers, 1)) {
		sonde_err("cannot size the wakers map");
		sonde_args_free(&o.args);
		return SONDE_EXIT_RUNTIME;
	}
	skel->rodata->sonde_unwind_mode = o.unwind;
	o.printer = (struct sonde_stack_printer){
		.obj = skel->obj,
		.sym = sonde_symbolizer_new(),
		.format = o.args.format,
		.unit = SONDE_STACK_NS,
		.top = o.top,
		.show_tid = true,
		.other = o.waker ? "waker" : NULL,
		.out = stdout,
	};
	if (!o.printer.sym || sonde_stack_printer_unwind(&o.printer, o.unwind)) {
		sonde_err("out of memory");
		sonde_stack_printer_free(&o.printer);
		sonde_symbolizer_free(o.printer.sym);
		sonde_args_free(&o.args);
		return SONDE_EXIT_RUNTIME;
	}

	const struct sonde_session_config cfg = {
		.what = "off-CPU time",
		.stats = bpf_stats,
		.n_stats = sizeof(bpf_stats) / sizeof(bpf_stats[0]),
		.args = &o.args,
		.obj = skel->obj,
		.probes = probes,
		.n_probes = o.waker ? 2 : 1,
		.before_load = load_symbols,
		.attach_extra = attach_user,
		.on_ready = on_ready,
		.on_tick = on_tick,
		/* Only where there is a watch to read (not with --unwind fp). */
		.tick_ns = o.unwind != SONDE_UNWIND_FP ? SONDE_STACKS_MAPPINGS_TICK_NS : 0,
		.on_event = on_event,
		.on_interval = on_interval,
		.on_end = on_end,
		.ctx = &o,
		.keep_caps = SONDE_KEEP_PROC_READ,
	};
	rc = sonde_session_run(&cfg);
	sonde_stack_printer_end(&o.printer);
	sonde_args_free(&o.args);
	return rc;
}

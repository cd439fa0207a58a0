/* Reading and printing stacks aggregated in the kernel (the maps of
 * bpf/sonde_stacks.bpf.h): as a table of top stacks, as folded lines for
 * flame graphs, or as JSON Lines with every frame. */
#ifndef SONDE_STACKS_H
#define SONDE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sonde/cli.h"
#include "sonde/out.h"
#include "sonde/stack_key.h"
#include "sonde/unwind_ranges.h"

struct bpf_object;
struct sonde_symbolizer;
struct sonde_unwinder;

struct sonde_stack_entry {
	struct sonde_stack_key key;
	struct sonde_stack_value value;
	/* A user stack unwound in user space (DWARF) rather than one in the
	 * stack map: leaf first. NULL for map entries. */
	const uint64_t *user_ips;
	size_t n_user_ips;
};

#define SONDE_STACK_STORAGE_DEFAULT 16384

/* The events ring buffer of a tool that may copy user stacks (8 KiB
 * each) for DWARF unwinding. The BPF side wakes user space once the ring
 * is a quarter full: with the default 256 KiB that was every 8 copies,
 * and sonde-offcpu spent more CPU being woken than unwinding. */
#define SONDE_STACK_COPY_RING (4u << 20)

/* Sizes the stack map of an opened, not yet loaded object: distinct
 * stacks it can hold; more room means fewer hash collisions (a stack
 * whose bucket is taken goes to sonde_overflow, and is lost only
 * if its bucket there is taken too) at STACK_DEPTH * 8 bytes per entry. Unless unwind is
 * SONDE_UNWIND_FP, also makes room for copied stacks in its events ring
 * buffer (SONDE_STACK_COPY_RING). Returns 0 or -errno. */
int sonde_stacks_set_storage(struct bpf_object *obj, uint32_t entries,
			     enum sonde_unwind_mode unwind);

/* Reads the totals map of obj, sorted by total, largest first. With
 * clear, the entries read are deleted (for per-interval output). Returns
 * 0 or -errno. */
int sonde_stacks_read(struct bpf_object *obj, bool clear,
		      struct sonde_stack_entry **entries, size_t *n);
/* Largest total first. */
void sonde_stacks_sort(struct sonde_stack_entry *entries, size_t n);

/* Stacks aggregated in user space: for user stacks unwound there, which
 * the kernel cannot key on. */
struct sonde_stack_agg;
struct sonde_stack_agg *sonde_stack_agg_new(void);
/* Adds value to the entry of (key, ips); the key's user stack id is
 * ignored. Returns 0 or -ENOMEM. */
int sonde_stack_agg_add(struct sonde_stack_agg *a, const struct sonde_stack_key *key,
			const uint64_t *ips, size_t n_ips, uint64_t value);
/* The entries so far (valid until the next add, clear or free). */
size_t sonde_stack_agg_count(const struct sonde_stack_agg *a);
size_t sonde_stack_agg_entries(const struct sonde_stack_agg *a, struct sonde_stack_entry *out);
void sonde_stack_agg_clear(struct sonde_stack_agg *a);
void sonde_stack_agg_free(struct sonde_stack_agg *a);

/* Frees the stacks that entries refer to from the stack map. */
void sonde_stacks_release(struct bpf_object *obj, const struct sonde_stack_entry *entries, size_t n);

enum sonde_stack_unit {
	SONDE_STACK_SAMPLES,	/* totals count samples */
	SONDE_STACK_NS,		/* totals are nanoseconds (shown as µs) */
};

struct sonde_mmap_watch;
struct sonde_stack_pending;

struct sonde_stack_printer {
	struct bpf_object *obj;
	struct sonde_symbolizer *sym;
	enum sonde_format format;	/* table, folded, json or pprof */
	int64_t period_ns;		/* sampling period, for pprof (on-CPU) */
	enum sonde_stack_unit unit;
	size_t top;			/* table rows; 0: all */
	bool show_tid;
	const char *other;		/* "waker" when the second stacks are used */
	FILE *out;
	/* --unwind (sonde_stack_printer_unwind): user stacks copied by the
	 * BPF side are unwound by unwinder and totalled in agg. */
	enum sonde_unwind_mode unwind;
	struct sonde_unwinder *unwinder;
	struct sonde_stack_agg *agg;
	/* New code mapped into processes (sonde_stacks_watch_mappings). */
	struct sonde_mmap_watch *mmaps;
	/* Copies whose block has not ended yet (SONDE_SAMPLE_PENDING). */
	struct sonde_stack_pending *pending;
	uint64_t ended_without_copy;
	/* User stacks copied, and their bytes (-v says, at the end). */
	uint64_t copies, copied_bytes;
	/* Copies that a thread's stack end, learned earlier, made too short
	 * for the walk: their outer frames are missing. */
	uint64_t copies_cut_short;
	struct sonde_table table;
	struct sonde_json json;
};

/* Reads the kernel's totals of p->obj and those aggregated here, prints
 * them all and, with clear, starts the next interval afresh. Returns 0,
 * or -1 on an error (said) or once the output is closed. */
int sonde_stacks_print_all(struct sonde_stack_printer *p, bool clear);

/* Prints entries. Returns 0, or -1 once the output is closed. */
int sonde_stacks_print(struct sonde_stack_printer *p, const struct sonde_stack_entry *entries,
		       size_t n);
void sonde_stack_printer_free(struct sonde_stack_printer *p);
/* At the end of the process, the printer and its symbolizer: freed piece
 * by piece only where a leak checker looks (sanitizer builds). Elsewhere
 * exit hands it all back at once; freeing libc's DWARF and the kernel's
 * symbols took a third of a stack tool's 10 ms exit. */
void sonde_stack_printer_end(struct sonde_stack_printer *p);

/* What a stack tool's on_event does with the events its BPF side sends:
 * a process seen for the first time has its mappings and files read
 * while it is alive, so that its stacks still resolve if it exits before
 * the end, and its code classified for --unwind; a copied user stack is
 * unwound and added to the totals. Returns 0. */
int sonde_stacks_on_event(struct sonde_stack_printer *p, const void *data, size_t size);
/* Opens the kernel's symbols (a stack tool's before_load hook, before
 * capabilities are dropped); says so when they are hidden. */
void sonde_stacks_load_kernel_symbols(struct sonde_stack_printer *p);
/* Starts reading them on a thread, once the programs are attached (the
 * on_ready hook): read during the load and attach, their ~70 ms of CPU
 * took the second CPU of a 2-CPU machine from the start-up's own work.
 * Nothing when they were not opened (-U: no kernel stacks). */
void sonde_stacks_read_ahead(struct sonde_stack_printer *p);
/* A stack tool's user-space side, once its programs are attached (its
 * attach_extra hook, before capabilities are dropped):
 * - the -p targets' mappings and files read (sonde_stacks_prepare), so a
 *   target that exits before the end still gets its symbols;
 * - code mapped later watched (sonde_stacks_watch_mappings);
 * - the C library's debug info (of the first target, or system-wide the
 *   machine's) opened on a thread, for the report at the end. Not while
 *   the programs load: with the kallsyms reader, three threads on two
 *   CPUs would slow the attach itself. */
void sonde_stacks_attach_user(struct sonde_stack_printer *p, const pid_t *pids, size_t n_pids);
/* The same for a process named up front (-p): read and classified now. */
void sonde_stacks_prepare(struct sonde_stack_printer *p, uint32_t pid);

/* ---- --unwind (lib/stacks_unwind.c) ---- */

/* "auto", "fp" or "dwarf"; 0 or -EINVAL. */
int sonde_unwind_mode_parse(const char *arg, enum sonde_unwind_mode *mode);
/* Sets the printer up for mode (the BPF side's sonde_unwind_mode must be
 * set to the same); 0 or -ENOMEM. sonde_stack_printer_free frees it. */
int sonde_stack_printer_unwind(struct sonde_stack_printer *p, enum sonde_unwind_mode mode);
/* Tells the BPF side which code of process pid frame pointers do not
 * walk right (DWARF in auto mode; Go leaves in fp and auto modes); says
 * so with -v. */
void sonde_stacks_classify(struct sonde_stack_printer *p, uint32_t pid);
/* With --unwind auto or dwarf: watches for code mapped into processes
 * after they were classified (dlopen), so that their stacks are
 * classified and unwound with it. Before capabilities are dropped
 * (perf events need CAP_PERFMON); without them it says so with -v and
 * does without. */
void sonde_stacks_watch_mappings(struct sonde_stack_printer *p);
/* Takes in what the watch saw: for the session's tick
 * (SONDE_STACKS_MAPPINGS_TICK_NS). */
void sonde_stacks_poll_mappings(struct sonde_stack_printer *p);
#define SONDE_STACKS_MAPPINGS_TICK_NS 200000000ull

/* Unwinds a copied user stack (a record of size bytes) and adds its
 * value to the totals, or, if it is pending, keeps it for its end; learns
 * where the thread's stack ends, for the BPF side's next copies. 0 or
 * -ENOMEM. */
int sonde_stacks_add_user_sample(struct sonde_stack_printer *p, const struct sonde_user_sample *e,
				 size_t size);
/* The end of a pending copy: adds its value to the copy's stack. 0 or
 * -ENOMEM. */
int sonde_stacks_add_ended(struct sonde_stack_printer *p, const struct sonde_stack_ended *e);

/* One folded frame: ';' and control characters neutralised, kernel
 * frames suffixed _[k] and inlined ones _[i] (flamegraph.pl colours). */
void sonde_folded_frame(const char *text, bool kernel, bool inlined, char *buf, size_t size);

#endif

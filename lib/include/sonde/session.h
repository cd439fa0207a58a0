/* A tracing session: choose how each logical probe attaches on this kernel,
 * load, attach, run the event loop, and detach on every way out.
 *
 * A tool declares its probes in a table, each with an ordered list of
 * alternatives (e.g. tp_btf -> raw_tp -> tracepoint); the first one this
 * kernel supports is used and the other programs are never loaded. */
#ifndef SONDE_SESSION_H
#define SONDE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sonde/cli.h"
#include "sonde/out.h"

struct bpf_object;
struct bpf_link;
struct sonde_session;

enum sonde_attach_kind {
	SONDE_ATTACH_NONE,
	SONDE_ATTACH_FENTRY,
	SONDE_ATTACH_FEXIT,
	SONDE_ATTACH_KPROBE,
	SONDE_ATTACH_KRETPROBE,
	SONDE_ATTACH_TP_BTF,
	SONDE_ATTACH_RAW_TP,
	SONDE_ATTACH_TRACEPOINT,
};

struct sonde_probe_alt {
	enum sonde_attach_kind kind;
	const char *prog;	/* BPF program (function) name */
	/* fentry/fexit/kprobe: kernel function; tracepoints:
	 * "category/name". Checked for existence before it is chosen. */
	const char *target;
};

#define SONDE_MAX_ALTS 6

struct sonde_probe {
	const char *name;	/* what it observes, for -v and errors */
	bool optional;		/* the tool still works without it */
	struct sonde_probe_alt alts[SONDE_MAX_ALTS];
	/* A cover of the probe before it in the table: its programs do that
	 * probe's work for the runs the kernel skips (SONDE_ON_SET_STATE in
	 * bpf/sonde_sock.bpf.h). Attached only if that probe is, after it,
	 * and its own skipped runs lose nothing. */
	bool covers_previous;
};

/* A counter of the tool's own in the sonde_stats map, next to the
 * library's (lost events, full maps): the BPF side counts with
 * sonde_stat_inc(slot), its slots numbered from SONDE_STAT_TOOL (see
 * bpf/sonde_stats.h). At the end of the run the session prints
 * "<count> <what>" on stderr for each one that is not zero. */
struct sonde_stat_name {
	unsigned slot;
	const char *what;	/* e.g. "DNS packets not decoded: ..." */
	bool lost;		/* it counts events missed: --strict then exits 1 */
};

struct sonde_session_config {
	const char *what;	/* "TCP connects": for "Tracing ... Ctrl-C to end." */
	const struct sonde_args *args;
	struct bpf_object *obj;	/* opened, not loaded */
	const struct sonde_probe *probes;
	size_t n_probes;
	/* Everything below is optional. Callbacks return 0 to go on, or a
	 * negative value to end the session. */
	int (*on_event)(void *ctx, const void *data, size_t size); /* "events" ring buffer */
	/* A live table whose header is printed once everything is attached
	 * (only with -o table): the header then means "tracing now". */
	struct sonde_table *header;
	int (*on_ready)(void *ctx);	/* attached */
	int (*on_interval)(void *ctx);	/* every -i */
	int (*on_end)(void *ctx);	/* after detaching: final summaries */
	/* Every tick_ns while tracing, whatever -i says: for tools that act
	 * on deadlines (e.g. report a request unanswered after a timeout).
	 * The events waiting in the ring buffer are read first. */
	int (*on_tick)(void *ctx);
	uint64_t tick_ns;
	/* Called once privileges are checked and before the BPF programs
	 * load (which takes tens of milliseconds): work that can run
	 * meanwhile on a thread of its own starts here, such as reading
	 * kallsyms (sonde_sym_kernel_load). */
	int (*before_load)(void *ctx);
	/* Called after load, before the table's probes attach: tool-specific
	 * attachments (perf events, uprobes) via sonde_session_add_link(). */
	int (*attach_extra)(struct sonde_session *s, void *ctx);
	/* Programs attach_extra attaches (e.g. perf_event ones): loaded
	 * although no probe of the table chose them. NULL-terminated. */
	const char *const *extra_progs;
	void *ctx;
	unsigned keep_caps;	/* SONDE_KEEP_* still needed after attach */
	const struct sonde_stat_name *stats;	/* the tool's own counters */
	size_t n_stats;
};

/* Runs the whole session; returns the exit status. */
int sonde_session_run(const struct sonde_session_config *cfg);
/* What sonde_session_run does with args->plan: prints per probe the attach
 * method it would use, or why none fits, and loads nothing. Returns 0, or
 * SONDE_EXIT_UNSUPPORTED when a required probe has no usable method. */
int sonde_session_plan(const struct sonde_session_config *cfg);

/* Which alternative was chosen for a probe (by name); NONE if none. For
 * tools that read richer data when a better method is attached. */
enum sonde_attach_kind sonde_session_chosen(const struct sonde_session *s, const char *probe);
/* Hands a link to the session, which destroys it when the session ends. */
int sonde_session_add_link(struct sonde_session *s, struct bpf_link *link);
/* Ends the loop at the next turn with this exit status. */
void sonde_session_stop(struct sonde_session *s, int status);

const char *sonde_attach_kind_name(enum sonde_attach_kind kind);
/* Parses "tracepoint", "raw_tp", ...; NONE when unknown. */
enum sonde_attach_kind sonde_attach_kind_parse(const char *name);
/* Would this alternative work here? Sets a one-line reason when not. */
bool sonde_alt_supported(const struct sonde_probe_alt *alt, char *why, size_t why_size);

/* The decision itself, without the kernel: returns the index of the first
 * alternative `supported` accepts (only alternatives of kind `forced` when
 * the probe has one and forced is not NONE), or -1. Reasons for refused
 * alternatives are appended to reasons ("kind: why; ..."). */
typedef bool (*sonde_alt_check_fn)(const struct sonde_probe_alt *alt, char *why,
				   size_t why_size, void *ctx);
int sonde_choose_alt(const struct sonde_probe *probe, enum sonde_attach_kind forced,
		     sonde_alt_check_fn supported, void *ctx, char *reasons, size_t reasons_size);
/* Does the probe have an alternative of this kind? */
bool sonde_probe_has_kind(const struct sonde_probe *probe, enum sonde_attach_kind kind);

/* Sums a per-CPU counter of the sonde_stats map. */
uint64_t sonde_session_stat(const struct sonde_session *s, unsigned stat);

#endif

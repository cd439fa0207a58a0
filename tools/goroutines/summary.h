/* sonde-goroutines' summaries: what the BPF maps hold, per process and
 * creation site, turned into table rows or JSON lines, with the leak
 * report (sites holding goroutines past --leak-age, sites whose live
 * count keeps growing across intervals). */
#ifndef SONDE_GOROUTINES_SUMMARY_H
#define SONDE_GOROUTINES_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sonde/cli.h>
#include <sonde/out.h>

struct bpf_object;
struct sonde_symbolizer;

/* What is known of the goroutines a process had when tracing began. */
enum baseline {
	BASELINE_COMPLETE,	/* it started after the probes were in place */
	BASELINE_KNOWN,		/* read from its runtime.allgs */
	BASELINE_UNKNOWN,	/* could not be read: live counts are lower bounds */
};

struct site_growth;

struct proc_state {
	pid_t pid;
	char comm[16];
	enum baseline baseline;
	uint64_t last_created, last_exited, last_ns;	/* at the previous summary */
	struct site_growth *growth;	/* live per site at the previous summary */
	size_t n_growth;
};

struct summary {
	struct bpf_object *obj;
	struct sonde_symbolizer *sym;
	const struct sonde_args *args;
	uint64_t leak_age_ns;
	uint64_t start_ns;	/* when the probes were in place */
	struct proc_state *procs;
	size_t n_procs, cap_procs;
	struct sonde_table table;
	struct sonde_json json;
};

void summary_init(struct summary *s, struct bpf_object *obj, struct sonde_symbolizer *sym,
		  const struct sonde_args *args, uint64_t leak_age_ns);
void summary_started(struct summary *s, uint64_t now_ns);
/* The state of a process, created (BASELINE_COMPLETE) if new; NULL when
 * out of memory. */
struct proc_state *summary_process(struct summary *s, pid_t pid);
/* Drops a process and its goroutines from the maps (it exec'd). */
void summary_forget(struct summary *s, pid_t pid);
/* Prints one summary of every process; final: the last one. Processes
 * that have exited get their last summary and are forgotten. -1 once
 * the output is closed. */
int summary_print(struct summary *s, bool final);
void summary_free(struct summary *s);

#endif

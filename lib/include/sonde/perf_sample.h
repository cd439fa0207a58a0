/* Timed sampling: one perf event per CPU firing a BPF perf_event program
 * at a frequency, the way profilers sample on-CPU stacks. */
#ifndef SONDE_PERF_SAMPLE_H
#define SONDE_PERF_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_program;
struct sonde_session;

#define SONDE_MAX_CPUS 4096

/* Parses a kernel CPU list ("0-3,8,10-11") into a bitmap of max bits.
 * Returns the number of CPUs set, or -1 when malformed or out of range. */
int sonde_parse_cpu_list(const char *text, bool *cpus, size_t max);

/* The online CPUs (/sys/devices/system/cpu/online) into cpus, which has
 * SONDE_MAX_CPUS entries; returns how many, or -1. */
int sonde_online_cpus(bool *cpus);

/* Opens a sampling event at hz on each online CPU (or only on cpu when
 * cpu >= 0): the hardware cycle counter where there is one, else the
 * cpu-clock software event; attaches prog to each and hands the links to
 * the session. Returns 0 or an exit status (the error is printed). */
int sonde_perf_sample_attach(struct sonde_session *s, struct bpf_program *prog,
			     unsigned hz, int cpu);

#endif

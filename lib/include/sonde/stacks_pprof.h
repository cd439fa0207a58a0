/* Symbolized stacks into a pprof profile (lib/out/pprof.c), for the stack
 * tools' -o pprof: on-CPU samples as samples/count and cpu/nanoseconds
 * with the sampling period, off-CPU time as off_cpu/nanoseconds and
 * blocks/count. */
#ifndef SONDE_STACKS_PPROF_H
#define SONDE_STACKS_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_frame;
struct sonde_pprof;

struct sonde_pprof *sonde_stacks_pprof_new(bool off_cpu, int64_t period_ns);
/* frames leaf first; values as the profile's two sample types. */
int sonde_stacks_pprof_add(struct sonde_pprof *pp, const struct sonde_frame *frames, size_t n,
			   uint32_t pid, const char *comm, const int64_t values[2]);

#endif

/* Probe sets: whole alternative ways for a tool to observe the same thing,
 * at different layers (e.g. VFS functions vs. syscall tracepoints). Unlike
 * the alternatives of one probe, a set is taken or left as a whole: mixing
 * layers would time one operation twice or not at all. */
#ifndef SONDE_PROBE_SET_H
#define SONDE_PROBE_SET_H

#include <stddef.h>

#include "sonde/session.h"

struct sonde_probe_set {
	const char *name;	/* "VFS functions": for -v and errors */
	const struct sonde_probe *probes;
	size_t n_probes;
};

/* Returns the index of the first set whose every non-optional probe has an
 * alternative `supported` accepts, or -1. With forced (not NONE), only sets
 * with at least one alternative of that kind are considered, and their
 * probes that have one must use it, as sonde_session_run() will. Why each
 * set was passed over is appended to reasons ("set: probe: kind: why"). A
 * NULL supported asks this kernel (sonde_alt_supported). */
int sonde_probe_set_choose(const struct sonde_probe_set *sets, size_t n_sets,
			   enum sonde_attach_kind forced, sonde_alt_check_fn supported,
			   void *ctx, char *reasons, size_t reasons_size);

#endif

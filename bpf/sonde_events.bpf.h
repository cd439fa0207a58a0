/* The ring buffer that event tools send to user space through. Its size is
 * set by the library before load; a failed reservation is counted, never
 * silently ignored. */
#ifndef SONDE_EVENTS_BPF_H
#define SONDE_EVENTS_BPF_H

#include "sonde.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void *sonde_event_reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		sonde_stat_inc(SONDE_STAT_LOST_EVENTS);
	return e;
}

#endif

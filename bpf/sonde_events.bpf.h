/* The ring buffer that event tools send to user space through. Its size is
 * set by the library before load; a failed reservation is counted, never
 * silently ignored. Events go out with sonde_event_submit(), which wakes
 * user space at most once per SONDE_EVENT_WAKE_NS (sonde_events.h). */
#ifndef SONDE_EVENTS_BPF_H
#define SONDE_EVENTS_BPF_H

#include "sonde.bpf.h"
#include "sonde_events.h"

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

/* Whether the ring buffer is a quarter full: time to wake user space
 * whatever else says to wait (a burst must not fill it meanwhile). */
static __always_inline bool sonde_events_filling(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >=
	       bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4;
}

/* When the last wakeup was asked for (bpf_ktime_get_ns()); CPUs race on it
 * harmlessly: at worst two of them wake user space at once. */
static __u64 sonde_events_woken_ns;

/* The flags to submit an event with: a wakeup if none was asked for in
 * SONDE_EVENT_WAKE_NS, or if the ring buffer is filling; else none, and
 * user space, which read events less than that time ago, reads again
 * within it. So an event waits at most that long, and a quiet machine's
 * rare events each wake user space at once. */
static __always_inline __u64 sonde_event_wake_flags(void)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - sonde_events_woken_ns >= SONDE_EVENT_WAKE_NS || sonde_events_filling()) {
		sonde_events_woken_ns = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void sonde_event_submit(void *e)
{
	bpf_ringbuf_submit(e, sonde_event_wake_flags());
}

#endif

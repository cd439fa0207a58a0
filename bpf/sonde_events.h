/* How the events ring buffer wakes user space, shared by the BPF side
 * (sonde_events.bpf.h) and the session that reads it. */
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

/* The longest an event waits in the ring buffer before user space reads
 * it. Within that time of the last wakeup, events are sent without one:
 * a wakeup is an interrupt on the sending CPU (a self-IPI, dear in a VM),
 * ~1.5 us of a 2 us program per event in a connect storm here, and the
 * softirq run on its way out nests in the program, which the kernel then
 * skips. The session, having read events, reads again this much later. */
#define SONDE_EVENT_WAKE_NS (5 * 1000 * 1000ULL)

#endif

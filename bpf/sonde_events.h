/* How the events ring buffer wakes user space, shared by the BPF side
 * (sonde_events.bpf.h) and the session that reads it. */
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

/* The longest an event waits in the ring buffer before user space reads
 * it. Within that time of the last wakeup, events are sent without one:
 * a wakeup is an interrupt on the sending CPU (a self-IPI, dear in a VM):
 * ~1.6 of the ~1.8 us per run of tcpconnect's state-change program in a
 * connect storm here. The softirq run on its way out nested in the
 * program, too, which the kernel then skipped. The session, having read
 * events, reads again this much later. */
#define SONDE_EVENT_WAKE_NS (5 * 1000 * 1000ULL)

#endif

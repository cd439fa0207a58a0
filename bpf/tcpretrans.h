/* Events and counters sonde-tcpretrans's BPF side shares with user space. */
#ifndef SONDE_TCPRETRANS_H
#define SONDE_TCPRETRANS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPRETRANS_MAX_PORTS 16

enum tcpretrans_kind {
	TCPRETRANS_RETRANS,	/* RTO, fast or early retransmit */
	TCPRETRANS_TLP,		/* tail loss probe (RFC 8985) */
};

/* One retransmitted segment. The owner (pid, comm) is the process that
 * connected or accepted the socket, or 0 / "" when BPF never saw it in
 * process context; ino then lets user space look the owner up. */
struct tcpretrans_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 ino;		/* socket inode, 0 when the socket has no file */
	__u32 pid;
	__u16 af;		/* AF_INET or AF_INET6 */
	__u16 sport;		/* local port, host byte order */
	__u16 dport;		/* remote port */
	__u8 state;		/* TCP_* state at the time */
	__u8 kind;		/* enum tcpretrans_kind */
	__u8 ca_state;		/* TCP_CA_* congestion-avoidance state */
	__u8 pad[3];
	__u8 saddr[16];		/* network byte order; IPv4 in the first 4 */
	__u8 daddr[16];
	char comm[16];
};

/* --count: one entry per connection, aggregated in the kernel. */
struct tcpretrans_conn {
	__u16 af;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct tcpretrans_tally {
	__u64 count;		/* every retransmission, TLPs included */
	__u64 tlp;		/* of which tail loss probes */
	__u64 ino;
	__u32 pid;
	__u32 pad;
	char comm[16];
};

#endif

/* Events sonde-tcpconnect's BPF side sends to user space. */
#ifndef SONDE_TCPCONNECT_H
#define SONDE_TCPCONNECT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPCONNECT_MAX_PORTS 16

enum tcpconnect_outcome {
	TCPCONNECT_ATTEMPT,	/* SYN about to be sent (--attempts) */
	TCPCONNECT_ESTABLISHED,
	TCPCONNECT_REFUSED,	/* answered by a reset */
	TCPCONNECT_TIMEOUT,	/* the kernel gave up retrying the SYN */
	TCPCONNECT_FAILED,	/* other error, e.g. ICMP unreachable */
	TCPCONNECT_ABORTED,	/* closed by the application before an answer */
};

struct tcpconnect_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC when the outcome was known */
	__u64 latency_ns;	/* SYN sent -> outcome */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 error;		/* sk_err at close, 0 otherwise */
	__u16 af;		/* AF_INET or AF_INET6 */
	__u16 sport;		/* host byte order; 0 for an attempt */
	__u16 dport;
	__u8 outcome;
	__u8 pad;
	__u8 saddr[16];		/* network byte order; IPv4 in the first 4 */
	__u8 daddr[16];
	char comm[16];
};

#endif

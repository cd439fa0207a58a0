/* Events sonde-dns's BPF side sends to user space: one per DNS packet seen
 * on the wire, with as much of the DNS message as fits. */
#ifndef SONDE_DNS_H
#define SONDE_DNS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "sonde_stats.h"

/* Bytes of DNS payload copied per packet: a classic UDP DNS message. The
 * header and question are always within it; long answers may be cut. A
 * power of two so the BPF side can bound reads with a mask. */
#define DNS_MAX_PAYLOAD 512

enum dns_direction {
	DNS_QUERY,	/* leaving this host's stack towards the server port */
	DNS_RESPONSE,	/* arriving from the server port */
};

enum dns_event_flags {
	/* pid/tid/comm name the sending process */
	DNS_F_ATTRIBUTED = 1 << 0,
	/* the payload is not in the packet's linear data (page fragments):
	 * nothing was copied */
	DNS_F_NONLINEAR = 1 << 1,
};

/* sonde-dns's own slots of the sonde_stats map. */
enum dns_stat {
	DNS_STAT_NONLINEAR = SONDE_STAT_TOOL,	/* payload in page fragments, not decoded */
	DNS_STAT_BAD_HEADER,	/* IP/UDP/TCP header unreadable or inconsistent */
};

struct dns_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC when the packet was seen */
	__u32 pid;
	__u32 tid;
	__u32 netns;		/* inode of the device's network namespace */
	__u16 af;		/* AF_INET or AF_INET6 */
	__u8 proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	__u8 direction;		/* enum dns_direction */
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u16 flags;		/* enum dns_event_flags */
	__u16 wire_len;		/* DNS payload length in the packet (TCP: with its length prefix) */
	__u16 captured;		/* bytes of it in payload[] */
	/* Events from the tcp_payloads perf buffer carry the packet from
	 * skb->data instead of payload[]: the DNS message starts skip bytes
	 * into it. 0 for ring buffer events. */
	__u16 skip;
	__u8 saddr[16];		/* network byte order; IPv4 in the first 4 */
	__u8 daddr[16];
	char comm[16];
	__u8 payload[DNS_MAX_PAYLOAD];
};

#endif

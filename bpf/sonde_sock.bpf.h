/* What the socket tools share on the BPF side: the constants vmlinux.h
 * lacks (they are macros in the kernel), the TCP test, and the entry
 * points of sock:inet_sock_set_state through every way a kernel may allow
 * it. The matching probe-table entry on the user side is
 * SONDE_ALTS_SET_STATE in lib/include/sonde/probes.h. */
#ifndef SONDE_SOCK_BPF_H
#define SONDE_SOCK_BPF_H

#include "sonde.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* An IPv4 or IPv6 TCP socket (sk_protocol was a bitfield before 5.6). */
static __always_inline bool sonde_sk_is_inet_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP &&
	       (family == AF_INET || family == AF_INET6);
}

/* Defines the programs set_state_btf, set_state_raw and set_state_tp, each
 * calling fn(struct sock *sk, int oldstate, int newstate). */
#define SONDE_ON_SET_STATE(fn)							\
SEC("tp_btf/inet_sock_set_state")						\
int BPF_PROG(set_state_btf, struct sock *sk, int oldstate, int newstate)	\
{										\
	return fn(sk, oldstate, newstate);					\
}										\
										\
SEC("raw_tp/inet_sock_set_state")						\
int BPF_PROG(set_state_raw, struct sock *sk, int oldstate, int newstate)	\
{										\
	return fn(sk, oldstate, newstate);					\
}										\
										\
SEC("tracepoint/sock/inet_sock_set_state")					\
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)		\
{										\
	return fn((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);	\
}

#endif

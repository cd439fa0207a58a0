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

/* Whether a set_state program (the main one, not its cover) is running
 * on this CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} set_state_busy SEC(".maps");

static __always_inline __u32 *sonde_set_state_busy(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&set_state_busy, &zero);
}

/* Defines the programs set_state_btf, set_state_raw and set_state_tp, each
 * calling fn(struct sock *sk, int oldstate, int newstate), and their
 * covers, set_state_cover_btf and set_state_cover_raw.
 *
 * Why covers: the kernel runs a program at most once per CPU at a time.
 * TCP changes states in softirq too, and a softirq that runs on the way
 * out of an interrupt landing in the middle of the program (a loopback
 * packet sent by the task being traced, typically) is skipped: up to 2 %
 * of the ~10 state changes per connect of a loopback connect storm on
 * this machine, at any rate of connects. A cover is a second program on
 * the same tracepoint, and the kernel runs it there: it does nothing
 * unless the main program is busy on its CPU, which is then the one that
 * was skipped, and does that program's work instead (counted as
 * SONDE_STAT_COVERED). Nesting goes no deeper: TCP changes no state in
 * hard interrupts. A classic tracepoint guards every program with one
 * per-CPU count, but not programs on raw tracepoints, so a cover on
 * tp_btf or raw_tp also covers set_state_tp. */
#define SONDE_ON_SET_STATE(fn)							\
static __always_inline int fn##_main(struct sock *sk, int oldstate, int newstate) \
{										\
	__u32 *busy = sonde_set_state_busy();					\
	int rc;									\
										\
	if (busy)								\
		*busy = 1;							\
	rc = fn(sk, oldstate, newstate);					\
	if (busy)								\
		*busy = 0;							\
	return rc;								\
}										\
										\
static __always_inline int fn##_cover(struct sock *sk, int oldstate, int newstate) \
{										\
	__u32 *busy = sonde_set_state_busy();					\
										\
	if (!busy || !*busy)							\
		return 0;							\
	sonde_stat_inc(SONDE_STAT_COVERED);					\
	return fn(sk, oldstate, newstate);					\
}										\
										\
SEC("tp_btf/inet_sock_set_state")						\
int BPF_PROG(set_state_btf, struct sock *sk, int oldstate, int newstate)	\
{										\
	return fn##_main(sk, oldstate, newstate);				\
}										\
										\
SEC("raw_tp/inet_sock_set_state")						\
int BPF_PROG(set_state_raw, struct sock *sk, int oldstate, int newstate)	\
{										\
	return fn##_main(sk, oldstate, newstate);				\
}										\
										\
SEC("tracepoint/sock/inet_sock_set_state")					\
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)		\
{										\
	return fn##_main((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate); \
}										\
										\
SEC("tp_btf/inet_sock_set_state")						\
int BPF_PROG(set_state_cover_btf, struct sock *sk, int oldstate, int newstate) \
{										\
	return fn##_cover(sk, oldstate, newstate);				\
}										\
										\
SEC("raw_tp/inet_sock_set_state")						\
int BPF_PROG(set_state_cover_raw, struct sock *sk, int oldstate, int newstate) \
{										\
	return fn##_cover(sk, oldstate, newstate);				\
}

#endif

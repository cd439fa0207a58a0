// SPDX-License-Identifier: GPL-2.0
/* sonde-tcpconnect: active TCP connects, reported when their outcome is
 * known. The connecting process is learned when the socket enters SYN_SENT,
 * which happens inside connect() in process context; the outcome arrives
 * later, usually in softirq, and is matched by socket address. */
#include "sonde_events.bpf.h"
#include "sonde_sock.bpf.h"
#include "tcpconnect.h"

#define ECONNREFUSED 111
#define ETIMEDOUT 110

const volatile bool report_attempts = false;
const volatile __u32 n_ports = 0;
const volatile __u16 ports[TCPCONNECT_MAX_PORTS] = {};

struct connect_start {
	__u64 ts_ns;
	__u16 sport;	/* learned after SYN_SENT; released again at CLOSE */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);	/* struct sock * */
	__type(value, struct connect_start);
} connecting SEC(".maps");

static __always_inline bool port_wanted(__u16 dport)
{
	if (!n_ports)
		return true;
	for (int i = 0; i < TCPCONNECT_MAX_PORTS; i++) {
		if (i >= n_ports)
			break;
		if (ports[i] == dport)
			return true;
	}
	return false;
}

static __always_inline void fill_addrs(struct tcpconnect_event *e, struct sock *sk)
{
	e->af = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->af == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline void emit(struct sock *sk, const struct connect_start *start,
				 __u8 outcome, __s32 error, __u64 now)
{
	struct tcpconnect_event *e = sonde_event_reserve(sizeof(*e));

	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->latency_ns = outcome == TCPCONNECT_ATTEMPT ? 0 : now - start->ts_ns;
	e->pid = start->pid;
	e->tid = start->tid;
	e->uid = start->uid;
	e->error = error;
	e->outcome = outcome;
	__builtin_memcpy(e->comm, start->comm, sizeof(e->comm));
	fill_addrs(e, sk);
	if (!e->sport)
		e->sport = start->sport;
	sonde_event_submit(e);
}

static __always_inline void on_syn_sent(struct sock *sk)
{
	struct connect_start start = {};
	__u64 key = (__u64)sk;
	__u64 id;

	if (!sonde_current_selected())
		return;
	if (!port_wanted(bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
		return;
	id = bpf_get_current_pid_tgid();
	start.ts_ns = bpf_ktime_get_ns();
	start.pid = id >> 32;
	start.tid = (__u32)id;
	start.uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(start.comm, sizeof(start.comm));
	if (bpf_map_update_elem(&connecting, &key, &start, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
	if (report_attempts)
		emit(sk, &start, TCPCONNECT_ATTEMPT, 0, start.ts_ns);
}

static __always_inline void on_left_syn_sent(struct sock *sk, int newstate)
{
	__u64 key = (__u64)sk;
	struct connect_start *start = bpf_map_lookup_elem(&connecting, &key);
	__u8 outcome;
	__s32 err = 0;

	if (!start)
		return;
	if (newstate == TCP_ESTABLISHED) {
		outcome = TCPCONNECT_ESTABLISHED;
	} else {
		/* tcp_reset() and tcp_write_err() set sk_err before tcp_done()
		 * moves the socket to CLOSE, so the reason is readable here. */
		err = BPF_CORE_READ(sk, sk_err);
		if (err == ECONNREFUSED)
			outcome = TCPCONNECT_REFUSED;
		else if (err == ETIMEDOUT)
			outcome = TCPCONNECT_TIMEOUT;
		else if (err == 0)
			outcome = TCPCONNECT_ABORTED;
		else
			outcome = TCPCONNECT_FAILED;
	}
	emit(sk, start, outcome, err, bpf_ktime_get_ns());
	bpf_map_delete_elem(&connecting, &key);
}

static __always_inline int handle_set_state(struct sock *sk, int oldstate, int newstate)
{
	if (!sonde_sk_is_inet_tcp(sk))
		return 0;
	if (newstate == TCP_SYN_SENT)
		on_syn_sent(sk);
	else if (oldstate == TCP_SYN_SENT)
		on_left_syn_sent(sk, newstate);
	return 0;
}

/* A reset, an ICMP error or a SYN retransmit comes before tcp_done()
 * releases the source port, which CLOSE would then report as 0. */
static __always_inline int remember_sport(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct connect_start *start = bpf_map_lookup_elem(&connecting, &key);

	if (start && !start->sport)
		start->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(reset_btf, struct sock *sk)
{
	return remember_sport(sk);
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(reset_raw, struct sock *sk)
{
	return remember_sport(sk);
}

SEC("tracepoint/tcp/tcp_receive_reset")
int reset_tp(struct trace_event_raw_tcp_event_sk *ctx)
{
	return remember_sport((struct sock *)ctx->skaddr);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_btf, struct sock *sk)
{
	return remember_sport(sk);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(retransmit_raw, struct sock *sk)
{
	return remember_sport(sk);
}

/* The record's struct is named differently across kernels (tcp_event_sk_skb
 * before 6.10); its first fields, from the format file, are stable. */
struct retransmit_skb_record {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_tp(struct retransmit_skb_record *ctx)
{
	return remember_sport((struct sock *)ctx->skaddr);
}

SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(error_btf, struct sock *sk)
{
	return remember_sport(sk);
}

SEC("raw_tp/inet_sk_error_report")
int BPF_PROG(error_raw, struct sock *sk)
{
	return remember_sport(sk);
}

SONDE_ON_SET_STATE(handle_set_state)

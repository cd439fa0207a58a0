// SPDX-License-Identifier: GPL-2.0
/* sonde-dns: DNS packets as they cross network devices, whatever program
 * or resolver library produced them.
 *
 * Where packets are seen. Queries at net:net_dev_queue, which
 * __dev_queue_xmit() fires before the qdisc: a UDP sendmsg() reaches it
 * synchronously through ip_finish_output(), so for a locally sent query
 * current is the sender — on loopback and on a veth leaving a container's
 * namespace alike. Responses at net:netif_receive_skb, in softirq. On
 * loopback a packet passes both points; taking queries only on the way out
 * (towards the server port) and responses only on the way in (from it)
 * sees each once. A query forwarded for another namespace (veth -> bridge
 * -> eth0) was orphaned when it crossed namespaces (skb->sk is NULL): only
 * packets a local socket sent count as queries, so it is not seen twice.
 *
 * Who sent it. In process context current is the sender (see
 * current_may_own() for how that is judged). Packets sent later from
 * softirq — TCP segments pushed by an incoming ACK, a query that waited
 * for ARP — are attributed through the socket: its owner is remembered
 * whenever it sends in process context and, for TCP, when connect() moves
 * it to SYN_SENT.
 *
 * What is copied. The IP and UDP/TCP headers are parsed from skb->head at
 * the network header offset (CO-RE reads, each bounds-checked against the
 * linear data), and up to DNS_MAX_PAYLOAD bytes of DNS payload go to user
 * space, which decodes them. Payload held in page fragments (usual for
 * locally sent TCP) cannot be read with bpf_probe_read_kernel() without
 * knowing where the kernel maps pages; with tp_btf the kernel copies it
 * (see handle_skb()), with raw_tp and tracepoint such packets are
 * counted, not decoded. */
#include "sonde_events.bpf.h"
#include "sonde_sock.bpf.h"
#include "dns.h"

#define IPPROTO_UDP 17
#define IP_OFFSET_MASK 0x1fff

#define PF_KTHREAD 0x00200000

const volatile __u16 dns_port = 53;

struct owner {
	__u32 pid;
	__u32 tid;
	__u8 selected;	/* passed -p/-c/-C when it was learned */
	char comm[16];
};

/* struct sock * -> the process that last sent through it in process
 * context; for packets sent from softirq. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct owner);
} sock_owner SEC(".maps");

/* DNS over TCP with tp_btf: event heads followed by the packet's bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} tcp_payloads SEC(".maps");

/* Where such an event head is built (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_event);
} scratch SEC(".maps");

/* Can current be the task that sent through sk? Not a kernel thread (the
 * idle task, ksoftirqd, workers) and not a task of another network
 * namespace. A tracing program cannot read the preempt count here (the
 * per-CPU variable's address is not in kallsyms), so a softirq that
 * interrupts an unrelated task of the same namespace is not told apart;
 * for UDP that is a query that waited for ARP, for TCP the socket map
 * below is asked first. */
static __always_inline bool current_may_own(struct sock *sk)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return false;
	return BPF_CORE_READ(task, nsproxy, net_ns) == BPF_CORE_READ(sk, __sk_common.skc_net.net);
}

static __always_inline void remember_current(__u64 sk)
{
	struct owner o = {};
	__u64 id = bpf_get_current_pid_tgid();

	o.pid = id >> 32;
	o.tid = (__u32)id;
	o.selected = sonde_current_selected();
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	if (bpf_map_update_elem(&sock_owner, &sk, &o, BPF_ANY))
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
}

/* Fills the event's sender; false when the query must not be reported
 * (filtered out, or unattributable while a filter is active). */
static __always_inline bool attribute(struct dns_event *e, __u64 sk)
{
	bool task = current_may_own((struct sock *)sk);
	struct owner *o = NULL;

	/* TCP data goes out from ACK processing too: the socket knows its
	 * owner better than current does. UDP is sent by the caller. */
	if (e->proto == IPPROTO_TCP || !task)
		o = bpf_map_lookup_elem(&sock_owner, &sk);
	if (!o && task) {
		remember_current(sk);
		o = bpf_map_lookup_elem(&sock_owner, &sk);
	}
	if (!o)
		return !sonde_filter_pids && !sonde_filter_cgroup;
	if (!o->selected)
		return false;
	e->pid = o->pid;
	e->tid = o->tid;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	e->flags |= DNS_F_ATTRIBUTED;
	return true;
}

struct l4_info {
	__u16 af;
	__u8 proto;
	__u16 sport;
	__u16 dport;
	__u32 payload_off;	/* from skb->head */
	__u32 payload_len;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Parses the IP and UDP/TCP headers at the network header. Returns false
 * for anything that is not a DNS packet in the wanted direction. */
static __always_inline bool parse_headers(unsigned char *head, __u32 nh, __u32 linear_end,
					  bool egress, struct l4_info *l4)
{
	__u32 l4_off, ip_len, hdr_len;
	__u8 first;

	if (nh + 1 > linear_end || bpf_probe_read_kernel(&first, 1, head + nh))
		return false;
	if ((first >> 4) == 4) {
		struct iphdr ip;

		if (nh + sizeof(ip) > linear_end || bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return false;
		/* Later fragments have no transport header. */
		if (bpf_ntohs(ip.frag_off) & IP_OFFSET_MASK)
			return false;
		hdr_len = (first & 0xf) * 4;
		ip_len = bpf_ntohs(ip.tot_len);
		if (hdr_len < sizeof(ip) || ip_len < hdr_len) {
			sonde_stat_inc(DNS_STAT_BAD_HEADER);
			return false;
		}
		l4->af = AF_INET;
		l4->proto = ip.protocol;
		__builtin_memcpy(l4->saddr, &ip.saddr, 4);
		__builtin_memcpy(l4->daddr, &ip.daddr, 4);
		ip_len -= hdr_len;
		l4_off = nh + hdr_len;
	} else if ((first >> 4) == 6) {
		struct ipv6hdr ip6;

		if (nh + sizeof(ip6) > linear_end ||
		    bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return false;
		/* Extension headers before UDP/TCP are rare for DNS; they
		 * are not walked. */
		l4->af = AF_INET6;
		l4->proto = ip6.nexthdr;
		__builtin_memcpy(l4->saddr, &ip6.saddr, 16);
		__builtin_memcpy(l4->daddr, &ip6.daddr, 16);
		ip_len = bpf_ntohs(ip6.payload_len);
		l4_off = nh + sizeof(ip6);
	} else {
		return false;
	}

	if (l4->proto == IPPROTO_UDP) {
		struct udphdr udp;

		if (l4_off + sizeof(udp) > linear_end ||
		    bpf_probe_read_kernel(&udp, sizeof(udp), head + l4_off))
			return false;
		l4->sport = bpf_ntohs(udp.source);
		l4->dport = bpf_ntohs(udp.dest);
		hdr_len = sizeof(udp);
	} else if (l4->proto == IPPROTO_TCP) {
		struct tcphdr tcp;

		if (l4_off + sizeof(tcp) > linear_end ||
		    bpf_probe_read_kernel(&tcp, sizeof(tcp), head + l4_off))
			return false;
		l4->sport = bpf_ntohs(tcp.source);
		l4->dport = bpf_ntohs(tcp.dest);
		hdr_len = tcp.doff * 4;
	} else {
		return false;
	}
	if (egress ? l4->dport != dns_port : l4->sport != dns_port)
		return false;
	if (ip_len < hdr_len) {
		sonde_stat_inc(DNS_STAT_BAD_HEADER);
		return false;
	}
	l4->payload_off = l4_off + hdr_len;
	l4->payload_len = ip_len - hdr_len;
	return l4->payload_len > 0;	/* TCP handshakes and ACKs carry none */
}

/* Copies up to DNS_MAX_PAYLOAD bytes of payload that lie in the linear
 * data; returns how many. */
static __always_inline __u32 copy_linear(struct dns_event *e, unsigned char *head,
					 const struct l4_info *l4, __u32 linear_end)
{
	__u32 n = l4->payload_len;

	if (l4->payload_off >= linear_end) {
		e->flags |= DNS_F_NONLINEAR;
		sonde_stat_inc(DNS_STAT_NONLINEAR);
		return 0;
	}
	if (n > linear_end - l4->payload_off)
		n = linear_end - l4->payload_off;	/* decode what is linear */
	/* Two reads so that each size is provably within payload[]. */
	if (n >= DNS_MAX_PAYLOAD)
		return bpf_probe_read_kernel(e->payload, DNS_MAX_PAYLOAD,
					     head + l4->payload_off) ? 0 : DNS_MAX_PAYLOAD;
	/* Keep clang from dropping the mask the verifier needs. */
	asm volatile("%0 &= %1" : "+r"(n) : "i"(DNS_MAX_PAYLOAD - 1));
	return bpf_probe_read_kernel(e->payload, n, head + l4->payload_off) ? 0 : n;
}

/* whole_skb: skb is a BTF pointer the kernel trusts (tp_btf), so DNS over
 * TCP, whose payload is usually in page fragments, goes out through
 * bpf_skb_output(): the kernel copies the bytes with skb_copy_bits(),
 * fragments included. All TCP packets take that way then, so a query
 * and its response arrive in the same stream, which user space orders by
 * time. */
static __always_inline int handle_skb(struct sk_buff *skb, bool egress, bool whole_skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u32 nh = BPF_CORE_READ(skb, network_header);
	__u32 skb_len = BPF_CORE_READ(skb, len);
	__u32 data_off = data - head;
	__u32 linear_end, copy, zero = 0;
	__u64 sk = (__u64)BPF_CORE_READ(skb, sk);
	struct l4_info l4 = {};
	struct dns_event *e;
	bool via_skb_output;

	/* The linear data runs from skb->data for len - data_len bytes. */
	linear_end = data_off + skb_len - BPF_CORE_READ(skb, data_len);
	if (!parse_headers(head, nh, linear_end, egress, &l4))
		return 0;
	/* Only what a local socket sent is a query from this host. */
	if (egress && !sk)
		return 0;
	via_skb_output = whole_skb && l4.proto == IPPROTO_TCP && l4.payload_off >= data_off;

	e = via_skb_output ? bpf_map_lookup_elem(&scratch, &zero) : sonde_event_reserve(sizeof(*e));
	if (!e)
		return 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = 0;
	e->tid = 0;
	e->flags = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	e->proto = l4.proto;
	if (egress && !attribute(e, sk)) {
		if (!via_skb_output)
			bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	e->af = l4.af;
	e->direction = egress ? DNS_QUERY : DNS_RESPONSE;
	e->sport = l4.sport;
	e->dport = l4.dport;
	e->wire_len = l4.payload_len > 0xffff ? 0xffff : l4.payload_len;
	__builtin_memcpy(e->saddr, l4.saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, l4.daddr, sizeof(e->daddr));

	if (!via_skb_output) {
		e->skip = 0;
		e->captured = copy_linear(e, head, &l4, linear_end);
		sonde_event_submit(e);
		return 0;
	}
	/* The copy starts at skb->data: skip the headers before the DNS
	 * message; never ask for more than the skb holds. */
	e->skip = l4.payload_off - data_off;
	e->captured = l4.payload_len < DNS_MAX_PAYLOAD ? l4.payload_len : DNS_MAX_PAYLOAD;
	copy = e->skip + e->captured;
	if (copy > skb_len) {
		sonde_stat_inc(DNS_STAT_BAD_HEADER);
		return 0;
	}
	if (bpf_skb_output(skb, &tcp_payloads, BPF_F_CURRENT_CPU | ((__u64)copy << 32), e,
			   offsetof(struct dns_event, payload)))
		sonde_stat_inc(SONDE_STAT_LOST_EVENTS);
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(xmit_btf, struct sk_buff *skb)
{
	return handle_skb(skb, true, true);
}

SEC("raw_tp/net_dev_queue")
int BPF_PROG(xmit_raw, struct sk_buff *skb)
{
	return handle_skb(skb, true, false);
}

/* The records of net_dev_queue and netif_receive_skb share this layout
 * (format files: skbaddr at offset 8); the struct's name in vmlinux.h is
 * not the same on every kernel. */
struct net_dev_record {
	__u64 common;
	void *skbaddr;
};

SEC("tracepoint/net/net_dev_queue")
int xmit_tp(struct net_dev_record *ctx)
{
	return handle_skb(ctx->skbaddr, true, false);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(receive_btf, struct sk_buff *skb)
{
	return handle_skb(skb, false, true);
}

SEC("raw_tp/netif_receive_skb")
int BPF_PROG(receive_raw, struct sk_buff *skb)
{
	return handle_skb(skb, false, false);
}

SEC("tracepoint/net/netif_receive_skb")
int receive_tp(struct net_dev_record *ctx)
{
	return handle_skb(ctx->skbaddr, false, false);
}

/* connect() on a TCP socket: its owner, in process context, for segments
 * sent later from softirq. The entry goes when the socket closes. */
static __always_inline int handle_set_state(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (!sonde_sk_is_inet_tcp(sk))
		return 0;
	if (newstate == TCP_SYN_SENT &&
	    bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == dns_port)
		remember_current(key);
	else if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&sock_owner, &key);
	return 0;
}

SONDE_ON_SET_STATE(handle_set_state)

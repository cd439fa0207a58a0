// SPDX-License-Identifier: GPL-2.0
/* sonde-tcpretrans: every TCP retransmission, attributed to the process that
 * owns the socket.
 *
 * Retransmits mostly fire from the retransmit timer or from ACK processing
 * in softirq, where `current` is whatever task happened to be interrupted.
 * So the owner is learned earlier, in process context, and kept in `owners`
 * by socket address:
 *   - connect(): the socket enters SYN_SENT inside the syscall
 *     (sock:inet_sock_set_state);
 *   - accept()/accept4(): on syscall exit the new fd is resolved through the
 *     task's file table to its struct socket and sock;
 *   - tcp_sendmsg_locked (where the kernel has it): the first send on a
 *     socket not seen yet, which covers sockets opened before the tool
 *     started and accepts that bypass the syscalls (io_uring).
 * The entry goes when the socket reaches TCP_CLOSE. For a socket none of
 * these saw, the event carries the socket's inode and user space finds the
 * owner in /proc/PID/fd. */
#include "sonde_events.bpf.h"
#include "sonde_sock.bpf.h"
#include "tcpretrans.h"

#define E2BIG 7
/* include/net/inet_connection_sock.h: the retransmit timer's pending event */
#define ICSK_TIME_LOSS_PROBE 5

const volatile bool count_mode = false;
const volatile __u32 n_ports = 0;
const volatile __u16 ports[TCPRETRANS_MAX_PORTS] = {};

struct sock_owner {
	__u32 pid;
	bool selected;	/* passed -p/-c/-C when learned */
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);	/* struct sock * */
	__type(value, struct sock_owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tcpretrans_conn);
	__type(value, struct tcpretrans_tally);
} counts SEC(".maps");

/* ---- owners, learned in process context ---- */

/* The filters (-p, -c, -C) can only be judged here, in process context;
 * the verdict is kept with the owner. Unselected owners are recorded too,
 * so their sends do not re-run the cgroup walk each time. */
static __always_inline void record_owner(struct sock *sk, __u64 flags)
{
	struct sock_owner owner = {};
	__u64 key = (__u64)sk;

	owner.pid = bpf_get_current_pid_tgid() >> 32;
	owner.selected = sonde_current_selected();
	bpf_get_current_comm(owner.comm, sizeof(owner.comm));
	if (bpf_map_update_elem(&owners, &key, &owner, flags) == -E2BIG)
		sonde_stat_inc(SONDE_STAT_MAP_FULL);
}

static __always_inline int handle_set_state(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;

	if (!sonde_sk_is_inet_tcp(sk))
		return 0;
	if (newstate == TCP_SYN_SENT)
		record_owner(sk, BPF_ANY);
	else if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&owners, &key);
	return 0;
}

SONDE_ON_SET_STATE(handle_set_state)

/* accept() returned fd: current->files->fdt->fd[fd] is the new socket's
 * file; its private_data is the struct socket, which points back at the
 * file (checked, so a racing close+reuse of the fd is not misread). */
static __always_inline int handle_accept_exit(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;

	if (fd < 0)
		return 0;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_core_read(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	/* Reset before accept() returned: it already passed TCP_CLOSE, where
	 * its entry would have been removed. */
	if (sk && sonde_sk_is_inet_tcp(sk) && BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE)
		record_owner(sk, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return handle_accept_exit(ctx->ret);
}

/* Runs on every chunk a sender queues, so the common case (owner known)
 * is one lockless lookup; connect/accept owners are never overwritten. */
static __always_inline int handle_sendmsg(struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (!bpf_map_lookup_elem(&owners, &key))
		record_owner(sk, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(sendmsg_btf, struct sock *sk)
{
	return handle_sendmsg(sk);
}

SEC("raw_tp/tcp_sendmsg_locked")
int BPF_PROG(sendmsg_raw, struct sock *sk)
{
	return handle_sendmsg(sk);
}

/* ---- retransmissions ---- */

static __always_inline bool port_wanted(__u16 sport, __u16 dport)
{
	if (!n_ports)
		return true;
	for (int i = 0; i < TCPRETRANS_MAX_PORTS; i++) {
		if (i >= n_ports)
			break;
		if (ports[i] == sport || ports[i] == dport)
			return true;
	}
	return false;
}

/* Is this retransmission a tail loss probe?
 *
 * A TLP is sent by tcp_send_loss_probe(), which the retransmit timer calls
 * while icsk_pending is still ICSK_TIME_LOSS_PROBE (tcp_write_timer_handler
 * clears icsk_pending before RTO and zero-window probes, but not before a
 * TLP). tcp_send_loss_probe() only retransmits when no probe is
 * outstanding (tlp_high_seq == 0; it sets tlp_high_seq right after), and
 * the kernel arms a TLP only in the Open or CWR congestion state
 * (tcp_schedule_loss_probe).
 *
 * How reliable: every TLP matches. A non-TLP retransmission matches only
 * if it happens while a TLP timer is armed, no probe is outstanding and
 * the state is still Open/CWR. RTOs cannot (pending was cleared and
 * tcp_enter_loss() moves to Loss first); fast retransmits from ACK
 * processing enter Recovery before retransmitting. What is left is the
 * TSQ-deferred retransmit path with segments marked lost while still
 * Open, which we have not seen happen. */
static __always_inline bool is_loss_probe(struct sock *sk, __u8 ca_state)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)sk;
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	return BPF_CORE_READ(icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE &&
	       BPF_CORE_READ(tp, tlp_high_seq) == 0 &&
	       (ca_state == TCP_CA_Open || ca_state == TCP_CA_CWR);
}

static __always_inline void fill_conn(struct tcpretrans_conn *c, struct sock *sk)
{
	c->af = BPF_CORE_READ(sk, __sk_common.skc_family);
	c->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (c->af == AF_INET) {
		bpf_core_read(c->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(c->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(c->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* The socket's inode, for owners user space must find in /proc. An
 * orphaned socket (closed by its process, still sending) has no file. */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

static __always_inline void count(const struct tcpretrans_conn *conn,
				  const struct sock_owner *owner, bool tlp, __u64 ino)
{
	struct tcpretrans_tally *t = bpf_map_lookup_elem(&counts, conn);

	if (!t) {
		struct tcpretrans_tally fresh = {};

		if (bpf_map_update_elem(&counts, conn, &fresh, BPF_NOEXIST) == -E2BIG)
			sonde_stat_inc(SONDE_STAT_MAP_FULL);
		t = bpf_map_lookup_elem(&counts, conn);
		if (!t)
			return;
	}
	__sync_fetch_and_add(&t->count, 1);
	if (tlp)
		__sync_fetch_and_add(&t->tlp, 1);
	/* Racing updaters write the same owner of the same connection. */
	t->ino = ino;
	if (owner) {
		t->pid = owner->pid;
		__builtin_memcpy(t->comm, owner->comm, sizeof(t->comm));
	}
}

static __always_inline int handle_retransmit(struct sock *sk)
{
	struct tcpretrans_event *e;
	struct tcpretrans_conn conn = {};
	struct sock_owner *owner;
	__u64 key = (__u64)sk;
	__u8 ca_state;
	bool tlp;

	if (!sk)
		return 0;
	owner = bpf_map_lookup_elem(&owners, &key);
	/* With a filter, only sockets of selected owners seen while tracing. */
	if ((sonde_filter_pids || sonde_filter_cgroup) && !(owner && owner->selected))
		return 0;
	fill_conn(&conn, sk);
	if (!port_wanted(conn.sport, conn.dport))
		return 0;
	ca_state = BPF_CORE_READ_BITFIELD_PROBED((struct inet_connection_sock *)sk, icsk_ca_state);
	tlp = is_loss_probe(sk, ca_state);
	if (count_mode) {
		count(&conn, owner, tlp, owner ? 0 : sock_ino(sk));
		return 0;
	}
	e = sonde_event_reserve(sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->af = conn.af;
	e->sport = conn.sport;
	e->dport = conn.dport;
	__builtin_memcpy(e->saddr, conn.saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, conn.daddr, sizeof(e->daddr));
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->ca_state = ca_state;
	e->kind = tlp ? TCPRETRANS_TLP : TCPRETRANS_RETRANS;
	if (owner) {
		e->pid = owner->pid;
		__builtin_memcpy(e->comm, owner->comm, sizeof(e->comm));
	} else {
		e->ino = sock_ino(sk);
	}
	sonde_event_submit(e);
	return 0;
}

/* On recent kernels the tracepoint also fires for attempts that sent
 * nothing (its `err` argument: -EBUSY when the original is still in a
 * local queue, -ENOMEM, ...). Only segments that went out are reported.
 * The tracepoint record gained its `err` field in the same change, so the
 * field's existence (a CO-RE relocation, constant at load time) says
 * whether the BTF-typed and raw tracepoints pass a third argument. */
struct trace_event_raw_tcp_retransmit_skb___sonde {
	int err;
} __attribute__((preserve_access_index));

/* The record's struct is named differently across kernels (tcp_event_sk_skb
 * before 6.10); its first fields, from the format file, are stable. */
struct retransmit_skb_record {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

#define KERNEL_PASSES_ERR \
	bpf_core_field_exists(((struct trace_event_raw_tcp_retransmit_skb___sonde *)0)->err)

SEC("tp_btf/tcp_retransmit_skb")
int retransmit_btf(__u64 *ctx)
{
	if (KERNEL_PASSES_ERR && (int)ctx[2])
		return 0;
	return handle_retransmit((struct sock *)ctx[0]);
}

SEC("raw_tp/tcp_retransmit_skb")
int retransmit_raw(__u64 *ctx)
{
	if (KERNEL_PASSES_ERR && (int)ctx[2])
		return 0;
	return handle_retransmit((struct sock *)ctx[0]);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_tp(struct retransmit_skb_record *ctx)
{
	if (KERNEL_PASSES_ERR && ((struct trace_event_raw_tcp_retransmit_skb___sonde *)ctx)->err)
		return 0;
	return handle_retransmit((struct sock *)ctx->skaddr);
}

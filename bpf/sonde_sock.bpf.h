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

/* The state changes the main set_state program has run for on this CPU
 * and its cover has not yet seen, innermost last (see SONDE_ON_SET_STATE).
 * An entry is the socket and both states; a change nests in at most one
 * other (softirq in task context), but a cover skipped while it runs
 * leaves its entry behind until the outer cover clears it. */
#define SONDE_SET_STATE_RUNS 8

struct sonde_set_state_runs {
	__u32 depth;
	__u32 states[SONDE_SET_STATE_RUNS];
	__u64 sk[SONDE_SET_STATE_RUNS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_set_state_runs);
} set_state_runs SEC(".maps");

static __always_inline struct sonde_set_state_runs *sonde_set_state_runs(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&set_state_runs, &zero);
}

/* Never 0: TCP's states start at 1. */
static __always_inline __u32 sonde_set_state_key(int oldstate, int newstate)
{
	return (__u32)(oldstate & 0xffff) << 16 | (newstate & 0xffff);
}

/* The main program's record of the change it runs for. The entry is
 * written before depth counts it: a cover that runs in between (nested,
 * for a change the main program is skipped for) searches below it. No
 * other push can come between: the main program is the only one that
 * pushes, and the kernel never nests it in itself. */
static __always_inline void sonde_set_state_push(__u64 sk, int oldstate, int newstate)
{
	struct sonde_set_state_runs *runs = sonde_set_state_runs();
	__u32 i;

	if (!runs)
		return;
	i = runs->depth;
	/* Full only if covers were skipped many times over, or none is
	 * attached: start again. Outer changes' covers may then redo
	 * their work; nothing is lost. */
	if (i >= SONDE_SET_STATE_RUNS)
		i = 0;
	runs->sk[i] = sk;
	runs->states[i] = sonde_set_state_key(oldstate, newstate);
	runs->depth = i + 1;
}

/* Whether the main program ran for this change (then forgets it, and any
 * inner change whose cover was skipped). Searches from the innermost. */
static __always_inline bool sonde_set_state_done(__u64 sk, int oldstate, int newstate)
{
	struct sonde_set_state_runs *runs = sonde_set_state_runs();
	__u32 key = sonde_set_state_key(oldstate, newstate);
	__u32 depth;

	if (!runs)
		return true;
	depth = runs->depth;
	for (int i = SONDE_SET_STATE_RUNS - 1; i >= 0; i--) {
		if ((__u32)i >= depth)
			continue;
		if (runs->sk[i] == sk && runs->states[i] == key) {
			runs->depth = i;
			return true;
		}
	}
	return false;
}

/* NAME_btf and NAME_raw on sock:inet_sock_set_state, each calling
 * call(sk, oldstate, newstate). */
#define SONDE_SET_STATE_BTF_RAW(name, call)					\
SEC("tp_btf/inet_sock_set_state")						\
int BPF_PROG(name##_btf, struct sock *sk, int oldstate, int newstate)		\
{										\
	return call(sk, oldstate, newstate);					\
}										\
										\
SEC("raw_tp/inet_sock_set_state")						\
int BPF_PROG(name##_raw, struct sock *sk, int oldstate, int newstate)		\
{										\
	return call(sk, oldstate, newstate);					\
}

/* Defines the programs set_state_btf, set_state_raw and set_state_tp, each
 * calling fn(struct sock *sk, int oldstate, int newstate), and their
 * covers, set_state_cover_btf and set_state_cover_raw.
 *
 * Why covers: the kernel runs a program at most once per CPU at a time.
 * TCP changes states in softirq too, and a softirq that runs on the way
 * out of an interrupt landing while the program runs, or in the kernel's
 * code around it (a loopback packet sent by the task being traced,
 * typically), is skipped: up to 2 % of the ~10 state changes per connect
 * of a loopback connect storm on this machine when the tool's own
 * ring-buffer wakeup was that interrupt for every event (before
 * sonde_event_submit()), still some now. A program on a classic
 * tracepoint is skipped, too, while any other program on one runs on its
 * CPU. A cover is a second program on the same tracepoint, attached after
 * the main one and so run after it for every change, including the
 * skipped ones. The main program records each change it runs for; a
 * cover that finds no record of its own change does the work the main
 * program was skipped for (counted as SONDE_STAT_COVERED). Nesting goes
 * no deeper: TCP changes no state in hard interrupts, and the cover is
 * not skipped there, since it is not running when the main one is. */
#define SONDE_ON_SET_STATE(fn)							\
static __always_inline int fn##_main(struct sock *sk, int oldstate, int newstate) \
{										\
	sonde_set_state_push((__u64)sk, oldstate, newstate);			\
	return fn(sk, oldstate, newstate);					\
}										\
										\
static __always_inline int fn##_cover(struct sock *sk, int oldstate, int newstate) \
{										\
	if (sonde_set_state_done((__u64)sk, oldstate, newstate))		\
		return 0;							\
	sonde_stat_inc(SONDE_STAT_COVERED);					\
	return fn(sk, oldstate, newstate);					\
}										\
										\
SONDE_SET_STATE_BTF_RAW(set_state, fn##_main)					\
										\
SEC("tracepoint/sock/inet_sock_set_state")					\
int set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)		\
{										\
	return fn##_main((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate); \
}										\
										\
SONDE_SET_STATE_BTF_RAW(set_state_cover, fn##_cover)

#endif

// SPDX-License-Identifier: GPL-2.0
/* Test-only: one logical probe, "clock_nanosleep() calls", reached
 * three ways (fentry and kprobe on hrtimer_nanosleep(), the syscall's
 * tracepoint), so each of the library's attach paths can be forced on a
 * kernel that has it and checked against the same workload: every path
 * must report the same requested duration. */
#include "sonde_events.bpf.h"
#include "probe_paths.h"

static __always_inline void emit(__s64 request_ns, __u8 via)
{
	struct probe_paths_event *e;
	__u64 id;

	if (!sonde_current_selected())
		return;
	e = sonde_event_reserve(sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->request_ns = request_ns;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->via = via;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/* long hrtimer_nanosleep(ktime_t rqtp, enum hrtimer_mode mode, clockid_t
 * clockid): the common path of nanosleep() and clock_nanosleep() on the
 * monotonic and realtime clocks; rqtp is the request in ns. */
SEC("fentry/hrtimer_nanosleep")
int BPF_PROG(sleep_fentry, __s64 rqtp)
{
	emit(rqtp, PROBE_PATHS_FENTRY);
	return 0;
}

SEC("kprobe/hrtimer_nanosleep")
int BPF_KPROBE(sleep_kprobe, __s64 rqtp)
{
	emit(rqtp, PROBE_PATHS_KPROBE);
	return 0;
}

/* Layout of /sys/kernel/tracing/events/syscalls/sys_enter_clock_nanosleep/format. */
struct clock_nanosleep_enter_record {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 which_clock;
	__u64 flags;
	const struct __kernel_timespec *rqtp;
	__u64 rmtp;
};

SEC("tracepoint/syscalls/sys_enter_clock_nanosleep")
int sleep_tp(struct clock_nanosleep_enter_record *ctx)
{
	struct __kernel_timespec ts;

	if (bpf_probe_read_user(&ts, sizeof(ts), ctx->rqtp))
		return 0;
	emit(ts.tv_sec * 1000000000ll + ts.tv_nsec, PROBE_PATHS_TRACEPOINT);
	return 0;
}

/* Common BPF side of every sonde tool: the target filter (-p, -c, -C) and
 * the stats counters. The library fills the .rodata switches and the maps
 * below by name before load/attach, so a tool only calls
 * sonde_current_selected() in process context. */
#ifndef SONDE_BPF_H
#define SONDE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "sonde_stats.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool sonde_filter_pids = false;
/* With a single -p PID, that PID: compared with rather than looked up in
 * sonde_pids (still filled, for the tools that look up other tasks). Per
 * event in the hottest programs (each sched_switch), a hash lookup saved. */
const volatile __u32 sonde_filter_one_pid = 0;
/* cgroup filter: the target's kernfs id, and on which hierarchy. On cgroup
 * v2 that is the default hierarchy; on v1 the hierarchy is reached through
 * the css of a subsystem bound to it (its index in /proc/cgroups order). */
const volatile bool sonde_filter_cgroup = false;
const volatile bool sonde_cgroup_is_v1 = false;
const volatile __u32 sonde_cgroup_v1_ssid = 0;
const volatile __u64 sonde_cgroup_id = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SONDE_MAX_FILTER_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} sonde_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sonde_stats SEC(".maps");

/* stat: an enum sonde_stat, or one of the tool's own from SONDE_STAT_TOOL. */
static __always_inline void sonde_stat_inc(__u32 stat)
{
	__u32 key = stat;
	__u64 *v = bpf_map_lookup_elem(&sonde_stats, &key);

	if (v)
		(*v)++;
}

#define SONDE_CGROUP_MAX_DEPTH 16

static __always_inline struct cgroup *sonde_task_cgroup(struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct cgroup_subsys_state *css = NULL;
	__u32 ssid = sonde_cgroup_v1_ssid;

	if (!cset)
		return NULL;
	if (!sonde_cgroup_is_v1)
		return BPF_CORE_READ(cset, dfl_cgrp);
	if (ssid >= 32)
		return NULL;
	bpf_core_read(&css, sizeof(css), &cset->subsys[ssid]);
	return css ? BPF_CORE_READ(css, cgroup) : NULL;
}

/* Is the task in the target cgroup or below it? */
static __always_inline bool sonde_task_in_cgroup(struct task_struct *task)
{
	struct cgroup *cgrp = sonde_task_cgroup(task);
	struct cgroup_subsys_state *parent;

	for (int i = 0; i < SONDE_CGROUP_MAX_DEPTH && cgrp; i++) {
		if (BPF_CORE_READ(cgrp, kn, id) == sonde_cgroup_id)
			return true;
		parent = BPF_CORE_READ(cgrp, self.parent);
		cgrp = parent ? BPF_CORE_READ(parent, cgroup) : NULL;
	}
	return false;
}

/* Is current a task the user asked for (-p, -c, -C)? Only meaningful in
 * process context: in softirq, current is whichever task was interrupted.
 * (At sched_switch, current is the task leaving the CPU.) */
static __always_inline bool sonde_current_selected(void)
{
	if (sonde_filter_one_pid) {
		if (bpf_get_current_pid_tgid() >> 32 != sonde_filter_one_pid)
			return false;
	} else if (sonde_filter_pids) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!bpf_map_lookup_elem(&sonde_pids, &tgid))
			return false;
	}
	if (sonde_filter_cgroup &&
	    !sonde_task_in_cgroup((struct task_struct *)bpf_get_current_task()))
		return false;
	return true;
}

#endif

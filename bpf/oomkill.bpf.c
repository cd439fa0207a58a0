// SPDX-License-Identifier: GPL-2.0
/* sonde-oomkill: every OOM kill, with its victim, the task whose allocation
 * triggered it (current at that point), the victim's memory figures and
 * memory cgroup, and the OOM's constraint.
 *
 * Best: oom_kill_process(oc, message) via fentry or kprobe, where
 * oc->chosen is the victim and oc->constraint the kernel's own verdict.
 * Otherwise oom:mark_victim, which every kill passes through. Its
 * prototype changed: (int pid) before 6.9 and its stable backports, (task,
 * uid) since, and its record gained the figures then; user space picks the
 * programs that match this kernel's prototype from the BTF before load,
 * and the classic tracepoint program asks CO-RE which record fields exist. */
#include "sonde_events.bpf.h"
#include "oomkill.h"

/* Page size in KiB, for figures counted in pages (set from user space). */
const volatile __u32 page_kb = 4;

/* mm->rss_stat before 6.2: atomic counters instead of percpu_counters. */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

/* kernfs_node.parent became __parent (RCU-annotated) in 6.15. */
struct kernfs_node___old {
	struct kernfs_node___old *parent;
} __attribute__((preserve_access_index));

struct kernfs_node___new {
	struct kernfs_node___new *__parent;
} __attribute__((preserve_access_index));

/* The oom:mark_victim record since 6.9; older kernels have only pid. Field
 * offsets come from the kernel through CO-RE, so a record without a field
 * is detected rather than misread. */
struct trace_event_raw_mark_victim___sonde {
	struct trace_entry ent;
	int pid;
	__u32 __data_loc_comm;
	unsigned long total_vm;
	unsigned long anon_rss;
	unsigned long file_rss;
	unsigned long shmem_rss;
	uid_t uid;
	unsigned long pgtables;
	short oom_score_adj;
} __attribute__((preserve_access_index));

/* -p matches the victim or the trigger; -c/-C the victim's cgroup. When
 * only the victim's pid is known (pid-only mark_victim, or the classic
 * tracepoint, and the victim is not current), the cgroup filter falls back
 * to the trigger. */
static __always_inline bool oom_selected(struct task_struct *victim, __u32 victim_pid)
{
	if (sonde_filter_pids) {
		__u32 trigger = bpf_get_current_pid_tgid() >> 32;

		if (!bpf_map_lookup_elem(&sonde_pids, &victim_pid) &&
		    !bpf_map_lookup_elem(&sonde_pids, &trigger))
			return false;
	}
	if (sonde_filter_cgroup &&
	    !sonde_task_in_cgroup(victim ? victim : (struct task_struct *)bpf_get_current_task()))
		return false;
	return true;
}

static __always_inline struct oomkill_event *start_event(struct task_struct *victim,
							 __u32 victim_pid)
{
	struct oomkill_event *e;

	if (!oom_selected(victim, victim_pid))
		return NULL;
	e = sonde_event_reserve(sizeof(*e));
	if (!e)
		return NULL;
	/* The stack and the names are read only as far as they were filled. */
	__builtin_memset(e, 0, __builtin_offsetof(struct oomkill_event, stack));
	e->ts_ns = bpf_ktime_get_ns();
	e->victim_pid = victim_pid;
	e->trigger_pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));
	return e;
}

static __always_inline __u64 mm_counter_pages(struct mm_struct *mm, int member)
{
	struct mm_struct___old *old = (void *)mm;
	long v = 0;

	if (bpf_core_field_exists(old->rss_stat)) {
		switch (member) {
		case 0: v = BPF_CORE_READ(old, rss_stat.count[0].counter); break;
		case 1: v = BPF_CORE_READ(old, rss_stat.count[1].counter); break;
		default: v = BPF_CORE_READ(old, rss_stat.count[3].counter); break;
		}
	} else {
		/* What get_mm_counter() reads: the percpu_counter's sum so far. */
		switch (member) {
		case 0: v = BPF_CORE_READ(mm, rss_stat[0].count); break;
		case 1: v = BPF_CORE_READ(mm, rss_stat[1].count); break;
		default: v = BPF_CORE_READ(mm, rss_stat[3].count); break;
		}
	}
	return v > 0 ? v : 0;
}

/* The same figures the mark_victim record holds, read from the task. */
static __always_inline void fill_victim_from_task(struct oomkill_event *e, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	BPF_CORE_READ_STR_INTO(&e->victim_comm, task, comm);
	e->victim_uid = BPF_CORE_READ(task, real_cred, uid.val);
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	e->flags |= OOMKILL_HAVE_VICTIM;
	/* oom_kill_process() may be handed a leader that has dropped its mm;
	 * the kernel then kills through another thread, not seen here. */
	if (!mm)
		return;
	e->flags |= OOMKILL_HAVE_FIGURES;
	e->total_vm_kb = BPF_CORE_READ(mm, total_vm) * page_kb;
	/* MM_FILEPAGES 0, MM_ANONPAGES 1, MM_SHMEMPAGES 3 since 2.6.34 */
	e->file_rss_kb = mm_counter_pages(mm, 0) * page_kb;
	e->anon_rss_kb = mm_counter_pages(mm, 1) * page_kb;
	e->shmem_rss_kb = mm_counter_pages(mm, 3) * page_kb;
	e->pgtables_kb = BPF_CORE_READ(mm, pgtables_bytes.counter) >> 10;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___new *kn_new = (void *)kn;
	struct kernfs_node___old *kn_old = (void *)kn;

	if (bpf_core_field_exists(kn_new->__parent))
		return (void *)BPF_CORE_READ(kn_new, __parent);
	return (void *)BPF_CORE_READ(kn_old, parent);
}

/* The task's cgroup on the hierarchy the memory controller is bound to
 * (v1's memory hierarchy, or v2's nearest cgroup with memory enabled),
 * as names from the leaf up. */
static __always_inline void fill_memcg(struct oomkill_event *e, struct task_struct *task)
{
	struct cgroup_subsys_state *css = NULL;
	struct kernfs_node *kn, *parent;
	struct css_set *cset;
	int ssid, depth;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return;
	ssid = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	cset = BPF_CORE_READ(task, cgroups);
	if (!cset || ssid < 0 || ssid >= 32)
		return;
	bpf_core_read(&css, sizeof(css), &cset->subsys[ssid]);
	kn = css ? BPF_CORE_READ(css, cgroup, kn) : NULL;
	if (!kn)
		return;
	for (depth = 0; depth < OOMKILL_MEMCG_DEPTH; depth++) {
		parent = kn_parent(kn);
		if (!parent)
			break;	/* kn is the hierarchy's root: no name of its own */
		bpf_probe_read_kernel_str(e->memcg_names[depth], OOMKILL_MEMCG_NAME,
					  BPF_CORE_READ(kn, name));
		kn = parent;
	}
	if (depth == OOMKILL_MEMCG_DEPTH && kn_parent(kn))
		e->flags |= OOMKILL_MEMCG_TRUNCATED;
	e->memcg_depth = depth;
	e->flags |= OOMKILL_HAVE_MEMCG;
}

static __always_inline __u8 constraint_of(struct oom_control *oc)
{
	int c = BPF_CORE_READ(oc, constraint);

	if (!bpf_core_enum_value_exists(enum oom_constraint, CONSTRAINT_MEMCG))
		return OOMKILL_CONSTRAINT_UNKNOWN;
	if (c == bpf_core_enum_value(enum oom_constraint, CONSTRAINT_NONE))
		return OOMKILL_CONSTRAINT_SYSTEM;
	if (c == bpf_core_enum_value(enum oom_constraint, CONSTRAINT_CPUSET))
		return OOMKILL_CONSTRAINT_CPUSET;
	if (c == bpf_core_enum_value(enum oom_constraint, CONSTRAINT_MEMORY_POLICY))
		return OOMKILL_CONSTRAINT_MEMPOLICY;
	if (c == bpf_core_enum_value(enum oom_constraint, CONSTRAINT_MEMCG))
		return OOMKILL_CONSTRAINT_MEMCG;
	return OOMKILL_CONSTRAINT_UNKNOWN;
}

/* ---- oom_kill_process: the kernel's own decision ---- */

static __always_inline int on_kill_process(struct oom_control *oc)
{
	struct task_struct *victim = BPF_CORE_READ(oc, chosen);
	struct oomkill_event *e;

	if (!victim)
		return 0;
	e = start_event(victim, BPF_CORE_READ(victim, tgid));
	if (!e)
		return 0;
	fill_victim_from_task(e, victim);
	fill_memcg(e, victim);
	e->constraint = constraint_of(oc);
	sonde_event_submit(e);
	return 0;
}

SEC("fentry/oom_kill_process")
int BPF_PROG(kill_process_fentry, struct oom_control *oc, const char *message)
{
	return on_kill_process(oc);
}

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(kill_process_kprobe, struct oom_control *oc, const char *message)
{
	return on_kill_process(oc);
}

/* ---- oom:mark_victim ---- */

/* The constraint is not in the tracepoint; the kernel stack shows which
 * path reached it (memcg charge or page allocator), decided in user space
 * against kallsyms. */
static __always_inline void take_stack(struct oomkill_event *e, void *ctx)
{
	e->stack_bytes = bpf_get_stack(ctx, e->stack, sizeof(e->stack), 0);
}

static __always_inline int on_victim_task(void *ctx, struct task_struct *victim)
{
	struct oomkill_event *e = start_event(victim, BPF_CORE_READ(victim, tgid));

	if (!e)
		return 0;
	fill_victim_from_task(e, victim);
	fill_memcg(e, victim);
	take_stack(e, ctx);
	sonde_event_submit(e);
	return 0;
}

/* Before 6.9 only the victim's pid (a thread id) is passed. The victim is
 * often current itself (an exiting or allocating task chosen); only then
 * is its task at hand here. */
static __always_inline struct task_struct *victim_if_current(int pid)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(cur, pid) == pid ? cur : NULL;
}

static __always_inline int on_victim_pid(void *ctx, int pid)
{
	struct task_struct *victim = victim_if_current(pid);
	struct oomkill_event *e;

	if (victim)
		return on_victim_task(ctx, victim);
	e = start_event(NULL, pid);
	if (!e)
		return 0;
	take_stack(e, ctx);
	sonde_event_submit(e);
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim_task_btf, struct task_struct *task)
{
	return on_victim_task(ctx, task);
}

SEC("raw_tp/mark_victim")
int BPF_PROG(mark_victim_task_raw, struct task_struct *task)
{
	return on_victim_task(ctx, task);
}

SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim_pid_btf, int pid)
{
	return on_victim_pid(ctx, pid);
}

SEC("raw_tp/mark_victim")
int BPF_PROG(mark_victim_pid_raw, int pid)
{
	return on_victim_pid(ctx, pid);
}

SEC("tracepoint/oom/mark_victim")
int mark_victim_tp(struct trace_event_raw_mark_victim___sonde *ctx)
{
	int pid = ctx->pid;
	struct task_struct *victim = victim_if_current(pid);
	struct oomkill_event *e;

	e = start_event(victim, victim ? BPF_CORE_READ(victim, tgid) : pid);
	if (!e)
		return 0;
	if (bpf_core_field_exists(ctx->total_vm)) {
		__u32 loc = ctx->__data_loc_comm;

		bpf_probe_read_kernel_str(e->victim_comm, sizeof(e->victim_comm),
					  (void *)ctx + (loc & 0xffff));
		e->total_vm_kb = ctx->total_vm;
		e->anon_rss_kb = ctx->anon_rss;
		e->file_rss_kb = ctx->file_rss;
		e->shmem_rss_kb = ctx->shmem_rss;
		e->pgtables_kb = ctx->pgtables;
		e->oom_score_adj = ctx->oom_score_adj;
		e->flags |= OOMKILL_HAVE_VICTIM | OOMKILL_HAVE_FIGURES;
		if (bpf_core_field_exists(ctx->uid))
			e->victim_uid = ctx->uid;
		else if (victim)
			e->victim_uid = BPF_CORE_READ(victim, real_cred, uid.val);
	} else if (victim) {
		fill_victim_from_task(e, victim);
	}
	if (victim)
		fill_memcg(e, victim);
	take_stack(e, ctx);
	sonde_event_submit(e);
	return 0;
}

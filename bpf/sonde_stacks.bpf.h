/* BPF side of in-kernel stack aggregation: the stack map and the totals
 * map, named so that lib/stacks.c finds them in any tool's object. Names
 * of at most 15 characters, which the kernel keeps whole: such maps can
 * be made ahead of the load (lib/maps_early.c). */
#ifndef SONDE_STACKS_BPF_H
#define SONDE_STACKS_BPF_H

#include "sonde_events.bpf.h"
#include "../lib/include/sonde/stack_key.h"

#define SONDE_EEXIST 17
#define SONDE_EFAULT 14
#define SONDE_PF_KTHREAD 0x00200000

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);	/* SONDE_STACK_STORAGE_DEFAULT; tools resize it */
	__type(key, __u32);
	__uint(value_size, SONDE_STACK_DEPTH * sizeof(__u64));
} sonde_stacks SEC(".maps");

/* A stack map's bucket holds one stack, chosen by a hash of its frames:
 * a second stack hashing there would be lost (BPF_F_REUSE_STACKID would
 * instead replace the first, whose id totals still use). It goes here.
 * The kernel hashes with a fixed seed and takes the low bits, so stacks
 * that met in sonde_stacks meet here only if several share a bucket. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__uint(value_size, SONDE_STACK_DEPTH * sizeof(__u64));
} sonde_overflow SEC(".maps");

/* Allocated as stacks first appear rather than all at the start: a
 * preallocated 40,960 entries took 2 ms of every start-up (and their
 * memory), while an entry is made once per distinct stack and then only
 * added to in place. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sonde_stack_key);
	__type(value, struct sonde_stack_value);
} sonde_totals SEC(".maps");

/* The stack of current, kernel or user; a lost one is counted. */
static __always_inline __s32 sonde_stack_id(void *ctx, bool user)
{
	long id;

	/* A plain load through the BTF-typed pointer, not a probe read. */
	if (user && bpf_get_current_task_btf()->flags & SONDE_PF_KTHREAD)
		return SONDE_STACK_NONE;
	id = bpf_get_stackid(ctx, &sonde_stacks, user ? BPF_F_USER_STACK : 0);
	if (id == -SONDE_EEXIST) {
		id = bpf_get_stackid(ctx, &sonde_overflow, user ? BPF_F_USER_STACK : 0);
		if (id >= 0)
			return id | SONDE_STACK_OVERFLOW_BIT;
	}
	/* A sample taken in user mode has no kernel stack to walk. */
	if (id == -SONDE_EFAULT && !user)
		return SONDE_STACK_NONE;
	if (id < 0 && id != -SONDE_EFAULT)
		sonde_stat_inc(SONDE_STAT_STACK_LOST);
	return id;
}

/* pid -> the exec generation it was last seen in (see below). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} sonde_seen_pids SEC(".maps");

/* A process whose generation this context cannot read (not current). */
#define SONDE_EXEC_GEN_UNKNOWN 0xffffffffu

/* Which program the current process runs: the kernel counts execs in
 * self_exec_id, and threads from before an exec do not survive it. */
static __always_inline __u32 sonde_current_exec_gen(void)
{
	return (__u32)bpf_get_current_task_btf()->self_exec_id & 0x7fffffff;
}

/* The process this CPU noted last, and in which generation: most samples
 * and switches come from the process before, and comparing with it saves
 * a lookup in sonde_seen_pids. */
struct sonde_noted {
	__u32 pid;
	__u32 exec_gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sonde_noted);
} sonde_last_pid SEC(".maps");

/* Tells user space about a process the first time it is seen, and again
 * once it has exec'd another program (its mappings are new). */
static __always_inline void sonde_stack_note_pid(__u32 pid, __u32 exec_gen)
{
	struct sonde_stack_new_process *e;
	struct sonde_noted *last;
	__u32 zero = 0, *seen;

	if (!pid)
		return;
	last = bpf_map_lookup_elem(&sonde_last_pid, &zero);
	if (last && last->pid == pid &&
	    (exec_gen == SONDE_EXEC_GEN_UNKNOWN || last->exec_gen == exec_gen))
		return;
	seen = bpf_map_lookup_elem(&sonde_seen_pids, &pid);
	if (seen && (exec_gen == SONDE_EXEC_GEN_UNKNOWN || *seen == exec_gen)) {
		if (last) {
			last->pid = pid;
			last->exec_gen = *seen;
		}
		return;
	}
	/* Unknown at first sight: a later sample in the process sets it
	 * (and reports an "exec", which only re-reads its mappings). */
	bpf_map_update_elem(&sonde_seen_pids, &pid, &exec_gen, BPF_ANY);
	if (last) {
		last->pid = pid;
		last->exec_gen = exec_gen;
	}
	e = sonde_event_reserve(sizeof(*e));
	if (!e)
		return;
	e->pid = pid;
	e->exec = seen != NULL;
	/* Forced: the default wakes user space only if it has read all
	 * before, and copied stacks (sonde_user_sample_submit) pile up
	 * without waking it. A short-lived process must have its mappings
	 * read while it lives. */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/* Adds to the totals of key; a full map is counted. */
static __always_inline void sonde_stack_add(const struct sonde_stack_key *key, __u64 value)
{
	__u32 current_pid = bpf_get_current_pid_tgid() >> 32;

	sonde_stack_note_pid(key->pid, key->pid == current_pid ? sonde_current_exec_gen()
							       : SONDE_EXEC_GEN_UNKNOWN);
	sonde_stack_note_pid(key->other_pid, key->other_pid == current_pid ?
				     sonde_current_exec_gen() : SONDE_EXEC_GEN_UNKNOWN);
	struct sonde_stack_value *v = bpf_map_lookup_elem(&sonde_totals, key);

	if (!v) {
		struct sonde_stack_value zero = {};
		long err = bpf_map_update_elem(&sonde_totals, key, &zero, BPF_NOEXIST);

		if (err && err != -SONDE_EEXIST) {
			sonde_stat_inc(SONDE_STAT_MAP_FULL);
			return;
		}
		v = bpf_map_lookup_elem(&sonde_totals, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->total, value);
	__sync_fetch_and_add(&v->count, 1);
}

#endif

/* --unwind for the stack tools: which user stacks the BPF side copies for
 * DWARF unwinding (the code ranges of each process that frame pointers
 * do not walk right, bpf/sonde_unwind.bpf.h), and the samples it copies,
 * unwound here and totalled per stack. */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sonde/log.h"
#include "sonde/mmap_watch.h"
#include "sonde/stack_pending.h"
#include "sonde/stacks.h"
#include "sonde/sym.h"
#include "sonde/unwind.h"
#include "sonde/unwind_ranges.h"

int sonde_unwind_mode_parse(const char *arg, enum sonde_unwind_mode *mode)
{
	static const char *const names[] = {
		[SONDE_UNWIND_AUTO] = "auto", [SONDE_UNWIND_FP] = "fp", [SONDE_UNWIND_DWARF] = "dwarf",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i])) {
			*mode = i;
			return 0;
		}
	return -EINVAL;
}

int sonde_stack_printer_unwind(struct sonde_stack_printer *p, enum sonde_unwind_mode mode)
{
	p->unwind = mode;
	/* Auto mode copies only where frame pointers fail; fp never. */
	if (mode == SONDE_UNWIND_FP)
		return 0;
	p->unwinder = sonde_unwinder_new(p->sym);
	p->agg = sonde_stack_agg_new();
	p->pending = sonde_stack_pending_new();
	return p->unwinder && p->agg && p->pending ? 0 : -ENOMEM;
}

struct classify {
	struct sonde_code_ranges ranges;
	char dwarf[512];	/* module names, for -v */
	char go[512];
	size_t dwarf_len, go_len;
	enum sonde_unwind_mode mode;
};

static bool listed(const char *list, const char *module)
{
	size_t len = strlen(module);

	for (const char *at = list; (at = strstr(at, module)); at += len)
		if ((at == list || at[-1] == ' ') && (at[len] == ',' || !at[len]))
			return true;
	return false;
}

static void note_module(char *list, size_t size, size_t *len, const char *module)
{
	int n;

	/* A module with several code mappings is named once. */
	if (*len >= size || listed(list, module))
		return;
	n = snprintf(list + *len, size - *len, "%s%s", *len ? ", " : "", module);
	if (n > 0)
		*len += (size_t)n;
}

static void add_range(void *arg, uint64_t start, uint64_t end, const char *module, int kind)
{
	struct classify *c = arg;
	struct sonde_code_ranges *r = &c->ranges;

	if (kind == SONDE_CODE_FRAME_POINTERS ||
	    (kind == SONDE_CODE_NO_FRAME_POINTERS && c->mode != SONDE_UNWIND_AUTO))
		return;
	if (kind == SONDE_CODE_GO)
		note_module(c->go, sizeof(c->go), &c->go_len, module);
	else
		note_module(c->dwarf, sizeof(c->dwarf), &c->dwarf_len, module);
	/* Adjacent code of one kind (a file mapped in pieces) is one range. */
	if (r->n && r->r[r->n - 1].end == start && r->r[r->n - 1].kind == (__u32)kind) {
		r->r[r->n - 1].end = end;
		return;
	}
	if (r->n == SONDE_CODE_RANGES) {
		r->all_no_fp = 1;
		return;
	}
	r->r[r->n++] = (struct sonde_code_range){.start = start, .end = end, .kind = kind};
}

void sonde_stacks_classify(struct sonde_stack_printer *p, uint32_t pid)
{
	struct bpf_map *map = bpf_object__find_map_by_name(p->obj, "sonde_code_ranges");
	struct classify c = {.mode = p->unwind};

	if (!map || !pid)
		return;
	if (p->unwind == SONDE_UNWIND_DWARF) {
		sonde_unwinder_prepare(p->unwinder, (pid_t)pid);
		return;
	}
	if (!sonde_sym_user_code(p->sym, pid, add_range, &c))
		return;
	/* Too many ranges to list: DWARF wherever the leaf is, as long as
	 * some code needs it; a Go binary's leaf fix needs its ranges. */
	if (c.ranges.all_no_fp) {
		c.ranges.n = 0;
		if (!c.dwarf_len)
			c.ranges.all_no_fp = 0;
	}
	if (!c.ranges.n && !c.ranges.all_no_fp)
		return;
	if (bpf_map_update_elem(bpf_map__fd(map), &pid, &c.ranges, BPF_ANY)) {
		sonde_info(1, "pid %u: cannot record how to unwind it: %s", pid, strerror(errno));
		return;
	}
	if (c.dwarf_len) {
		sonde_info(1, "pid %u: DWARF unwinding%s in %s (no frame pointers)", pid,
			   c.ranges.all_no_fp ? " everywhere, as there is much code" : "", c.dwarf);
		sonde_unwinder_prepare(p->unwinder, (pid_t)pid);
	}
	if (c.go_len)
		sonde_info(1, "pid %u: Go leaf frames from the pclntab in %s", pid, c.go);
}

void sonde_stacks_watch_mappings(struct sonde_stack_printer *p)
{
	if (p->unwind == SONDE_UNWIND_FP)
		return;
	p->mmaps = sonde_mmap_watch_open();
	if (!p->mmaps)
		sonde_info(1, "cannot watch for code mapped later (%s): a library loaded after a "
			   "process was first seen is walked by frame pointers", strerror(errno));
}

/* The processes that mapped code, each once per poll. */
struct mapped {
	struct sonde_stack_printer *p;
	uint32_t pids[64];
	size_t n;
};

/* A process whose code changed: its mappings read again, its unwinding
 * set up afresh and its code classified again. Only processes the tool
 * has seen: the others are classified when first seen. */
static void refresh(struct sonde_stack_printer *p, uint32_t pid)
{
	if (!sonde_sym_refresh(p->sym, (pid_t)pid))
		return;
	sonde_info(2, "pid %u mapped new code", pid);
	if (p->unwinder)
		sonde_unwinder_forget(p->unwinder, (pid_t)pid);
	sonde_stacks_classify(p, pid);
}

static void flush(struct mapped *m)
{
	for (size_t i = 0; i < m->n; i++)
		refresh(m->p, m->pids[i]);
	m->n = 0;
}

static void note_mapping(void *arg, const struct sonde_mmap_record *r)
{
	struct mapped *m = arg;

	/* A JIT's anonymous code ("//anon") has no CFI to classify. */
	if (r->file[0] != '/' || r->file[1] == '/')
		return;
	for (size_t i = 0; i < m->n; i++)
		if (m->pids[i] == r->pid)
			return;
	if (m->n == sizeof(m->pids) / sizeof(m->pids[0]))
		flush(m);
	m->pids[m->n++] = r->pid;
}

void sonde_stacks_poll_mappings(struct sonde_stack_printer *p)
{
	struct mapped m = {.p = p};
	uint64_t lost;

	if (!p->mmaps)
		return;
	lost = sonde_mmap_watch_read(p->mmaps, note_mapping, &m);
	flush(&m);
	if (lost)
		sonde_info(1, "%llu reports of mapped code lost: libraries loaded then are walked by "
			   "frame pointers", (unsigned long long)lost);
}

static int add(struct sonde_stack_printer *p, const struct sonde_stack_key *key,
	       const uint64_t *ips, size_t n, uint64_t value)
{
	if (sonde_stack_agg_add(p->agg, key, ips, n, value)) {
		sonde_err("out of memory: a sample was dropped");
		return -ENOMEM;
	}
	return 0;
}

/* Empties the map of stack ends once it is full: threads that exited
 * left theirs behind, and the live ones learn theirs again. */
static void stack_ends_clear(int fd)
{
	uint32_t tid;

	while (!bpf_map_get_next_key(fd, NULL, &tid))
		if (bpf_map_delete_elem(fd, &tid))
			break;
}

/* Where the thread's stack ends, for the BPF side's next copies of it
 * (SONDE_STACK_ENDS): set from a walk that reached the outermost frame,
 * unless the copy already reached as far; forgotten when it cut a copy
 * short of what the walk needed, so that the next copy is whole. */
static void learn_stack_end(struct sonde_stack_printer *p, const struct sonde_user_sample *e,
			    const struct sonde_unwind_reach *reach)
{
	struct bpf_map *map;
	int fd;

	if (!e->tid || !(reach->end ? reach->end > e->stack_end : reach->past_copy && e->stack_end))
		return;
	map = bpf_object__find_map_by_name(p->obj, "sonde_stack_ends");
	fd = map ? bpf_map__fd(map) : -1;
	if (fd < 0)
		return;
	if (!reach->end) {
		p->copies_cut_short++;
		bpf_map_delete_elem(fd, &e->tid);
	} else if (bpf_map_update_elem(fd, &e->tid, &reach->end, BPF_ANY) == -E2BIG) {
		stack_ends_clear(fd);
		bpf_map_update_elem(fd, &e->tid, &reach->end, BPF_ANY);
	}
}

int sonde_stacks_add_user_sample(struct sonde_stack_printer *p, const struct sonde_user_sample *e,
				 size_t size)
{
	const struct sonde_user_regs regs = {e->ip, e->sp, e->bp};
	const size_t room = size - SONDE_USER_SAMPLE_SIZE(0);
	struct sonde_unwind_reach reach;
	uint64_t ips[SONDE_STACK_DEPTH];
	size_t len = e->stack_len < room ? e->stack_len : room;
	size_t n = sonde_unwind_user(p->unwinder, e->key.pid, e->tid ? e->tid : e->key.pid, &regs,
				     e->stack, len, ips, SONDE_STACK_DEPTH, &reach);

	p->copies++;
	p->copied_bytes += len;
	learn_stack_end(p, e, &reach);
	if (!(e->flags & SONDE_SAMPLE_PENDING))
		return add(p, &e->key, ips, n, e->value);
	if (sonde_stack_pending_put(p->pending, e->key.pid, e->key.tid, ips, n)) {
		sonde_err("out of memory: a sample was dropped");
		return -ENOMEM;
	}
	return 0;
}

int sonde_stacks_add_ended(struct sonde_stack_printer *p, const struct sonde_stack_ended *e)
{
	const uint64_t *ips;
	size_t n;

	if (!sonde_stack_pending_take(p->pending, e->key.pid, e->key.tid, &ips, &n)) {
		/* Only when the table of pending copies started afresh. */
		p->ended_without_copy++;
		return 0;
	}
	return add(p, &e->key, ips, n, e->value);
}

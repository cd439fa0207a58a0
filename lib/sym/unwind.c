/* DWARF unwinding of copied user stacks. One Dwfl per process holds its
 * modules, reported from the symbolizer's view of its mappings (files
 * opened through the process's root). A stack is first walked with the
 * process's cached per-address rules (cfi_rules.c); one that needs more
 * than they say is walked by libdwfl, which is given the sample's
 * registers and stack copy as the thread's state. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "internal.h"
#include "sonde/clock.h"
#include "sonde/unwind.h"

#define PROC_SLOTS 128

struct sample {
	pid_t tid;
	const struct sonde_user_regs *regs;
	const unsigned char *stack;
	size_t len;
	uint64_t *ips;
	size_t max;
	size_t n;
	bool thread_given;
	struct sonde_unwind_reach reach;
	uint64_t read_end;	/* past the highest byte read so far */
	bool outermost;		/* the walk reached a frame with no caller */
};

struct proc_dwfl {
	pid_t pid;
	Dwfl *dwfl;		/* NULL: could not be set up */
	struct cfi_rules rules;
	int64_t reloaded_ns;	/* when reload() last set it up again */
	struct sample *current;
};

#define RELOAD_INTERVAL_NS 1000000000ll

struct sonde_unwinder {
	struct sonde_symbolizer *sym;
	struct proc_dwfl procs[PROC_SLOTS];
	size_t used;
	bool use_rules;
	struct sonde_unwind_counts counts;
};

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

/* ---- the thread state libdwfl unwinds: one sample ---- */

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	struct proc_dwfl *p = arg;

	(void)dwfl;
	if (p->current->thread_given)
		return 0;
	p->current->thread_given = true;
	*thread_arg = p->current;
	return p->current->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	struct proc_dwfl *p = arg;

	(void)dwfl;
	*thread_arg = p->current;
	return tid == p->current->tid;
}

/* Only the copied stack is readable: that is all the sample holds. */
static bool sample_read(struct sample *s, uint64_t addr, uint64_t *result)
{
	uint64_t sp = s->regs->sp;

	if (addr < sp)
		return false;
	if (addr - sp > s->len || s->len - (addr - sp) < sizeof(*result)) {
		s->reach.past_copy = true;
		return false;
	}
	memcpy(result, s->stack + (addr - sp), sizeof(*result));
	if (addr + sizeof(*result) > s->read_end)
		s->read_end = addr + sizeof(*result);
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	uint64_t word;

	(void)dwfl;
	if (!sample_read(((struct proc_dwfl *)arg)->current, addr, &word))
		return false;
	*result = word;
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct sample *s = thread_arg;
	Dwarf_Word fp = s->regs->bp, sp = s->regs->sp;

	dwfl_thread_state_register_pc(thread, s->regs->ip);
	return dwfl_thread_state_registers(thread, SYM_DWARF_FP, 1, &fp) &&
	       dwfl_thread_state_registers(thread, SYM_DWARF_SP, 1, &sp);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* ---- per-process Dwfl ---- */

static void report_module(void *arg, const char *name, int fd, uint64_t bias)
{
	Dwfl *dwfl = arg;

	/* libdwfl owns fd from here on, also on failure. */
	dwfl_report_elf(dwfl, name, name, fd, bias, false);
}

static Dwfl *process_dwfl(struct sonde_unwinder *u, struct proc_dwfl *p, pid_t pid)
{
	Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);

	p->pid = pid;
	p->dwfl = NULL;
	p->rules = (struct cfi_rules){0};
	p->reloaded_ns = 0;
	if (!dwfl)
		return NULL;
	dwfl_report_begin(dwfl);
	if (!sym_process_modules(u->sym, pid, report_module, dwfl) ||
	    dwfl_report_end(dwfl, NULL, NULL) ||
	    !dwfl_attach_state(dwfl, NULL, pid, &thread_callbacks, p)) {
		dwfl_end(dwfl);
		return NULL;
	}
	return p->dwfl = dwfl;
}

static void proc_end(struct proc_dwfl *p)
{
	if (p->dwfl)
		dwfl_end(p->dwfl);
	cfi_rules_free(&p->rules);
}

static struct proc_dwfl *proc_get(struct sonde_unwinder *u, pid_t pid)
{
	for (size_t i = 0; i < u->used; i++)
		if (u->procs[i].pid == pid)
			return &u->procs[i];
	/* A slot a forgotten process left (pid 0: never a process of ours). */
	for (size_t i = 0; i < u->used; i++)
		if (!u->procs[i].pid) {
			process_dwfl(u, &u->procs[i], pid);
			return &u->procs[i];
		}
	/* Full: start over rather than track which process was used last. */
	if (u->used == PROC_SLOTS) {
		for (size_t i = 0; i < u->used; i++)
			proc_end(&u->procs[i]);
		u->used = 0;
	}
	process_dwfl(u, &u->procs[u->used], pid);
	return &u->procs[u->used++];
}

void sonde_unwinder_prepare(struct sonde_unwinder *u, pid_t pid)
{
	if (u)
		proc_get(u, pid);
}

/* The slot stays where it is, free: its Dwfl's callbacks were given its
 * address, so a process's slot never moves. */
void sonde_unwinder_forget(struct sonde_unwinder *u, pid_t pid)
{
	for (size_t i = 0; i < u->used; i++)
		if (u->procs[i].pid == pid) {
			proc_end(&u->procs[i]);
			u->procs[i] = (struct proc_dwfl){.pid = 0};
			return;
		}
}

struct sonde_unwinder *sonde_unwinder_new(struct sonde_symbolizer *sym)
{
	struct sonde_unwinder *u = calloc(1, sizeof(*u));

	if (u) {
		u->sym = sym;
		u->use_rules = true;
	}
	return u;
}

void sonde_unwinder_free(struct sonde_unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->used; i++)
		proc_end(&u->procs[i]);
	free(u);
}

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct sample *s = arg;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(frame, &pc, NULL) || s->n >= s->max)
		return DWARF_CB_ABORT;
	/* The first frame is the sampled instruction, already recorded. */
	if (s->n == 1 && pc == s->ips[0])
		return DWARF_CB_OK;
	s->ips[s->n++] = pc;
	return s->n < s->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

enum walk {
	WALK_DONE,		/* ended as libdwfl's would: no caller, a return
				 * address of 0, or a read beyond the copy */
	WALK_LIBDWFL,		/* a frame needs more than the rules */
	WALK_NO_MODULE,		/* a frame is in none of the process's modules */
};

/* Walks s with the cached rules alone; unless WALK_DONE, s is left for
 * libdwfl, from the start. */
static enum walk walk_with_rules(struct proc_dwfl *p, struct sample *s)
{
	uint64_t pc = s->regs->ip, sp = s->regs->sp, fp = s->regs->bp, cfa, ra;
	bool fp_known = true;

	for (bool first = true; s->n < s->max; first = false) {
		/* A return address is looked up at the call before it; the
		 * sampled instruction itself at its own address. */
		const struct cfi_rule *r = cfi_rule_at(&p->rules, p->dwfl, first ? pc : pc - 1);

		if (r->kind == CFI_RULE_LIBDWFL)
			return WALK_LIBDWFL;
		if (r->kind == CFI_RULE_NO_MODULE)
			return WALK_NO_MODULE;
		if (r->kind == CFI_RULE_OUTERMOST) {
			s->outermost = true;
			return WALK_DONE;
		}
		if (r->cfa_reg == SYM_DWARF_FP && !fp_known)
			return WALK_DONE;
		cfa = (r->cfa_reg == SYM_DWARF_SP ? sp : fp) + (uint64_t)(int64_t)r->cfa_offset;
		if (!sample_read(s, cfa + (uint64_t)(int64_t)r->ra_offset, &ra))
			return WALK_DONE;
		if (r->fp == CFI_FP_SAVED)
			fp_known = sample_read(s, cfa + (uint64_t)(int64_t)r->fp_offset, &fp);
		else if (r->fp == CFI_FP_LOST)
			fp_known = false;
		sp = cfa;
		if (!ra) {
			s->outermost = true;
			return WALK_DONE;
		}
		s->ips[s->n++] = pc = ra;
	}
	return WALK_DONE;
}

/* A frame in none of the process's modules: it may have mapped code
 * since its modules were reported (dlopen). Sets the process up again
 * from its mappings read anew, at most once a second (a garbage return
 * address looks the same). */
static bool reload(struct sonde_unwinder *u, struct proc_dwfl *p)
{
	int64_t now = (int64_t)sonde_now_mono_ns();
	pid_t pid = p->pid;

	if (now - p->reloaded_ns < RELOAD_INTERVAL_NS || !sonde_sym_refresh(u->sym, pid))
		return false;
	proc_end(p);
	process_dwfl(u, p, pid);
	p->reloaded_ns = now;
	return p->dwfl != NULL;
}

/* Starts s over, for another walk of the same sample. */
static void restart(struct sample *s)
{
	s->n = 1;
	s->reach = (struct sonde_unwind_reach){0};
	s->read_end = 0;
	s->outermost = false;
}

static size_t walk(struct sonde_unwinder *u, pid_t pid, struct sample *s)
{
	struct proc_dwfl *p;

	if (!s->max)
		return 0;
	s->ips[s->n++] = s->regs->ip;
	p = proc_get(u, pid);
	if (!p->dwfl)
		return s->n;
	if (u->use_rules) {
		enum walk w = walk_with_rules(p, s);

		if (w == WALK_NO_MODULE && reload(u, p)) {
			restart(s);
			w = walk_with_rules(p, s);
		}
		if (w == WALK_DONE) {
			u->counts.by_rules++;
			return s->n;
		}
	}
	u->counts.by_libdwfl++;
	restart(s);
	p->current = s;
	/* Errors end the walk where it stands: what was found is kept. 0:
	 * it ended at a frame with no caller. */
	s->outermost = dwfl_getthread_frames(p->dwfl, s->tid, on_frame, s) == 0;
	p->current = NULL;
	return s->n;
}

size_t sonde_unwind_user(struct sonde_unwinder *u, pid_t pid, pid_t tid,
			 const struct sonde_user_regs *regs, const void *stack, size_t stack_len,
			 uint64_t *ips, size_t max, struct sonde_unwind_reach *reach)
{
	struct sample s = {.tid = tid, .regs = regs, .stack = stack, .len = stack_len,
			   .ips = ips, .max = max};
	size_t n = walk(u, pid, &s);

	/* Not after a read past the copy: libdwfl ends a walk there as if
	 * at the outermost frame. */
	if (s.outermost && !s.reach.past_copy)
		s.reach.end = s.read_end;
	if (reach)
		*reach = s.reach;
	return n;
}

void sonde_unwinder_use_rules(struct sonde_unwinder *u, bool use)
{
	u->use_rules = use;
}

struct sonde_unwind_counts sonde_unwinder_counts(const struct sonde_unwinder *u)
{
	return u->counts;
}

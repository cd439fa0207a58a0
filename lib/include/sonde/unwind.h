/* Unwinding a user stack with DWARF call frame information (.eh_frame,
 * .debug_frame) through libdwfl, from the registers and a copy of the
 * stack taken at a sample: for code built without frame pointers. */
#ifndef SONDE_UNWIND_H
#define SONDE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sonde_symbolizer;
struct sonde_unwinder;

/* Where the unwind starts: instruction pointer, stack pointer and frame
 * pointer (rip, rsp, rbp on x86-64). */
struct sonde_user_regs {
	uint64_t ip;
	uint64_t sp;
	uint64_t bp;
};

/* The process mappings come from sym (its view through /proc/PID/root). */
struct sonde_unwinder *sonde_unwinder_new(struct sonde_symbolizer *sym);
void sonde_unwinder_free(struct sonde_unwinder *u);

/* Sets up the unwinding of process pid now, while it lives: its files
 * are opened through /proc/PID, which ends with it, and its copied stacks
 * may be read only after that. Otherwise the first unwind in it does. */
void sonde_unwinder_prepare(struct sonde_unwinder *u, pid_t pid);

/* Drops what is known of a process's modules (it mapped new code): the
 * next unwind in it sets them up again from the symbolizer's mappings. */
void sonde_unwinder_forget(struct sonde_unwinder *u, pid_t pid);

/* How much of the stack a walk needed (reach.end), so that the thread's
 * next copies can stop there. */
struct sonde_unwind_reach {
	/* Past the highest stack byte the walk read, when it reached the
	 * outermost frame (one with no caller) from the copy alone; 0 when
	 * the copy, the depth or the CFI ended it first. */
	uint64_t end;
	bool past_copy;		/* it needed a byte the copy does not hold */
};

/* Unwinds thread tid of process pid; stack holds stack_len bytes copied
 * from regs->sp upwards. Fills ips leaf first (ips[0] is regs->ip; the
 * others are return addresses) and returns how many: at least 1 when
 * max > 0, however little the CFI and the copy allow. Says how far up
 * the stack the walk read in *reach, unless reach is NULL. */
size_t sonde_unwind_user(struct sonde_unwinder *u, pid_t pid, pid_t tid,
			 const struct sonde_user_regs *regs, const void *stack, size_t stack_len,
			 uint64_t *ips, size_t max, struct sonde_unwind_reach *reach);

/* Whether stacks are walked with the per-address rules cached from the
 * CFI (the default) or by libdwfl alone: the same frames, more slowly;
 * for tests that compare the two. */
void sonde_unwinder_use_rules(struct sonde_unwinder *u, bool use);

/* Stacks walked so far, and how. */
struct sonde_unwind_counts {
	uint64_t by_rules;
	uint64_t by_libdwfl;	/* some frame needed more than the cached rules */
};
struct sonde_unwind_counts sonde_unwinder_counts(const struct sonde_unwinder *u);

#endif

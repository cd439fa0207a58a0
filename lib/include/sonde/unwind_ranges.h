/* Which user stacks the BPF side walks by frame pointers and which it
 * copies for DWARF unwinding in user space (--unwind), shared by the BPF
 * side (bpf/sonde_unwind.bpf.h) and lib/stacks_unwind.c.
 *
 * With --unwind auto, user space classifies each code mapping of a
 * process the first time the process is seen (lib/sym/frame_pointers.c)
 * and hands the BPF side the ranges that frame pointers do not walk
 * right; a sample whose user instruction pointer lies in one of them is
 * copied (registers and the top of the stack) instead of walked. */
#ifndef SONDE_UNWIND_RANGES_H
#define SONDE_UNWIND_RANGES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "stack_key.h"

enum sonde_unwind_mode {
	SONDE_UNWIND_AUTO,	/* DWARF where the code lacks frame pointers */
	SONDE_UNWIND_FP,
	SONDE_UNWIND_DWARF,
};

/* How the code of one mapping is walked. */
enum sonde_code_kind {
	SONDE_CODE_FRAME_POINTERS,
	SONDE_CODE_NO_FRAME_POINTERS,	/* DWARF CFI, in auto mode */
	/* Go: frame pointers, but small leaf functions set up no frame,
	 * so the word at the stack pointer (the return address into the
	 * caller a frame-pointer walk skips) is kept with the sample. */
	SONDE_CODE_GO,
};

/* Ranges per process; a process with more code that frame pointers
 * cannot walk is unwound with DWARF wherever its leaf is (all_no_fp). */
#define SONDE_CODE_RANGES 32

struct sonde_code_range {
	__u64 start, end;
	__u32 kind;		/* enum sonde_code_kind, never FRAME_POINTERS */
	__u32 unused;
};

struct sonde_code_ranges {
	__u32 n;
	__u32 all_no_fp;
	struct sonde_code_range r[SONDE_CODE_RANGES];
};

/* How much of the user stack a sample copies, at most, in pieces so that
 * the copy stops at the top of the stack. */
#define SONDE_USER_STACK_BYTES 8192
#define SONDE_USER_STACK_PIECE 1024
/* The smallest copy a sample record holds: a record is sized for the
 * copy it carries, SONDE_USER_STACK_MIN times a power of two. */
#define SONDE_USER_STACK_MIN 512

/* Per thread (key: tid), where its stack ends: the address past the
 * highest byte the last complete DWARF walk of one of its samples read.
 * The BPF side then copies only from the stack pointer up to there,
 * rather than SONDE_USER_STACK_BYTES: a record's size is most of what a
 * copied sample costs the traced thread (its ring buffer pages are cold,
 * and an 8 KiB record touches three of them). User space learns the end
 * (lib/stacks_unwind.c) and forgets it when a copy fell short. */
#define SONDE_STACK_ENDS 16384

/* sonde_user_sample.flags */
enum {
	/* Its key and value come later, in a sonde_stack_ended record of
	 * the same thread (key.tid); until then only key.pid and key.tid
	 * are set. A sample without one is never counted. */
	SONDE_SAMPLE_PENDING = 1 << 0,
};

/* A sample whose user stack is unwound in user space: the key of its
 * totals (user_stack_id unused), the value to add, the user registers
 * and the copy of the stack from the stack pointer up. */
struct sonde_user_sample {
	struct sonde_stack_key key;
	__u64 value;
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 stack_end;	/* the end the copy's length came from; 0: none */
	__u32 tid;
	__u32 stack_len;
	__u32 flags;
	__u32 unused;
	/* SONDE_USER_STACK_MIN << k bytes of room: the record ends here. */
	__u8 stack[SONDE_USER_STACK_BYTES];
};

/* The size of a sample record with room for a copy of stack bytes. */
#define SONDE_USER_SAMPLE_SIZE(bytes) (__builtin_offsetof(struct sonde_user_sample, stack) + (bytes))

/* The end of a pending sample (SONDE_SAMPLE_PENDING): its key and value.
 * Told apart from the ring buffer's other records by its size. */
struct sonde_stack_ended {
	struct sonde_stack_key key;
	__u64 value;
};

#endif

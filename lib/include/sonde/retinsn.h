/* Where a function's code leaves it, found by decoding its machine code:
 * the places to put uprobes instead of a uretprobe. A uretprobe rewrites
 * the return address on the stack, which breaks Go programs (the runtime
 * copies and walks goroutine stacks and finds the trampoline's address
 * there); a uprobe on each return instruction sees the same moment — the
 * registers hold the results — without touching the stack.
 *
 * The function is given as [entry, end) virtual addresses (e.g. from the
 * Go pclntab) and decoded linearly from entry with capstone, which is
 * exact for compilers that put no data in their code (Go's jump tables
 * live in read-only data). Every byte of the range must decode: a range
 * that does not start at an instruction would yield wrong addresses, and
 * a uprobe placed inside an instruction corrupts the program, so an
 * undecodable byte is an error, not a guess.
 *
 * A function also leaves by a jump out of its range (a tail call: the
 * callee returns to our caller, so no instruction of ours sees the
 * result) and possibly by an indirect jump (a jump table, which stays
 * inside, or a tail call through a register, which does not — the code
 * does not say which). Both are reported as exits of their own kind so the
 * caller can decide; a caller that needs every return must refuse a
 * function with either. Calls are not exits, not even to functions that
 * never return (a panic unwinds through the caller's deferred calls, not
 * through a return of this function): those frames simply never return.
 *
 * Input is untrusted: the file may be truncated or hostile. Offsets and
 * sizes are checked against the image, the range is limited to
 * SONDE_FUNC_EXITS_MAX_RANGE bytes, and results go to a caller-sized
 * array: nothing is allocated in proportion to the input.
 * Only x86-64 ELF files are understood. */
#ifndef SONDE_RETINSN_H
#define SONDE_RETINSN_H

#include <stddef.h>
#include <stdint.h>

/* Larger functions are refused (-E2BIG): Go's largest runtime functions
 * are tens of KiB, and decoding is linear in the size. */
#define SONDE_FUNC_EXITS_MAX_RANGE (1u << 20)

enum sonde_func_exit_kind {
	SONDE_EXIT_RET,		/* a return instruction */
	SONDE_EXIT_TAIL_JUMP,	/* a direct jump (conditional or not) out of [entry, end) */
	SONDE_EXIT_INDIRECT_JUMP,	/* a jump through a register or memory: target unknown */
};

struct sonde_func_exit {
	uint64_t vaddr;		/* address of the instruction */
	enum sonde_func_exit_kind kind;
	uint64_t target;	/* a tail jump's destination; 0 otherwise */
};

/* The exits of the function [entry, end) of an x86-64 ELF image in
 * memory, in address order: writes up to max of them to out and returns
 * how many there are (which may exceed max: the caller then knows it saw
 * only some), or -errno: -ENOEXEC not ELF, -ENOTSUP not x86-64, -EINVAL
 * an empty or reversed range, -E2BIG a range over
 * SONDE_FUNC_EXITS_MAX_RANGE, -ENOENT a range not wholly in the file bytes
 * of one executable segment, -EILSEQ bytes that do not decode, -ENOMEM.
 * Takes any bytes: fuzzers call it directly. */
int sonde_func_exits_image(const uint8_t *data, size_t size, uint64_t entry, uint64_t end,
			   struct sonde_func_exit *out, size_t max);
/* The same for a file: maps it read-only for the call. */
int sonde_func_exits_fd(int fd, uint64_t entry, uint64_t end,
			struct sonde_func_exit *out, size_t max);

const char *sonde_func_exit_kind_name(enum sonde_func_exit_kind kind);

#endif

/* Where runtime.allgs is in a binary without symbols: runtime.allgadd
 * appends every new g to it, so its code reads and writes the slice's
 * three words (pointer, length, capacity) at addresses relative to the
 * instruction pointer. Decoding the function (capstone) and finding the
 * one address referenced at +0, +8 and +16 gives the slice. allglen,
 * allgptr and allglock are referenced there too, but single words. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/golang.h>
#include <sonde/uprobe.h>

#include "x86_decoder.h"

/* allgadd is a few hundred bytes; more means something else. */
#define MAX_CODE 16384
#define MAX_REFS 256

static bool has(const uint64_t *refs, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i] == addr)
			return true;
	return false;
}

/* The instruction-pointer-relative memory operands of the code. */
static int data_refs(const uint8_t *code, size_t size, uint64_t address, uint64_t *refs,
		     size_t max)
{
	size_t n = 0;
	struct sonde_x86_decoder *d = sonde_x86_open();
	const cs_insn *insn;

	if (!d)
		return -errno;
	while (size && (insn = sonde_x86_next(d, &code, &size, &address))) {
		const cs_x86 *x86 = &insn->detail->x86;

		for (uint8_t i = 0; i < x86->op_count && n < max; i++) {
			const cs_x86_op *op = &x86->operands[i];

			if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP &&
			    op->mem.index == X86_REG_INVALID)
				refs[n++] = address + (uint64_t)op->mem.disp;
		}
	}
	sonde_x86_close(d);
	return (int)n;
}

int sonde_go_allgs_from_code(int fd, uint64_t *addr)
{
	struct sonde_gopclntab *t;
	struct sonde_go_func f;
	uint64_t offset, refs[MAX_REFS], found = 0;
	uint8_t *code;
	int n, err = sonde_gopclntab_open_fd(fd, &t);

	if (err)
		return err;
	n = sonde_gopclntab_find(t, "runtime.allgadd", &f, 1);
	sonde_gopclntab_free(t);
	if (n != 1 || f.end <= f.entry || f.end - f.entry > MAX_CODE)
		return -ENOENT;
	err = sonde_elf_vaddr_to_offset(fd, f.entry, &offset);
	if (err)
		return err;
	code = malloc(f.end - f.entry);
	if (!code)
		return -ENOMEM;
	if (pread(fd, code, f.end - f.entry, (off_t)offset) != (ssize_t)(f.end - f.entry)) {
		free(code);
		return -EIO;
	}
	n = data_refs(code, f.end - f.entry, f.entry, refs, MAX_REFS);
	free(code);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (!has(refs, n, refs[i] + 8) || !has(refs, n, refs[i] + 16) || refs[i] == found)
			continue;
		if (found)
			return -ENOENT;	/* two slices: not the code expected */
		found = refs[i];
	}
	if (!found)
		return -ENOENT;
	*addr = found;
	return 0;
}

/* Does a file's code keep frame pointers? The rule behind --unwind auto:
 *
 *  - A Go binary (a section only Go writes, and a pclntab) does: Go
 *    keeps frame pointers on amd64 and arm64, except in small leaf
 *    functions without a frame, which the pcsp table identifies
 *    (SONDE_CODE_GO).
 *  - Otherwise, on x86-64, the function prologues are read: up to
 *    PROBED_FUNCTIONS function symbols spread over the file, each looked
 *    at for `push %rbp` then `mov %rsp,%rbp` in its first PROLOGUE_BYTES
 *    bytes (not always adjacent, nor at the entry: gcc schedules other
 *    instructions in between, shrink-wraps, starts with endbr64). The
 *    file keeps frame pointers when functions holding at least half of
 *    the probed bytes do: weighting by size keeps the few small helpers
 *    every build links in (crt start-up code, assembly) from deciding.
 *  - A file without function symbols, or another architecture, is
 *    walked with DWARF: CFI is right for any code, frame pointers only
 *    for code built with them.
 * The probe reads the file libelf has mapped already: a few hundred
 * bytes per file, once. */
#include <string.h>

#include "sonde/unwind_ranges.h"
#include "internal.h"

#if defined(__x86_64__)
#define PROBED_FUNCTIONS 512
#define PROLOGUE_BYTES 32

static const uint8_t *code_at(const struct sym_elf *e, const uint8_t *image, size_t image_size,
			      uint64_t vaddr, size_t *avail)
{
	for (size_t i = 0; i < e->n_loads; i++) {
		const GElf_Phdr *ph = &e->loads[i];
		uint64_t off;

		if (vaddr < ph->p_vaddr || vaddr - ph->p_vaddr >= ph->p_filesz)
			continue;
		off = vaddr - ph->p_vaddr + ph->p_offset;
		if (off >= image_size)
			return NULL;
		*avail = image_size - off < ph->p_filesz - (vaddr - ph->p_vaddr)
				 ? image_size - off
				 : ph->p_filesz - (vaddr - ph->p_vaddr);
		return image + off;
	}
	return NULL;
}

/* push %rbp, then mov %rsp,%rbp: the compiler may schedule other
 * instructions between the two. */
static bool sets_up_frame_pointer(const uint8_t *code, size_t len)
{
	static const uint8_t mov_rsp_rbp[] = {0x48, 0x89, 0xe5};
	const uint8_t *push = memchr(code, 0x55, len);

	for (size_t i = push ? (size_t)(push - code) + 1 : len; i + sizeof(mov_rsp_rbp) <= len; i++)
		if (!memcmp(code + i, mov_rsp_rbp, sizeof(mov_rsp_rbp)))
			return true;
	return false;
}

static int probe_prologues(const struct sym_elf *e)
{
	size_t image_size, step, avail;
	const uint8_t *image = (const uint8_t *)elf_rawfile(e->elf, &image_size);
	uint64_t with = 0, total = 0;

	if (!image || !e->symbols.n)
		return SONDE_CODE_NO_FRAME_POINTERS;
	step = e->symbols.n > PROBED_FUNCTIONS ? e->symbols.n / PROBED_FUNCTIONS : 1;
	for (size_t i = 0; i < e->symbols.n; i += step) {
		const struct sym_entry *s = &e->symbols.entries[i];
		const uint8_t *code = code_at(e, image, image_size, s->addr, &avail);
		size_t len = s->size < PROLOGUE_BYTES ? s->size : PROLOGUE_BYTES;

		if (!code || !s->size)
			continue;
		total += s->size;
		if (sets_up_frame_pointer(code, len < avail ? len : avail))
			with += s->size;
	}
	if (!total)
		return SONDE_CODE_NO_FRAME_POINTERS;
	return with * 2 >= total ? SONDE_CODE_FRAME_POINTERS : SONDE_CODE_NO_FRAME_POINTERS;
}
#else
static int probe_prologues(const struct sym_elf *e)
{
	(void)e;
	return SONDE_CODE_NO_FRAME_POINTERS;
}
#endif

int sym_elf_code_kind(struct sym_elf *e)
{
	if (e->code_kind_known)
		return e->code_kind;
	e->code_kind_known = true;
	e->code_kind = sym_elf_gopclntab(e) ? SONDE_CODE_GO : probe_prologues(e);
	return e->code_kind;
}

#include <elf.h>
#include <errno.h>
#include <sys/mman.h>

#include <sonde/retinsn.h>

#include "elf_image.h"

#include "x86_decoder.h"

const char *sonde_func_exit_kind_name(enum sonde_func_exit_kind kind)
{
	switch (kind) {
	case SONDE_EXIT_RET:
		return "ret";
	case SONDE_EXIT_TAIL_JUMP:
		return "tail-jump";
	case SONDE_EXIT_INDIRECT_JUMP:
		return "indirect-jump";
	}
	return "?";
}

/* The code bytes of [entry, end): wholly inside the file bytes of one
 * executable loadable segment (or, in a file without program headers, one
 * executable section). A range straddling two is not one function. */
static const uint8_t *code_bytes(const struct elf_image *e, uint64_t entry, uint64_t end)
{
	uint64_t len = end - entry;

	for (size_t i = 0; i < e->phnum; i++) {
		struct elf_segment seg;

		if (!elf_image_segment(e, i, &seg) || seg.type != PT_LOAD || !(seg.flags & PF_X))
			continue;
		if (entry >= seg.vaddr && elf_in_bounds(entry - seg.vaddr, len, seg.filesz) &&
		    elf_in_bounds(seg.offset, seg.filesz, e->size))
			return e->data + seg.offset + (entry - seg.vaddr);
	}
	for (size_t i = 0; !e->phnum && i < e->shnum; i++) {
		struct elf_section s;

		if (!elf_image_section(e, i, &s) || s.type == SHT_NOBITS ||
		    (s.flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR))
			continue;
		if (entry >= s.addr && elf_in_bounds(entry - s.addr, len, s.size) &&
		    elf_in_bounds(s.offset, s.size, e->size))
			return e->data + s.offset + (entry - s.addr);
	}
	return NULL;
}

/* How insn leaves [entry, end), if it does: returns whether it is an exit
 * and fills *exit. Calls come back and are not exits; neither are traps
 * (int3 padding, ud2) which end in a signal, not a return. */
static bool classify(struct sonde_x86_decoder *d, const cs_insn *insn, uint64_t entry,
		     uint64_t end, struct sonde_func_exit *exit)
{
	const cs_x86 *x86 = &insn->detail->x86;

	*exit = (struct sonde_func_exit){.vaddr = insn->address};
	if (sonde_x86_in_group(d, insn, CS_GRP_RET)) {
		exit->kind = SONDE_EXIT_RET;
		return true;
	}
	if (!sonde_x86_in_group(d, insn, CS_GRP_JUMP))
		return false;
	if (x86->op_count == 1 && x86->operands[0].type == X86_OP_IMM) {
		uint64_t target = (uint64_t)x86->operands[0].imm;

		if (target >= entry && target < end)
			return false;
		exit->kind = SONDE_EXIT_TAIL_JUMP;
		exit->target = target;
		return true;
	}
	exit->kind = SONDE_EXIT_INDIRECT_JUMP;
	return true;
}

static int decode(const uint8_t *code, uint64_t entry, uint64_t end,
		  struct sonde_func_exit *out, size_t max)
{
	const uint8_t *p = code;
	size_t left = end - entry;
	uint64_t address = entry;
	size_t found = 0;
	struct sonde_x86_decoder *d = sonde_x86_open();
	int err = 0;

	if (!d)
		return -errno;
	while (left) {
		struct sonde_func_exit exit;
		const cs_insn *insn = sonde_x86_next(d, &p, &left, &address);

		if (!insn) {
			err = -EILSEQ;
			break;
		}
		if (!classify(d, insn, entry, end, &exit))
			continue;
		if (found < max)
			out[found] = exit;
		found++;
	}
	sonde_x86_close(d);
	/* found is bounded by the range size, itself at most 1 MiB. */
	return err ? err : (int)found;
}

int sonde_func_exits_image(const uint8_t *data, size_t size, uint64_t entry, uint64_t end,
			   struct sonde_func_exit *out, size_t max)
{
	struct elf_image e;
	const uint8_t *code;
	int err = elf_image_open(&e, data, size);

	if (err)
		return err;
	if (!e.is64 || elf_le(data + offsetof(Elf64_Ehdr, e_machine), 2) != EM_X86_64)
		return -ENOTSUP;
	if (end <= entry)
		return -EINVAL;
	if (end - entry > SONDE_FUNC_EXITS_MAX_RANGE)
		return -E2BIG;
	code = code_bytes(&e, entry, end);
	if (!code)
		return -ENOENT;
	return decode(code, entry, end, out, max);
}

int sonde_func_exits_fd(int fd, uint64_t entry, uint64_t end,
			struct sonde_func_exit *out, size_t max)
{
	void *map;
	size_t len;
	int ret = elf_image_map_fd(fd, &map, &len);

	if (ret)
		return ret;
	ret = sonde_func_exits_image(map, len, entry, end, out, max);
	munmap(map, len);
	return ret;
}

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "elf_image.h"

int elf_image_open(struct elf_image *e, const uint8_t *data, size_t size)
{
	memset(e, 0, sizeof(*e));
	if (!data || size < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) ||
	    data[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	e->data = data;
	e->size = size;
	if (data[EI_CLASS] == ELFCLASS64) {
		if (size < sizeof(Elf64_Ehdr))
			return -ENOEXEC;
		e->is64 = true;
		e->phoff = elf_le(data + offsetof(Elf64_Ehdr, e_phoff), 8);
		e->shoff = elf_le(data + offsetof(Elf64_Ehdr, e_shoff), 8);
		e->phentsize = elf_le(data + offsetof(Elf64_Ehdr, e_phentsize), 2);
		e->phnum = elf_le(data + offsetof(Elf64_Ehdr, e_phnum), 2);
		e->shentsize = elf_le(data + offsetof(Elf64_Ehdr, e_shentsize), 2);
		e->shnum = elf_le(data + offsetof(Elf64_Ehdr, e_shnum), 2);
		if (e->phentsize < sizeof(Elf64_Phdr))
			e->phnum = 0;
		if (e->shentsize < sizeof(Elf64_Shdr))
			e->shnum = 0;
	} else if (data[EI_CLASS] == ELFCLASS32) {
		if (size < sizeof(Elf32_Ehdr))
			return -ENOEXEC;
		e->phoff = elf_le(data + offsetof(Elf32_Ehdr, e_phoff), 4);
		e->shoff = elf_le(data + offsetof(Elf32_Ehdr, e_shoff), 4);
		e->phentsize = elf_le(data + offsetof(Elf32_Ehdr, e_phentsize), 2);
		e->phnum = elf_le(data + offsetof(Elf32_Ehdr, e_phnum), 2);
		e->shentsize = elf_le(data + offsetof(Elf32_Ehdr, e_shentsize), 2);
		e->shnum = elf_le(data + offsetof(Elf32_Ehdr, e_shnum), 2);
		if (e->phentsize < sizeof(Elf32_Phdr))
			e->phnum = 0;
		if (e->shentsize < sizeof(Elf32_Shdr))
			e->shnum = 0;
	} else {
		return -ENOEXEC;
	}
	/* Tables that do not fit count as absent. */
	if (!elf_in_bounds(e->phoff, (uint64_t)e->phnum * e->phentsize, size))
		e->phnum = 0;
	if (!elf_in_bounds(e->shoff, (uint64_t)e->shnum * e->shentsize, size))
		e->shnum = 0;

	size_t shstrndx = elf_le(data + (e->is64 ? offsetof(Elf64_Ehdr, e_shstrndx)
						   : offsetof(Elf32_Ehdr, e_shstrndx)), 2);
	struct elf_section names;

	if (shstrndx < e->shnum && elf_image_section(e, shstrndx, &names) &&
	    names.type != SHT_NOBITS && elf_in_bounds(names.offset, names.size, size)) {
		e->shstrtab = data + names.offset;
		e->shstrtab_size = names.size;
	}
	return 0;
}

bool elf_image_section(const struct elf_image *e, size_t i, struct elf_section *s)
{
	const uint8_t *h;
	uint64_t name;

	if (i >= e->shnum)
		return false;
	h = e->data + e->shoff + i * e->shentsize;
	if (e->is64) {
		name = elf_le(h + offsetof(Elf64_Shdr, sh_name), 4);
		s->type = elf_le(h + offsetof(Elf64_Shdr, sh_type), 4);
		s->flags = elf_le(h + offsetof(Elf64_Shdr, sh_flags), 8);
		s->addr = elf_le(h + offsetof(Elf64_Shdr, sh_addr), 8);
		s->offset = elf_le(h + offsetof(Elf64_Shdr, sh_offset), 8);
		s->size = elf_le(h + offsetof(Elf64_Shdr, sh_size), 8);
	} else {
		name = elf_le(h + offsetof(Elf32_Shdr, sh_name), 4);
		s->type = elf_le(h + offsetof(Elf32_Shdr, sh_type), 4);
		s->flags = elf_le(h + offsetof(Elf32_Shdr, sh_flags), 4);
		s->addr = elf_le(h + offsetof(Elf32_Shdr, sh_addr), 4);
		s->offset = elf_le(h + offsetof(Elf32_Shdr, sh_offset), 4);
		s->size = elf_le(h + offsetof(Elf32_Shdr, sh_size), 4);
	}
	s->name = "";
	if (e->shstrtab && name < e->shstrtab_size &&
	    memchr(e->shstrtab + name, 0, e->shstrtab_size - name))
		s->name = (const char *)e->shstrtab + name;
	return true;
}

bool elf_image_find_section(const struct elf_image *e, const char *name, struct elf_section *s)
{
	for (size_t i = 0; i < e->shnum; i++)
		if (elf_image_section(e, i, s) && !strcmp(s->name, name))
			return true;
	return false;
}

const uint8_t *elf_image_section_data(const struct elf_image *e, const struct elf_section *s)
{
	if (s->type == SHT_NOBITS || !elf_in_bounds(s->offset, s->size, e->size))
		return NULL;
	return e->data + s->offset;
}

bool elf_image_segment(const struct elf_image *e, size_t i, struct elf_segment *seg)
{
	const uint8_t *h;

	if (i >= e->phnum)
		return false;
	h = e->data + e->phoff + i * e->phentsize;
	if (e->is64) {
		seg->type = elf_le(h + offsetof(Elf64_Phdr, p_type), 4);
		seg->flags = elf_le(h + offsetof(Elf64_Phdr, p_flags), 4);
		seg->offset = elf_le(h + offsetof(Elf64_Phdr, p_offset), 8);
		seg->vaddr = elf_le(h + offsetof(Elf64_Phdr, p_vaddr), 8);
		seg->filesz = elf_le(h + offsetof(Elf64_Phdr, p_filesz), 8);
		seg->memsz = elf_le(h + offsetof(Elf64_Phdr, p_memsz), 8);
	} else {
		seg->type = elf_le(h + offsetof(Elf32_Phdr, p_type), 4);
		seg->flags = elf_le(h + offsetof(Elf32_Phdr, p_flags), 4);
		seg->offset = elf_le(h + offsetof(Elf32_Phdr, p_offset), 4);
		seg->vaddr = elf_le(h + offsetof(Elf32_Phdr, p_vaddr), 4);
		seg->filesz = elf_le(h + offsetof(Elf32_Phdr, p_filesz), 4);
		seg->memsz = elf_le(h + offsetof(Elf32_Phdr, p_memsz), 4);
	}
	return true;
}

/* The file bytes of [start, start + filesz) mapped at vaddr, if they hold addr. */
static const uint8_t *in_range(const struct elf_image *e, uint64_t addr, uint64_t vaddr,
			       uint64_t offset, uint64_t filesz, size_t *avail)
{
	uint64_t delta = addr - vaddr;

	if (addr < vaddr || delta >= filesz || !elf_in_bounds(offset, filesz, e->size))
		return NULL;
	*avail = filesz - delta;
	return e->data + offset + delta;
}

const uint8_t *elf_image_at_vaddr(const struct elf_image *e, uint64_t vaddr, size_t *avail)
{
	const uint8_t *p;

	for (size_t i = 0; i < e->phnum; i++) {
		struct elf_segment seg;

		if (elf_image_segment(e, i, &seg) && seg.type == PT_LOAD &&
		    (p = in_range(e, vaddr, seg.vaddr, seg.offset, seg.filesz, avail)))
			return p;
	}
	for (size_t i = 0; !e->phnum && i < e->shnum; i++) {
		struct elf_section s;

		if (elf_image_section(e, i, &s) && (s.flags & SHF_ALLOC) && s.type != SHT_NOBITS &&
		    (p = in_range(e, vaddr, s.addr, s.offset, s.size, avail)))
			return p;
	}
	return NULL;
}

bool elf_image_read_addr(const struct elf_image *e, uint64_t vaddr, unsigned size, uint64_t *value)
{
	size_t avail;
	const uint8_t *p = elf_image_at_vaddr(e, vaddr, &avail);

	if (!p || avail < size)
		return false;
	*value = elf_le(p, size);
	return true;
}

int elf_image_map_fd(int fd, void **map, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -ENOEXEC;
	*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map == MAP_FAILED)
		return -errno;
	*len = (size_t)st.st_size;
	return 0;
}

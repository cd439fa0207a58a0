/* A minimal, bounds-checked reader of a little-endian ELF image held in
 * memory (32- or 64-bit), for the Go binary parsers: sections by name,
 * program headers, and the file bytes behind a virtual address. Every
 * accessor checks offsets and sizes against the image, so a truncated or
 * hostile file yields "not found", never an out-of-bounds read. Internal
 * to libsonde. */
#ifndef SONDE_GOLANG_ELF_IMAGE_H
#define SONDE_GOLANG_ELF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Internal: not exported from libsonde.so. */
#pragma GCC visibility push(hidden)

struct elf_image {
	const uint8_t *data;
	size_t size;
	bool is64;
	uint64_t shoff, phoff;
	size_t shnum, phnum, shentsize, phentsize;
	const uint8_t *shstrtab;	/* section names; NULL if absent or bad */
	size_t shstrtab_size;
};

struct elf_section {
	const char *name;	/* "" if unnamed */
	uint32_t type;
	uint64_t flags, addr, offset, size;
};

struct elf_segment {
	uint32_t type, flags;
	uint64_t offset, vaddr, filesz, memsz;
};

/* 0, or -ENOEXEC if data is not a little-endian ELF file. */
int elf_image_open(struct elf_image *e, const uint8_t *data, size_t size);
/* Maps a regular file read-only, whole: 0, or -errno (-ENOEXEC when it
 * is not a regular, non-empty file). munmap(*map, *len) releases it. */
int elf_image_map_fd(int fd, void **map, size_t *len);
/* Section i; false if it lies outside the image. */
bool elf_image_section(const struct elf_image *e, size_t i, struct elf_section *s);
bool elf_image_find_section(const struct elf_image *e, const char *name, struct elf_section *s);
/* The bytes of a section (NULL for SHT_NOBITS or out of bounds). */
const uint8_t *elf_image_section_data(const struct elf_image *e, const struct elf_section *s);
bool elf_image_segment(const struct elf_image *e, size_t i, struct elf_segment *seg);
/* The file bytes at virtual address vaddr, from a PT_LOAD segment (or an
 * allocated section when there are no program headers); *avail is how
 * many bytes follow contiguously. NULL if no file bytes are there. */
const uint8_t *elf_image_at_vaddr(const struct elf_image *e, uint64_t vaddr, size_t *avail);
/* Reads a little-endian word of size 4 or 8 at vaddr. */
bool elf_image_read_addr(const struct elf_image *e, uint64_t vaddr, unsigned size, uint64_t *value);

/* Little-endian loads from unaligned memory. */
static inline uint64_t elf_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Whether [off, off + len) lies in [0, size), without overflow. */
static inline bool elf_in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

#pragma GCC visibility pop

#endif

/* Go build info: the linker writes a 32-byte header starting with
 * "\xff Go buildinf:" into .go.buildinfo, followed by the Go version and
 * the module info (main package path, main module, dependencies). Byte 14
 * is the pointer size, byte 15 flags: bit 0 big-endian, bit 1 "strings
 * inline" (Go 1.18+: two varint-length-prefixed strings after the header).
 * Without bit 1 (Go 1.13-1.17) the header holds two pointers to Go string
 * headers elsewhere in the image. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sonde/golang.h"
#include "elf_image.h"

static const char magic[] = "\xff Go buildinf:";
enum {
	MAGIC_LEN = sizeof(magic) - 1,
	HEADER_LEN = 32,
	FLAG_BIG_ENDIAN = 1,
	FLAG_INLINE_STRINGS = 2,
	/* Module info is wrapped in 16-byte sentinels. */
	SENTINEL_LEN = 16,
};

struct span {
	const uint8_t *p;
	size_t len;
};

static bool uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

static bool inline_string(const uint8_t **p, const uint8_t *end, struct span *s)
{
	uint64_t len;

	if (!uvarint(p, end, &len) || len > (uint64_t)(end - *p))
		return false;
	s->p = *p;
	s->len = len;
	*p += len;
	return true;
}

/* The Go string header {data, len} at vaddr, and the bytes it points to. */
static bool string_at(const struct elf_image *e, uint64_t vaddr, unsigned ptrsize, struct span *s)
{
	uint64_t data, len;
	size_t avail;

	if (!elf_image_read_addr(e, vaddr, ptrsize, &data) ||
	    !elf_image_read_addr(e, vaddr + ptrsize, ptrsize, &len))
		return false;
	if (!len) {
		s->p = NULL;
		s->len = 0;
		return true;
	}
	s->p = elf_image_at_vaddr(e, data, &avail);
	s->len = len;
	return s->p && len <= avail;
}

static bool printable(struct span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < 0x20 || s.p[i] > 0x7e)
			return false;
	return true;
}

/* Copies s into a fixed buffer; false if it does not fit. */
static bool copy_span(char *dst, size_t size, struct span s)
{
	if (s.len >= size)
		return false;
	memcpy(dst, s.p, s.len);
	dst[s.len] = 0;
	return true;
}

/* The value of the "key\t..." line of module info, up to the next tab or
 * newline, into dst (left empty if absent or too long). */
static void modinfo_field(struct span info, const char *key, char *dst, size_t size)
{
	size_t klen = strlen(key);

	dst[0] = 0;
	for (size_t i = 0; i < info.len;) {
		const uint8_t *nl = memchr(info.p + i, '\n', info.len - i);
		size_t line_len = nl ? (size_t)(nl - info.p) - i : info.len - i;

		if (line_len > klen && !memcmp(info.p + i, key, klen) && info.p[i + klen] == '\t') {
			struct span v = { info.p + i + klen + 1, line_len - klen - 1 };
			const uint8_t *tab = memchr(v.p, '\t', v.len);

			if (tab)
				v.len = (size_t)(tab - v.p);
			if (!printable(v) || !copy_span(dst, size, v))
				dst[0] = 0;
			return;
		}
		i += line_len + 1;
	}
}

static int parse(const struct elf_image *e, const uint8_t *hdr, size_t avail, uint64_t vaddr,
		 struct sonde_go_buildinfo *out)
{
	unsigned ptrsize, flags;
	struct span version, info;

	if (avail < HEADER_LEN)
		return -EINVAL;
	ptrsize = hdr[MAGIC_LEN];
	flags = hdr[MAGIC_LEN + 1];
	if (flags & FLAG_INLINE_STRINGS) {
		const uint8_t *p = hdr + HEADER_LEN, *end = hdr + avail;

		if (!inline_string(&p, end, &version) || !inline_string(&p, end, &info))
			return -EINVAL;
	} else {
		if ((ptrsize != 4 && ptrsize != 8) || vaddr == UINT64_MAX)
			return -EINVAL;
		if (flags & FLAG_BIG_ENDIAN)
			return -ENOTSUP;
		uint64_t version_hdr, info_hdr;

		if (!elf_image_read_addr(e, vaddr + MAGIC_LEN + 2, ptrsize, &version_hdr) ||
		    !elf_image_read_addr(e, vaddr + MAGIC_LEN + 2 + ptrsize, ptrsize, &info_hdr) ||
		    !string_at(e, version_hdr, ptrsize, &version) || !string_at(e, info_hdr, ptrsize, &info))
			return -EINVAL;
	}
	if (!version.len || !printable(version) || !copy_span(out->version, sizeof(out->version), version))
		return -EINVAL;
	if (info.len >= 2 * SENTINEL_LEN + 1 && info.p[info.len - SENTINEL_LEN - 1] == '\n') {
		info.p += SENTINEL_LEN;
		info.len -= 2 * SENTINEL_LEN;
	}
	modinfo_field(info, "path", out->path, sizeof(out->path));
	modinfo_field(info, "mod", out->module, sizeof(out->module));
	return 0;
}

/* Go aligns the header to 16 bytes inside the writable data. */
static int scan(const struct elf_image *e, const uint8_t *data, uint64_t size, uint64_t vaddr,
		struct sonde_go_buildinfo *out)
{
	for (uint64_t off = 0; size >= HEADER_LEN && off <= size - HEADER_LEN; off += 16)
		if (!memcmp(data + off, magic, MAGIC_LEN))
			return parse(e, data + off, size - off, vaddr + off, out);
	return -ENOENT;
}

int sonde_go_buildinfo_read_image(const uint8_t *data, size_t size, struct sonde_go_buildinfo *out)
{
	struct elf_image e;
	struct elf_section s;
	const uint8_t *sec;
	int err = elf_image_open(&e, data, size);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	if (elf_image_find_section(&e, ".go.buildinfo", &s)) {
		sec = elf_image_section_data(&e, &s);
		return sec ? scan(&e, sec, s.size, s.addr, out) : -EINVAL;
	}
	/* Stripped of section headers, or older linkers: the writable data. */
	for (size_t i = 0; i < e.phnum; i++) {
		struct elf_segment seg;

		if (!elf_image_segment(&e, i, &seg) || seg.type != PT_LOAD || !(seg.flags & PF_W) ||
		    !elf_in_bounds(seg.offset, seg.filesz, e.size))
			continue;
		err = scan(&e, e.data + seg.offset, seg.filesz, seg.vaddr, out);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

int sonde_go_buildinfo_read_fd(int fd, struct sonde_go_buildinfo *out)
{
	struct stat st;
	void *map;
	int err;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return -ENOEXEC;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	err = sonde_go_buildinfo_read_image(map, (size_t)st.st_size, out);
	munmap(map, (size_t)st.st_size);
	return err;
}

/* Go build info: the linker writes a 32-byte header starting with
 * "\xff Go buildinf:" into .go.buildinfo, followed by the Go version and
 * the module info (main package path, main module, dependencies). Byte 14
 * is the pointer size, byte 15 flags: bit 0 big-endian, bit 1 "strings
 * inline" (Go 1.18+: two varint-length-prefixed strings after the header).
 * Without bit 1 (Go 1.13-1.17) the header holds two pointers to Go string
 * headers elsewhere in the image.
 *
 * Some release pipelines drop the header (esbuild's published binaries
 * have none); the runtime's own copies remain: runtime.buildVersion, a Go
 * string in writable data pointing at "go1.N...", and runtime.modinfo,
 * wrapped in fixed sentinels by cmd/go. Those are the fallback, tried only
 * on images with a Go pclntab so that no C program is taken for Go. */
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

/* cmd/go's module info sentinels. */
static const uint8_t info_start[SENTINEL_LEN] = {
	0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6,
};
static const uint8_t info_end[SENTINEL_LEN] = {
	0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2,
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

static bool looks_like_version(struct span s, size_t max)
{
	return s.len > 4 && s.len < max && !memcmp(s.p, "go1.", 4) && s.p[4] >= '0' && s.p[4] <= '9' &&
	       printable(s);
}

/* runtime.buildVersion: a {data, len} pair in writable data whose bytes
 * look like a Go release version. */
static bool find_build_version(const struct elf_image *e, struct span *version, size_t max)
{
	unsigned P = e->is64 ? 8 : 4;

	for (size_t i = 0; i < e->phnum; i++) {
		struct elf_segment seg;
		const uint8_t *d;

		if (!elf_image_segment(e, i, &seg) || seg.type != PT_LOAD || !(seg.flags & PF_W) ||
		    !elf_in_bounds(seg.offset, seg.filesz, e->size))
			continue;
		d = e->data + seg.offset;
		for (uint64_t off = 0; seg.filesz >= 2 * P && off <= seg.filesz - 2 * P; off += P) {
			uint64_t len = elf_le(d + off + P, P);
			size_t avail;

			if (len < 5 || len >= max)
				continue;
			version->p = elf_image_at_vaddr(e, elf_le(d + off, P), &avail);
			version->len = len;
			if (version->p && avail >= len && looks_like_version(*version, max))
				return true;
		}
	}
	return false;
}

static int from_runtime_strings(const struct elf_image *e, struct sonde_go_buildinfo *out)
{
	struct sonde_gopclntab *t;
	struct span version, info = {0};
	const uint8_t *start, *end;

	if (sonde_gopclntab_open_image(e->data, e->size, &t))
		return -ENOENT;
	sonde_gopclntab_free(t);
	if (!find_build_version(e, &version, sizeof(out->version)) ||
	    !copy_span(out->version, sizeof(out->version), version))
		return -ENOENT;
	start = memmem(e->data, e->size, info_start, SENTINEL_LEN);
	if (start) {
		start += SENTINEL_LEN;
		end = memmem(start, e->size - (size_t)(start - e->data), info_end, SENTINEL_LEN);
		if (end)
			info = (struct span){ start, (size_t)(end - start) };
	}
	modinfo_field(info, "path", out->path, sizeof(out->path));
	modinfo_field(info, "mod", out->module, sizeof(out->module));
	return 0;
}

int sonde_go_buildinfo_read_image(const uint8_t *data, size_t size, struct sonde_go_buildinfo *out)
{
	struct elf_image e;
	struct elf_section s;
	const uint8_t *sec;
	bool has_section;
	int err = elf_image_open(&e, data, size);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	has_section = elf_image_find_section(&e, ".go.buildinfo", &s);
	if (has_section) {
		sec = elf_image_section_data(&e, &s);
		err = sec ? scan(&e, sec, s.size, s.addr, out) : -EINVAL;
		if (err != -ENOENT)
			return err;
	}
	/* Stripped of section headers, or older linkers: the writable data. */
	for (size_t i = 0; !has_section && i < e.phnum; i++) {
		struct elf_segment seg;

		if (!elf_image_segment(&e, i, &seg) || seg.type != PT_LOAD || !(seg.flags & PF_W) ||
		    !elf_in_bounds(seg.offset, seg.filesz, e.size))
			continue;
		err = scan(&e, e.data + seg.offset, seg.filesz, seg.vaddr, out);
		if (err != -ENOENT)
			return err;
	}
	return from_runtime_strings(&e, out);
}

int sonde_go_buildinfo_read_fd(int fd, struct sonde_go_buildinfo *out)
{
	size_t len;
	void *map;
	int err = elf_image_map_fd(fd, &map, &len);

	if (err)
		return err;
	err = sonde_go_buildinfo_read_image(map, len, out);
	munmap(map, len);
	return err;
}

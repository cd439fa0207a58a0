/* Go build info: the Go workload built for the tests (with symbols,
 * stripped, and with its section headers removed) must report the version
 * `go env GOVERSION` printed at build time and its module path, and so
 * must its PIE build; small
 * synthetic ELF images cover the pre-1.18 pointer format and malformed
 * input.
 *
 *   test_buildinfo BINARY STRIPPED PIE GO_VERSION_FILE */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/golang.h>

#include "check.h"
#include "fixtures.h"

#define MODULE "example.com/sonde/gosym_workload"

static struct fixture_go_workload go;
static char go_version[64];

static int read_path(const char *path, struct sonde_go_buildinfo *bi)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = fd < 0 ? -errno : sonde_go_buildinfo_read_fd(fd, bi);

	if (fd >= 0)
		close(fd);
	return err;
}

static void workload(void)
{
	const char *paths[] = { go.binary, go.stripped, go.pie };

	for (int i = 0; i < 3; i++) {
		struct sonde_go_buildinfo bi;

		CHECK_U64(read_path(paths[i], &bi), 0);
		CHECK_STR(bi.version, go_version);
		CHECK_STR(bi.path, MODULE);
		CHECK_STR(bi.module, MODULE);
	}
}

/* No section headers: found in the writable data segment. */
static void no_section_headers(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	struct sonde_go_buildinfo bi;

	memset(bin.data + offsetof(Elf64_Ehdr, e_shnum), 0, 2);
	CHECK_U64(sonde_go_buildinfo_read_image(bin.data, bin.size, &bi), 0);
	CHECK_STR(bi.version, go_version);
	CHECK_STR(bi.module, MODULE);
	free(bin.data);
}

/* Without the build info header (some release pipelines drop it), the
 * runtime's version string and module info are found instead. */
static void header_removed(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	struct sonde_go_buildinfo bi;
	uint8_t *hdr = memmem(bin.data, bin.size, "\xff Go buildinf:", 14);

	CHECK(hdr != NULL);
	if (hdr) {
		memset(hdr, 0, 32);
		CHECK_U64(sonde_go_buildinfo_read_image(bin.data, bin.size, &bi), 0);
		CHECK_STR(bi.version, go_version);
		CHECK_STR(bi.path, MODULE);
		CHECK_STR(bi.module, MODULE);
		/* And with no section headers either. */
		memset(bin.data + offsetof(Elf64_Ehdr, e_shnum), 0, 2);
		CHECK_U64(sonde_go_buildinfo_read_image(bin.data, bin.size, &bi), 0);
		CHECK_STR(bi.version, go_version);
	}
	free(bin.data);
}

static void not_go(void)
{
	struct fixture_file self = fixture_read("/proc/self/exe");
	struct sonde_go_buildinfo bi;
	uint8_t text[] = "#!/bin/sh\necho not ELF\n";
	int fd = open("/dev/null", O_RDONLY);

	CHECK_U64(sonde_go_buildinfo_read_image(self.data, self.size, &bi), (uint64_t)-ENOENT);
	CHECK_U64(sonde_go_buildinfo_read_image(text, sizeof(text), &bi), (uint64_t)-ENOEXEC);
	CHECK_U64(sonde_go_buildinfo_read_image(NULL, 0, &bi), (uint64_t)-ENOEXEC);
	CHECK_U64(sonde_go_buildinfo_read_fd(fd, &bi), (uint64_t)-ENOEXEC);	/* not a file */
	close(fd);
	free(self.data);
}

/* ---- synthetic images: one RW PT_LOAD segment mapping the whole file ---- */

#define IMAGE_SIZE 0x1000
#define VADDR 0x500000ull
#define HDR_AT 0x100	/* 16-byte aligned, as Go places it */

static void make_elf(uint8_t *img)
{
	Elf64_Ehdr eh = {
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1, .e_shentsize = sizeof(Elf64_Shdr),
	};
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_vaddr = VADDR,
		.p_filesz = IMAGE_SIZE, .p_memsz = IMAGE_SIZE,
	};

	memset(img, 0, IMAGE_SIZE);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), &ph, sizeof(ph));
}

static const char modinfo[] =
	"0123456789abcdef"	/* sentinel */
	"path\texample.com/old/cmd/tool\n"
	"mod\texample.com/old\tv1.2.3\th1:abc=\n"
	"dep\tgolang.org/x/sys\tv0.1.0\th1:def=\n"
	"fedcba9876543210";	/* sentinel */

static void put64(uint8_t *img, size_t at, uint64_t v)
{
	memcpy(img + at, &v, 8);
}

/* Go 1.13-1.17: two pointers to string headers. */
static void make_pointer_format(uint8_t *img, const char *version, uint64_t version_len)
{
	make_elf(img);
	memcpy(img + HDR_AT, "\xff Go buildinf:", 14);
	img[HDR_AT + 14] = 8;
	img[HDR_AT + 15] = 0;
	put64(img, HDR_AT + 16, VADDR + 0x200);
	put64(img, HDR_AT + 24, VADDR + 0x210);
	put64(img, 0x200, VADDR + 0x300);
	put64(img, 0x208, version_len);
	put64(img, 0x210, VADDR + 0x400);
	put64(img, 0x218, sizeof(modinfo) - 1);
	memcpy(img + 0x300, version, strlen(version));
	memcpy(img + 0x400, modinfo, sizeof(modinfo) - 1);
}

/* Go 1.18+: varint-length strings after the 32-byte header. */
static size_t make_inline_format(uint8_t *img, const char *version)
{
	size_t at = HDR_AT + 32, vlen = strlen(version), mlen = sizeof(modinfo) - 1;

	make_elf(img);
	memcpy(img + HDR_AT, "\xff Go buildinf:", 14);
	img[HDR_AT + 14] = 8;
	img[HDR_AT + 15] = 2;
	img[at++] = (uint8_t)vlen;
	memcpy(img + at, version, vlen);
	at += vlen;
	img[at++] = (uint8_t)(mlen | 0x80);	/* two-byte varint */
	img[at++] = (uint8_t)(mlen >> 7);
	memcpy(img + at, modinfo, mlen);
	return at + mlen;
}

static void pointer_format(void)
{
	static uint8_t img[IMAGE_SIZE];
	struct sonde_go_buildinfo bi;

	make_pointer_format(img, "go1.16.15", 9);
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), 0);
	CHECK_STR(bi.version, "go1.16.15");
	CHECK_STR(bi.path, "example.com/old/cmd/tool");
	CHECK_STR(bi.module, "example.com/old");

	/* Hostile string headers: length beyond the image, pointer outside. */
	make_pointer_format(img, "go1.16.15", 1ull << 40);
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	make_pointer_format(img, "go1.16.15", 9);
	put64(img, 0x200, 0xdeadbeef);
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	make_pointer_format(img, "go1.16.15", 9);
	put64(img, HDR_AT + 16, UINT64_MAX - 3);
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	make_pointer_format(img, "go1.16.15", 9);
	img[HDR_AT + 14] = 3;	/* pointer size */
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	make_pointer_format(img, "go1.16.15", 9);
	img[HDR_AT + 15] = 1;	/* big-endian pointers */
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-ENOTSUP);
	make_pointer_format(img, "go\x01\x02", 4);	/* not printable */
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	make_pointer_format(img, "go1.16.15", 200);	/* longer than the buffer */
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
}

static void inline_format(void)
{
	static uint8_t img[IMAGE_SIZE];
	struct sonde_go_buildinfo bi;
	size_t end = make_inline_format(img, "go1.26.5");

	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), 0);
	CHECK_STR(bi.version, "go1.26.5");
	CHECK_STR(bi.module, "example.com/old");
	/* The segment ends inside the strings: each cut fails cleanly. */
	for (size_t len = HDR_AT; len < end; len++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + sizeof(Elf64_Ehdr), sizeof(ph));
		ph.p_filesz = len;
		memcpy(img + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
		CHECK(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi) < 0);
	}
	/* A varint length running past the data. */
	make_inline_format(img, "go1.26.5");
	memset(img + HDR_AT + 32, 0xff, 10);
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
	/* Empty version. */
	make_inline_format(img, "");
	CHECK_U64(sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi), (uint64_t)-EINVAL);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	return check_rng(&rng_state);
}

static void malformed(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	static uint8_t img[IMAGE_SIZE];
	struct sonde_go_buildinfo bi;

	/* Truncated real binary: fails or still reads the right version. */
	for (size_t len = 0; len < bin.size; len += bin.size / 211 + 1) {
		int err = sonde_go_buildinfo_read_image(bin.data, len, &bi);

		CHECK(err < 0 || !strcmp(bi.version, go_version));
	}
	/* Random bytes, alone and behind a valid ELF header and magic. */
	for (int round = 0; round < 200; round++) {
		size_t len = rng() % IMAGE_SIZE;

		for (size_t i = 0; i < len; i++)
			img[i] = (uint8_t)rng();
		CHECK(sonde_go_buildinfo_read_image(img, len, &bi) < 0);
		make_elf(img);
		for (size_t i = HDR_AT; i < IMAGE_SIZE; i++)
			img[i] = (uint8_t)rng();
		memcpy(img + HDR_AT, "\xff Go buildinf:", 14);
		if (!sonde_go_buildinfo_read_image(img, IMAGE_SIZE, &bi))
			CHECK(bi.version[0] && strlen(bi.version) < sizeof(bi.version));
	}
	free(bin.data);
}

int main(int argc, char **argv)
{
	char **extra = fixture_go_workload(argc, argv, 1, "GO_VERSION_FILE", &go);
	struct fixture_file v = fixture_read(extra[0]);

	sscanf((char *)v.data, "%63s", go_version);
	free(v.data);
	RUN(workload);
	RUN(no_section_headers);
	RUN(header_removed);
	RUN(not_go);
	RUN(pointer_format);
	RUN(inline_format);
	RUN(malformed);
	return CHECK_DONE();
}

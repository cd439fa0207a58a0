#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/uprobe.h>

#include "check.h"

/* Code whose bytes are compared between memory and the file. */
__attribute__((noinline)) int probe_target(int x)
{
	return x * 7 + 3;
}

/* The offset found for a function's link-time address holds the very
 * bytes the process runs there. */
static void offset_holds_the_code(void)
{
	Dl_info info;
	uint64_t vaddr, offset = 0;
	unsigned char file_bytes[32];
	int fd = open("/proc/self/exe", O_RDONLY);

	CHECK(fd >= 0);
	CHECK(dladdr((void *)probe_target, &info) != 0);
	/* A PIE is linked at 0: the address minus the load base; a non-PIE
	 * executable reports base 0x400000 and is linked there too. */
	vaddr = (uintptr_t)probe_target - (uintptr_t)info.dli_fbase;
	if (sonde_elf_vaddr_to_offset(fd, vaddr, &offset))
		vaddr = (uintptr_t)probe_target;
	CHECK(sonde_elf_vaddr_to_offset(fd, vaddr, &offset) == 0);
	CHECK(pread(fd, file_bytes, sizeof(file_bytes), offset) == sizeof(file_bytes));
	CHECK(memcmp(file_bytes, (void *)probe_target, sizeof(file_bytes)) == 0);
	CHECK(probe_target(1) == 10);
	close(fd);
}

static void address_outside_segments(void)
{
	uint64_t offset;
	int fd = open("/proc/self/exe", O_RDONLY);

	CHECK(sonde_elf_vaddr_to_offset(fd, UINT64_MAX - 16, &offset) == -ENOENT);
	close(fd);
}

static void not_elf(void)
{
	char path[] = "/tmp/sonde-test-uprobe-XXXXXX";
	uint64_t offset;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, "#!/bin/sh\necho not elf\n", 23) == 23);
	CHECK(sonde_elf_vaddr_to_offset(fd, 0x1000, &offset) == -ENOEXEC);
	close(fd);
	unlink(path);
}

/* Debian's CPython declares its GC probes; this test program none. */
static void usdt_notes(void)
{
	int fd = open("/usr/bin/python3.11", O_RDONLY);
	int self = open("/proc/self/exe", O_RDONLY);

	CHECK(sonde_elf_has_usdt(self, "python", "gc__start") == 0);
	close(self);
	if (fd < 0) {
		printf("skip usdt_notes on a python binary: no /usr/bin/python3.11\n");
		return;
	}
	CHECK(sonde_elf_has_usdt(fd, "python", "gc__start") == 1);
	CHECK(sonde_elf_has_usdt(fd, "python", "gc__done") == 1);
	CHECK(sonde_elf_has_usdt(fd, "python", "gc__") == 0);
	CHECK(sonde_elf_has_usdt(fd, "hotspot", "gc__start") == 0);
	close(fd);
}

int main(void)
{
	RUN(offset_holds_the_code);
	RUN(address_outside_segments);
	RUN(not_elf);
	RUN(usdt_notes);
	return CHECK_DONE();
}

/* Finding the separate debug file of a stripped ELF file, the way gdb and
 * elfutils do: by build-id first (exact), then by .gnu_debuglink (a file
 * name and a CRC-32 of the debug file). */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <zlib.h>

#include "sonde/proc_open.h"
#include "internal.h"

static uint32_t file_crc32(int fd)
{
	unsigned char buf[65536];
	uLong crc = crc32(0, NULL, 0);
	ssize_t n;
	off_t off = 0;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crc = crc32(crc, buf, n);
		off += n;
	}
	return crc;
}

/* The candidate is the right debug file: same build-id when both have
 * one, else the CRC the debuglink recorded. */
static bool debug_file_matches(int fd, const uint8_t *build_id, size_t build_id_len,
			       bool check_crc, uint32_t crc)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	uint8_t id[SYM_BUILD_ID_MAX];
	size_t len;
	bool ok;

	if (!elf)
		return false;
	len = elf_kind(elf) == ELF_K_ELF ? sym_elf_build_id(elf, id, sizeof(id)) : 0;
	if (elf_kind(elf) != ELF_K_ELF)
		ok = false;
	else if (len && build_id_len)
		ok = len == build_id_len && !memcmp(id, build_id, len);
	else
		ok = !check_crc || file_crc32(fd) == crc;
	elf_end(elf);
	return ok;
}

/* path is resolved inside root_fd: a process's links cannot send the
 * lookup to a file outside its root. */
static int try_open(int root_fd, const char *path, const uint8_t *build_id, size_t build_id_len,
		    bool check_crc, uint32_t crc)
{
	int fd = sonde_open_in_root(root_fd, path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (debug_file_matches(fd, build_id, build_id_len, check_crc, crc))
		return fd;
	close(fd);
	return -1;
}

static int find_under_root(Elf *elf, const uint8_t *build_id, size_t build_id_len,
			   const char *dir, int root_fd)
{
	char path[PATH_MAX * 2];
	const char *link;
	GElf_Word crc;
	int fd, n;

	if (build_id_len) {
		n = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", build_id[0]);
		for (size_t i = 1; i < build_id_len && n > 0 && (size_t)n + 3 < sizeof(path); i++)
			n += snprintf(path + n, sizeof(path) - n, "%02x", build_id[i]);
		snprintf(path + n, sizeof(path) - n, ".debug");
		fd = try_open(root_fd, path, build_id, build_id_len, false, 0);
		if (fd >= 0)
			return fd;
	}
	link = dwelf_elf_gnu_debuglink(elf, &crc);
	if (!link || !*link || strchr(link, '/') || !dir)
		return -1;
	const char *const formats[] = {"%s/%s", "%s/.debug/%s", "/usr/lib/debug%s/%s"};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		snprintf(path, sizeof(path), formats[i], dir, link);
		fd = try_open(root_fd, path, build_id, build_id_len, true, crc);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int sym_debug_file_find(Elf *elf, const uint8_t *build_id, size_t build_id_len,
			const char *path, int root_fd)
{
	char *copy = path && path[0] == '/' ? strdup(path) : NULL;
	const char *dir = copy ? dirname(copy) : NULL;
	struct stat theirs, ours;
	int fd = -1, our_root;

	if (dir && !strcmp(dir, "/"))
		dir = "";
	/* Debug packages installed in a container come first; the host's
	 * /usr/lib/debug may hold them too (build-id makes that safe). */
	if (root_fd >= 0)
		fd = find_under_root(elf, build_id, build_id_len, dir, root_fd);
	our_root = fd < 0 ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (our_root >= 0 &&
	    (root_fd < 0 || fstat(root_fd, &theirs) || fstat(our_root, &ours) ||
	     theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino))
		fd = find_under_root(elf, build_id, build_id_len, dir, our_root);
	if (our_root >= 0)
		close(our_root);
	free(copy);
	return fd;
}

/* CO-RE subset BTFs (lib/core_btf.c) kept for the next start on the same
 * boot, in /run/sonde (SONDE_CACHE_DIR).
 *
 * Writing a subset means parsing all of the kernel's BTF (4-6 ms of a CPU,
 * on a thread whose end the load waits for). An SRE runs the same tool
 * again and again on a node, and both inputs stay the same until the node
 * reboots: the kernel's types, and the object's own types and relocations.
 * So a file is named by the boot, the object's .BTF and .BTF.ext, and the
 * build of the code that wrote it (libsonde's GNU build-id: a sonde whose
 * subset code changed never reads an older one's files).
 *
 * Only files and a directory that this user owns and nobody else can
 * write are used, and a file is used only if it parses as BTF; a file is
 * written whole under a temporary name and renamed into place, so a
 * reader never sees half of one. When one is written, files of earlier
 * boots are removed (/run is usually a tmpfs, but not in every container)
 * and only the newest MAX_KEPT of this boot are kept. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sonde/core_btf_cache.h"
#include "sonde/log.h"

#define DEFAULT_DIR "/run/sonde"
#define PREFIX "core-btf-"
#define MAX_FILE_SIZE (64u << 20)
#define MAX_KEPT 64

uint64_t sonde_core_btf_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* FNV-1a: keys a cache, no adversary to resist. */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The directory, or NULL with caching off (SONDE_CACHE_DIR set empty). */
static const char *cache_dir(void)
{
	const char *dir = getenv("SONDE_CACHE_DIR");

	if (!dir)
		return DEFAULT_DIR;
	return *dir ? dir : NULL;
}

/* The boot's id without its dashes: 32 hex digits. */
static bool boot_id(char out[33])
{
	char buf[64];
	size_t n = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	bool ok = f && fgets(buf, sizeof(buf), f);

	if (f)
		fclose(f);
	for (size_t i = 0; ok && buf[i] && buf[i] != '\n'; i++) {
		if (buf[i] == '-')
			continue;
		if (n == 32 || !strchr("0123456789abcdef", buf[i]))
			return false;
		out[n++] = buf[i];
	}
	out[n] = 0;
	return ok && n == 32;
}

struct build_id {
	uintptr_t addr;	/* an address in the object wanted */
	unsigned char id[64];
	size_t len;
};

/* The GNU build-id note among a PT_NOTE segment's notes. */
static bool note_build_id(const unsigned char *p, size_t size, struct build_id *b)
{
	while (size >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *n = (const void *)p;
		size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;

		if (sizeof(*n) + name + desc > size)
			return false;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !memcmp(p + sizeof(*n), "GNU", 4) && n->n_descsz && n->n_descsz <= sizeof(b->id)) {
			memcpy(b->id, p + sizeof(*n) + name, n->n_descsz);
			b->len = n->n_descsz;
			return true;
		}
		p += sizeof(*n) + name + desc;
		size -= sizeof(*n) + name + desc;
	}
	return false;
}

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build_id *b = arg;
	bool mine = false;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && b->addr >= start && b->addr < start + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_NOTE &&
		    note_build_id((const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, b))
			return 1;
	}
	return 1;	/* ours, without a build-id */
}

/* A directory of ours (made if missing) that no one else can write to. */
static bool dir_ours(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return false;
	return !lstat(dir, &st) && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       !(st.st_mode & 022);
}

bool sonde_core_btf_cache_path(uint64_t object_key, char *path, size_t len)
{
	struct build_id b = {.addr = (uintptr_t)&sonde_core_btf_cache_path};
	const char *dir = cache_dir();
	char boot[33];
	uint64_t key;
	int n;

	if (!dir || !boot_id(boot) || !dl_iterate_phdr(find_build_id, &b) || !b.len)
		return false;
	key = sonde_core_btf_hash(object_key, b.id, b.len);
	n = snprintf(path, len, "%s/" PREFIX "%s-%016llx.btf", dir, boot, (unsigned long long)key);
	return n > 0 && (size_t)n < len;
}

/* A file of ours (not a link), that no one else can write to, of a sane
 * size; its contents in *data (to free). */
static bool read_ours(const char *path, void **data, size_t *size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	bool ok = false;

	*data = NULL;
	if (fd < 0)
		return false;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022) && st.st_size > 0 && st.st_size <= MAX_FILE_SIZE) {
		*size = (size_t)st.st_size;
		*data = malloc(*size);
		ok = *data && read(fd, *data, *size) == (ssize_t)*size;
	}
	close(fd);
	if (!ok) {
		free(*data);
		*data = NULL;
	}
	return ok;
}

bool sonde_core_btf_cache_usable(const char *path, unsigned *n_types)
{
	struct btf *btf = NULL;
	const char *dir = cache_dir();
	void *data;
	size_t size;

	if (!dir || access(path, F_OK))
		return false;
	if (!dir_ours(dir)) {
		sonde_info(2, "CO-RE: not using %s: others can write to %s, or it is not ours", path, dir);
		return false;
	}
	if (read_ours(path, &data, &size)) {
		btf = btf__new(data, (__u32)size);
		free(data);
		if (btf) {
			*n_types = btf__type_cnt(btf) - 1;
			btf__free(btf);
			return true;
		}
	}
	/* Not ours, or not BTF: written again in its place. */
	sonde_info(2, "CO-RE: %s is not a BTF of ours: writing it again", path);
	unlink(path);
	return false;
}

struct kept {
	char name[256];
	struct timespec mtime;
};

static int oldest_first(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* Removes the files of other boots (the boot id is the name's first part
 * after the prefix), and of this boot all but the MAX_KEPT newest: each
 * build of sonde writes its own, and a developer rebuilding all day
 * should not fill /run, which is memory. */
static void prune(const char *dir, const char *path)
{
	const char *boot = strrchr(path, '/') + 1 + strlen(PREFIX);
	struct kept *kept = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) || strlen(e->d_name) >= sizeof(kept->name))
			continue;
		if (strncmp(e->d_name + strlen(PREFIX), boot, 32)) {
			unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (n == cap) {
			struct kept *more = realloc(kept, (cap = cap ? 2 * cap : 64) * sizeof(*kept));

			if (!more)
				break;
			kept = more;
		}
		strcpy(kept[n].name, e->d_name);
		kept[n++].mtime = st.st_mtim;
	}
	if (n > MAX_KEPT) {
		qsort(kept, n, sizeof(*kept), oldest_first);
		for (size_t i = 0; i < n - MAX_KEPT; i++)
			unlinkat(dirfd(d), kept[i].name, 0);
	}
	free(kept);
	closedir(d);
}

bool sonde_core_btf_write(int fd, const void *raw, size_t size)
{
	const char *p = raw;

	while (size) {
		ssize_t n = write(fd, p, size);

		if (n <= 0)
			return false;
		p += n;
		size -= (size_t)n;
	}
	return true;
}

void sonde_core_btf_cache_store(const char *path, const void *raw, size_t size)
{
	const char *dir = cache_dir();
	char tmp[4096];
	bool written;
	int fd, n;

	if (!dir || !dir_ours(dir))
		return;
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, strrchr(path, '/') + 1, (int)getpid());
	if (n <= 0 || (size_t)n >= sizeof(tmp))
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	written = sonde_core_btf_write(fd, raw, size);
	if (close(fd) || !written || rename(tmp, path)) {
		unlink(tmp);
		return;
	}
	sonde_info(2, "CO-RE: kept the kernel types in %s for the next start", path);
	prune(dir, path);
}

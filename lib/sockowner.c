#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sonde/clock.h"
#include "sonde/grow.h"
#include "sonde/log.h"
#include "sonde/sockowner.h"

/* The cache is an open-addressing hash of inode -> owner, rebuilt by each
 * scan. A pid of 0 marks an inode the last scan did not find, so asking
 * again for it does not rescan. */
struct entry {
	uint64_t ino;		/* 0: free slot */
	pid_t pid;		/* 0: not held by any process at the last scan */
	bool comm_read;		/* comm is read on the first hit only */
	char comm[16];
};

static struct {
	char proc_root[PATH_MAX];
	uint64_t min_rescan_ns;
	uint64_t last_scan_ns;
	uint64_t scans;
	struct entry *slots;
	size_t cap;		/* power of two */
	size_t used;
} cache = {.proc_root = "/proc", .min_rescan_ns = 1000000000ull};

bool sonde_parse_socket_link(const char *link, uint64_t *ino)
{
	static const char prefix[] = "socket:[";
	const char *p = link + sizeof(prefix) - 1;
	uint64_t v = 0;

	if (strncmp(link, prefix, sizeof(prefix) - 1) || !isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (strcmp(p, "]") || !v)
		return false;
	*ino = v;
	return true;
}

static size_t slot_of(uint64_t ino, size_t cap)
{
	/* Inode numbers are sequential: spread them (Fibonacci hashing). */
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct entry *lookup(uint64_t ino)
{
	if (!cache.cap)
		return NULL;
	for (size_t i = slot_of(ino, cache.cap);; i = (i + 1) & (cache.cap - 1)) {
		if (cache.slots[i].ino == ino)
			return &cache.slots[i];
		if (!cache.slots[i].ino)
			return NULL;
	}
}

static int grow(void)
{
	size_t cap = cache.cap ? cache.cap * 2 : 1024;
	struct entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < cache.cap; i++) {
		size_t j;

		if (!cache.slots[i].ino)
			continue;
		for (j = slot_of(cache.slots[i].ino, cap); slots[j].ino; j = (j + 1) & (cap - 1))
			;
		slots[j] = cache.slots[i];
	}
	free(cache.slots);
	cache.slots = slots;
	cache.cap = cap;
	return 0;
}

/* Adds an inode unless known; the first holder found (lowest PID) stays. */
static void insert(uint64_t ino, pid_t pid)
{
	size_t i;

	if (lookup(ino))
		return;
	if ((cache.used + 1) * 2 > cache.cap && grow())
		return;
	for (i = slot_of(ino, cache.cap); cache.slots[i].ino; i = (i + 1) & (cache.cap - 1))
		;
	cache.slots[i] = (struct entry){.ino = ino, .pid = pid};
	cache.used++;
}

static void scan_fds(int proc_fd, const char *pid_name, pid_t pid)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *dir;
	int fd;

	snprintf(path, sizeof(path), "%s/fd", pid_name);
	fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;	/* exited, or a kernel thread */
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		ssize_t n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		uint64_t ino;

		if (n <= 0)
			continue;
		link[n] = 0;
		if (sonde_parse_socket_link(link, &ino))
			insert(ino, pid);
	}
	closedir(dir);
}

static int compare_pids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static void scan(void)
{
	pid_t *pids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *proc;

	cache.scans++;
	cache.last_scan_ns = sonde_now_mono_ns();
	cache.used = 0;
	if (cache.slots)
		memset(cache.slots, 0, cache.cap * sizeof(*cache.slots));
	proc = opendir(cache.proc_root);
	if (!proc)
		return;
	while ((de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (SONDE_GROW(pids, cap, n + 1, 256))
			break;
		pids[n++] = pid;
	}
	/* readdir order is not numeric: sort so the lowest PID wins. */
	qsort(pids, n, sizeof(*pids), compare_pids);
	for (size_t i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%d", pids[i]);
		scan_fds(dirfd(proc), name, pids[i]);
	}
	free(pids);
	closedir(proc);
	sonde_info(2, "scanned %s for socket owners: %zu sockets", cache.proc_root, cache.used);
}

static void read_comm(struct entry *e)
{
	char path[PATH_MAX + 32];
	ssize_t n = 0;
	int fd;

	e->comm_read = true;
	snprintf(path, sizeof(path), "%s/%d/comm", cache.proc_root, e->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, e->comm, sizeof(e->comm) - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	e->comm[n] = 0;
	e->comm[strcspn(e->comm, "\n")] = 0;
}

int sonde_sock_owner_find(uint64_t ino, struct sonde_sock_owner *owner)
{
	struct entry *e;

	if (!ino)
		return -ENOENT;
	e = lookup(ino);
	if (!e) {
		if (cache.scans && sonde_now_mono_ns() - cache.last_scan_ns < cache.min_rescan_ns)
			return -ENOENT;	/* asked again after the next rescan */
		scan();
		e = lookup(ino);
		if (!e) {
			insert(ino, 0);
			return -ENOENT;
		}
	}
	if (!e->pid)
		return -ENOENT;
	if (!e->comm_read)
		read_comm(e);
	owner->pid = e->pid;
	memcpy(owner->comm, e->comm, sizeof(owner->comm));
	return 0;
}

uint64_t sonde_sock_owner_scans(void)
{
	return cache.scans;
}

void sonde_sock_owner_reset(void)
{
	free(cache.slots);
	cache.slots = NULL;
	cache.cap = cache.used = 0;
	cache.scans = cache.last_scan_ns = 0;
}

void sonde_sock_owner_configure(const char *proc_root, uint64_t min_rescan_ns)
{
	sonde_sock_owner_reset();
	snprintf(cache.proc_root, sizeof(cache.proc_root), "%s", proc_root);
	cache.min_rescan_ns = min_rescan_ns;
}

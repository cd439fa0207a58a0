/* The C library's DWARF, opened on a thread while the tool traces.
 *
 * Nearly every user stack of C, C++, Python or JVM code passes through
 * libc, and distributions ship its debug file with compressed sections:
 * libdw inflates them all when the DWARF is opened, about 50 ms here. A
 * stack tool would do that at its first libc frame, which is at the end
 * (the report printed after Ctrl-C). Started on a thread once the tool is
 * attached, it overlaps the tracing.
 *
 * The thread owns everything it opens until the symbolizer takes the
 * result, after joining it, at the first DWARF lookup in a file with the
 * same identity: so libelf and libdw never see one handle from two
 * threads. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sonde/proc_open.h"
#include "internal.h"

#define PREFETCH_FILL (10u << 20)

struct sym_prefetch {
	struct sym_thread thread;
	bool joined;
	atomic_bool stop;	/* freed before use: skip what is left */
	/* The library's identity, as sym_elf keeps it. */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	uint8_t build_id[SYM_BUILD_ID_MAX];
	size_t build_id_len;
	/* Read by the thread: the library (its path as its process sees it,
	 * and that process's root, for the debug file search). */
	int fd;
	Elf *elf;
	char *path;
	int root_fd;
	/* Made by the thread. */
	int debug_fd;
	Elf *debug_elf;
	Dwarf *dwarf;
};

static void *prefetch_run(void *arg)
{
	struct sym_prefetch *pf = arg;
	Elf *dwarf_elf = NULL;

	if (sym_elf_has_section(pf->elf, SHT_PROGBITS, ".debug_info")) {
		dwarf_elf = pf->elf;
	} else {
		pf->debug_fd = sym_debug_file_find(pf->elf, pf->build_id, pf->build_id_len, pf->path,
						   pf->root_fd);
		if (pf->debug_fd >= 0)
			pf->debug_elf = elf_begin(pf->debug_fd, ELF_C_READ_MMAP, NULL);
		if (pf->debug_elf && sym_elf_has_section(pf->debug_elf, SHT_PROGBITS, ".debug_info"))
			dwarf_elf = pf->debug_elf;
	}
	if (dwarf_elf && !atomic_load(&pf->stop))
		pf->dwarf = dwarf_begin_elf(dwarf_elf, DWARF_C_READ, NULL);
	/* The address ranges of every CU, which the first lookup reads. */
	if (pf->dwarf && !atomic_load(&pf->stop)) {
		Dwarf_Aranges *aranges;
		size_t n;

		dwarf_getaranges(pf->dwarf, &aranges, &n);
	}
	return NULL;
}

static void prefetch_join(struct sym_prefetch *pf)
{
	if (!pf->joined) {
		sym_thread_join(&pf->thread);
		pf->joined = true;
	}
}

void sym_prefetch_free(struct sym_prefetch *pf)
{
	if (!pf)
		return;
	atomic_store(&pf->stop, true);
	prefetch_join(pf);
	if (pf->dwarf)
		dwarf_end(pf->dwarf);
	if (pf->debug_elf)
		elf_end(pf->debug_elf);
	if (pf->debug_fd >= 0)
		close(pf->debug_fd);
	if (pf->elf)
		elf_end(pf->elf);
	if (pf->fd >= 0)
		close(pf->fd);
	if (pf->root_fd >= 0)
		close(pf->root_fd);
	free(pf->path);
	free(pf);
}

static struct sym_prefetch *prefetch_start(int fd, const char *path, int root_fd)
{
	struct sym_prefetch *pf = calloc(1, sizeof(*pf));
	struct stat st;

	if (!pf) {
		close(fd);
		close(root_fd);
		return NULL;
	}
	pf->fd = fd;
	pf->root_fd = root_fd;
	pf->debug_fd = -1;
	pf->joined = true;	/* until a thread runs */
	pf->path = strdup(path);
	pf->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!pf->path || fstat(fd, &st) || !pf->elf || elf_kind(pf->elf) != ELF_K_ELF) {
		sym_prefetch_free(pf);
		return NULL;
	}
	pf->dev = st.st_dev;
	pf->ino = st.st_ino;
	pf->size = st.st_size;
	pf->mtime_ns = st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
	pf->build_id_len = sym_elf_build_id(pf->elf, pf->build_id, sizeof(pf->build_id));
	/* Compressed DWARF is inflated into fresh memory: libc's took
	 * ~2,500 page faults. */
	if (sym_thread_start(&pf->thread, prefetch_run, pf, PREFETCH_FILL)) {
		sym_prefetch_free(pf);
		return NULL;
	}
	pf->joined = false;
	return pf;
}

/* The same file, or a copy of it (same build-id: a container image's
 * libc that is the host's, under another inode). */
static bool prefetch_is(const struct sym_prefetch *pf, const struct sym_elf *e)
{
	if (pf->build_id_len && e->build_id_len)
		return pf->build_id_len == e->build_id_len &&
		       !memcmp(pf->build_id, e->build_id, e->build_id_len);
	return e->ino && pf->dev == e->dev && pf->ino == e->ino && pf->size == e->size &&
	       pf->mtime_ns == e->mtime_ns;
}

bool sym_prefetch_take(struct sym_prefetch **pfp, struct sym_elf *e)
{
	struct sym_prefetch *pf = *pfp;

	if (!pf || e->dwarf_tried || !prefetch_is(pf, e))
		return false;
	prefetch_join(pf);
	*pfp = NULL;
	/* It found no DWARF: e looks on its own, maybe under another root
	 * (a container with debug packages of the same build). */
	if (!pf->dwarf) {
		sym_prefetch_free(pf);
		return false;
	}
	close(pf->root_fd);
	pf->root_fd = -1;
	e->dwarf_tried = true;
	e->dwarf = pf->dwarf;
	pf->dwarf = NULL;
	/* The handles under that Dwarf go with it. */
	e->dwarf_source = pf;
	return true;
}

/* The C library's names: glibc before and since 2.34, and musl's. */
static bool is_libc(const char *name)
{
	return !strncmp(name, "libc.so", 7) || !strncmp(name, "libc-", 5) ||
	       !strncmp(name, "libc.musl", 9) || !strncmp(name, "ld-musl", 7);
}

/* Whether this process runs in the machine's root: then its libc is the
 * one the machine's programs map. In a container (a debug pod looking at
 * the host's processes) it is not, and reading it would be wasted. When
 * PID 1's root cannot be read, nothing says otherwise. */
static bool shares_machine_root(const char *proc)
{
	char path[PATH_MAX];
	struct stat init_root, ours;

	snprintf(path, sizeof(path), "%s/1/root/", proc);
	if (stat(path, &init_root) || stat("/", &ours))
		return true;
	return init_root.st_dev == ours.st_dev && init_root.st_ino == ours.st_ino;
}

struct sym_prefetch *sym_prefetch_libc(const char *proc, pid_t pid)
{
	char maps_path[PATH_MAX];
	struct sym_strings names = {0};
	struct sym_mapping *maps = NULL, *libc = NULL;
	struct sym_prefetch *pf = NULL;
	struct stat st;
	size_t n = 0;
	int root_fd, fd;
	FILE *f;

	if (!pid && !shares_machine_root(proc))
		return NULL;
	if (pid)
		snprintf(maps_path, sizeof(maps_path), "%s/%d/maps", proc, (int)pid);
	else
		snprintf(maps_path, sizeof(maps_path), "/proc/self/maps");
	f = fopen(maps_path, "re");
	if (f) {
		n = sym_maps_read(f, &names, &maps);
		fclose(f);
	}
	for (size_t i = 0; i < n && !libc; i++)
		if (maps[i].path && !maps[i].deleted && is_libc(maps[i].name))
			libc = &maps[i];
	root_fd = !libc ? -1
		  : pid ? sonde_proc_root_fd(proc, pid)
			: open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = root_fd >= 0 ? sonde_open_in_root(root_fd, libc->path, O_RDONLY) : -1;
	/* The file the process maps, not one put at its path since. */
	if (fd >= 0 && (fstat(fd, &st) || st.st_ino != libc->ino)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		pf = prefetch_start(fd, libc->path, root_fd);
	else if (root_fd >= 0)
		close(root_fd);
	free(maps);
	sym_strings_free(&names);
	return pf;
}

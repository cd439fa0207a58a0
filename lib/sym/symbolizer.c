/* The symbolizer: caches of kernel symbols, ELF files (shared between
 * processes by file identity) and per-process mappings (re-read only when
 * an address falls outside every known mapping). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sonde/proc_open.h"
#include "internal.h"
#include "sonde/unwind_ranges.h"

/* A vanished mapping is looked for again at most this often. */
#define MAPS_REFRESH_NS 100000000ll
#define PROC_BUCKETS 256

struct process {
	pid_t pid;
	struct sym_mapping *maps;
	size_t n_maps;
	int64_t maps_read_ns;
	bool perf_map_tried;
	struct symtab perf_map;
	struct process *next;
};

struct sonde_symbolizer {
	char proc[256];
	bool kernel_tried;
	bool kernel_ok;
	struct symtab kernel;
	/* kallsyms, opened; being read into kernel by kernel_reader */
	FILE *kallsyms;
	bool kernel_reading;
	struct sym_thread kernel_reader;
	atomic_bool kernel_unwanted;	/* freed before any lookup: stop reading */
	struct sym_elf *elves;
	/* The C library's DWARF being opened ahead, until a file takes it. */
	struct sym_prefetch *libc_prefetch;
	struct process *procs[PROC_BUCKETS];
	/* Module names, paths and JIT names: frames point at them, so they
	 * live as long as the symbolizer, even past sonde_sym_forget(). */
	struct sym_strings names;
};

static void kernel_reader_join(struct sonde_symbolizer *sym);

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct sonde_symbolizer *sonde_symbolizer_new(void)
{
	struct sonde_symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	elf_version(EV_CURRENT);
	snprintf(sym->proc, sizeof(sym->proc), "/proc");
	return sym;
}

void sonde_symbolizer_set_proc(struct sonde_symbolizer *sym, const char *proc_root)
{
	snprintf(sym->proc, sizeof(sym->proc), "%s", proc_root);
}

static void process_free(struct process *p)
{
	free(p->maps);
	symtab_free(&p->perf_map);
	free(p);
}

void sonde_symbolizer_free(struct sonde_symbolizer *sym)
{
	if (!sym)
		return;
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		while (sym->procs[b]) {
			struct process *p = sym->procs[b];

			sym->procs[b] = p->next;
			process_free(p);
		}
	while (sym->elves) {
		struct sym_elf *e = sym->elves;

		sym->elves = e->next;
		sym_elf_free(e);
	}
	sym_prefetch_free(sym->libc_prefetch);
	/* A tool that ends before looking anything up does not wait for
	 * the rest of kallsyms. */
	atomic_store(&sym->kernel_unwanted, true);
	kernel_reader_join(sym);
	symtab_free(&sym->kernel);
	sym_strings_free(&sym->names);
	free(sym);
}

/* ---- kernel ---- */

static void *read_kernel_symbols(void *arg)
{
	struct sonde_symbolizer *sym = arg;

	sym->kernel_ok = kallsyms_read(&sym->kernel, sym->kallsyms, &sym->kernel_unwanted);
	return NULL;
}

/* Reading kallsyms (120k lines, ~45 ms of system time) was most of a
 * stack tool's start-up. The file is opened first, while the caller holds
 * CAP_SYSLOG, and read on a thread of its own; the first lookup waits for
 * it. */
bool sonde_sym_kernel_open(struct sonde_symbolizer *sym)
{
	if (!sym->kernel_tried) {
		sym->kernel_tried = true;
		sym->kallsyms = kallsyms_open(sym->proc);
	}
	return sym->kallsyms || sym->kernel_ok;
}

bool sonde_sym_kernel_load(struct sonde_symbolizer *sym)
{
	sonde_sym_kernel_open(sym);
	if (sym->kallsyms && !sym->kernel_reading) {
		/* ~120,000 entries, the names and the sort's copy: ~3,000
		 * page faults otherwise. */
		if (sym_thread_start(&sym->kernel_reader, read_kernel_symbols, sym, 12u << 20)) {
			read_kernel_symbols(sym);
			fclose(sym->kallsyms);
			sym->kallsyms = NULL;
		} else {
			sym->kernel_reading = true;
		}
	}
	return sym->kallsyms || sym->kernel_ok;
}

void sonde_sym_kernel_read_ahead(struct sonde_symbolizer *sym)
{
	if (sym->kallsyms)
		sonde_sym_kernel_load(sym);
}

/* kallsyms read, by the thread or (opened, never started) here; or, once
 * unwanted, not at all. */
static void kernel_reader_join(struct sonde_symbolizer *sym)
{
	if (!sym->kallsyms)
		return;
	if (sym->kernel_reading)
		sym_thread_join(&sym->kernel_reader);
	else if (!atomic_load(&sym->kernel_unwanted))
		read_kernel_symbols(sym);
	sym->kernel_reading = false;
	fclose(sym->kallsyms);
	sym->kallsyms = NULL;
}

/* The kernel's symbols, once read; false when there are none. Never
 * opened ahead, they are read here, by the caller that waits for them:
 * a thread started only to be joined at once would add nothing. */
static bool kernel_symbols_ready(struct sonde_symbolizer *sym)
{
	sonde_sym_kernel_open(sym);
	kernel_reader_join(sym);
	return sym->kernel_ok;
}

size_t sonde_sym_kernel(struct sonde_symbolizer *sym, uint64_t addr,
			struct sonde_frame *frames, size_t max)
{
	const struct sym_entry *s;

	if (!max)
		return 0;
	s = kernel_symbols_ready(sym) ? symtab_find(&sym->kernel, addr) : NULL;
	frames[0] = (struct sonde_frame){
		.function = s ? s->name : NULL,
		.offset = s ? addr - s->addr : 0,
		.module = s && s->module ? s->module : "[kernel]",
		.module_offset = addr,
		.kernel = true,
	};
	return 1;
}

bool sonde_sym_prefetch_libc(struct sonde_symbolizer *sym, pid_t pid)
{
	if (!sym->libc_prefetch)
		sym->libc_prefetch = sym_prefetch_libc(sym->proc, pid);
	return sym->libc_prefetch;
}

bool sonde_sym_prefetch_pending(const struct sonde_symbolizer *sym)
{
	return sym->libc_prefetch;
}

/* ---- processes and their mappings ---- */

static bool read_maps(struct sonde_symbolizer *sym, struct process *p)
{
	char path[PATH_MAX];
	struct sym_mapping *maps;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/maps", sym->proc, (int)p->pid);
	f = fopen(path, "re");
	p->maps_read_ns = now_ns();
	if (!f)
		return false;
	n = sym_maps_read(f, &sym->names, &maps);
	fclose(f);
	/* Nothing mapped: it exited while being read. What was known still
	 * names the samples it left. */
	if (!n && p->n_maps) {
		free(maps);
		return false;
	}
	free(p->maps);
	p->maps = maps;
	p->n_maps = n;
	return true;
}

/* The cached process pid, or NULL. */
static struct process *process_find(struct sonde_symbolizer *sym, pid_t pid)
{
	for (struct process *p = sym->procs[(unsigned)pid % PROC_BUCKETS]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* The cached process pid, cached now (its mappings read) if it was not. */
static struct process *process_get(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process **bucket = &sym->procs[(unsigned)pid % PROC_BUCKETS];
	struct process *p = process_find(sym, pid);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	read_maps(sym, p);
	p->next = *bucket;
	*bucket = p;
	return p;
}

bool sonde_sym_refresh(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process *p = process_find(sym, pid);

	return p && read_maps(sym, p);
}

void sonde_sym_forget(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process **pp = &sym->procs[(unsigned)pid % PROC_BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->pid == pid) {
			struct process *p = *pp;

			*pp = p->next;
			process_free(p);
			return;
		}
}

void sonde_sym_forget_exited(struct sonde_symbolizer *sym)
{
	char path[PATH_MAX];

	for (struct sym_elf *e = sym->elves; e; e = e->next)
		e->in_use = false;
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		for (struct process **pp = &sym->procs[b]; *pp;) {
			struct process *p = *pp;

			snprintf(path, sizeof(path), "%s/%d", sym->proc, (int)p->pid);
			if (access(path, F_OK) && errno == ENOENT) {
				*pp = p->next;
				process_free(p);
				continue;
			}
			for (size_t i = 0; i < p->n_maps; i++)
				if (p->maps[i].elf)
					p->maps[i].elf->in_use = true;
			pp = &p->next;
		}
	/* Files only processes gone since had mapped: a system-wide profile
	 * would otherwise keep every program the machine ever ran. */
	for (struct sym_elf **ep = &sym->elves; *ep;) {
		struct sym_elf *e = *ep;

		if (e->in_use) {
			ep = &e->next;
			continue;
		}
		*ep = e->next;
		sym_elf_free(e);
	}
}

static struct sym_mapping *mapping_find(struct process *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < p->maps[mid].start)
			hi = mid;
		else if (addr >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

/* Same file (device, inode, change time, size): one cache entry. */
static struct sym_elf *elf_cached(struct sonde_symbolizer *sym, int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return NULL;
	for (struct sym_elf *e = sym->elves; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime_ns == st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec)
			return e;
	return NULL;
}

/* Opens the mapped file as the process sees it: under its root (its
 * mount namespace; links cannot lead out of it), or through map_files
 * when the file was deleted or replaced since (the inode differs), e.g.
 * after a package upgrade. map_files hands out the mapped object itself,
 * whatever the process did to its paths. */
static int open_mapped_file(struct sonde_symbolizer *sym, pid_t pid, int root_fd,
			    const struct sym_mapping *m)
{
	char path[PATH_MAX];
	struct stat st;
	int fd = -1, via_map_files;

	if (!m->deleted && root_fd >= 0) {
		fd = sonde_open_in_root(root_fd, m->path, O_RDONLY);
		if (fd >= 0 && !fstat(fd, &st) && st.st_ino == m->ino)
			return fd;
	}
	snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, sym->proc,
		 (int)pid, m->start, m->end);
	via_map_files = open(path, O_RDONLY | O_CLOEXEC);
	if (via_map_files < 0)
		return fd;	/* overlay file systems report other inodes */
	if (fd >= 0)
		close(fd);
	return via_map_files;
}

/* Once per file: frames (and pprof mappings) carry it as text. */
static const char *build_id_hex(struct sonde_symbolizer *sym, const struct sym_elf *e)
{
	char hex[SYM_BUILD_ID_MAX * 2 + 1];

	if (!e->build_id_len)
		return NULL;
	for (size_t i = 0; i < e->build_id_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", e->build_id[i]);
	return sym_strings_get(&sym->names, hex, 2 * e->build_id_len);
}

static void resolve_mapping(struct sonde_symbolizer *sym, pid_t pid, int root_fd,
			    struct sym_mapping *m)
{
	int fd;

	m->resolved = true;
	if (!m->path)
		return;
	fd = open_mapped_file(sym, pid, root_fd, m);
	if (fd < 0)
		return;
	m->elf = elf_cached(sym, fd);
	if (m->elf) {
		close(fd);
		return;
	}
	m->elf = sym_elf_open(fd, m->path, root_fd);
	if (m->elf) {
		m->elf->build_id_hex = build_id_hex(sym, m->elf);
		m->elf->next = sym->elves;
		sym->elves = m->elf;
	}
}

/* Resolves the mappings not resolved yet, with one look at the root. */
static void resolve_mappings(struct sonde_symbolizer *sym, struct process *p)
{
	int root_fd = -1;
	bool root_tried = false;

	for (size_t i = 0; i < p->n_maps; i++) {
		if (p->maps[i].resolved)
			continue;
		if (!root_tried) {
			root_tried = true;
			root_fd = sonde_proc_root_fd(sym->proc, p->pid);
		}
		resolve_mapping(sym, p->pid, root_fd, &p->maps[i]);
	}
	if (root_fd >= 0)
		close(root_fd);
}

/* The process's PID in its own namespace: the one in its perf map name. */
static pid_t namespace_pid(struct sonde_symbolizer *sym, pid_t pid)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	pid_t ns_pid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/status", sym->proc, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		char *last = strrchr(line, '\t');

		if (last)
			ns_pid = atoi(last + 1);
		break;
	}
	free(line);
	fclose(f);
	return ns_pid;
}

static const struct sym_entry *perf_map_find(struct sonde_symbolizer *sym, struct process *p,
					     uint64_t addr)
{
	if (!p->perf_map_tried) {
		char path[64];
		FILE *f;

		p->perf_map_tried = true;
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)namespace_pid(sym, p->pid));
		f = sonde_proc_fopen(sym->proc, p->pid, path);
		if (f) {
			perf_map_read(f, &p->perf_map, &sym->names);
			fclose(f);
		}
	}
	return symtab_find(&p->perf_map, addr);
}

bool sonde_sym_user_prepare(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process *p = process_get(sym, pid);

	if (!p || !p->n_maps)
		return false;
	resolve_mappings(sym, p);
	return true;
}

bool sym_process_modules(struct sonde_symbolizer *sym, pid_t pid, sym_module_fn fn, void *arg)
{
	struct process *p = process_get(sym, pid);
	int root_fd;

	if (!p || !p->n_maps)
		return false;
	resolve_mappings(sym, p);
	root_fd = sonde_proc_root_fd(sym->proc, pid);
	for (size_t i = 0; i < p->n_maps; i++) {
		struct sym_mapping *m = &p->maps[i];
		bool seen = false;
		uint64_t vaddr;
		int fd;

		for (size_t j = 0; j < i && !seen; j++)
			seen = p->maps[j].elf == m->elf;
		if (!m->elf || seen || !sym_elf_offset_to_vaddr(m->elf, m->pgoff, &vaddr))
			continue;
		fd = open_mapped_file(sym, pid, root_fd, m);
		if (fd >= 0)
			fn(arg, m->name, fd, m->start - vaddr);
	}
	if (root_fd >= 0)
		close(root_fd);
	return true;
}

bool sonde_sym_user_code(struct sonde_symbolizer *sym, pid_t pid, sonde_sym_code_fn fn, void *arg)
{
	struct process *p = process_get(sym, pid);

	if (!p || !p->n_maps)
		return false;
	resolve_mappings(sym, p);
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct sym_mapping *m = &p->maps[i];

		fn(arg, m->start, m->end, m->name,
		   m->elf ? sym_elf_code_kind(m->elf) : SONDE_CODE_FRAME_POINTERS);
	}
	return true;
}

/* The ELF file and virtual address of addr in pid; false when unknown. */
static struct sym_elf *user_elf(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr,
				uint64_t *vaddr)
{
	struct process *p = process_get(sym, pid);
	struct sym_mapping *m = p ? mapping_find(p, addr) : NULL;
	uint64_t offset;

	if (!m)
		return NULL;
	if (!m->resolved)
		resolve_mappings(sym, p);
	offset = addr - m->start + m->pgoff;
	if (m->elf && !sym_elf_offset_to_vaddr(m->elf, offset, vaddr))
		*vaddr = offset;
	return m->elf;
}

bool sonde_sym_user_frameless(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr)
{
	uint64_t vaddr;
	struct sym_elf *e = user_elf(sym, pid, addr, &vaddr);

	return e && sym_go_frameless(e, vaddr);
}

/* ---- user addresses ---- */

/* The frames of one address of a file: the same whichever process maps
 * it, so cached with the file. */
static size_t elf_frames(struct sonde_symbolizer *sym, struct sym_elf *e, uint64_t vaddr,
			 bool return_address, struct sonde_frame *frames, size_t max)
{
	struct sonde_frame all[SONDE_SYM_MAX_FRAMES];
	uint64_t key = vaddr << 1 | return_address;
	size_t n = frame_cache_get(&e->frames, key, all, SONDE_SYM_MAX_FRAMES);

	if (!n) {
		sym_prefetch_take(&sym->libc_prefetch, e);
		n = sym_elf_frames(e, vaddr, return_address, all, SONDE_SYM_MAX_FRAMES);
		frame_cache_put(&e->frames, key, all, n);
	}
	/* Fewer frames wanted than there are: the containing function
	 * still comes last. */
	if (n > max)
		return sym_elf_frames(e, vaddr, return_address, frames, max);
	memcpy(frames, all, n * sizeof(*frames));
	return n;
}

size_t sonde_sym_user(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr,
		      bool return_address, struct sonde_frame *frames, size_t max)
{
	struct process *p;
	struct sym_mapping *m;
	const struct sym_entry *jit;
	uint64_t offset, vaddr;
	size_t n;

	if (!max)
		return 0;
	frames[0] = (struct sonde_frame){.module_offset = addr};
	p = process_get(sym, pid);
	if (!p)
		return 1;
	m = mapping_find(p, addr);
	if (!m && now_ns() - p->maps_read_ns >= MAPS_REFRESH_NS) {
		/* Code mapped since (dlopen, a new JIT region). */
		read_maps(sym, p);
		m = mapping_find(p, addr);
	}
	if (!m)
		return 1;
	if (!m->resolved)
		resolve_mappings(sym, p);
	offset = addr - m->start + m->pgoff;
	if (m->elf) {
		if (!sym_elf_offset_to_vaddr(m->elf, offset, &vaddr))
			vaddr = offset;
		n = elf_frames(sym, m->elf, vaddr, return_address, frames, max);
		for (size_t i = 0; i < n; i++) {
			frames[i].module = m->name;
			frames[i].module_offset = vaddr;
			frames[i].build_id = m->elf->build_id_hex;
		}
		return n;
	}
	frames[0].module = m->name;
	frames[0].module_offset = offset;
	if (!m->path && (jit = perf_map_find(sym, p, addr))) {
		frames[0].function = jit->name;
		frames[0].offset = addr - jit->addr;
	}
	return 1;
}

int sonde_frame_format(const struct sonde_frame *f, unsigned flags, char *buf, size_t size)
{
	int n;

	if (!f->function)
		return snprintf(buf, size, "[unknown] (%s+0x%" PRIx64 ")",
				f->module ? f->module : "?", f->module_offset);
	if ((flags & SONDE_FRAME_OFFSET) && !f->inlined)
		n = snprintf(buf, size, "%s+0x%" PRIx64, f->function, f->offset);
	else
		n = snprintf(buf, size, "%s", f->function);
	if ((flags & SONDE_FRAME_LINE) && f->file && n >= 0) {
		const char *base = strrchr(f->file, '/');
		size_t used = (size_t)n < size ? (size_t)n : size;

		n += snprintf(buf + used, size - used, " (%s:%u)", base ? base + 1 : f->file, f->line);
	}
	return n;
}

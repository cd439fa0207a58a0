/* The symbolizer: caches of kernel symbols, ELF files (shared between
 * processes by file identity) and per-process mappings (re-read only when
 * an address falls outside every known mapping). */
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

#include "internal.h"

/* A vanished mapping is looked for again at most this often. */
#define MAPS_REFRESH_NS 100000000ll
#define PROC_BUCKETS 256

struct mapping {
	uint64_t start, end, pgoff;
	ino_t ino;
	const char *path;	/* as the process sees it; NULL when anonymous */
	const char *name;	/* shown as the module */
	bool deleted;
	bool resolved;
	struct sym_elf *elf;	/* NULL: not ELF or unreadable */
};

struct process {
	pid_t pid;
	struct mapping *maps;
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
	/* kallsyms being read into kernel by kernel_reader */
	FILE *kallsyms;
	pthread_t kernel_reader;
	atomic_bool kernel_unwanted;	/* freed before any lookup: stop reading */
	struct sym_elf *elves;
	struct process *procs[PROC_BUCKETS];
	/* Module names, paths and JIT names: frames point at them, so they
	 * live as long as the symbolizer, even past sonde_sym_forget(). */
	struct symtab names;
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
	/* A tool that ends before looking anything up does not wait for
	 * the rest of kallsyms. */
	atomic_store(&sym->kernel_unwanted, true);
	kernel_reader_join(sym);
	symtab_free(&sym->kernel);
	symtab_free(&sym->names);
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
 * stack tool's start-up. The file is opened here, while the caller holds
 * CAP_SYSLOG, and read on a thread of its own while the tool loads and
 * attaches its programs; the first lookup waits for it. */
bool sonde_sym_kernel_load(struct sonde_symbolizer *sym)
{
	if (sym->kernel_tried)
		return sym->kallsyms || sym->kernel_ok;
	sym->kernel_tried = true;
	sym->kallsyms = kallsyms_open(sym->proc);
	if (sym->kallsyms && pthread_create(&sym->kernel_reader, NULL, read_kernel_symbols, sym)) {
		read_kernel_symbols(sym);
		fclose(sym->kallsyms);
		sym->kallsyms = NULL;
	}
	return sym->kallsyms || sym->kernel_ok;
}

static void kernel_reader_join(struct sonde_symbolizer *sym)
{
	if (sym->kallsyms) {
		pthread_join(sym->kernel_reader, NULL);
		fclose(sym->kallsyms);
		sym->kallsyms = NULL;
	}
}

/* The kernel's symbols, once read; false when there are none. */
static bool kernel_symbols_ready(struct sonde_symbolizer *sym)
{
	if (!sym->kernel_tried)
		sonde_sym_kernel_load(sym);
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

/* ---- processes and their mappings ---- */

static const char *intern(struct sonde_symbolizer *sym, const char *s)
{
	return symtab_intern(&sym->names, s, strlen(s));
}

static bool read_maps(struct sonde_symbolizer *sym, struct process *p)
{
	char path[PATH_MAX], *line = NULL;
	struct mapping *maps = NULL;
	size_t n = 0, cap = 0, line_cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/maps", sym->proc, (int)p->pid);
	f = fopen(path, "re");
	p->maps_read_ns = now_ns();
	if (!f)
		return false;
	while (getline(&line, &line_cap, f) > 0) {
		uint64_t start, end, pgoff;
		unsigned long ino;
		char perms[8];
		int name_at = 0;
		char *name, *slash;
		size_t len;
		struct mapping *m;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %lu %n",
			   &start, &end, perms, &pgoff, &ino, &name_at) < 5 || !name_at)
			continue;
		/* Only code is ever symbolized. */
		if (!strchr(perms, 'x'))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			m = realloc(maps, cap * sizeof(*maps));
			if (!m)
				break;
			maps = m;
		}
		m = &maps[n++];
		*m = (struct mapping){.start = start, .end = end, .pgoff = pgoff, .ino = ino};
		name = line + name_at;
		len = strcspn(name, "\n");
		name[len] = 0;
		if (len > 10 && !strcmp(name + len - 10, " (deleted)")) {
			name[len - 10] = 0;
			m->deleted = true;
		}
		if (name[0] == '/') {
			m->path = intern(sym, name);
			slash = strrchr(name, '/');
			m->name = intern(sym, slash + 1);
		} else {
			/* "[vdso]", "[anon:...]", "" (anonymous: JIT code) */
			m->name = name[0] ? intern(sym, name) : "[anon]";
		}
	}
	free(line);
	fclose(f);
	free(p->maps);
	p->maps = maps;
	p->n_maps = n;
	return true;
}

static struct process *process_get(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process **bucket = &sym->procs[(unsigned)pid % PROC_BUCKETS], *p;

	for (p = *bucket; p; p = p->next)
		if (p->pid == pid)
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

static struct mapping *mapping_find(struct process *p, uint64_t addr)
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

/* Opens the mapped file as the process sees it: through its root (its
 * mount namespace), or through map_files when the file was deleted or
 * replaced since (the inode differs), e.g. after a package upgrade. */
static int open_mapped_file(struct sonde_symbolizer *sym, pid_t pid, const struct mapping *m)
{
	char path[PATH_MAX * 2];
	struct stat st;
	int fd = -1, via_map_files;

	if (!m->deleted) {
		snprintf(path, sizeof(path), "%s/%d/root%s", sym->proc, (int)pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
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

static void resolve_mapping(struct sonde_symbolizer *sym, pid_t pid, struct mapping *m)
{
	char root[PATH_MAX];
	int fd;

	m->resolved = true;
	if (!m->path)
		return;
	fd = open_mapped_file(sym, pid, m);
	if (fd < 0)
		return;
	m->elf = elf_cached(sym, fd);
	if (m->elf) {
		close(fd);
		return;
	}
	snprintf(root, sizeof(root), "%s/%d/root", sym->proc, (int)pid);
	m->elf = sym_elf_open(fd, m->path, root);
	if (m->elf) {
		m->elf->next = sym->elves;
		sym->elves = m->elf;
	}
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
		char path[PATH_MAX];

		p->perf_map_tried = true;
		snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%d.map", sym->proc,
			 (int)p->pid, (int)namespace_pid(sym, p->pid));
		perf_map_load(&p->perf_map, &sym->names, path);
	}
	return symtab_find(&p->perf_map, addr);
}

bool sonde_sym_user_prepare(struct sonde_symbolizer *sym, pid_t pid)
{
	struct process *p = process_get(sym, pid);

	if (!p || !p->n_maps)
		return false;
	for (size_t i = 0; i < p->n_maps; i++)
		if (!p->maps[i].resolved)
			resolve_mapping(sym, pid, &p->maps[i]);
	return true;
}

bool sym_process_modules(struct sonde_symbolizer *sym, pid_t pid, sym_module_fn fn, void *arg)
{
	struct process *p = process_get(sym, pid);

	if (!p || !p->n_maps)
		return false;
	for (size_t i = 0; i < p->n_maps; i++) {
		struct mapping *m = &p->maps[i];
		bool seen = false;
		uint64_t vaddr;
		int fd;

		if (!m->resolved)
			resolve_mapping(sym, pid, m);
		for (size_t j = 0; j < i && !seen; j++)
			seen = p->maps[j].elf == m->elf;
		if (!m->elf || seen || !sym_elf_offset_to_vaddr(m->elf, m->pgoff, &vaddr))
			continue;
		fd = open_mapped_file(sym, pid, m);
		if (fd >= 0)
			fn(arg, m->name, fd, m->start - vaddr);
	}
	return true;
}

/* ---- user addresses ---- */

static size_t elf_frames(struct sym_elf *e, uint64_t vaddr, bool return_address,
			 struct sonde_frame *frames, size_t max)
{
	/* A return address may already be past the end of the calling
	 * function (calls to noreturn functions): look up the call. */
	uint64_t at = return_address && vaddr ? vaddr - 1 : vaddr;
	const struct sym_entry *s = symtab_find(&e->symbols, at);
	size_t n = 0;

	if (!e->dwarf_tried && e->dwarf_elf) {
		e->dwarf_tried = true;
		e->dwarf = dwarf_begin_elf(e->dwarf_elf, DWARF_C_READ, NULL);
	}
	if (e->dwarf)
		n = sym_dwarf_frames(e->dwarf, at, frames, max);
	/* A stripped Go binary: Go's own table knows what ELF forgot. */
	if (!n && !s && (n = sym_go_frames(e, at, frames, max)) > 0)
		return n;
	if (!n || (frames[n - 1].inlined && n < max))
		frames[n++] = (struct sonde_frame){0};
	/* The containing function: the symbol table's name is the linkage
	 * name, the one other tools (and the folded format) use. */
	if (s) {
		frames[n - 1].function = s->name;
		frames[n - 1].offset = vaddr - s->addr;
	}
	return n;
}

size_t sonde_sym_user(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr,
		      bool return_address, struct sonde_frame *frames, size_t max)
{
	struct process *p;
	struct mapping *m;
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
		resolve_mapping(sym, pid, m);
	offset = addr - m->start + m->pgoff;
	if (m->elf) {
		if (!sym_elf_offset_to_vaddr(m->elf, offset, &vaddr))
			vaddr = offset;
		n = elf_frames(m->elf, vaddr, return_address, frames, max);
		for (size_t i = 0; i < n; i++) {
			frames[i].module = m->name;
			frames[i].module_offset = vaddr;
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

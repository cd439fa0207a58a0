/* Pieces of the symbolizer (lib/sym), shared between its files only. */
#ifndef SONDE_SYM_INTERNAL_H
#define SONDE_SYM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/types.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "sonde/sym.h"

/* ---- sorted symbol tables (symtab.c) ---- */

struct sym_entry {
	uint64_t addr;
	uint64_t size;		/* 0: unknown, reaches up to the next symbol */
	const char *name;
	const char *module;	/* kernel modules only */
};

struct symtab {
	struct sym_entry *entries;
	size_t n;
	size_t cap;
	/* Names copied in (kallsyms, perf maps): freed with the table. */
	char **chunks;
	size_t n_chunks;
	size_t chunk_size;	/* of the last chunk */
	size_t chunk_used;
};

int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name,
	       const char *module);
/* Copies name into memory the table owns. NULL on allocation failure. */
const char *symtab_intern(struct symtab *t, const char *name, size_t len);
/* Sorts by address; of symbols at one address, keeps a sized one, else
 * the first added. */
void symtab_sort(struct symtab *t);
/* The symbol containing addr: the last one starting at or below it, if
 * addr is within its size (or before the next symbol when it has none). */
const struct sym_entry *symtab_find(const struct symtab *t, uint64_t addr);
void symtab_free(struct symtab *t);

/* ---- strings stored once each (strings.c) ---- */

struct sym_strings {
	struct symtab store;	/* its chunks hold the text */
	const char **slots;	/* open addressing, a power of two */
	size_t cap, n;
};

/* The stored copy of str[0..len) (len bytes, no NUL among them needed),
 * the same pointer for equal strings; valid until sym_strings_free().
 * NULL on allocation failure. */
const char *sym_strings_get(struct sym_strings *s, const char *str, size_t len);
void sym_strings_free(struct sym_strings *s);

/* ---- frames already resolved, per file (frame_cache.c) ---- */

struct frame_cache_slot {
	uint64_t key;
	uint32_t first;		/* in the pool */
	uint16_t n;		/* 0: empty slot */
};

struct frame_cache {
	struct frame_cache_slot *slots;
	size_t cap;		/* a power of two */
	size_t n;
	struct sonde_frame *pool;
	size_t pool_n, pool_cap;
};

/* Copies the frames cached for key (up to max); 0 when there are none. */
size_t frame_cache_get(const struct frame_cache *c, uint64_t key, struct sonde_frame *frames,
		       size_t max);
/* Remembers n frames for key; silently does not on allocation failure. */
void frame_cache_put(struct frame_cache *c, uint64_t key, const struct sonde_frame *frames, size_t n);
void frame_cache_free(struct frame_cache *c);

/* ---- kernel (kallsyms.c) ---- */

/* Opens <proc>/kallsyms; NULL when unreadable or hidden (all addresses
 * zero under kptr_restrict). */
FILE *kallsyms_open(const char *proc_root);
/* Loads its text symbols; false when none had an address. Stops early
 * once *stop (if given) is set. */
bool kallsyms_read(struct symtab *t, FILE *f, const atomic_bool *stop);

/* ---- ELF files (elf_file.c, debug_file.c, dwarf_frames.c) ---- */

#define SYM_BUILD_ID_MAX 64

struct sym_elf {
	dev_t dev;		/* identity: files with the same one share this */
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
	int fd;			/* -1 once the file is mapped */
	Elf *elf;
	bool is_dyn;		/* ET_DYN: PIE or shared library */
	GElf_Phdr *loads;	/* PT_LOAD segments */
	size_t n_loads;
	uint8_t build_id[SYM_BUILD_ID_MAX];
	size_t build_id_len;
	const char *build_id_hex;	/* in the symbolizer's names; NULL if none */
	struct symtab symbols;
	/* The separate debug file, when the symbols or DWARF come from one. */
	int debug_fd;
	Elf *debug_elf;
	Elf *dwarf_elf;		/* the one with .debug_info, or NULL */
	Dwarf *dwarf;		/* opened on first use */
	bool dwarf_tried;
	/* When dwarf was opened ahead on a thread (prefetch.c): the handles
	 * under it, freed with it. */
	struct sym_prefetch *dwarf_source;
	/* Go's own function table: names, lines and inline frames of Go
	 * binaries without .symtab or DWARF. Opened on the first address no
	 * symbol covers. */
	struct sonde_gopclntab *gopclntab;
	bool gopclntab_tried;
	bool in_use;		/* mapped by a process still cached */
	/* It has a section only Go writes, or no section headers at all:
	 * only then is a pclntab looked for (which scans the data). */
	bool maybe_go;
	/* What its addresses resolved to (symbolizer.c). */
	struct frame_cache frames;
	/* How its stacks are walked (frame_pointers.c), found on first use. */
	int code_kind;		/* enum sonde_code_kind */
	bool code_kind_known;
	struct sym_elf *next;	/* in the symbolizer's cache */
};

/* Opens an ELF file: symbols, segments, build-id, and the debug file if
 * the file lacks .symtab or DWARF, looked for under root_fd (the
 * process's root, opened with sonde_proc_root_fd()) and then under ours.
 * path: the file's path as the process sees it. NULL when not ELF. Takes
 * fd. */
struct sym_elf *sym_elf_open(int fd, const char *path, int root_fd);
/* The same for an ELF image in memory, which must outlive the result
 * (the fuzzers' entry point: the bytes are the untrusted input). */
struct sym_elf *sym_elf_open_memory(char *image, size_t size, const char *path, int root_fd);
void sym_elf_free(struct sym_elf *e);
/* Frames of virtual address vaddr of e: DWARF lines and inline frames,
 * the symbol table's function, or Go's pclntab; innermost first, at
 * least one (maybe without a function). return_address: vaddr follows a
 * call, look up the call itself. */
size_t sym_elf_frames(struct sym_elf *e, uint64_t vaddr, bool return_address,
		      struct sonde_frame *frames, size_t max);
/* Frames of a Go binary's code from its pclntab, innermost first; 0 when
 * the file has none or the address is in no Go function. */
size_t sym_go_frames(struct sym_elf *e, uint64_t vaddr, struct sonde_frame *frames, size_t max);
/* Its Go function table, opened on first use; NULL when it has none. */
struct sonde_gopclntab *sym_elf_gopclntab(struct sym_elf *e);
/* Whether vaddr is in Go code where the function has set up no frame
 * (nothing pushed: the return address is at the stack pointer). */
bool sym_go_frameless(struct sym_elf *e, uint64_t vaddr);
/* Whether frame pointers walk the file's code (enum sonde_code_kind). */
int sym_elf_code_kind(struct sym_elf *e);
/* File offset -> ELF virtual address, through the PT_LOAD containing it. */
bool sym_elf_offset_to_vaddr(const struct sym_elf *e, uint64_t offset, uint64_t *vaddr);

/* Finds the separate debug file of an ELF file: by build-id under
 * <root>/usr/lib/debug/.build-id, then by .gnu_debuglink next to the file,
 * in its .debug/ and under <root>/usr/lib/debug; first under root_fd (the
 * process's root; every path is resolved inside it), then under ours.
 * Returns an open fd or -1. */
int sym_debug_file_find(Elf *elf, const uint8_t *build_id, size_t build_id_len,
			const char *path, int root_fd);
/* Reads NT_GNU_BUILD_ID; returns its length (0 when there is none). */
size_t sym_elf_build_id(Elf *elf, uint8_t *id, size_t max);
/* Whether elf has a section of that type (0: any) and name (NULL: any). */
bool sym_elf_has_section(Elf *elf, Elf64_Word type, const char *name);

/* Source line and inline frames of a virtual address from DWARF: fills
 * frames innermost first (inlined callees, then the containing function,
 * whose function name is left to the caller) and returns how many; 0
 * without DWARF for that address. */
size_t sym_dwarf_frames(Dwarf *dwarf, uint64_t vaddr, struct sonde_frame *frames, size_t max);

/* ---- background threads (thread.c) ---- */

/* A background thread: idle priority until joined (thread.c says why). */
struct sym_thread {
	pthread_t id;
	bool idle;		/* started under SCHED_IDLE */
	int policy;		/* the one to return to */
	atomic_bool hurry;	/* joined: run at the normal policy */
	void *(*fn)(void *);
	void *arg;
	size_t prefault;	/* bytes of heap it will fill (lib/heap_prefault.c) */
};

/* Starts fn(arg) on t, with every signal blocked, under SCHED_IDLE if it
 * could leave it again, its heap first backed with fill bytes if it will
 * allocate that much (0: none; lib/heap_prefault.c); 0 or an error
 * number. */
int sym_thread_start(struct sym_thread *t, void *(*fn)(void *), void *arg, size_t fill);

/* Gives t the normal policy back, then waits for it to end. */
void sym_thread_join(struct sym_thread *t);

/* ---- the C library's DWARF, opened ahead (prefetch.c) ---- */

struct sym_prefetch;

/* Starts opening, on a thread, the DWARF of the C library that process
 * pid maps (pid 0: the one this process maps, if it runs in the machine's
 * root). NULL when there is none or no thread could start. */
struct sym_prefetch *sym_prefetch_libc(const char *proc, pid_t pid);
/* When e is that library (same build-id, or same file) and has no DWARF
 * opened yet: waits for the thread and *pf becomes NULL. If the thread
 * found DWARF, e gets it and the prefetch itself, and true is returned;
 * if not, the prefetch is freed and e looks for its own. */
bool sym_prefetch_take(struct sym_prefetch **pf, struct sym_elf *e);
/* Stops (between steps), waits for and frees an unused prefetch. */
void sym_prefetch_free(struct sym_prefetch *pf);

/* ---- mappings of a process (maps.c) ---- */

struct sym_mapping {
	uint64_t start, end, pgoff;
	ino_t ino;
	const char *path;	/* as the process sees it; NULL when anonymous */
	const char *name;	/* shown as the module */
	bool deleted;
	bool resolved;
	struct sym_elf *elf;	/* NULL: not ELF or unreadable */
};

/* Reads the executable mappings of a /proc/PID/maps text, sorted by
 * address as the kernel writes them; paths and names are interned in
 * names. Sets *maps (to free) and returns how many. */
size_t sym_maps_read(FILE *f, struct sym_strings *names, struct sym_mapping **maps);

/* ---- modules of a process, for the unwinder (symbolizer.c) ---- */

/* name: shown name; fd: the file opened as the process sees it (the
 * callee owns it); bias: load address minus ELF virtual address. */
typedef void (*sym_module_fn)(void *arg, const char *name, int fd, uint64_t bias);
/* Calls fn once per ELF file mapped executable in pid. */
bool sym_process_modules(struct sonde_symbolizer *sym, pid_t pid, sym_module_fn fn, void *arg);

/* ---- unwind rules per code address (cfi_rules.c) ---- */

#if defined(__x86_64__)
#define SYM_DWARF_FP 6	/* rbp */
#define SYM_DWARF_SP 7	/* rsp */
#elif defined(__aarch64__)
#define SYM_DWARF_FP 29	/* x29 */
#define SYM_DWARF_SP 31	/* sp */
#endif

enum cfi_rule_kind {
	CFI_RULE_EMPTY,		/* a free slot */
	CFI_RULE_STEP,		/* the caller is found as the fields say */
	CFI_RULE_OUTERMOST,	/* the return address is undefined: no caller */
	CFI_RULE_LIBDWFL,	/* only libdwfl can tell */
	CFI_RULE_NO_MODULE,	/* in none of the modules reported (code mapped since?) */
};

enum cfi_fp_rule {
	CFI_FP_KEPT,		/* the caller's frame pointer is this frame's */
	CFI_FP_SAVED,		/* stored at CFA + fp_offset */
	CFI_FP_LOST,		/* undefined */
};

struct cfi_rule {
	uint64_t addr;		/* the code address (a return address minus 1) */
	int32_t cfa_offset;	/* CFA = cfa_reg + cfa_offset; the caller's SP */
	int32_t ra_offset;	/* the return address is stored at CFA + ra_offset */
	int32_t fp_offset;
	uint8_t kind;		/* enum cfi_rule_kind */
	uint8_t cfa_reg;	/* SYM_DWARF_SP or SYM_DWARF_FP */
	uint8_t fp;		/* enum cfi_fp_rule */
};

struct cfi_rules {
	struct cfi_rule *slots;	/* open addressing, a power of two */
	size_t cap, n;
};

/* The rule at addr of a process whose modules dwfl holds, from its CFI
 * on first use; never NULL (CFI_RULE_LIBDWFL when memory runs out). */
const struct cfi_rule *cfi_rule_at(struct cfi_rules *r, Dwfl *dwfl, uint64_t addr);
void cfi_rules_free(struct cfi_rules *r);

/* ---- JIT maps (perf_map.c) ---- */

/* Reads a /tmp/perf-PID.map text into t (sorted), its names into names
 * (which may outlive t). */
void perf_map_read(FILE *f, struct symtab *t, struct sym_strings *names);

#endif

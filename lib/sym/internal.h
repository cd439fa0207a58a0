/* Pieces of the symbolizer (lib/sym), shared between its files only. */
#ifndef SONDE_SYM_INTERNAL_H
#define SONDE_SYM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <elfutils/libdw.h>
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
	struct symtab symbols;
	/* The separate debug file, when the symbols or DWARF come from one. */
	int debug_fd;
	Elf *debug_elf;
	Elf *dwarf_elf;		/* the one with .debug_info, or NULL */
	Dwarf *dwarf;		/* opened on first use */
	bool dwarf_tried;
	/* Go's own function table: names, lines and inline frames of Go
	 * binaries without .symtab or DWARF. Opened on the first address no
	 * symbol covers. */
	struct sonde_gopclntab *gopclntab;
	bool gopclntab_tried;
	struct sym_elf *next;	/* in the symbolizer's cache */
};

/* Opens an ELF file: symbols, segments, build-id, and the debug file if
 * the file lacks .symtab or DWARF. root prefixes absolute debug paths
 * (the process's root, "" for ours). NULL when not ELF. Takes fd. */
struct sym_elf *sym_elf_open(int fd, const char *path, const char *root);
void sym_elf_free(struct sym_elf *e);
/* Frames of a Go binary's code from its pclntab, innermost first; 0 when
 * the file has none or the address is in no Go function. */
size_t sym_go_frames(struct sym_elf *e, uint64_t vaddr, struct sonde_frame *frames, size_t max);
/* File offset -> ELF virtual address, through the PT_LOAD containing it. */
bool sym_elf_offset_to_vaddr(const struct sym_elf *e, uint64_t offset, uint64_t *vaddr);

/* Finds the separate debug file of an ELF file: by build-id under
 * <root>/usr/lib/debug/.build-id, then by .gnu_debuglink next to the file,
 * in its .debug/ and under <root>/usr/lib/debug. Returns an open fd or -1. */
int sym_debug_file_find(Elf *elf, const uint8_t *build_id, size_t build_id_len,
			const char *path, const char *root);
/* Reads NT_GNU_BUILD_ID; returns its length (0 when there is none). */
size_t sym_elf_build_id(Elf *elf, uint8_t *id, size_t max);

/* Source line and inline frames of a virtual address from DWARF: fills
 * frames innermost first (inlined callees, then the containing function,
 * whose function name is left to the caller) and returns how many; 0
 * without DWARF for that address. */
size_t sym_dwarf_frames(Dwarf *dwarf, uint64_t vaddr, struct sonde_frame *frames, size_t max);

/* ---- modules of a process, for the unwinder (symbolizer.c) ---- */

/* name: shown name; fd: the file opened as the process sees it (the
 * callee owns it); bias: load address minus ELF virtual address. */
typedef void (*sym_module_fn)(void *arg, const char *name, int fd, uint64_t bias);
/* Calls fn once per ELF file mapped executable in pid. */
bool sym_process_modules(struct sonde_symbolizer *sym, pid_t pid, sym_module_fn fn, void *arg);

/* ---- JIT maps (perf_map.c) ---- */

/* Loads a /tmp/perf-PID.map file into t, its names into names (which
 * may outlive t); false when there is none. */
bool perf_map_load(struct symtab *t, struct symtab *names, const char *path);

#endif

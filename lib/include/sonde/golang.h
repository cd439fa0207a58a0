/* Go binary introspection without DWARF or a symbol table: the runtime's
 * own function table (.gopclntab) maps PCs to functions, files, lines and
 * inlined calls, and names to entry addresses — which is what uprobes on a
 * stripped Go binary need — and the build info (.go.buildinfo) says
 * whether a file is a Go binary and which Go built it.
 *
 * Both parsers take untrusted input: every offset and size read from the
 * file is checked against the image, malformed input yields an error,
 * never a crash, and nothing is allocated in proportion to the input. An
 * opened table is read-only: lookups may run from several threads.
 * Only little-endian binaries (amd64, arm64, 386, arm, riscv64, ...) are
 * understood. */
#ifndef SONDE_GOLANG_H
#define SONDE_GOLANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- function table (pclntab) ---- */

struct sonde_gopclntab;

/* Opens the pclntab of an ELF image in memory; the image must outlive the
 * table. Found by the .gopclntab section, else by scanning the read-only
 * data (or, with no section headers, the loaded segments) for a valid
 * table header. Formats: Go 1.2-1.15, 1.16-1.17, 1.18-1.19 and 1.20+.
 * 0 or -errno: -ENOEXEC not ELF, -ENOENT no pclntab, -EINVAL malformed,
 * -ENOTSUP a format not understood. Takes any bytes: fuzzers call it
 * directly. */
int sonde_gopclntab_open_image(const uint8_t *data, size_t size, struct sonde_gopclntab **out);
/* The same for a file: maps it read-only, unmapped by _free. */
int sonde_gopclntab_open_fd(int fd, struct sonde_gopclntab **out);
/* A bare table (e.g. copied from a process' memory), at an unknown
 * address: functions, files and lines, but no inline frames. */
int sonde_gopclntab_open_table(const uint8_t *data, size_t size, struct sonde_gopclntab **out);
void sonde_gopclntab_free(struct sonde_gopclntab *t);

/* "go1.2", "go1.16", "go1.18" or "go1.20": the first Go release that
 * writes the table's format. */
const char *sonde_gopclntab_format(const struct sonde_gopclntab *t);
/* Whether inline frames can be decoded (they need the runtime's module
 * data, which is found only in non-PIE ELF images opened whole). */
bool sonde_gopclntab_has_inline(const struct sonde_gopclntab *t);

struct sonde_go_func {
	const char *name;
	uint64_t entry;
	uint64_t end;	/* first byte after the code (end - entry = size) */
};

size_t sonde_gopclntab_nfuncs(const struct sonde_gopclntab *t);
/* Function i (in address order). 0 or -EINVAL if its record is bad. */
int sonde_gopclntab_func(const struct sonde_gopclntab *t, size_t i, struct sonde_go_func *f);
/* Functions called name (exact match; an assembly function and its ABI
 * wrapper share a name, e.g. runtime.newproc): fills up to max in address
 * order, returns how many matched (0 if none) or -EINVAL. A linear scan:
 * callers looking up many names should walk _func instead. */
int sonde_gopclntab_find(const struct sonde_gopclntab *t, const char *name,
			 struct sonde_go_func *out, size_t max);

struct sonde_go_frame {
	const char *function;	/* never NULL */
	const char *file;	/* NULL if unknown */
	int64_t line;		/* 0 if unknown */
	uint64_t entry;		/* entry of the function holding the code */
	bool inlined;		/* inlined into the next frame (its caller) */
};

/* The frames at pc, innermost first: a function inlined at pc comes
 * before its caller, like sonde_pprof_frame. For a return address, pass
 * the address minus one (the call instruction). Writes up to max frames
 * and returns how many there are, -ENOENT if pc is in no function, or
 * -EINVAL if the table is malformed there. */
int sonde_gopclntab_lookup(const struct sonde_gopclntab *t, uint64_t pc,
			   struct sonde_go_frame *frames, size_t max);

/* How far the stack pointer at pc is below where it was at the function's
 * entry (the pcsp table), in bytes: 0 in a function that has no frame
 * (Go gives small leaf functions none, and no frame pointer either) and
 * at an entry, where the return address is still at the stack pointer.
 * 0, -ENOENT if pc is in no function, or -EINVAL if the table is
 * malformed there. */
int sonde_gopclntab_sp_delta(const struct sonde_gopclntab *t, uint64_t pc, int32_t *delta);

/* ---- build info ---- */

struct sonde_go_buildinfo {
	char version[64];	/* "go1.19.8" */
	char path[256];		/* main package path, "" if not recorded */
	char module[256];	/* main module path, "" if not recorded (GOPATH builds) */
};

/* Reads the .go.buildinfo data of an ELF image: the section, or with no
 * section headers the writable data segment, starting with the
 * "\xff Go buildinf:" magic. Both the pointer-based (Go 1.13-1.17) and the
 * inline (Go 1.18+) formats. Where that header was removed, an image with
 * a Go pclntab still yields the runtime's version string and module info.
 * 0 or -errno: -ENOEXEC not ELF, -ENOENT not a Go binary, -EINVAL
 * malformed, -ENOTSUP big-endian. Takes any bytes: fuzzers call it
 * directly. */
int sonde_go_buildinfo_read_image(const uint8_t *data, size_t size, struct sonde_go_buildinfo *out);
int sonde_go_buildinfo_read_fd(int fd, struct sonde_go_buildinfo *out);

/* ---- runtime structures ---- */

/* Where the fields of runtime.g (a goroutine) a tracer reads lie, in
 * bytes from the start of the struct (amd64 and other 64-bit targets). */
struct sonde_go_g_offsets {
	uint32_t goid;		/* the goroutine id */
	uint32_t atomicstatus;	/* _Grunnable, _Grunning, ... _Gdead = 6 */
	uint32_t gopc;		/* pc of the go statement that created it */
	uint32_t startpc;	/* entry of its function */
};

enum sonde_go_layout_source {
	SONDE_GO_LAYOUT_DWARF,	/* the binary's own debug info */
	SONDE_GO_LAYOUT_TABLE,	/* the table for its Go release */
};

/* From the binary's DWARF (runtime.g's members): 0, -ENOENT no DWARF or
 * no runtime.g in it, -EINVAL a member missing or odd. */
int sonde_go_g_offsets_dwarf(int fd, struct sonde_go_g_offsets *out);
/* From the table, for a Go version as build info spells it ("go1.19.8",
 * "go1.21rc2"): 0, or -ENOTSUP for a release the table does not cover
 * (before Go 1.17, or newer than it knows), -EINVAL not a Go version. */
int sonde_go_g_offsets_for_version(const char *version, struct sonde_go_g_offsets *out);
/* DWARF when the binary has it, else the table for the release its
 * build info names. 0 or -errno as above; *source says which. */
int sonde_go_g_offsets_fd(int fd, struct sonde_go_g_offsets *out,
			  enum sonde_go_layout_source *source);

/* The address of a Go global variable (e.g. "runtime.allgs") from the
 * symbol table, else from the DWARF: 0, -ENOENT when neither has it (a
 * binary built with -ldflags=-s), -ENOEXEC not ELF. */
int sonde_go_variable_address(int fd, const char *name, uint64_t *addr);
/* Where runtime.allgs is in a binary without symbols (x86-64): the slice
 * runtime.allgadd appends to, found by decoding that function — the one
 * address it references at +0, +8 and +16 (pointer, length, capacity).
 * 0, -ENOENT no such function or not exactly one such address, -EIO
 * unreadable. A heuristic: callers check what they read there. */
int sonde_go_allgs_from_code(int fd, uint64_t *addr);

/* ---- a live process' goroutines ---- */

#define SONDE_GO_GDEAD 6	/* runtime._Gdead: a g on a free list */

struct sonde_go_g_info {
	uint64_t goid, gopc, startpc;
	uint32_t status;	/* runtime._G*, the _Gscan bit cleared */
};

/* How far process pid's executable is loaded from its link-time
 * addresses (0 unless it is position-independent). 0 or -errno. */
int sonde_go_load_bias(pid_t pid, uint64_t *bias);
/* Walks runtime.allgs (its link-time address allgs, plus bias) in the
 * memory of process pid (/proc/PID/mem: the caller needs to be allowed
 * to ptrace it) and calls fn for every goroutine that is not dead, with
 * the fields at offsets. Returns how many were reported, or -errno
 * (-EIO unreadable, -EINVAL a slice that makes no sense); fn returning
 * non-zero stops the walk. A running program changes allgs meanwhile:
 * what is read is one moment's view, good to a goroutine or two. */
int sonde_go_read_allgs(pid_t pid, uint64_t allgs, uint64_t bias,
			const struct sonde_go_g_offsets *offsets,
			int (*fn)(const struct sonde_go_g_info *g, void *ctx), void *ctx);

#endif

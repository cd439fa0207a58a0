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

#endif

/* Symbolization: kernel and user addresses to function names, modules,
 * source lines and inline frames.
 *
 * Kernel addresses resolve through /proc/kallsyms (loaded once). User
 * addresses resolve through the process's own view of its files
 * (/proc/PID/root, /proc/PID/map_files for deleted or replaced ones), so
 * containers and upgraded binaries work; symbol tables are shared between
 * processes mapping the same file. Separate debug files are found by
 * build-id and .gnu_debuglink; DWARF, when present, adds file:line and a
 * frame per inlined function. JIT code resolves through /tmp/perf-PID.map.
 *
 * Lookups never fail: an address nothing knows still yields one frame
 * whose function is NULL and whose module and offset say where it was. */
#ifndef SONDE_SYM_H
#define SONDE_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sonde_symbolizer;

struct sonde_frame {
	const char *function;	/* NULL when unknown */
	uint64_t offset;	/* from the function's start (not for inlined frames) */
	const char *module;	/* "libc.so.6", "[kernel]", "nf_tables", "[anon]"; NULL if none */
	uint64_t module_offset;	/* address inside the module (ELF virtual address) */
	const char *build_id;	/* the module's GNU build-id in hex; NULL if none */
	const char *file;	/* source file, NULL without DWARF */
	unsigned line;
	bool inlined;		/* inlined into the frame that follows */
	bool kernel;
};

/* Frames one address can expand to: the inlined functions, innermost
 * first, then the function that contains them. */
#define SONDE_SYM_MAX_FRAMES 8

/* Strings in frames stay valid until the symbolizer is freed, or until
 * sonde_sym_forget_exited() (function and file names of the files it
 * drops; module names stay). */
struct sonde_symbolizer *sonde_symbolizer_new(void);
void sonde_symbolizer_free(struct sonde_symbolizer *sym);

/* Where /proc is read from ("/proc" by default); for tests. */
void sonde_symbolizer_set_proc(struct sonde_symbolizer *sym, const char *proc_root);

/* Starts reading the kernel's symbols (on a thread of its own; the first
 * lookup waits for it); without this call, the first lookup reads them.
 * /proc/kallsyms shows addresses only to a reader with CAP_SYSLOG when it
 * is opened, so a tool calls this, or sonde_sym_kernel_open() first, before
 * dropping capabilities. Returns false when they are hidden or unreadable
 * (frames are then unknown). */
bool sonde_sym_kernel_load(struct sonde_symbolizer *sym);
/* Only opens kallsyms: the reading starts with sonde_sym_kernel_load() or
 * the first lookup. Kept apart so that a tool's start-up does not share
 * the CPUs with ~70 ms of reading. */
bool sonde_sym_kernel_open(struct sonde_symbolizer *sym);
/* Starts reading on a thread what sonde_sym_kernel_open() opened; nothing
 * when it was not (opened now, without CAP_SYSLOG, kallsyms would show
 * every address as 0). */
void sonde_sym_kernel_read_ahead(struct sonde_symbolizer *sym);

/* Starts opening, on a thread of its own, the DWARF of the C library
 * that process pid maps (pid 0: the one this tool runs on, unless the tool
 * runs in a container and the machine's processes do not share its root).
 * Its compressed debug sections take ~50 ms to inflate, which the first
 * libc frame would otherwise wait for: a stack tool's report at exit.
 * The first lookup in that library waits for the thread. Returns false
 * when no C library was found or no thread could start. */
bool sonde_sym_prefetch_libc(struct sonde_symbolizer *sym, pid_t pid);
/* Whether that prefetch is still waiting to be taken (for tests). */
bool sonde_sym_prefetch_pending(const struct sonde_symbolizer *sym);

/* Fills up to max frames (max >= 1) for a kernel address; returns how
 * many. Kernel frames carry no inline expansion. */
size_t sonde_sym_kernel(struct sonde_symbolizer *sym, uint64_t addr,
			struct sonde_frame *frames, size_t max);

/* The same for an address in process pid. return_address: the address
 * was taken from a stack (a caller's frame), so it points after the call;
 * source lines and inline frames are looked up for the call itself. */
size_t sonde_sym_user(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr,
		      bool return_address, struct sonde_frame *frames, size_t max);

/* Reads the mappings of a process and opens its files now, so that its
 * addresses still resolve after it has exited (a -p target). Returns
 * false when its mappings cannot be read. */
bool sonde_sym_user_prepare(struct sonde_symbolizer *sym, pid_t pid);

/* How the stacks of each code mapping of process pid are walked: fn gets
 * its range, module name and enum sonde_code_kind (sonde/unwind_ranges.h;
 * the rule is in lib/sym/frame_pointers.c; code not from a file, such as
 * JIT code, counts as keeping frame pointers). Returns false when its
 * mappings cannot be read. */
typedef void (*sonde_sym_code_fn)(void *arg, uint64_t start, uint64_t end, const char *module,
				  int kind);
bool sonde_sym_user_code(struct sonde_symbolizer *sym, pid_t pid, sonde_sym_code_fn fn, void *arg);

/* Whether addr in process pid is Go code at an instruction where its
 * function has no frame (a frameless leaf, or an entry): the return
 * address is then at the stack pointer, and a frame-pointer walk skips
 * the caller it points into. */
bool sonde_sym_user_frameless(struct sonde_symbolizer *sym, pid_t pid, uint64_t addr);

/* Reads the mappings of a process already cached again (it mapped new
 * code); false when it is not cached or has gone (its old mappings
 * stay). */
bool sonde_sym_refresh(struct sonde_symbolizer *sym, pid_t pid);

/* Drops what is cached about a process (e.g. it exited). */
void sonde_sym_forget(struct sonde_symbolizer *sym, pid_t pid);
/* Drops what is cached about every process that has exited since, and
 * the files that only they mapped: once their addresses are printed
 * (after each interval of a system-wide profile, whose symbolizer would
 * otherwise keep every process and file it ever saw). Function and file
 * names of frames from before point into those files: done with them
 * first. */
void sonde_sym_forget_exited(struct sonde_symbolizer *sym);

enum sonde_frame_format_flags {
	SONDE_FRAME_OFFSET = 1 << 0,	/* "func+0x1a" rather than "func" */
	SONDE_FRAME_LINE = 1 << 1,	/* append " (file.c:12)" when known */
};

/* "func", "func+0x1a" or, when the function is unknown, always
 * "[unknown] (libfoo.so+0x1234)". Returns the length the whole text
 * needs, like snprintf. */
int sonde_frame_format(const struct sonde_frame *f, unsigned flags, char *buf, size_t size);

#endif

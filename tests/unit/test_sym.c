/* lib/sym against fixture libraries built with known functions: names,
 * offsets, inline frames and lines, a stripped copy resolved through its
 * debug file, a deleted file, JIT maps, kallsyms, unknown addresses. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <libelf.h>
#include <sonde/sym.h>
#include <sonde/unwind_ranges.h>

#include "check.h"
#include "fixtures.h"
#include "symfix.h"

static struct sonde_symbolizer *sym;

static const struct symfix_info *load_fixture(const char *path, void **handle)
{
	const struct symfix_info *(*run)(void);

	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return NULL;
	}
	run = (const struct symfix_info *(*)(void))dlsym(*handle, "symfix_run");
	/* Mapped after the symbolizer last read our maps. */
	sonde_sym_forget(sym, getpid());
	return run ? run() : NULL;
}

static const char *format(const struct sonde_frame *f, unsigned flags)
{
	static char buf[512];

	sonde_frame_format(f, flags, buf, sizeof(buf));
	return buf;
}

/* The same truth, whichever copy of the library (and so wherever its
 * symbols and DWARF came from). */
static void check_fixture(const char *path, const char *module)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	char expected[64];
	void *h;
	const struct symfix_info *info = load_fixture(path, &h);
	size_t n;

	CHECK(info);
	if (!info)
		return;
	n = sonde_sym_user(sym, getpid(), (uintptr_t)info->hidden, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1);
	CHECK_STR(frames[n - 1].function, "symfix_hidden");
	CHECK_U64(frames[n - 1].offset, 0);
	CHECK_STR(frames[n - 1].module, module);

	n = sonde_sym_user(sym, getpid(), (uintptr_t)info->outer + 1, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1);
	CHECK_STR(format(&frames[n - 1], SONDE_FRAME_OFFSET), "symfix_outer+0x1");

	/* The call sits in symfix_inlined, inlined into symfix_outer: two
	 * frames for one address, innermost first, each with its line. */
	n = sonde_sym_user(sym, getpid(), (uintptr_t)info->return_address, true, frames, SONDE_SYM_MAX_FRAMES);
	CHECK_U64(n, 2);
	if (n != 2)
		return;
	CHECK_STR(frames[0].function, "symfix_inlined");
	CHECK(frames[0].inlined);
	CHECK_U64(frames[0].line, info->call_line);
	CHECK(frames[0].file && strstr(frames[0].file, "symfix.c"));
	CHECK_STR(frames[1].function, "symfix_outer");
	CHECK(!frames[1].inlined);
	CHECK(frames[1].line > 0 && frames[1].line < info->call_line + 20);
	CHECK_STR(frames[1].module, module);
	CHECK_U64(frames[1].offset, (uintptr_t)info->return_address - (uintptr_t)info->outer);
	snprintf(expected, sizeof(expected), "symfix_inlined (symfix.c:%u)", info->call_line);
	CHECK_STR(format(&frames[0], SONDE_FRAME_OFFSET | SONDE_FRAME_LINE), expected);

	/* Asked again (from the file's cache now): the same frames; asked
	 * for fewer, the containing function still comes last. */
	struct sonde_frame again[SONDE_SYM_MAX_FRAMES];

	CHECK_U64(sonde_sym_user(sym, getpid(), (uintptr_t)info->return_address, true, again,
				 SONDE_SYM_MAX_FRAMES), 2);
	for (size_t i = 0; i < 2; i++) {
		CHECK_STR(again[i].function, frames[i].function);
		CHECK_U64(again[i].line, frames[i].line);
		CHECK_U64(again[i].inlined, frames[i].inlined);
		CHECK_U64(again[i].offset, frames[i].offset);
	}
	CHECK_U64(sonde_sym_user(sym, getpid(), (uintptr_t)info->return_address, true, again, 1), 1);
	CHECK_STR(again[0].function, "symfix_outer");
}

static void with_symbols_and_dwarf(void)
{
	check_fixture(SYMFIX_DIR "/libsymfix.so", "libsymfix.so");
}

static void stripped_with_debuglink(void)
{
	check_fixture(SYMFIX_DIR "/libsymfix-stripped.so", "libsymfix-stripped.so");
}

/* A library deleted after it was mapped (an upgrade): read through
 * /proc/PID/map_files, which needs privileges. */
static void deleted_file(void)
{
	char path[] = "/tmp/sonde-symfix-XXXXXX";
	int out = mkstemp(path);
	const struct symfix_info *info;
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	void *h;
	size_t n;

	CHECK(out >= 0);
	close(out);
	CHECK(fixture_copy(SYMFIX_DIR "/libsymfix.so", path));
	info = load_fixture(path, &h);
	unlink(path);
	CHECK(info);
	if (!info)
		return;
	n = sonde_sym_user(sym, getpid(), (uintptr_t)info->hidden, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1);
	CHECK_STR(frames[n - 1].module, strrchr(path, '/') + 1);
	if (geteuid() == 0)
		CHECK_STR(frames[n - 1].function, "symfix_hidden");
	else	/* no map_files access: still a module and an offset */
		CHECK(!strncmp(format(&frames[n - 1], 0), "[unknown] (sonde-symfix-", 24));
}

static int in_executable(int x)
{
	return x + 1;
}

/* The test program itself is a PIE: addresses translate through its
 * load address. */
static void own_executable(void)
{
	int (*volatile f)(int) = in_executable;
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t n = sonde_sym_user(sym, getpid(), (uintptr_t)f + 2, false, frames, SONDE_SYM_MAX_FRAMES);

	CHECK(n >= 1);
	CHECK_STR(format(&frames[n - 1], SONDE_FRAME_OFFSET), "in_executable+0x2");
	CHECK_STR(frames[n - 1].module, "test_sym");
	CHECK(f(1) == 2);
}

/* A process that has exited is dropped after its addresses were printed;
 * module names frames pointed at stay valid. (A forked child maps what we
 * map: our own function resolves in it.) */
static void exited_processes_forgotten(void)
{
	int (*volatile f)(int) = in_executable;
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	const char *module;
	pid_t child = fork();
	size_t n;

	if (!child) {
		pause();
		_exit(0);
	}
	CHECK(child > 0);
	CHECK(sonde_sym_user_prepare(sym, child));
	n = sonde_sym_user(sym, child, (uintptr_t)f + 2, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1);
	CHECK_STR(frames[n - 1].function, "in_executable");
	module = frames[n - 1].module;
	/* Still alive: kept. */
	sonde_sym_forget_exited(sym);
	n = sonde_sym_user(sym, child, (uintptr_t)f + 2, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1 && frames[n - 1].function);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Gone, but not forgotten until asked: its stacks print first. */
	n = sonde_sym_user(sym, child, (uintptr_t)f + 2, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1 && frames[n - 1].function);
	sonde_sym_forget_exited(sym);
	n = sonde_sym_user(sym, child, (uintptr_t)f + 2, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n == 1 && !frames[0].function);
	CHECK_STR(module, "test_sym");
}

/* Code nothing describes: never dropped, named by module and offset. */
static void unknown_code(void)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	char *page = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t n;

	CHECK(page != MAP_FAILED);
	sonde_sym_forget(sym, getpid());
	n = sonde_sym_user(sym, getpid(), (uintptr_t)page + 0x10, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK_U64(n, 1);
	CHECK(!frames[0].function);
	CHECK_STR(format(&frames[0], SONDE_FRAME_OFFSET), "[unknown] ([anon]+0x10)");
	/* Outside every mapping: no module at all, the raw address. */
	n = sonde_sym_user(sym, getpid(), 0x10, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK_U64(n, 1);
	CHECK_STR(format(&frames[0], 0), "[unknown] (?+0x10)");
	munmap(page, 4096);
}

/* A JIT's /tmp/perf-PID.map names anonymous executable code. */
static void jit_perf_map(void)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	char *page = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "w");
	CHECK(f && page != MAP_FAILED);
	if (!f)
		return;
	fprintf(f, "%lx 40 LazyCompile:~handler app.js:12\n", (unsigned long)(uintptr_t)page + 0x100);
	fprintf(f, "%lx 20 Builtin:Add\n", (unsigned long)(uintptr_t)page + 0x1000);
	fclose(f);
	sonde_sym_forget(sym, getpid());
	n = sonde_sym_user(sym, getpid(), (uintptr_t)page + 0x108, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK_U64(n, 1);
	CHECK_STR(format(&frames[0], SONDE_FRAME_OFFSET), "LazyCompile:~handler app.js:12+0x8");
	/* Names outlive what the symbolizer forgets about the process. */
	sonde_sym_forget(sym, getpid());
	CHECK_STR(frames[0].function, "LazyCompile:~handler app.js:12");
	n = sonde_sym_user(sym, getpid(), (uintptr_t)page + 0x1020, false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(!frames[0].function);	/* past Builtin:Add's 0x20 bytes */
	unlink(path);
	munmap(page, 8192);
}

static size_t build_id_hex(const char *path, char *hex, size_t size)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	const unsigned char *id;
	ssize_t len = -1;

	elf_version(EV_CURRENT);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	if (elf)
		len = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	for (ssize_t i = 0; i < len && (size_t)(2 * i + 2) < size; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return len > 0 ? len : 0;
}

/* A process in a container: /lib/libsymfix.so exists only under its
 * root, stripped and without a debuglink; its debug file sits in the
 * container's /usr/lib/debug/.build-id. A fake /proc describes it. */
static void container_root_and_build_id(void)
{
	const struct symfix_info *info;
	struct sonde_symbolizer *c;
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	char *dir = fixture_tree_new("symroot");
	char path[512], id[128], target[512], maps[128];
	const uint64_t start = 0x7f0000000000ull;
	struct stat st;
	Dl_info dl;
	void *h;
	size_t n;

	info = load_fixture(SYMFIX_DIR "/libsymfix.so", &h);
	CHECK(info && dladdr(info->hidden, &dl));
	CHECK(build_id_hex(SYMFIX_DIR "/libsymfix-nolink.so", id, sizeof(id)) > 1);
	if (!info || !dl.dli_fbase || !id[0]) {
		fixture_tree_remove(dir);
		return;
	}
	fixture_mkdirs(dir, "proc/4242");
	fixture_mkdirs(dir, "root/lib");
	snprintf(path, sizeof(path), "root/usr/lib/debug/.build-id/%.2s", id);
	fixture_mkdirs(dir, path);
	snprintf(path, sizeof(path), "%s/root/usr/lib/debug/.build-id/%.2s/%s.debug", dir, id, id + 2);
	CHECK(fixture_copy(SYMFIX_DIR "/libsymfix-stripped.so.debug", path));
	snprintf(path, sizeof(path), "%s/root/lib/libsymfix.so", dir);
	CHECK(fixture_copy(SYMFIX_DIR "/libsymfix-nolink.so", path) && !stat(path, &st));
	snprintf(target, sizeof(target), "%s/root", dir);
	snprintf(path, sizeof(path), "%s/proc/4242/root", dir);
	CHECK(!symlink(target, path));
	/* Mapped from offset 0: in the text segment offsets are addresses. */
	snprintf(maps, sizeof(maps), "%llx-%llx r-xp 00000000 00:00 %lu /lib/libsymfix.so\n",
		 (unsigned long long)start, (unsigned long long)start + 0x100000,
		 (unsigned long)st.st_ino);
	fixture_write(dir, "proc/4242/maps", maps);
	snprintf(path, sizeof(path), "%s/proc", dir);
	c = sonde_symbolizer_new();
	sonde_symbolizer_set_proc(c, path);
	n = sonde_sym_user(c, 4242, start + ((uintptr_t)info->hidden - (uintptr_t)dl.dli_fbase),
			   false, frames, SONDE_SYM_MAX_FRAMES);
	CHECK(n >= 1);
	CHECK_STR(frames[n - 1].function, "symfix_hidden");
	CHECK_STR(frames[n - 1].module, "libsymfix.so");
	n = sonde_sym_user(c, 4242, start + ((uintptr_t)info->return_address - (uintptr_t)dl.dli_fbase),
			   true, frames, SONDE_SYM_MAX_FRAMES);
	CHECK_U64(n, 2);
	CHECK_STR(frames[0].function, "symfix_inlined");
	CHECK_STR(frames[n - 1].function, "symfix_outer");
	/* Every frame names its file's build-id (pprof mappings carry it). */
	for (size_t i = 0; i < n; i++)
		CHECK_STR(frames[i].build_id, id);
	sonde_symbolizer_free(c);
	fixture_tree_remove(dir);
}

struct kinds {
	int symfix, symfix_stripped, libc;
};

static void note_kind(void *arg, uint64_t start, uint64_t end, const char *module, int kind)
{
	struct kinds *k = arg;

	CHECK(start < end);
	if (!strcmp(module, "libsymfix.so"))
		k->symfix = kind;
	else if (!strcmp(module, "libsymfix-stripped.so"))
		k->symfix_stripped = kind;
	else if (!strcmp(module, "libc.so.6"))
		k->libc = kind;
}

/* --unwind auto's rule: the fixture is built with frame pointers (its
 * stripped copy too, judged by its debug file's symbols); Debian's libc
 * is not. */
static void code_kinds(void)
{
	struct kinds k = {-1, -1, -1};
	void *h1, *h2;

	CHECK(load_fixture(SYMFIX_DIR "/libsymfix.so", &h1));
	CHECK(load_fixture(SYMFIX_DIR "/libsymfix-stripped.so", &h2));
	CHECK(sonde_sym_user_code(sym, getpid(), note_kind, &k));
	CHECK_U64(k.symfix, SONDE_CODE_FRAME_POINTERS);
	CHECK_U64(k.symfix_stripped, SONDE_CODE_FRAME_POINTERS);
#if defined(__x86_64__)
	CHECK_U64(k.libc, SONDE_CODE_NO_FRAME_POINTERS);
#endif
	CHECK(!sonde_sym_user_frameless(sym, getpid(), (uintptr_t)code_kinds));
}

static char *proc_with_kallsyms(const char *kallsyms)
{
	char *dir = fixture_tree_new("symproc");

	fixture_write(dir, "kallsyms", kallsyms);
	return dir;
}

/* A symbolizer that reads /proc from proc (a fixture tree); NULL when
 * either is missing. */
static struct sonde_symbolizer *symbolizer_reading(const char *proc)
{
	struct sonde_symbolizer *sym = proc ? sonde_symbolizer_new() : NULL;

	if (sym)
		sonde_symbolizer_set_proc(sym, proc);
	return sym;
}

static void kernel_symbols(void)
{
	char *dir = proc_with_kallsyms(
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 t do_one_initcall\n"
		"ffffffff81000200 D some_data\n"
		"ffffffff81000300 T schedule\n"
		"ffffffffc0001000 t nft_do_chain\t[nf_tables]\n"
		"ffffffffc0001080 t nft_lookup\t[nf_tables]\n");
	struct sonde_symbolizer *k = symbolizer_reading(dir);
	struct sonde_frame f;

	CHECK(k);
	if (!k) {
		fixture_tree_remove(dir);
		return;
	}
	CHECK_U64(sonde_sym_kernel(k, 0xffffffff81000123ull, &f, 1), 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "do_one_initcall+0x23");
	CHECK_STR(f.module, "[kernel]");
	CHECK(f.kernel);
	/* Data symbols are not functions: schedule's range is not cut. */
	sonde_sym_kernel(k, 0xffffffff81000250ull, &f, 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "do_one_initcall+0x150");
	sonde_sym_kernel(k, 0xffffffffc0001090ull, &f, 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "nft_lookup+0x10");
	CHECK_STR(f.module, "nf_tables");
	sonde_sym_kernel(k, 0x1000, &f, 1);
	CHECK_STR(format(&f, 0), "[unknown] ([kernel]+0x1000)");
	sonde_symbolizer_free(k);
	fixture_tree_remove(dir);
}

/* kptr_restrict hides addresses: every frame is unknown, none dropped. */
static void kernel_symbols_hidden(void)
{
	char *dir = proc_with_kallsyms("0000000000000000 T _stext\n0000000000000000 T schedule\n");
	struct sonde_symbolizer *k = symbolizer_reading(dir);
	struct sonde_frame f;

	CHECK(k);
	if (!k) {
		fixture_tree_remove(dir);
		return;
	}
	CHECK_U64(sonde_sym_kernel(k, 0xffffffff81000123ull, &f, 1), 1);
	CHECK_STR(format(&f, 0), "[unknown] ([kernel]+0xffffffff81000123)");
	sonde_symbolizer_free(k);
	fixture_tree_remove(dir);
}

/* Loaded ahead (on its own thread) as a tool does before dropping
 * capabilities: per-CPU symbols at 0 listed first do not look hidden, and
 * lookups wait for the reading. */
static void kernel_symbols_ahead(void)
{
	char *dir = proc_with_kallsyms("0000000000000000 A fixed_percpu_data\n"
				       "0000000000001000 A cpu_number\n"
				       "ffffffff81000000 T _stext\n"
				       "ffffffff81000300 T schedule\n");
	char *hidden = proc_with_kallsyms("0000000000000000 A fixed_percpu_data\n"
					  "0000000000000000 T _stext\n");
	struct sonde_symbolizer *k = symbolizer_reading(dir), *h = symbolizer_reading(hidden);
	struct sonde_symbolizer *unused = symbolizer_reading(dir);
	struct sonde_frame f;

	CHECK(k && h && unused);
	if (!k || !h || !unused)
		return;
	CHECK(sonde_sym_kernel_load(k));
	CHECK(sonde_sym_kernel_load(k));
	CHECK(!sonde_sym_kernel_load(h));
	CHECK(sonde_sym_kernel_load(unused));
	CHECK_U64(sonde_sym_kernel(k, 0xffffffff81000310ull, &f, 1), 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "schedule+0x10");
	sonde_sym_kernel(h, 0xffffffff81000310ull, &f, 1);
	CHECK_STR(format(&f, 0), "[unknown] ([kernel]+0xffffffff81000310)");
	/* Freed before any lookup: the reading is abandoned, nothing leaks. */
	sonde_symbolizer_free(unused);
	sonde_symbolizer_free(k);
	sonde_symbolizer_free(h);
	fixture_tree_remove(dir);
	fixture_tree_remove(hidden);
}

/* Opened only (a tool's before_load): the file is kept, and read by the
 * first lookup when no thread was started; or read ahead afterwards; or,
 * freed unread, never read. */
static void kernel_symbols_opened_then_read(void)
{
	char *dir = proc_with_kallsyms("ffffffff81000000 T _stext\n"
				       "ffffffff81000300 T schedule\n");
	struct sonde_symbolizer *lazy = symbolizer_reading(dir), *ahead = symbolizer_reading(dir);
	struct sonde_symbolizer *unread = symbolizer_reading(dir);
	struct sonde_frame f;

	CHECK(lazy && ahead && unread);
	if (!lazy || !ahead || !unread)
		return;
	CHECK(sonde_sym_kernel_open(lazy));
	CHECK(sonde_sym_kernel_open(ahead));
	CHECK(sonde_sym_kernel_open(unread));
	/* Gone by the time of the lookups: the opened file is what counts. */
	fixture_tree_remove(dir);
	sonde_sym_kernel_read_ahead(ahead);
	CHECK_U64(sonde_sym_kernel(lazy, 0xffffffff81000310ull, &f, 1), 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "schedule+0x10");
	CHECK_U64(sonde_sym_kernel(ahead, 0xffffffff81000308ull, &f, 1), 1);
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "schedule+0x8");
	sonde_symbolizer_free(unread);
	sonde_symbolizer_free(lazy);
	sonde_symbolizer_free(ahead);
}

/* Read ahead without having been opened: it does not open kallsyms (a
 * tool has dropped CAP_SYSLOG by then); the first lookup does. */
static void kernel_symbols_read_ahead_opens_nothing(void)
{
	char *dir = proc_with_kallsyms("ffffffff81000000 T _stext\n"
				       "ffffffff81000300 T schedule\n");
	struct sonde_symbolizer *k = symbolizer_reading(dir);
	struct sonde_frame f;

	CHECK(k);
	if (!k)
		return;
	sonde_sym_kernel_read_ahead(k);
	fixture_tree_remove(dir);
	sonde_sym_kernel(k, 0xffffffff81000310ull, &f, 1);
	CHECK_STR(format(&f, 0), "[unknown] ([kernel]+0xffffffff81000310)");
	sonde_symbolizer_free(k);
}

/* The executable mapping of our C library, from /proc/self/maps. */
static bool libc_text(uint64_t *start, uint64_t *end)
{
	char line[512], perms[8], path[256];
	FILE *f = fopen("/proc/self/maps", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %255s", start, end,
			       perms, path) == 4 &&
			strchr(perms, 'x') && strstr(path, "/libc.so");
	if (f)
		fclose(f);
	return found;
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The C library's DWARF opened ahead on a thread is taken by the first
 * lookup in libc, and names every address as DWARF opened on demand
 * does: functions, inline frames, files and lines. */
static void libc_debug_info_ahead(void)
{
	struct sonde_symbolizer *ahead = sonde_symbolizer_new(), *plain = sonde_symbolizer_new();
	struct sonde_symbolizer *unused = sonde_symbolizer_new();
	struct sonde_frame a[SONDE_SYM_MAX_FRAMES], p[SONDE_SYM_MAX_FRAMES];
	uint64_t start, end;
	size_t lookups = 0, with_lines = 0;

	CHECK(ahead && plain && unused && libc_text(&start, &end));
	if (!ahead || !plain || !unused || !libc_text(&start, &end))
		return;
	CHECK(!sonde_sym_prefetch_pending(ahead));
	CHECK(sonde_sym_prefetch_libc(ahead, getpid()));
	CHECK(sonde_sym_prefetch_pending(ahead));
	/* Another file first: the prefetch waits for its own. */
	CHECK(sonde_sym_user(ahead, getpid(), (uintptr_t)libc_text, false, a, 1) >= 1);
	CHECK(sonde_sym_prefetch_pending(ahead));
	for (uint64_t addr = start; addr < end; addr += 4093, lookups++) {
		size_t na = sonde_sym_user(ahead, getpid(), addr, false, a, SONDE_SYM_MAX_FRAMES);
		size_t np = sonde_sym_user(plain, getpid(), addr, false, p, SONDE_SYM_MAX_FRAMES);

		CHECK_MSG(na == np, "0x%" PRIx64 ": %zu frames ahead, %zu on demand", addr, na, np);
		for (size_t i = 0; i < na && i < np; i++) {
			CHECK_MSG(same_string(a[i].function, p[i].function) &&
					  same_string(a[i].file, p[i].file) && a[i].line == p[i].line &&
					  a[i].inlined == p[i].inlined,
				  "0x%" PRIx64 " frame %zu: %s %s:%u, on demand %s %s:%u", addr, i,
				  a[i].function, a[i].file, a[i].line, p[i].function, p[i].file,
				  p[i].line);
			with_lines += p[i].file != NULL;
		}
		if (addr == start)
			CHECK(!sonde_sym_prefetch_pending(ahead));
	}
	CHECK(lookups > 100);
	printf("     libc: %zu addresses, %zu frames with lines (libc6-dbg gives them)\n", lookups,
	       with_lines);
	/* Freed unused: the thread is stopped and waited for, nothing leaks. */
	CHECK(sonde_sym_prefetch_libc(unused, getpid()));
	sonde_symbolizer_free(unused);
	sonde_symbolizer_free(ahead);
	sonde_symbolizer_free(plain);
}

static void format_truncates(void)
{
	struct sonde_frame f = {.function = "a_rather_long_function_name", .offset = 0x10,
				.file = "/src/dir/file.c", .line = 42};
	char buf[8];

	CHECK_U64(sonde_frame_format(&f, SONDE_FRAME_OFFSET | SONDE_FRAME_LINE, buf, sizeof(buf)),
		  strlen("a_rather_long_function_name+0x10 (file.c:42)"));
	CHECK_STR(buf, "a_rathe");
	CHECK_STR(format(&f, SONDE_FRAME_LINE), "a_rather_long_function_name (file.c:42)");
	f.inlined = true;
	CHECK_STR(format(&f, SONDE_FRAME_OFFSET), "a_rather_long_function_name");
}

int main(void)
{
	sym = sonde_symbolizer_new();
	if (!sym)
		return 1;
	RUN(with_symbols_and_dwarf);
	RUN(stripped_with_debuglink);
	RUN(deleted_file);
	RUN(own_executable);
	RUN(exited_processes_forgotten);
	RUN(container_root_and_build_id);
	RUN(unknown_code);
	RUN(jit_perf_map);
	RUN(kernel_symbols);
	RUN(kernel_symbols_hidden);
	RUN(kernel_symbols_ahead);
	RUN(kernel_symbols_opened_then_read);
	RUN(kernel_symbols_read_ahead_opens_nothing);
	RUN(libc_debug_info_ahead);
	RUN(format_truncates);
	RUN(code_kinds);
	sonde_symbolizer_free(sym);
	return CHECK_DONE();
}

/* Function exits found by decoding, on the Go binary built for the test
 * (tests/workloads/gosym), with symbols and stripped, against Go's own
 * disassembler: every RET `go tool objdump` shows in main.* and no other
 * exit; the runtime's assembly tail calls (morestack_noctxt jumps to
 * morestack, mcall to badmcall and badmcall2) reported as tail jumps with
 * their targets; every function of the binary decodes. Then bad input:
 * truncated files, ranges outside the code, huge and reversed ranges,
 * non-x86 and non-ELF bytes.
 *
 *   test_retinsn BINARY STRIPPED OBJDUMP */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/golang.h>
#include <sonde/retinsn.h>
#include <sonde/uprobe.h>

#include "check.h"

static const char *binary_path, *stripped_path, *objdump_path;

struct file {
	uint8_t *data;
	size_t size;
};

static struct file read_file(const char *path)
{
	struct file f = {0};
	FILE *in = fopen(path, "rb");

	if (!in) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(in, 0, SEEK_END);
	f.size = (size_t)ftell(in);
	rewind(in);
	f.data = malloc(f.size + 1);
	if (!f.data || fread(f.data, 1, f.size, in) != f.size)
		exit(1);
	f.data[f.size] = 0;
	fclose(in);
	return f;
}

static struct sonde_go_func find_one(const struct sonde_gopclntab *t, const char *name)
{
	struct sonde_go_func f = {0};

	CHECK_U64(sonde_gopclntab_find(t, name, &f, 1), 1);
	return f;
}

/* Is addr the entry of a function called name? The pclntab names an
 * assembly function and its ABI wrapper alike (no ".abi0"). */
static bool entry_of(const struct sonde_gopclntab *t, const char *name, uint64_t addr)
{
	struct sonde_go_func f[4];
	int n = sonde_gopclntab_find(t, name, f, 4);

	for (int i = 0; i < n && i < 4; i++)
		if (f[i].entry == addr)
			return true;
	return false;
}

#define MAX_RETS 64

/* The RET addresses objdump lists in function name ("TEXT name(SB) ..."). */
static size_t objdump_rets(const char *name, uint64_t *rets)
{
	struct file dump = read_file(objdump_path);
	char *save, *line, header[256];
	bool inside = false;
	size_t n = 0;

	snprintf(header, sizeof(header), "TEXT %s(SB) ", name);
	for (line = strtok_r((char *)dump.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t addr;
		char where[128], hex[64], op[16];

		if (!strncmp(line, "TEXT ", 5)) {
			inside = !strncmp(line, header, strlen(header));
			continue;
		}
		if (inside && sscanf(line, " %127s %" SCNx64 " %63s %15s", where, &addr, hex, op) == 4 &&
		    !strcmp(op, "RET") && n < MAX_RETS)
			rets[n++] = addr;
	}
	free(dump.data);
	return n;
}

static struct sonde_gopclntab *open_table(const struct file *f)
{
	struct sonde_gopclntab *t = NULL;

	CHECK_U64(sonde_gopclntab_open_image(f->data, f->size, &t), 0);
	return t;
}

static void returns_match_objdump(void)
{
	static const char *const functions[] = {"main.spin", "main.main", "main.main.func1"};
	const char *paths[] = {binary_path, stripped_path};

	for (size_t p = 0; p < 2; p++) {
		struct file bin = read_file(paths[p]);
		struct sonde_gopclntab *t = open_table(&bin);

		for (size_t i = 0; t && i < sizeof(functions) / sizeof(*functions); i++) {
			struct sonde_go_func f = find_one(t, functions[i]);
			struct sonde_func_exit exits[MAX_RETS];
			uint64_t want[MAX_RETS];
			size_t nwant = objdump_rets(functions[i], want);
			int n = sonde_func_exits_image(bin.data, bin.size, f.entry, f.end, exits, MAX_RETS);

			CHECK(nwant >= 1);
			CHECK_U64(n, nwant);
			for (size_t j = 0; j < nwant && j < (size_t)n; j++) {
				CHECK_U64(exits[j].vaddr, want[j]);
				CHECK_U64(exits[j].kind, SONDE_EXIT_RET);
			}
		}
		sonde_gopclntab_free(t);
		free(bin.data);
	}
}

/* Hand-written assembly leaves by JMP to another function. */
static void tail_jumps(void)
{
	struct file bin = read_file(stripped_path);
	struct sonde_gopclntab *t = open_table(&bin);
	struct sonde_func_exit exits[8];

	if (!t)
		return;
	struct sonde_go_func noctxt = find_one(t, "runtime.morestack_noctxt");
	int n = sonde_func_exits_image(bin.data, bin.size, noctxt.entry, noctxt.end, exits, 8);

	CHECK_U64(n, 1);
	CHECK_U64(exits[0].kind, SONDE_EXIT_TAIL_JUMP);
	CHECK(entry_of(t, "runtime.morestack", exits[0].target));
	CHECK_STR(sonde_func_exit_kind_name(exits[0].kind), "tail-jump");

	struct sonde_go_func mcall = find_one(t, "runtime.mcall");
	n = sonde_func_exits_image(bin.data, bin.size, mcall.entry, mcall.end, exits, 8);
	CHECK_U64(n, 3);
	CHECK_U64(exits[0].kind, SONDE_EXIT_TAIL_JUMP);
	CHECK(entry_of(t, "runtime.badmcall", exits[0].target));
	CHECK_U64(exits[1].kind, SONDE_EXIT_TAIL_JUMP);
	CHECK(entry_of(t, "runtime.badmcall2", exits[1].target));
	CHECK_U64(exits[2].kind, SONDE_EXIT_RET);
	CHECK(exits[2].vaddr > exits[1].vaddr);

	/* A count beyond max: the caller learns how many it missed. */
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, mcall.entry, mcall.end, exits, 1), 3);
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, mcall.entry, mcall.end, NULL, 0), 3);
	sonde_gopclntab_free(t);
	free(bin.data);
}

/* gogo ends in JMP through a register: the goroutine's saved PC. */
static void indirect_jump(void)
{
	struct file bin = read_file(binary_path);
	struct sonde_gopclntab *t = open_table(&bin);
	struct sonde_func_exit exits[8];

	if (!t)
		return;
	struct sonde_go_func gogo = find_one(t, "gogo");
	int n = sonde_func_exits_image(bin.data, bin.size, gogo.entry, gogo.end, exits, 8);

	CHECK(n >= 1 && n <= 8);
	CHECK_U64(exits[n - 1].kind, SONDE_EXIT_INDIRECT_JUMP);
	CHECK_STR(sonde_func_exit_kind_name(SONDE_EXIT_INDIRECT_JUMP), "indirect-jump");
	sonde_gopclntab_free(t);
	free(bin.data);
}

/* Linear decoding holds for the whole binary (runtime assembly included),
 * and the channel functions chanlat probes each return somewhere. */
static void every_function_decodes(void)
{
	static const char *const chan_functions[] = {
		"runtime.chansend1", "runtime.chanrecv1", "runtime.gopark", "runtime.ready",
	};
	struct file bin = read_file(stripped_path);
	struct sonde_gopclntab *t = open_table(&bin);
	size_t decoded = 0, failed = 0;

	if (!t)
		return;
	for (size_t i = 0; i < sonde_gopclntab_nfuncs(t); i++) {
		struct sonde_go_func f;

		if (sonde_gopclntab_func(t, i, &f))
			continue;
		if (sonde_func_exits_image(bin.data, bin.size, f.entry, f.end, NULL, 0) >= 0)
			decoded++;
		else
			fprintf(stderr, "%s [%#" PRIx64 ", %#" PRIx64 "): does not decode\n",
				f.name, f.entry, f.end), failed++;
	}
	CHECK(decoded > 1000);
	CHECK_U64(failed, 0);
	for (size_t i = 0; i < sizeof(chan_functions) / sizeof(*chan_functions); i++) {
		struct sonde_go_func f = find_one(t, chan_functions[i]);
		struct sonde_func_exit exits[8];
		int n = sonde_func_exits_image(bin.data, bin.size, f.entry, f.end, exits, 8);

		CHECK(n >= 1 && n <= 8);
		for (int j = 0; j < n && j < 8; j++) {
			CHECK_U64(exits[j].kind, SONDE_EXIT_RET);
			CHECK(exits[j].vaddr >= f.entry && exits[j].vaddr < f.end);
		}
	}
	sonde_gopclntab_free(t);
	free(bin.data);
}

static void through_fd(void)
{
	struct file bin = read_file(binary_path);
	struct sonde_gopclntab *t = open_table(&bin);
	struct sonde_func_exit a[8], b[8];
	int fd = open(binary_path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	if (t && fd >= 0) {
		struct sonde_go_func f = find_one(t, "main.main");
		int n = sonde_func_exits_fd(fd, f.entry, f.end, a, 8);

		CHECK(n >= 1);
		CHECK_U64(sonde_func_exits_image(bin.data, bin.size, f.entry, f.end, b, 8), n);
		CHECK(n > 8 || !memcmp(a, b, sizeof(*a) * (size_t)n));
	}
	if (fd >= 0)
		close(fd);
	CHECK_U64(sonde_func_exits_fd(-1, 0x401000, 0x401010, a, 8), -EBADF);
	sonde_gopclntab_free(t);
	free(bin.data);
}

static void bad_input(void)
{
	struct file bin = read_file(stripped_path);
	struct sonde_gopclntab *t = open_table(&bin);
	struct sonde_func_exit exits[8];
	uint8_t junk[256];

	if (!t)
		return;
	struct sonde_go_func f = find_one(t, "main.main");

	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, f.entry, f.entry, exits, 8), -EINVAL);
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, f.end, f.entry, exits, 8), -EINVAL);
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, f.entry, f.entry + (64u << 20), exits, 8),
		  -E2BIG);
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, 0, UINT64_MAX, exits, 8), -E2BIG);
	/* Not code: below the image, and the range wrapping past the end. */
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, 0x1000, 0x1010, exits, 8), -ENOENT);
	CHECK_U64(sonde_func_exits_image(bin.data, bin.size, UINT64_MAX - 8, UINT64_MAX, exits, 8),
		  -ENOENT);
	/* Truncated: the headers stay, the code is cut off. */
	CHECK_U64(sonde_func_exits_image(bin.data, 4096, f.entry, f.end, exits, 8), -ENOENT);
	CHECK_U64(sonde_func_exits_image(bin.data, 40, f.entry, f.end, exits, 8), -ENOEXEC);
	CHECK_U64(sonde_func_exits_image(NULL, 0, f.entry, f.end, exits, 8), -ENOEXEC);
	memset(junk, 0xc3, sizeof(junk));
	CHECK_U64(sonde_func_exits_image(junk, sizeof(junk), 0, 16, exits, 8), -ENOEXEC);

	/* Not x86-64: the same file relabelled as arm64. */
	uint8_t *copy = malloc(bin.size);
	if (copy) {
		memcpy(copy, bin.data, bin.size);
		copy[offsetof(Elf64_Ehdr, e_machine)] = EM_AARCH64 & 0xff;
		copy[offsetof(Elf64_Ehdr, e_machine) + 1] = EM_AARCH64 >> 8;
		CHECK_U64(sonde_func_exits_image(copy, bin.size, f.entry, f.end, exits, 8), -ENOTSUP);
		/* Bytes that do not decode: 0x06 (push es) is invalid in 64-bit
		 * mode, written over main.main's second instruction. */
		int fd = open(stripped_path, O_RDONLY | O_CLOEXEC);
		uint64_t off = 0;

		CHECK(fd >= 0 && sonde_elf_vaddr_to_offset(fd, f.entry, &off) == 0);
		if (fd >= 0)
			close(fd);
		memcpy(copy, bin.data, bin.size);
		CHECK(off + 4 < bin.size);
		if (off + 4 < bin.size) {
			copy[off + 4] = 0x06;
			CHECK_U64(sonde_func_exits_image(copy, bin.size, f.entry, f.end, exits, 8), -EILSEQ);
		}
		free(copy);
	}
	sonde_gopclntab_free(t);
	free(bin.data);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s BINARY STRIPPED OBJDUMP\n", argv[0]);
		return 2;
	}
	binary_path = argv[1];
	stripped_path = argv[2];
	objdump_path = argv[3];
	RUN(returns_match_objdump);
	RUN(tail_jumps);
	RUN(indirect_jump);
	RUN(every_function_decodes);
	RUN(through_fd);
	RUN(bad_input);
	return CHECK_DONE();
}

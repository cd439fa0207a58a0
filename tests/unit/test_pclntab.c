/* The Go pclntab symbolizer against a Go binary built for the test
 * (tests/workloads/gosym_workload.go), with symbols and stripped, and
 * against Go's own view of it: `go tool nm -size` for entries and sizes,
 * `go tool objdump` for the file:line of every instruction of main.*, and
 * the "LINE:" markers of the source for inlined calls; a stripped PIE build
 * must agree. Then malformed input: truncated files, random bytes,
 * corrupted headers and tables.
 *
 *   test_pclntab BINARY STRIPPED PIE NM OBJDUMP SOURCE */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/golang.h>

#include "check.h"
#include "fixtures.h"

static struct fixture_go_workload go;
static const char *nm_path, *objdump_path, *source_path;

static struct sonde_gopclntab *open_path(const char *path)
{
	struct sonde_gopclntab *t = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = fd < 0 ? -errno : sonde_gopclntab_open_fd(fd, &t);

	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "%s: open: %s\n", path, strerror(-err));
	return err ? NULL : t;
}

/* Entry and size of name from `go tool nm -size` ("addr size type name"). */
static bool nm_lookup(const char *name, uint64_t *addr, uint64_t *size)
{
	struct fixture_file nm = fixture_read(nm_path);
	char *save, *line;
	bool found = false;

	for (line = strtok_r((char *)nm.data, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char type, sym[256];

		found = sscanf(line, " %" SCNx64 " %" SCNu64 " %c %255s", addr, size, &type, sym) == 4 &&
			type == 'T' && !strcmp(sym, name);
	}
	free(nm.data);
	return found;
}

/* Line of the "// LINE:marker" comment in the workload's source. */
static int64_t marker_line(const char *marker)
{
	struct fixture_file src = fixture_read(source_path);
	char needle[64];
	int64_t line = 1;

	snprintf(needle, sizeof(needle), "// LINE:%s\n", marker);
	const char *hit = strstr((char *)src.data, needle);
	for (const char *p = (char *)src.data; hit && p < hit; p++)
		line += *p == '\n';
	free(src.data);
	return hit ? line : 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* The physical (last) frame at pc. */
static int physical_frame(const struct sonde_gopclntab *t, uint64_t pc, struct sonde_go_frame *out)
{
	struct sonde_go_frame frames[16];
	int n = sonde_gopclntab_lookup(t, pc, frames, 16);

	if (n <= 0 || n > 16)
		return -1;
	*out = frames[n - 1];
	return n;
}

static const char *const known_functions[] = {
	"main.main", "main.spin", "main.main.func1",
	"runtime.gcStart", "runtime.chansend1", "runtime.newproc",
};

static void formats(void)
{
	struct sonde_gopclntab *t = open_path(go.binary), *s = open_path(go.stripped);

	CHECK(t && s);
	if (!t || !s)
		goto out;
	/* go1.19 writes the 1.18 format (0xfffffff0). */
	CHECK_STR(sonde_gopclntab_format(t), "go1.18");
	CHECK_STR(sonde_gopclntab_format(s), "go1.18");
	CHECK(sonde_gopclntab_has_inline(t));
	CHECK(sonde_gopclntab_has_inline(s));
	CHECK(sonde_gopclntab_nfuncs(t) > 1000);
	CHECK_U64(sonde_gopclntab_nfuncs(s), sonde_gopclntab_nfuncs(t));
out:
	sonde_gopclntab_free(t);
	sonde_gopclntab_free(s);
}

/* By name, each known function has the entry and size `go tool nm`
 * reports, in both binaries, and its PCs resolve back to it. */
static void names_match_nm(void)
{
	const char *paths[] = { go.binary, go.stripped };

	for (int b = 0; b < 2; b++) {
		struct sonde_gopclntab *t = open_path(paths[b]);

		CHECK(t != NULL);
		if (!t)
			continue;
		for (size_t i = 0; i < sizeof(known_functions) / sizeof(*known_functions); i++) {
			const char *name = known_functions[i];
			struct sonde_go_func f[4];
			struct sonde_go_frame fr = {0};
			uint64_t addr = 0, size = 0;
			int n = sonde_gopclntab_find(t, name, f, 4), match = -1;

			CHECK(nm_lookup(name, &addr, &size));
			/* An assembly function's ABI wrapper shares its name in the
			 * table (nm calls it NAME.abi0): one match must be nm's. */
			CHECK(n >= 1 && n <= 2);
			for (int j = 0; j < n && j < 4; j++) {
				CHECK_STR(f[j].name, name);
				if (f[j].entry == addr)
					match = j;
			}
			CHECK(match >= 0);
			if (match < 0)
				continue;
			/* -s -w drops the symbol table only: the code stays put. */
			CHECK_U64(f[match].end - f[match].entry, size);
			for (uint64_t pc = addr; pc < addr + size; pc += 1 + size / 7) {
				CHECK(physical_frame(t, pc, &fr) > 0);
				CHECK_STR(fr.function, name);
				CHECK_U64(fr.entry, addr);
			}
		}
		CHECK_U64(sonde_gopclntab_find(t, "main.no_such_function", NULL, 0), 0);
		sonde_gopclntab_free(t);
	}
}

/* Every instruction `go tool objdump` lists for main.* has the same
 * innermost file:line in our lookup, in both binaries. */
static void lines_match_objdump(void)
{
	struct sonde_gopclntab *t = open_path(go.binary), *s = open_path(go.stripped);
	struct fixture_file dump = fixture_read(objdump_path);
	char *save, *line, path[512] = "";
	int checked = 0;

	CHECK(t && s);
	for (line = strtok_r((char *)dump.data, "\n", &save); t && s && line;
	     line = strtok_r(NULL, "\n", &save)) {
		char base[256], sym[256], slash_base[300];
		struct sonde_go_frame ft[16], fs[16];
		uint64_t pc;
		int64_t ln;
		int nt, ns;

		if (sscanf(line, "TEXT %255s %511s", sym, path) == 2)
			continue;
		if (sscanf(line, " %255[^:]:%" SCNd64 " 0x%" SCNx64, base, &ln, &pc) != 3)
			continue;
		nt = sonde_gopclntab_lookup(t, pc, ft, 16);
		ns = sonde_gopclntab_lookup(s, pc, fs, 16);
		CHECK(nt > 0 && nt == ns);
		if (nt <= 0 || nt != ns)
			continue;
		/* objdump names the innermost position, maybe of inlined
		 * library code; the physical frame is in the TEXT's file. */
		snprintf(slash_base, sizeof(slash_base), "/%s", base);
		CHECK(ends_with(ft[0].file, slash_base));
		CHECK_U64(ft[0].line, ln);
		CHECK_STR(ft[nt - 1].file, path);
		CHECK(ends_with(fs[0].file, slash_base));
		CHECK_U64(fs[0].line, ln);
		CHECK_STR(fs[nt - 1].file, path);
		CHECK_STR(fs[0].function, ft[0].function);
		checked++;
	}
	CHECK(checked > 50);
	free(dump.data);
	sonde_gopclntab_free(t);
	sonde_gopclntab_free(s);
}

/* main.square is inlined into main.spin: some PC of spin has two frames,
 * square at its body's line, then spin at the call's line. */
static void inline_frames(void)
{
	const char *paths[] = { go.binary, go.stripped, go.pie };
	int64_t body = marker_line("square_body"), call = marker_line("spin_calls_square");
	int64_t send = marker_line("goroutine_send"), gc = marker_line("main_gc");

	CHECK(body && call && send && gc);
	for (int b = 0; b < 3; b++) {
		struct sonde_gopclntab *t = open_path(paths[b]);
		struct sonde_go_func spin, main_fn, func1;
		bool inlined = false, saw_send = false, saw_gc = false;

		CHECK(t != NULL);
		if (!t)
			continue;
		CHECK_U64(sonde_gopclntab_find(t, "main.spin", &spin, 1), 1);
		CHECK_U64(sonde_gopclntab_find(t, "main.main", &main_fn, 1), 1);
		CHECK_U64(sonde_gopclntab_find(t, "main.main.func1", &func1, 1), 1);
		for (uint64_t pc = spin.entry; pc < spin.end; pc++) {
			struct sonde_go_frame fr[4];
			int n = sonde_gopclntab_lookup(t, pc, fr, 4);

			CHECK(n >= 1 && n <= 2);
			if (n != 2)
				continue;
			inlined = true;
			CHECK_STR(fr[0].function, "main.square");
			CHECK(fr[0].inlined);
			CHECK_U64(fr[0].line, body);
			CHECK(ends_with(fr[0].file, "/gosym_workload.go"));
			CHECK_U64(fr[0].entry, spin.entry);
			CHECK_STR(fr[1].function, "main.spin");
			CHECK(!fr[1].inlined);
			CHECK_U64(fr[1].line, call);
		}
		CHECK(inlined);
		/* Fewer slots than frames: the count says how many there are. */
		for (uint64_t pc = spin.entry; pc < spin.end; pc++) {
			struct sonde_go_frame one;

			if (sonde_gopclntab_lookup(t, pc, &one, 1) == 2)
				CHECK_STR(one.function, "main.square");
		}
		for (uint64_t pc = main_fn.entry; pc < main_fn.end; pc++) {
			struct sonde_go_frame fr;

			saw_gc |= physical_frame(t, pc, &fr) == 1 && fr.line == gc;
		}
		for (uint64_t pc = func1.entry; pc < func1.end; pc++) {
			struct sonde_go_frame fr;

			saw_send |= physical_frame(t, pc, &fr) == 1 && fr.line == send;
		}
		CHECK(saw_gc);
		CHECK(saw_send);
		sonde_gopclntab_free(t);
	}
}

/* The PIE (its table in .data.rel.ro.gopclntab, code elsewhere) knows the
 * same functions, starting at the same lines. */
static void pie(void)
{
	struct sonde_gopclntab *t = open_path(go.binary), *p = open_path(go.pie);

	CHECK(t && p);
	if (!t || !p)
		goto out;
	CHECK_STR(sonde_gopclntab_format(p), "go1.18");
	CHECK(sonde_gopclntab_has_inline(p));
	for (size_t i = 0; i < sizeof(known_functions) / sizeof(*known_functions); i++) {
		struct sonde_go_func f, g;
		struct sonde_go_frame ft = {0}, fp = {0};

		CHECK(sonde_gopclntab_find(t, known_functions[i], &f, 1) >= 1);
		CHECK(sonde_gopclntab_find(p, known_functions[i], &g, 1) >= 1);
		CHECK(physical_frame(t, f.entry, &ft) == 1);
		CHECK(physical_frame(p, g.entry, &fp) == 1);
		CHECK_STR(fp.function, known_functions[i]);
		CHECK_STR(fp.file, ft.file);
		CHECK_U64(fp.line, ft.line);
	}
out:
	sonde_gopclntab_free(t);
	sonde_gopclntab_free(p);
}

/* The pcsp table: main.spin is a leaf without a frame (0 throughout);
 * main.main has one, so below its entry the stack pointer has moved. */
static void sp_deltas(void)
{
	struct sonde_gopclntab *t = open_path(go.stripped);
	struct sonde_go_func spin, main_fn;
	int32_t delta = -1;

	CHECK(t);
	if (!t)
		return;
	CHECK(sonde_gopclntab_find(t, "main.spin", &spin, 1) == 1);
	CHECK(sonde_gopclntab_find(t, "main.main", &main_fn, 1) == 1);
	for (uint64_t pc = spin.entry; pc < spin.end; pc++) {
		CHECK(sonde_gopclntab_sp_delta(t, pc, &delta) == 0);
		CHECK_U64(delta, 0);
	}
	CHECK(sonde_gopclntab_sp_delta(t, main_fn.entry, &delta) == 0);
	CHECK_U64(delta, 0);
	CHECK(sonde_gopclntab_sp_delta(t, (main_fn.entry + main_fn.end) / 2, &delta) == 0);
	CHECK(delta > 0 && delta < 4096);
	CHECK(sonde_gopclntab_sp_delta(t, 1, &delta) == -ENOENT);
	sonde_gopclntab_free(t);
}

/* Every function: readable, in address order, its entry resolves to it. */
static void all_functions(void)
{
	struct sonde_gopclntab *t = open_path(go.stripped);
	uint64_t prev_end = 0;
	size_t bad = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	for (size_t i = 0; i < sonde_gopclntab_nfuncs(t); i++) {
		struct sonde_go_func f;
		struct sonde_go_frame fr = {0};

		if (sonde_gopclntab_func(t, i, &f) || f.entry < prev_end || f.end <= f.entry ||
		    physical_frame(t, f.entry, &fr) < 1 || strcmp(fr.function, f.name) ||
		    fr.entry != f.entry) {
			bad++;
			continue;
		}
		prev_end = f.end;
	}
	CHECK_U64(bad, 0);
	CHECK(sonde_gopclntab_func(t, sonde_gopclntab_nfuncs(t), &(struct sonde_go_func){0}) < 0);
	/* Outside the text: no function. */
	CHECK_U64(sonde_gopclntab_lookup(t, 0, NULL, 0), (uint64_t)-ENOENT);
	CHECK_U64(sonde_gopclntab_lookup(t, UINT64_MAX, NULL, 0), (uint64_t)-ENOENT);
	sonde_gopclntab_free(t);
}

/* The bare table, as copied out of a process: no ELF, no inline frames,
 * same functions and lines. */
static void bare_table(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	struct sonde_gopclntab *t = open_path(go.stripped), *bare = NULL;
	struct sonde_go_func f, g;
	struct sonde_go_frame fr = {0};
	const uint8_t magic[] = { 0xf0, 0xff, 0xff, 0xff, 0, 0 };
	uint8_t *at = memmem(bin.data, bin.size, magic, sizeof(magic));

	CHECK(t && at);
	if (t && at) {
		CHECK_U64(sonde_gopclntab_open_table(at, bin.size - (size_t)(at - bin.data), &bare), 0);
		CHECK(bare && !sonde_gopclntab_has_inline(bare));
	}
	if (bare) {
		CHECK_U64(sonde_gopclntab_find(t, "main.spin", &f, 1), 1);
		CHECK_U64(sonde_gopclntab_find(bare, "main.spin", &g, 1), 1);
		CHECK_U64(g.entry, f.entry);
		CHECK_U64(g.end, f.end);
		CHECK_U64(sonde_gopclntab_lookup(bare, g.entry, &fr, 1), 1);
		CHECK_STR(fr.function, "main.spin");
		CHECK_U64(fr.line, marker_line("spin_calls_square") - 3);	/* the func line */
	}
	sonde_gopclntab_free(bare);
	sonde_gopclntab_free(t);
	free(bin.data);
}

/* With no section headers the table and moduledata are found by
 * scanning the loaded segments. */
static void no_section_headers(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	struct sonde_gopclntab *t = NULL;
	struct sonde_go_func f;
	struct sonde_go_frame fr[4];

	memset(bin.data + 0x3c, 0, 2);	/* e_shnum of an ELF64 header */
	CHECK_U64(sonde_gopclntab_open_image(bin.data, bin.size, &t), 0);
	if (t) {
		CHECK(sonde_gopclntab_has_inline(t));
		CHECK_U64(sonde_gopclntab_find(t, "runtime.gcStart", &f, 1), 1);
		CHECK_U64(physical_frame(t, f.entry + 8, fr), 1);
		CHECK_STR(fr[0].function, "runtime.gcStart");
	}
	sonde_gopclntab_free(t);
	free(bin.data);
}

/* ---- malformed input: must fail cleanly or give bounded answers ---- */

/* Uses a table however broken, so the sanitizers see every read. */
static void exercise(const uint8_t *data, size_t size)
{
	struct sonde_gopclntab *t = NULL;
	struct sonde_go_frame fr[8];
	struct sonde_go_func f[2];
	int32_t delta;

	if (sonde_gopclntab_open_image(data, size, &t))
		return;
	for (size_t i = 0; i < sonde_gopclntab_nfuncs(t); i++) {
		if (sonde_gopclntab_func(t, i, f))
			continue;
		for (uint64_t pc = f->entry; pc < f->end && pc < f->entry + 64; pc += 7) {
			CHECK(sonde_gopclntab_lookup(t, pc, fr, 8) <= 65);
			sonde_gopclntab_sp_delta(t, pc, &delta);
		}
	}
	sonde_gopclntab_find(t, "main.main", f, 2);
	sonde_gopclntab_free(t);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	return check_rng(&rng_state);
}

static void not_go(void)
{
	struct fixture_file self = fixture_read("/proc/self/exe");
	struct sonde_gopclntab *t = NULL;
	uint8_t text[] = "hello, not an ELF file";

	CHECK_U64(sonde_gopclntab_open_image(self.data, self.size, &t), (uint64_t)-ENOENT);
	CHECK_U64(sonde_gopclntab_open_image(text, sizeof(text), &t), (uint64_t)-ENOEXEC);
	CHECK_U64(sonde_gopclntab_open_image(NULL, 0, &t), (uint64_t)-ENOEXEC);
	CHECK_U64(sonde_gopclntab_open_table(text, sizeof(text), &t), (uint64_t)-ENOTSUP);
	CHECK(t == NULL);
	free(self.data);
}

static void truncated(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	struct sonde_gopclntab *t = NULL;

	for (size_t len = 0; len < 4096; len += 61)
		CHECK(sonde_gopclntab_open_image(bin.data, len, &t) < 0);
	/* Cut inside the table: every length in a window around it. */
	for (size_t len = bin.size / 2; len < bin.size; len += bin.size / 97)
		exercise(bin.data, len);
	free(bin.data);
}

static void random_bytes(void)
{
	static uint8_t buf[1 << 16];

	for (int round = 0; round < 64; round++) {
		size_t len = rng() % sizeof(buf);
		struct sonde_gopclntab *t = NULL;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng();
		CHECK(sonde_gopclntab_open_image(buf, len, &t) < 0);
		/* The same bytes behind a table header. */
		if (len >= 8) {
			memcpy(buf, "\xf1\xff\xff\xff\0\0\x01\x08", 8);
			if (!sonde_gopclntab_open_table(buf, len, &t)) {
				struct sonde_go_frame fr[4];

				for (int i = 0; i < 64; i++)
					sonde_gopclntab_lookup(t, rng() % 0x1000000, fr, 4);
				sonde_gopclntab_free(t);
			}
		}
	}
}

/* Hostile header words (nfunc, offsets) and scribbled-over tables. */
static void corrupted(void)
{
	struct fixture_file bin = fixture_read(go.stripped);
	const uint8_t magic[] = { 0xf0, 0xff, 0xff, 0xff, 0, 0 };
	uint8_t *copy = malloc(bin.size);
	const uint8_t *at = memmem(bin.data, bin.size, magic, sizeof(magic));
	size_t tab = at ? (size_t)(at - bin.data) : 0;
	const uint64_t hostile[] = { 0, 1, 0x7fffffff, 0xffffffff, UINT64_MAX, UINT64_MAX / 8, 1ull << 40 };
	struct sonde_gopclntab *t = NULL;

	CHECK(at && copy);
	if (!at || !copy)
		goto out;
	/* Header words 0-7 after the first 8 bytes, 8 bytes each. */
	for (int w = 0; w < 8; w++)
		for (size_t h = 0; h < sizeof(hostile) / sizeof(*hostile); h++) {
			memcpy(copy, bin.data, bin.size);
			memcpy(copy + tab + 8 + 8 * w, &hostile[h], 8);
			exercise(copy, bin.size);
		}
	/* nfunc far beyond the table is refused outright. */
	memcpy(copy, bin.data, bin.size);
	memcpy(copy + tab + 8, &hostile[4], 8);
	CHECK(sonde_gopclntab_open_image(copy, bin.size, &t) < 0);
	/* Bad quantum and pointer size. */
	memcpy(copy, bin.data, bin.size);
	copy[tab + 6] = 3;
	CHECK(sonde_gopclntab_open_image(copy, bin.size, &t) < 0);
	/* Random bytes scribbled over the function records and value tables. */
	for (int round = 0; round < 24; round++) {
		memcpy(copy, bin.data, bin.size);
		for (int i = 0; i < 4096; i++)
			copy[tab + 64 + rng() % (bin.size - tab - 64)] = (uint8_t)rng();
		exercise(copy, bin.size);
	}
	/* Bad section header fields. */
	memcpy(copy, bin.data, bin.size);
	memset(copy + 0x28, 0xff, 8);	/* e_shoff */
	exercise(copy, bin.size);
	memcpy(copy, bin.data, bin.size);
	memset(copy + 0x20, 0xff, 8);	/* e_phoff */
	exercise(copy, bin.size);
out:
	free(copy);
	free(bin.data);
}

int main(int argc, char **argv)
{
	char **extra = fixture_go_workload(argc, argv, 3, "NM OBJDUMP SOURCE", &go);

	nm_path = extra[0];
	objdump_path = extra[1];
	source_path = extra[2];
	RUN(formats);
	RUN(names_match_nm);
	RUN(lines_match_objdump);
	RUN(inline_frames);
	RUN(pie);
	RUN(all_functions);
	RUN(sp_deltas);
	RUN(bare_table);
	RUN(no_section_headers);
	RUN(not_go);
	RUN(truncated);
	RUN(random_bytes);
	RUN(corrupted);
	return CHECK_DONE();
}

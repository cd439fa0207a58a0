/* Symbolization speed: 100k frames spread over real binaries — the C
 * library (with its separate debug file when installed: DWARF lines and
 * inline frames), a Go binary (mapped here, named from its pclntab) and
 * the kernel (/proc/kallsyms) — symbolized once with a fresh symbolizer
 * (cold: files opened, tables and DWARF read) and once more with the same
 * one (warm: what every later report of a profile costs). Prints the two
 * times and, last, one JSON line for bench/run.
 *
 *   bench/symbolize [GO_BINARY]     (default /usr/lib/go/bin/go)
 *
 * The addresses are function starts plus a random offset into each
 * function, half of them as return addresses, from a fixed seed. */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sonde/golang.h>
#include <sonde/sym.h>

#define FRAMES 100000

struct func {
	uint64_t addr, size;
};

struct funcs {
	struct func *v;
	size_t n, cap;
};

static void add(struct funcs *f, uint64_t addr, uint64_t size)
{
	if (!size)
		return;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4096;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		if (!f->v) {
			perror("realloc");
			exit(1);
		}
	}
	f->v[f->n++] = (struct func){addr, size};
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The C library's exported functions, where they are mapped in this
 * process. */
static void libc_functions(struct funcs *out)
{
	Dl_info info;
	struct link_map *lm;
	Elf *elf;
	Elf_Scn *scn = NULL;
	int fd;

	if (!dladdr1((void *)printf, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
		fprintf(stderr, "symbolize: cannot find the C library\n");
		exit(1);
	}
	fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;

			if (gelf_getsym(data, i, &s) && GELF_ST_TYPE(s.st_info) == STT_FUNC &&
			    s.st_shndx != SHN_UNDEF)
				add(out, lm->l_addr + s.st_value, s.st_size);
		}
	}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

/* A Go binary's code segment mapped into this process as the loader
 * would (so /proc/self/maps names it), and its functions from the
 * pclntab. */
static void go_functions(const char *path, struct funcs *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct sonde_gopclntab *t = NULL;
	Elf *elf;
	size_t n;
	long page = sysconf(_SC_PAGESIZE);

	/* Without Go installed, the other binaries are measured. */
	if (fd < 0 || sonde_gopclntab_open_fd(fd, &t)) {
		fprintf(stderr, "symbolize: %s: not a readable Go binary, left out\n", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_getphdrnum(elf, &n)) {
		fprintf(stderr, "symbolize: %s: not ELF\n", path);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		uint64_t off, start, len;
		uint8_t *at;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		off = ph.p_offset & ~(uint64_t)(page - 1);
		start = ph.p_vaddr - (ph.p_offset - off);
		len = ph.p_filesz + (ph.p_offset - off);
		at = mmap(NULL, len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, off);
		if (at == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		for (size_t f = 0; f < sonde_gopclntab_nfuncs(t); f++) {
			struct sonde_go_func fn;

			if (!sonde_gopclntab_func(t, f, &fn) && fn.entry >= start &&
			    fn.end <= start + len)
				add(out, (uintptr_t)at + (fn.entry - start), fn.end - fn.entry);
		}
	}
	elf_end(elf);
	sonde_gopclntab_free(t);
	close(fd);
}

static void kernel_functions(struct funcs *out)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], type;
	uint64_t addr, prev = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 " %c", &addr, &type) != 2 || !addr)
			continue;
		/* Sizes are not listed: up to the next symbol. */
		if (prev && addr > prev && addr - prev < 65536)
			add(out, prev, addr - prev);
		prev = (type == 't' || type == 'T') ? addr : 0;
	}
	if (f)
		fclose(f);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct frame_req {
	uint64_t addr;
	bool kernel, return_address;
};

/* Symbolizes every request; returns how many frames had a name. */
static size_t run(struct sonde_symbolizer *sym, const struct frame_req *reqs, size_t n)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t named = 0;
	pid_t self = getpid();

	for (size_t i = 0; i < n; i++) {
		size_t k = reqs[i].kernel
				   ? sonde_sym_kernel(sym, reqs[i].addr, frames, SONDE_SYM_MAX_FRAMES)
				   : sonde_sym_user(sym, self, reqs[i].addr, reqs[i].return_address,
						    frames, SONDE_SYM_MAX_FRAMES);

		named += k && frames[k - 1].function;
	}
	return named;
}

int main(int argc, char **argv)
{
	const char *go = argc > 1 ? argv[1] : "/usr/lib/go/bin/go";
	struct funcs sets[3] = {{0}};
	const char *names[3] = {"libc", "go", "kernel"};
	struct frame_req *reqs = calloc(FRAMES, sizeof(*reqs));
	struct sonde_symbolizer *sym;
	size_t used = 0, named_cold, named_warm;
	double t0, cold, warm;

	elf_version(EV_CURRENT);
	libc_functions(&sets[0]);
	go_functions(go, &sets[1]);
	kernel_functions(&sets[2]);
	for (size_t s = 0; s < 3; s++) {
		fprintf(stderr, "symbolize: %zu %s functions\n", sets[s].n, names[s]);
		used += sets[s].n > 0;
	}
	if (!reqs || !used)
		return 1;
	for (size_t i = 0, s = 0; i < FRAMES; s = (s + 1) % 3) {
		const struct func *f;

		if (!sets[s].n)
			continue;
		f = &sets[s].v[rng() % sets[s].n];
		reqs[i] = (struct frame_req){
			.addr = f->addr + rng() % f->size,
			.kernel = s == 2,
			.return_address = i & 1,
		};
		i++;
	}
	sym = sonde_symbolizer_new();
	t0 = now_ms();
	named_cold = run(sym, reqs, FRAMES);
	cold = now_ms() - t0;
	t0 = now_ms();
	named_warm = run(sym, reqs, FRAMES);
	warm = now_ms() - t0;
	sonde_symbolizer_free(sym);
	printf("%d frames (libc %zu, Go %s %zu, kernel %zu functions): cold %.1f ms, warm %.1f ms; %zu named\n",
	       FRAMES, sets[0].n, go, sets[1].n, sets[2].n, cold, warm, named_warm);
	printf("{\"frames\": %d, \"cold_ms\": %.1f, \"warm_ms\": %.1f, \"named\": %zu, \"named_cold\": %zu}\n",
	       FRAMES, cold, warm, named_warm, named_cold);
	return 0;
}

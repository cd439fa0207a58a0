/* lib/golang/allgs: the walk of runtime.allgs, over a made-up allgs in
 * this process' own memory (read back through /proc/self/mem like another
 * process' would be): dead and idle goroutines are skipped, the _Gscan
 * bit is cleared, fields come from the offsets given, and a slice that
 * makes no sense is refused. The load bias of this (position-independent)
 * test program must turn its link-time entry point into the running one.
 *
 *   test_allgs (no arguments) */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <sonde/golang.h>

#include "check.h"

/* A g with the fields at made-up offsets. */
struct fake_g {
	uint8_t pad[24];
	uint32_t status;	/* 24 */
	uint32_t pad2;
	uint64_t goid;		/* 32 */
	uint64_t pad3[2];
	uint64_t gopc;		/* 56 */
	uint64_t startpc;	/* 64 */
};

static const struct sonde_go_g_offsets offsets = {
	.goid = 32, .atomicstatus = 24, .gopc = 56, .startpc = 64,
};

struct seen {
	struct sonde_go_g_info g[8];
	int n;
	int stop_after;
};

static int collect(const struct sonde_go_g_info *g, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8)
		s->g[s->n] = *g;
	return ++s->n == s->stop_after;
}

static void walk(void)
{
	static struct fake_g gs[5] = {
		{.status = 2, .goid = 1, .gopc = 0x1000, .startpc = 0x2000},	/* running */
		{.status = 6, .goid = 2},					/* dead */
		{.status = 0x1004, .goid = 3, .gopc = 0x1010, .startpc = 0x2010}, /* waiting, scanned */
		{.status = 0, .goid = 4},					/* idle */
		{.status = 1, .goid = 5, .gopc = 0x1020, .startpc = 0x2020},	/* runnable */
	};
	static struct fake_g *ptrs[6] = {&gs[0], &gs[1], &gs[2], &gs[3], &gs[4], NULL};
	static uint64_t allgs[3];	/* a Go slice: array, len, cap */
	struct seen s = {0};

	allgs[0] = (uint64_t)(uintptr_t)ptrs;
	allgs[1] = allgs[2] = 6;
	CHECK(sonde_go_read_allgs(getpid(), (uint64_t)(uintptr_t)allgs, 0, &offsets, collect, &s) == 3);
	CHECK(s.n == 3);
	CHECK_U64(s.g[0].goid, 1);
	CHECK_U64(s.g[0].status, 2);
	CHECK_U64(s.g[1].goid, 3);
	CHECK_U64(s.g[1].status, 4);
	CHECK_U64(s.g[1].gopc, 0x1010);
	CHECK_U64(s.g[1].startpc, 0x2010);
	CHECK_U64(s.g[2].goid, 5);
	/* The callback ends the walk. */
	s = (struct seen){.stop_after = 1};
	CHECK(sonde_go_read_allgs(getpid(), (uint64_t)(uintptr_t)allgs, 0, &offsets, collect, &s) == 1);
	/* Nonsense: an absurd length, an unreadable array. */
	allgs[1] = 1ull << 40;
	CHECK(sonde_go_read_allgs(getpid(), (uint64_t)(uintptr_t)allgs, 0, &offsets, collect, &s) ==
	      -EINVAL);
	allgs[0] = 8;
	allgs[1] = 2;
	CHECK(sonde_go_read_allgs(getpid(), (uint64_t)(uintptr_t)allgs, 0, &offsets, collect, &s) ==
	      -EIO);
	/* An empty list is no error. */
	allgs[1] = 0;
	CHECK(sonde_go_read_allgs(getpid(), (uint64_t)(uintptr_t)allgs, 0, &offsets, collect, &s) == 0);
}

static void load_bias(void)
{
	Elf64_Ehdr eh;
	uint64_t bias = 1;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0 && read(fd, &eh, sizeof(eh)) == (ssize_t)sizeof(eh));
	close(fd);
	CHECK(sonde_go_load_bias(getpid(), &bias) == 0);
	CHECK_U64(eh.e_entry + bias, getauxval(AT_ENTRY));
	CHECK(sonde_go_load_bias(-1, &bias) < 0);
}

int main(void)
{
	RUN(walk);
	RUN(load_bias);
	return CHECK_DONE();
}

/* runtime.g's field offsets two ways, which must agree: from the DWARF of
 * a Go binary built for the test (tests/workloads/gosym) and from the
 * table for the Go release that built it (Debian's); a stripped build has
 * no DWARF and gets the table. Global variables (runtime.allgs) from the
 * symbol table of a build without DWARF (-w) and from the full build, and
 * none in a stripped one (-s -w), where the code of runtime.allgadd
 * locates runtime.allgs instead.
 *
 *   test_g_layout BINARY NODWARF STRIPPED GO_VERSION_FILE */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/golang.h>

#include "check.h"

static const char *binary_path, *nodwarf_path, *stripped_path;
static char go_version[64];

static int open_or_die(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void check_same(const struct sonde_go_g_offsets *a, const struct sonde_go_g_offsets *b)
{
	CHECK_U64(a->goid, b->goid);
	CHECK_U64(a->atomicstatus, b->atomicstatus);
	CHECK_U64(a->gopc, b->gopc);
	CHECK_U64(a->startpc, b->startpc);
}

static void dwarf_agrees_with_table(void)
{
	struct sonde_go_g_offsets dwarf, table;
	int fd = open_or_die(binary_path);

	CHECK(sonde_go_g_offsets_dwarf(fd, &dwarf) == 0);
	CHECK(sonde_go_g_offsets_for_version(go_version, &table) == 0);
	check_same(&dwarf, &table);
	/* Sanity of the layout itself: goid follows the 32-bit status and
	 * stackLock; startpc is two words after gopc (ancestors between). */
	CHECK_U64(dwarf.goid, dwarf.atomicstatus + 8);
	CHECK_U64(dwarf.startpc, dwarf.gopc + 16);
	close(fd);
}

static void choice_of_source(void)
{
	struct sonde_go_g_offsets with, without, table;
	enum sonde_go_layout_source source;
	int fd = open_or_die(binary_path), sfd = open_or_die(stripped_path);

	CHECK(sonde_go_g_offsets_fd(fd, &with, &source) == 0);
	CHECK(source == SONDE_GO_LAYOUT_DWARF);
	CHECK(sonde_go_g_offsets_dwarf(sfd, &without) == -ENOENT);
	CHECK(sonde_go_g_offsets_fd(sfd, &without, &source) == 0);
	CHECK(source == SONDE_GO_LAYOUT_TABLE);
	CHECK(sonde_go_g_offsets_for_version(go_version, &table) == 0);
	check_same(&with, &without);
	close(fd);
	close(sfd);
}

static void versions(void)
{
	struct sonde_go_g_offsets o;

	CHECK(sonde_go_g_offsets_for_version("go1.16.15", &o) == -ENOTSUP);
	CHECK(sonde_go_g_offsets_for_version("go1.99.1", &o) == -ENOTSUP);
	CHECK(sonde_go_g_offsets_for_version("not a version", &o) == -EINVAL);
	CHECK(sonde_go_g_offsets_for_version("go1.", &o) == -EINVAL);
	CHECK(sonde_go_g_offsets_for_version("go1.17", &o) == 0);
	CHECK_U64(o.goid, 152);
	/* 1.23 added g.syscallbp before goid, 1.25 removed gobuf.ret. */
	CHECK(sonde_go_g_offsets_for_version("go1.23rc1", &o) == 0);
	CHECK_U64(o.goid, 160);
	CHECK(sonde_go_g_offsets_for_version("devel go1.24-abcdef Tue", &o) == 0);
	CHECK_U64(o.goid, 160);
	CHECK(sonde_go_g_offsets_for_version("go1.25.4", &o) == 0);
	CHECK_U64(o.goid, 152);
	CHECK_U64(o.startpc, 296);
	CHECK(sonde_go_g_offsets_for_version("go1.26.5", &o) == 0);
	CHECK_U64(o.goid, 152);
	CHECK_U64(o.startpc, 304);
}

static void variables(void)
{
	int fd = open_or_die(binary_path), nfd = open_or_die(nodwarf_path),
	    sfd = open_or_die(stripped_path);
	uint64_t allgs = 0, allglen = 0, nodwarf_allgs = 0, nodwarf_allglen = 0, none, from_code = 0;

	CHECK(sonde_go_variable_address(fd, "runtime.allgs", &allgs) == 0);
	CHECK(sonde_go_variable_address(fd, "runtime.allglen", &allglen) == 0);
	CHECK(allgs != 0 && allglen != 0 && allgs != allglen);
	/* -w leaves the symbol table (the linker lays the data out a little
	 * differently without DWARF: the addresses need not match). */
	CHECK(sonde_go_variable_address(nfd, "runtime.allgs", &nodwarf_allgs) == 0);
	CHECK(sonde_go_variable_address(nfd, "runtime.allglen", &nodwarf_allglen) == 0);
	CHECK(nodwarf_allgs != 0 && nodwarf_allglen != 0 && nodwarf_allgs != nodwarf_allglen);
	CHECK(sonde_go_variable_address(sfd, "runtime.allgs", &none) == -ENOENT);
	/* Without symbols, from runtime.allgadd's code: the same address
	 * where the symbols say, and one found where they are gone. */
	CHECK(sonde_go_allgs_from_code(fd, &from_code) == 0);
	CHECK_U64(from_code, allgs);
	CHECK(sonde_go_allgs_from_code(nfd, &from_code) == 0);
	CHECK_U64(from_code, nodwarf_allgs);
	CHECK(sonde_go_allgs_from_code(sfd, &from_code) == 0);
	CHECK(from_code != 0);
	CHECK(sonde_go_variable_address(fd, "runtime.no_such_variable", &none) == -ENOENT);
	close(fd);
	close(nfd);
	close(sfd);
}

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: %s BINARY NODWARF STRIPPED GO_VERSION_FILE\n", argv[0]);
		return 2;
	}
	binary_path = argv[1];
	nodwarf_path = argv[2];
	stripped_path = argv[3];
	f = fopen(argv[4], "r");
	if (!f || !fgets(go_version, sizeof(go_version), f))
		return 1;
	fclose(f);
	go_version[strcspn(go_version, "\n")] = 0;
	RUN(dwarf_agrees_with_table);
	RUN(choice_of_source);
	RUN(versions);
	RUN(variables);
	return CHECK_DONE();
}

/* Where runtime.g keeps a goroutine's id, status, creation site and start
 * function: from the binary's DWARF when it has some, else from a table
 * per Go release, worked out from each release's src/runtime/runtime2.go
 * (64-bit targets). What moves the fields between releases:
 *   1.17-1.20  goid after param, atomicstatus and stackLock (152); the
 *              tracer's per-g fields (sysblocktraced, sysexitticks,
 *              traceseq, tracelastp) sit before lockedm: gopc at 296;
 *   1.21       parentGoid before gopc (tracebacks name the creator);
 *   1.22       the tracer's fields move to the end (trace gTraceState);
 *   1.23-1.24  syscallbp after syscallpc: goid 160;
 *   1.25       gobuf loses ret (sched is 8 bytes smaller): goid 152 again;
 *              fipsIndicator, syncSafePoint, runningCleanups fit in
 *              padding before sig;
 *   1.26       8 more bytes before gopc (measured in a Go 1.26.5 binary,
 *              esbuild's: its main goroutine's runtime.main at 304). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include <sonde/golang.h>

/* Releases from `first` on, until the next row. */
struct g_layout_row {
	int first;		/* minor version: 17 = Go 1.17 */
	struct sonde_go_g_offsets offsets;
};

static const struct g_layout_row g_layouts[] = {
	{17, {.goid = 152, .atomicstatus = 144, .gopc = 296, .startpc = 312}},
	{21, {.goid = 152, .atomicstatus = 144, .gopc = 304, .startpc = 320}},
	{22, {.goid = 152, .atomicstatus = 144, .gopc = 280, .startpc = 296}},
	{23, {.goid = 160, .atomicstatus = 152, .gopc = 288, .startpc = 304}},
	{25, {.goid = 152, .atomicstatus = 144, .gopc = 280, .startpc = 296}},
	{26, {.goid = 152, .atomicstatus = 144, .gopc = 288, .startpc = 304}},
};

/* The newest release the table was checked against. */
#define NEWEST_KNOWN_MINOR 26

/* "go1.19.8", "go1.21rc2", "devel go1.23-abcdef ...": the minor version,
 * or -1. */
static int go_minor(const char *version)
{
	const char *p = strstr(version, "go1.");
	char *end;
	long minor;

	if (!p)
		return -1;
	minor = strtol(p + 4, &end, 10);
	if (end == p + 4 || minor < 0 || minor > 1000)
		return -1;
	return (int)minor;
}

int sonde_go_g_offsets_for_version(const char *version, struct sonde_go_g_offsets *out)
{
	int minor = go_minor(version);
	size_t n = sizeof(g_layouts) / sizeof(g_layouts[0]);

	if (minor < 0)
		return -EINVAL;
	if (minor < g_layouts[0].first || minor > NEWEST_KNOWN_MINOR)
		return -ENOTSUP;
	for (size_t i = n; i-- > 0;) {
		if (minor >= g_layouts[i].first) {
			*out = g_layouts[i].offsets;
			return 0;
		}
	}
	return -ENOTSUP;
}

/* ---- DWARF ---- */

static bool find_struct(Dwarf_Die *cu, const char *name, Dwarf_Die *out)
{
	Dwarf_Die child;

	if (dwarf_child(cu, &child))
		return false;
	do {
		const char *n;

		if (dwarf_tag(&child) != DW_TAG_structure_type)
			continue;
		n = dwarf_diename(&child);
		if (n && !strcmp(n, name)) {
			*out = child;
			return true;
		}
	} while (!dwarf_siblingof(&child, &child));
	return false;
}

static int member_offset(Dwarf_Die *type, const char *name, uint32_t *out)
{
	Dwarf_Die m;

	if (dwarf_child(type, &m))
		return -EINVAL;
	do {
		const char *n = dwarf_diename(&m);
		Dwarf_Attribute a;
		Dwarf_Word off;

		if (dwarf_tag(&m) != DW_TAG_member || !n || strcmp(n, name))
			continue;
		if (!dwarf_attr(&m, DW_AT_data_member_location, &a) || dwarf_formudata(&a, &off) ||
		    off > UINT32_MAX)
			return -EINVAL;
		*out = (uint32_t)off;
		return 0;
	} while (!dwarf_siblingof(&m, &m));
	return -EINVAL;
}

static int g_offsets_in(Dwarf *dw, struct sonde_go_g_offsets *out)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	/* Go's linker writes one CU per package; runtime.g is a top-level
	 * DIE of the runtime's. */
	while (!dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu, g;
		int err;

		if (!dwarf_offdie(dw, off + hsize, &cu) || !find_struct(&cu, "runtime.g", &g)) {
			off = next;
			continue;
		}
		err = member_offset(&g, "goid", &out->goid);
		if (!err)
			err = member_offset(&g, "atomicstatus", &out->atomicstatus);
		if (!err)
			err = member_offset(&g, "gopc", &out->gopc);
		if (!err)
			err = member_offset(&g, "startpc", &out->startpc);
		return err;
	}
	return -ENOENT;
}

int sonde_go_g_offsets_dwarf(int fd, struct sonde_go_g_offsets *out)
{
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	int err;

	if (!dw)
		return -ENOENT;
	err = g_offsets_in(dw, out);
	dwarf_end(dw);
	return err;
}

int sonde_go_g_offsets_fd(int fd, struct sonde_go_g_offsets *out,
			  enum sonde_go_layout_source *source)
{
	struct sonde_go_buildinfo bi;
	int err;

	if (!sonde_go_g_offsets_dwarf(fd, out)) {
		*source = SONDE_GO_LAYOUT_DWARF;
		return 0;
	}
	err = sonde_go_buildinfo_read_fd(fd, &bi);
	if (err)
		return err;
	*source = SONDE_GO_LAYOUT_TABLE;
	return sonde_go_g_offsets_for_version(bi.version, out);
}

/* ---- global variables ---- */

static int symtab_address(Elf *elf, const char *name, uint64_t *addr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && GELF_ST_TYPE(sym.st_info) == STT_OBJECT && !strcmp(n, name)) {
				*addr = sym.st_value;
				return 0;
			}
		}
	}
	return -ENOENT;
}

static int dwarf_address(Dwarf *dw, const char *name, uint64_t *addr)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (!dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu, v;

		if (dwarf_offdie(dw, off + hsize, &cu) && !dwarf_child(&cu, &v)) {
			do {
				const char *n = dwarf_diename(&v);
				Dwarf_Attribute a;
				Dwarf_Op *ops;
				size_t nops;

				if (dwarf_tag(&v) != DW_TAG_variable || !n || strcmp(n, name))
					continue;
				if (dwarf_attr(&v, DW_AT_location, &a) &&
				    dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
				    ops[0].atom == DW_OP_addr) {
					*addr = ops[0].number;
					return 0;
				}
			} while (!dwarf_siblingof(&v, &v));
		}
		off = next;
	}
	return -ENOENT;
}

int sonde_go_variable_address(int fd, const char *name, uint64_t *addr)
{
	Elf *elf;
	Dwarf *dw;
	int err;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return -ENOEXEC;
	}
	err = symtab_address(elf, name, addr);
	if (err) {
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		if (dw) {
			err = dwarf_address(dw, name, addr);
			dwarf_end(dw);
		}
	}
	elf_end(elf);
	return err;
}

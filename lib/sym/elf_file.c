/* One ELF file as the symbolizer needs it: function symbols sorted by
 * address, the PT_LOAD segments that turn file offsets into addresses,
 * the build-id, and its separate debug file when it has one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>

#include "sonde/golang.h"
#include "internal.h"

size_t sym_elf_build_id(Elf *elf, uint8_t *id, size_t max)
{
	const void *bits;
	ssize_t len = dwelf_elf_gnu_build_id(elf, &bits);

	if (len <= 0 || (size_t)len > max)
		return 0;
	memcpy(id, bits, len);
	return len;
}

bool sym_elf_has_section(Elf *elf, Elf64_Word type, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *n;

		if (!gelf_getshdr(scn, &shdr) || (type && shdr.sh_type != type))
			continue;
		n = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (n && (!name || !strcmp(n, name)))
			return true;
	}
	return false;
}

/* Adds the functions of every symbol table of the given type. The names
 * point into the ELF data, which stays open as long as the table. */
static void add_symbols(struct symtab *t, Elf *elf, Elf64_Word type)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != type || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;
			int kind;

			if (!gelf_getsym(data, i, &sym))
				continue;
			kind = GELF_ST_TYPE(sym.st_info);
			if ((kind != STT_FUNC && kind != STT_GNU_IFUNC) || !sym.st_value ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (name && *name && symtab_add(t, sym.st_value, sym.st_size, name, NULL))
				return;
		}
	}
}

static bool read_segments(struct sym_elf *e)
{
	size_t n;
	GElf_Ehdr ehdr;

	if (!gelf_getehdr(e->elf, &ehdr) || elf_getphdrnum(e->elf, &n))
		return false;
	e->is_dyn = ehdr.e_type == ET_DYN;
	e->loads = calloc(n ? n : 1, sizeof(*e->loads));
	if (!e->loads)
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e->elf, i, &ph) && ph.p_type == PT_LOAD)
			e->loads[e->n_loads++] = ph;
	}
	return true;
}

bool sym_elf_offset_to_vaddr(const struct sym_elf *e, uint64_t offset, uint64_t *vaddr)
{
	/* Exact containment first; then the page-aligned start of a segment,
	 * which a mapping may begin at below p_offset. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < e->n_loads; i++) {
			const GElf_Phdr *ph = &e->loads[i];
			uint64_t start = ph->p_offset;

			if (pass && ph->p_align > 1)
				start &= ~(uint64_t)(ph->p_align - 1);
			if (offset >= start && offset < ph->p_offset + ph->p_filesz) {
				*vaddr = offset - ph->p_offset + ph->p_vaddr;
				return true;
			}
		}
	}
	return false;
}

/* The whole file is mapped: its descriptor is not needed any more. A
 * system-wide profile may cache hundreds of files; their descriptors
 * would otherwise run into RLIMIT_NOFILE. */
static void close_when_mapped(Elf *elf, int *fd)
{
	/* FDREAD is a no-op when mapped, and reads it in when mmap failed. */
	if (!elf_cntl(elf, ELF_C_FDREAD) && !elf_cntl(elf, ELF_C_FDDONE)) {
		close(*fd);
		*fd = -1;
	}
}

/* Everything but the file's identity, once e->elf is open. */
static bool read_elf(struct sym_elf *e, const char *path, int root_fd)
{
	bool has_symtab, has_dwarf;
	size_t shnum;

	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !read_segments(e))
		return false;
	if (e->fd >= 0)
		close_when_mapped(e->elf, &e->fd);
	e->build_id_len = sym_elf_build_id(e->elf, e->build_id, sizeof(e->build_id));
	has_symtab = sym_elf_has_section(e->elf, SHT_SYMTAB, NULL);
	e->maybe_go = elf_getshdrnum(e->elf, &shnum) || shnum == 0 ||
		      sym_elf_has_section(e->elf, 0, ".gopclntab") ||
		      sym_elf_has_section(e->elf, 0, ".go.buildinfo") ||
		      sym_elf_has_section(e->elf, 0, ".note.go.buildid");
	has_dwarf = sym_elf_has_section(e->elf, SHT_PROGBITS, ".debug_info");
	if (!has_symtab || !has_dwarf) {
		e->debug_fd = sym_debug_file_find(e->elf, e->build_id, e->build_id_len, path, root_fd);
		if (e->debug_fd >= 0)
			e->debug_elf = elf_begin(e->debug_fd, ELF_C_READ_MMAP, NULL);
		if (e->debug_elf)
			close_when_mapped(e->debug_elf, &e->debug_fd);
	}
	if (has_dwarf)
		e->dwarf_elf = e->elf;
	else if (e->debug_elf && sym_elf_has_section(e->debug_elf, SHT_PROGBITS, ".debug_info"))
		e->dwarf_elf = e->debug_elf;
	/* .symtab is a superset of .dynsym; a debug file's .symtab has the
	 * static functions a stripped file lost. */
	if (has_symtab)
		add_symbols(&e->symbols, e->elf, SHT_SYMTAB);
	else if (e->debug_elf && sym_elf_has_section(e->debug_elf, SHT_SYMTAB, NULL))
		add_symbols(&e->symbols, e->debug_elf, SHT_SYMTAB);
	add_symbols(&e->symbols, e->elf, SHT_DYNSYM);
	symtab_sort(&e->symbols);
	return true;
}

struct sym_elf *sym_elf_open(int fd, const char *path, int root_fd)
{
	struct sym_elf *e = calloc(1, sizeof(*e));
	struct stat st;

	if (!e || fstat(fd, &st)) {
		free(e);
		close(fd);
		return NULL;
	}
	e->fd = fd;
	e->debug_fd = -1;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->mtime_ns = st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
	e->size = st.st_size;
	e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!read_elf(e, path, root_fd)) {
		sym_elf_free(e);
		return NULL;
	}
	return e;
}

struct sym_elf *sym_elf_open_memory(char *image, size_t size, const char *path, int root_fd)
{
	struct sym_elf *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fd = -1;
	e->debug_fd = -1;
	e->size = size;
	elf_version(EV_CURRENT);
	e->elf = elf_memory(image, size);
	if (!read_elf(e, path, root_fd)) {
		sym_elf_free(e);
		return NULL;
	}
	return e;
}

size_t sym_elf_frames(struct sym_elf *e, uint64_t vaddr, bool return_address,
		      struct sonde_frame *frames, size_t max)
{
	/* A return address may already be past the end of the calling
	 * function (calls to noreturn functions): look up the call. */
	uint64_t at = return_address && vaddr ? vaddr - 1 : vaddr;
	const struct sym_entry *s = symtab_find(&e->symbols, at);
	size_t n = 0;

	if (!max)
		return 0;
	if (!e->dwarf_tried && e->dwarf_elf) {
		e->dwarf_tried = true;
		e->dwarf = dwarf_begin_elf(e->dwarf_elf, DWARF_C_READ, NULL);
	}
	if (e->dwarf)
		n = sym_dwarf_frames(e->dwarf, at, frames, max);
	/* A stripped Go binary: Go's own table knows what ELF forgot. */
	if (!n && !s && (n = sym_go_frames(e, at, frames, max)) > 0)
		return n;
	if (!n || (frames[n - 1].inlined && n < max))
		frames[n++] = (struct sonde_frame){0};
	/* The containing function: the symbol table's name is the linkage
	 * name, the one other tools (and the folded format) use. */
	if (s) {
		frames[n - 1].function = s->name;
		frames[n - 1].offset = vaddr - s->addr;
	}
	return n;
}

void sym_elf_free(struct sym_elf *e)
{
	if (!e)
		return;
	if (e->dwarf)
		dwarf_end(e->dwarf);
	sym_prefetch_free(e->dwarf_source);
	if (e->debug_elf)
		elf_end(e->debug_elf);
	if (e->debug_fd >= 0)
		close(e->debug_fd);
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	symtab_free(&e->symbols);
	frame_cache_free(&e->frames);
	sonde_gopclntab_free(e->gopclntab);
	free(e->loads);
	free(e);
}

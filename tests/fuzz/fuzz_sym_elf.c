/* ELF files of other processes, as lib/sym reads them: symbol tables
 * (.symtab, .dynsym), program headers, the build-id and .gnu_debuglink
 * notes (the debug file lookup runs under an empty root), DWARF lines and
 * inline frames (libdw over the image in memory), and a Go pclntab when
 * no symbol covers an address; then as lib/uprobe reads it for probes
 * (segments, USDT notes), through a memfd. A hostile file must give fewer
 * symbols, never a crash, a hang or a leak. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sonde/uprobe.h>

#include "../../lib/sym/internal.h"

static char empty_root[] = "/tmp/sonde-fuzz-root-XXXXXX";
static int root_fd = -1;

static void remove_root(void)
{
	close(root_fd);
	rmdir(empty_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(empty_root))
		abort();
	root_fd = open(empty_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		abort();
	atexit(remove_root);
	return 0;
}

static void lookup(struct sym_elf *e, uint64_t vaddr)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t n = sym_elf_frames(e, vaddr, true, frames, SONDE_SYM_MAX_FRAMES);

	/* Every name and file handed out must be readable. */
	for (size_t i = 0; i < n; i++) {
		if (frames[i].function && strlen(frames[i].function) == SIZE_MAX)
			abort();
		if (frames[i].file && strlen(frames[i].file) == SIZE_MAX)
			abort();
	}
}

static void probe_reader(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	uint64_t offset;

	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		sonde_elf_vaddr_to_offset(fd, 0x401000, &offset);
		sonde_elf_has_usdt(fd, "hotspot", "gc__begin");
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libelf may keep pointers into the image: a copy that lives as
	 * long as the parsed file, exactly sized so reads past it show. */
	char *image = malloc(size ? size : 1);
	struct sym_elf *e;
	uint64_t vaddr;

	if (!image)
		return 0;
	memcpy(image, data, size);
	e = sym_elf_open_memory(image, size, "/usr/lib/x86_64-linux-gnu/libfuzz.so", root_fd);
	if (e) {
		for (size_t i = 0; i < e->symbols.n && i < 64; i++) {
			lookup(e, e->symbols.entries[i].addr + 1);
			lookup(e, e->symbols.entries[i].addr + e->symbols.entries[i].size);
		}
		for (size_t i = 0; i < e->n_loads && i < 8; i++)
			if (sym_elf_offset_to_vaddr(e, e->loads[i].p_offset, &vaddr))
				lookup(e, vaddr + 16);
		lookup(e, 0x401000);
		sym_elf_free(e);
	}
	free(image);
	probe_reader(data, size);
	return 0;
}

/* Stripped Go binaries keep .gopclntab, the runtime's own PC -> function,
 * file and line table (it needs it for tracebacks), so lib/golang resolves
 * what -ldflags='-s -w' took from .symtab and DWARF. */
#include <gelf.h>
#include <libelf.h>

#include "sonde/golang.h"
#include "internal.h"

struct sonde_gopclntab *sym_elf_gopclntab(struct sym_elf *e)
{
	size_t image_size;

	if (!e->gopclntab_tried && e->maybe_go) {
		const char *image = elf_rawfile(e->elf, &image_size);

		e->gopclntab_tried = true;
		/* The image is libelf's mapping of the file: it lives as long
		 * as e, and so do the names the table hands out. */
		if (image && sonde_gopclntab_open_image((const uint8_t *)image, image_size,
							&e->gopclntab))
			e->gopclntab = NULL;
	}
	return e->gopclntab;
}

bool sym_go_frameless(struct sym_elf *e, uint64_t vaddr)
{
	struct sonde_gopclntab *t = sym_elf_gopclntab(e);
	int32_t delta;

	return t && !sonde_gopclntab_sp_delta(t, vaddr, &delta) && delta == 0;
}

size_t sym_go_frames(struct sym_elf *e, uint64_t vaddr, struct sonde_frame *frames, size_t max)
{
	struct sonde_go_frame go[SONDE_SYM_MAX_FRAMES];
	int n;

	if (!sym_elf_gopclntab(e) || !max)
		return 0;
	n = sonde_gopclntab_lookup(e->gopclntab, vaddr, go,
				   max < SONDE_SYM_MAX_FRAMES ? max : SONDE_SYM_MAX_FRAMES);
	if (n <= 0)
		return 0;
	if ((size_t)n > max)
		n = max;
	for (int i = 0; i < n; i++)
		frames[i] = (struct sonde_frame){
			.function = go[i].function,
			.offset = go[i].inlined ? 0 : vaddr - go[i].entry,
			.file = go[i].file,
			.line = go[i].line > 0 ? (unsigned)go[i].line : 0,
			.inlined = go[i].inlined,
		};
	return n;
}

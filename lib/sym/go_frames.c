/* Stripped Go binaries keep .gopclntab, the runtime's own PC -> function,
 * file and line table (it needs it for tracebacks), so lib/golang resolves
 * what -ldflags='-s -w' took from .symtab and DWARF. */
#include <gelf.h>
#include <libelf.h>

#include "sonde/golang.h"
#include "internal.h"

size_t sym_go_frames(struct sym_elf *e, uint64_t vaddr, struct sonde_frame *frames, size_t max)
{
	struct sonde_go_frame go[SONDE_SYM_MAX_FRAMES];
	size_t image_size;
	int n;

	if (!e->gopclntab_tried) {
		const char *image = elf_rawfile(e->elf, &image_size);

		e->gopclntab_tried = true;
		/* The image is libelf's mapping of the file: it lives as long
		 * as e, and so do the names the table hands out. */
		if (image && sonde_gopclntab_open_image((const uint8_t *)image, image_size,
							&e->gopclntab))
			e->gopclntab = NULL;
	}
	if (!e->gopclntab || !max)
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

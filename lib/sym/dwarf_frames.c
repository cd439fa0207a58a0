/* Source lines and inline frames from DWARF (libdw). An address inside
 * inlined code belongs to a chain of scopes: the inlined_subroutine DIEs,
 * innermost first, then the subprogram that holds them. The innermost
 * frame's line comes from the line table; each outer frame's line is the
 * call site recorded on the inlined_subroutine below it. */
#include <dwarf.h>
#include <stdlib.h>

#include "internal.h"

/* Compilers without .debug_aranges (clang by default): scan the CUs. */
static bool find_cu(Dwarf *dwarf, uint64_t vaddr, Dwarf_Die *cudie)
{
	Dwarf_Off off = 0, next;
	size_t header_size;

	if (dwarf_addrdie(dwarf, vaddr, cudie))
		return true;
	while (!dwarf_nextcu(dwarf, off, &next, &header_size, NULL, NULL, NULL)) {
		if (dwarf_offdie(dwarf, off + header_size, cudie) && dwarf_haspc(cudie, vaddr) > 0)
			return true;
		off = next;
	}
	return false;
}

/* The name may sit on the abstract origin or the declaration. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;

	return dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
}

static const char *call_file(Dwarf_Die *cudie, Dwarf_Die *inlined)
{
	Dwarf_Attribute attr;
	Dwarf_Files *files;
	Dwarf_Word index;
	size_t n;

	if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &index) ||
	    dwarf_getsrcfiles(cudie, &files, &n) || index >= n)
		return NULL;
	return dwarf_filesrc(files, index, NULL, NULL);
}

static unsigned call_line(Dwarf_Die *inlined)
{
	Dwarf_Attribute attr;
	Dwarf_Word line;

	return dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line) ? 0 : line;
}

size_t sym_dwarf_frames(Dwarf *dwarf, uint64_t vaddr, struct sonde_frame *frames, size_t max)
{
	Dwarf_Die cudie, *scopes = NULL;
	Dwarf_Line *row;
	const char *file = NULL;
	unsigned line = 0;
	size_t n_frames = 0;
	int n_scopes, lineno;

	if (!find_cu(dwarf, vaddr, &cudie))
		return 0;
	row = dwarf_getsrc_die(&cudie, vaddr);
	if (row) {
		file = dwarf_linesrc(row, NULL, NULL);
		if (!dwarf_lineno(row, &lineno) && lineno > 0)
			line = lineno;
	}
	n_scopes = dwarf_getscopes(&cudie, vaddr, &scopes);
	for (int i = 0; i < n_scopes && n_frames < max; i++) {
		int tag = dwarf_tag(&scopes[i]);
		Dwarf_Die inlined, *outer = NULL;

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		frames[n_frames++] = (struct sonde_frame){
			.function = die_name(&scopes[i]),
			.file = file,
			.line = line,
			.inlined = tag == DW_TAG_inlined_subroutine,
		};
		if (tag == DW_TAG_subprogram)
			break;
		file = call_file(&cudie, &scopes[i]);
		line = call_line(&scopes[i]);
		/* The scopes past an inlined instance are those of its abstract
		 * definition; the caller is found from the instance's own DIE. */
		inlined = scopes[i];
		n_scopes = dwarf_getscopes_die(&inlined, &outer);
		free(scopes);
		scopes = outer;
		i = 0;
	}
	/* No enclosing function DIE (e.g. assembly): still a line. */
	if (!n_frames && file && max)
		frames[n_frames++] = (struct sonde_frame){.file = file, .line = line};
	return n_frames;
}

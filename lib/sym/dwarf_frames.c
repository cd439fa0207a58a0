/* Source lines and inline frames from DWARF (libdw). An address inside
 * inlined code lies in a chain of DIEs: the subprogram, then the
 * inlined_subroutine instances nested in it (through lexical blocks). The
 * innermost frame's line comes from the line table; each outer frame's
 * line is the call site recorded on the inlined_subroutine below it.
 * (dwarf_getscopes would do the walk, but leaks in elfutils 0.188.) */
#include <dwarf.h>

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

/* The DIE among die's children (searched through scopes that may hold
 * functions: namespaces, classes) with one of the tags that contains pc. */
static bool child_containing(Dwarf_Die *die, uint64_t pc, bool want_subprogram, Dwarf_Die *found)
{
	Dwarf_Die child;

	if (dwarf_child(die, &child))
		return false;
	do {
		int tag = dwarf_tag(&child);

		if (want_subprogram) {
			if (tag == DW_TAG_subprogram && dwarf_haspc(&child, pc) > 0) {
				*found = child;
				return true;
			}
			if ((tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			     tag == DW_TAG_structure_type) &&
			    child_containing(&child, pc, true, found))
				return true;
		} else if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
			   dwarf_haspc(&child, pc) > 0) {
			*found = child;
			return true;
		}
	} while (!dwarf_siblingof(&child, &child));
	return false;
}

#define MAX_INLINE_DEPTH 32

size_t sym_dwarf_frames(Dwarf *dwarf, uint64_t vaddr, struct sonde_frame *frames, size_t max)
{
	Dwarf_Die cudie, function, scope, inner, inlined[MAX_INLINE_DEPTH];
	Dwarf_Line *row;
	const char *file = NULL;
	unsigned line = 0;
	size_t n_frames = 0, depth = 0;
	int lineno;

	if (!find_cu(dwarf, vaddr, &cudie))
		return 0;
	row = dwarf_getsrc_die(&cudie, vaddr);
	if (row) {
		file = dwarf_linesrc(row, NULL, NULL);
		if (!dwarf_lineno(row, &lineno) && lineno > 0)
			line = lineno;
	}
	if (!child_containing(&cudie, vaddr, true, &function)) {
		/* No enclosing function DIE (e.g. assembly): still a line. */
		if (file && max)
			frames[n_frames++] = (struct sonde_frame){.file = file, .line = line};
		return n_frames;
	}
	/* Down through blocks: the inlined instances, outermost first. */
	scope = function;
	while (depth < MAX_INLINE_DEPTH && child_containing(&scope, vaddr, false, &inner)) {
		if (dwarf_tag(&inner) == DW_TAG_inlined_subroutine)
			inlined[depth++] = inner;
		scope = inner;
	}
	/* Innermost first; each caller's line is the call site below it. */
	while (depth > 0 && n_frames < max) {
		Dwarf_Die *d = &inlined[--depth];

		frames[n_frames++] = (struct sonde_frame){
			.function = die_name(d), .file = file, .line = line, .inlined = true,
		};
		file = call_file(&cudie, d);
		line = call_line(d);
	}
	if (n_frames < max)
		frames[n_frames++] = (struct sonde_frame){
			.function = die_name(&function), .file = file, .line = line,
		};
	return n_frames;
}

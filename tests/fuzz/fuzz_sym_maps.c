/* /proc/PID/maps text: the kernel writes it, but the file names in it are
 * the target's (spaces, newlines, a " (deleted)" of its own), and the
 * proc root may be a test's fake tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/sym/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symtab names = {0};
	struct sym_mapping *maps = NULL;
	FILE *f;
	size_t n;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	n = sym_maps_read(f, &names, &maps);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		if (!maps[i].name || (maps[i].path && maps[i].path[0] != '/'))
			abort();
		if (maps[i].path && strlen(maps[i].path) < strlen(maps[i].name))
			abort();
	}
	free(maps);
	symtab_free(&names);
	return 0;
}

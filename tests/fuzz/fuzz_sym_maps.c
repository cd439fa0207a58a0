/* /proc/PID/maps text: the kernel writes it, but the file names in it are
 * the target's (spaces, newlines, a " (deleted)" of its own), and the
 * proc root may be a test's fake tree. Read twice: the second reading
 * must give the very strings the first stored (each is kept once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/sym/internal.h"

static size_t read_text(const uint8_t *data, size_t size, struct sym_strings *names,
			struct sym_mapping **maps)
{
	FILE *f = fmemopen((void *)data, size, "r");
	size_t n;

	*maps = NULL;
	if (!f)
		return 0;
	n = sym_maps_read(f, names, maps);
	fclose(f);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_strings names = {0};
	struct sym_mapping *maps, *again;
	size_t n, n_again;

	if (!size)
		return 0;
	n = read_text(data, size, &names, &maps);
	n_again = read_text(data, size, &names, &again);
	if (n != n_again)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!maps[i].name || (maps[i].path && maps[i].path[0] != '/'))
			abort();
		if (maps[i].path && strlen(maps[i].path) < strlen(maps[i].name))
			abort();
		if (maps[i].name != again[i].name || maps[i].path != again[i].path)
			abort();
	}
	free(maps);
	free(again);
	sym_strings_free(&names);
	return 0;
}

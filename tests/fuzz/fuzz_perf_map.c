/* /tmp/perf-PID.map files: written by the target (a JIT), so any bytes
 * of any length. Every symbol read must be found again at its address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/sym/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symtab t = {0};
	struct sym_strings names = {0};
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	perf_map_read(f, &t, &names);
	fclose(f);
	for (size_t i = 0; i < t.n; i++) {
		const struct sym_entry *s = symtab_find(&t, t.entries[i].addr);

		if (!s || s->addr != t.entries[i].addr || strchr(s->name, '\n'))
			abort();
	}
	symtab_free(&t);
	sym_strings_free(&names);
	return 0;
}

/* JIT symbols: runtimes that generate code (V8, the JVM with
 * perf-map-agent, LuaJIT, Python 3.12's perf trampolines) write
 * /tmp/perf-PID.map, one "START SIZE name" line (hex) per function. The
 * file is the target's: any bytes, any length. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void perf_map_read(FILE *f, struct symtab *t, struct sym_strings *names)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, f)) > 0) {
		char *end, *name;
		uint64_t start = strtoull(line, &end, 16), size;
		const char *copy;

		if (end == line || *end != ' ')
			continue;
		size = strtoull(end + 1, &name, 16);
		if (name == end + 1 || *name != ' ')
			continue;
		name++;
		len = strcspn(name, "\n");
		copy = sym_strings_get(names, name, len);
		if (!copy || symtab_add(t, start, size, copy, NULL))
			break;
	}
	free(line);
	symtab_sort(t);
}

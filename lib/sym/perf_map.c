/* JIT symbols: runtimes that generate code (V8, the JVM with
 * perf-map-agent, LuaJIT, Python 3.12's perf trampolines) write
 * /tmp/perf-PID.map, one "START SIZE name" line (hex) per function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool perf_map_load(struct symtab *t, struct symtab *names, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f)
		return false;
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
		copy = symtab_intern(names, name, len);
		if (!copy || symtab_add(t, start, size, copy, NULL))
			break;
	}
	free(line);
	fclose(f);
	symtab_sort(t);
	return true;
}

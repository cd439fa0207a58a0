/* Kernel symbols from /proc/kallsyms: text symbols of the kernel and its
 * modules, "ffffffff81000000 T _stext" or "... t func\t[module]". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_text(char type)
{
	return type == 't' || type == 'T' || type == 'w' || type == 'W';
}

FILE *kallsyms_open(const char *proc_root)
{
	char path[4096], line[512];
	uint64_t text_addr = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kallsyms", proc_root);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	/* Under kptr_restrict every address reads 0. The first text symbol
	 * tells: per-CPU symbols listed before it start at 0 anyway. */
	while (fgets(line, sizeof(line), f)) {
		char *end;
		uint64_t addr = strtoull(line, &end, 16);

		if (end != line && end[0] == ' ' && end[1] && is_text(end[1])) {
			text_addr = addr;
			break;
		}
	}
	if (!text_addr || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	return f;
}

bool kallsyms_read(struct symtab *t, FILE *f, const atomic_bool *stop)
{
	char *line = NULL, *mod_name = NULL;
	const char *module = NULL;
	size_t cap = 0;
	bool any_address = false;

	while ((!stop || !atomic_load_explicit(stop, memory_order_relaxed)) &&
	       getline(&line, &cap, f) > 0) {
		char *name, *end, *tab, type;
		uint64_t addr = strtoull(line, &end, 16);

		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		if (!is_text(type))
			continue;
		name = end + 3;
		name[strcspn(name, "\n")] = 0;
		module = NULL;
		tab = strchr(name, '\t');
		if (tab) {
			const char *mod = tab + 1 + (tab[1] == '[');
			size_t len = strcspn(mod, "]");

			*tab = 0;
			/* Consecutive lines share a module: intern it once. */
			if (!mod_name || strncmp(mod_name, mod, len) || mod_name[len])
				mod_name = (char *)symtab_intern(t, mod, len);
			module = mod_name;
		}
		if (addr)
			any_address = true;
		name = (char *)symtab_intern(t, name, strlen(name));
		if (!name || symtab_add(t, addr, 0, name, module))
			break;
	}
	free(line);
	if (!any_address) {
		symtab_free(t);
		return false;
	}
	symtab_sort(t);
	return true;
}

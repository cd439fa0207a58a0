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

bool kallsyms_load(struct symtab *t, const char *proc_root)
{
	char path[4096], *line = NULL, *mod_name = NULL;
	const char *module = NULL;
	size_t cap = 0;
	bool any_address = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kallsyms", proc_root);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
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
	fclose(f);
	if (!any_address) {
		symtab_free(t);
		return false;
	}
	symtab_sort(t);
	return true;
}

/* /proc/PID/maps: which file (or anonymous memory) backs each range of
 * code. The text is the kernel's, but file names in it are the target's
 * choosing (spaces, newlines, " (deleted)" of their own). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/grow.h"
#include "internal.h"

static const char *intern(struct sym_strings *names, const char *s)
{
	return sym_strings_get(names, s, strlen(s));
}

size_t sym_maps_read(FILE *f, struct sym_strings *names, struct sym_mapping **out)
{
	struct sym_mapping *maps = NULL;
	size_t n = 0, cap = 0, line_cap = 0;
	char *line = NULL;

	while (getline(&line, &line_cap, f) > 0) {
		uint64_t start, end, pgoff;
		unsigned long ino;
		char perms[8];
		int name_at = 0;
		char *name, *slash;
		size_t len;
		struct sym_mapping *m;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %lu %n",
			   &start, &end, perms, &pgoff, &ino, &name_at) < 5 || !name_at)
			continue;
		/* Only code is ever symbolized. */
		if (!strchr(perms, 'x'))
			continue;
		if (SONDE_GROW(maps, cap, n + 1, 64))
			break;
		m = &maps[n++];
		*m = (struct sym_mapping){.start = start, .end = end, .pgoff = pgoff, .ino = ino};
		name = line + name_at;
		len = strcspn(name, "\n");
		name[len] = 0;
		if (len > 10 && !strcmp(name + len - 10, " (deleted)")) {
			name[len - 10] = 0;
			m->deleted = true;
		}
		if (name[0] == '/') {
			m->path = intern(names, name);
			slash = strrchr(name, '/');
			m->name = intern(names, slash + 1);
		} else {
			/* "[vdso]", "[anon:...]", "" (anonymous: JIT code) */
			m->name = name[0] ? intern(names, name) : "[anon]";
		}
	}
	free(line);
	*out = maps;
	return n;
}

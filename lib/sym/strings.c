/* Strings kept once each: the paths and module names of every process the
 * symbolizer reads, and JIT symbol names. A system-wide profile re-reads
 * the same few hundred paths for thousands of processes (and a process's
 * mappings again whenever an address falls outside them); storing each
 * one once keeps that memory bounded by what is distinct. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static bool grow(struct sym_strings *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	const char **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < s->cap; i++) {
		const char *str = s->slots[i];
		size_t j;

		if (!str)
			continue;
		for (j = hash(str, strlen(str)) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = str;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return true;
}

const char *sym_strings_get(struct sym_strings *s, const char *str, size_t len)
{
	size_t i;

	/* At most half full: probes stay short. */
	if ((s->n + 1) * 2 > s->cap && !grow(s))
		return NULL;
	for (i = hash(str, len) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (!strncmp(s->slots[i], str, len) && !s->slots[i][len])
			return s->slots[i];
	s->slots[i] = symtab_intern(&s->store, str, len);
	if (s->slots[i])
		s->n++;
	return s->slots[i];
}

void sym_strings_free(struct sym_strings *s)
{
	symtab_free(&s->store);
	free(s->slots);
	*s = (struct sym_strings){0};
}

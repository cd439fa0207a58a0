/* Sorted arrays of symbols, searched by binary search. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/grow.h"
#include "internal.h"

int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name,
	       const char *module)
{
	if (SONDE_GROW(t->entries, t->cap, t->n + 1, 256))
		return -ENOMEM;
	t->entries[t->n++] = (struct sym_entry){addr, size, name, module};
	return 0;
}

#define CHUNK_SIZE 65536

/* Names live in large chunks: kallsyms alone has ~100k of them. */
const char *symtab_intern(struct symtab *t, const char *name, size_t len)
{
	char *copy;

	if (!t->n_chunks || t->chunk_used + len + 1 > t->chunk_size) {
		size_t size = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;
		char **chunks = realloc(t->chunks, (t->n_chunks + 1) * sizeof(*chunks));

		if (!chunks)
			return NULL;
		t->chunks = chunks;
		t->chunks[t->n_chunks] = malloc(size);
		if (!t->chunks[t->n_chunks])
			return NULL;
		t->n_chunks++;
		t->chunk_size = size;
		t->chunk_used = 0;
	}
	copy = t->chunks[t->n_chunks - 1] + t->chunk_used;
	memcpy(copy, name, len);
	copy[len] = 0;
	t->chunk_used += len + 1;
	return copy;
}

static int by_addr(const void *a, const void *b)
{
	const struct sym_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* At one address a sized symbol beats an unsized one (labels). */
	if ((x->size != 0) != (y->size != 0))
		return x->size ? -1 : 1;
	return x < y ? -1 : 1;	/* stable: first added wins */
}

void symtab_sort(struct symtab *t)
{
	size_t kept = 0;

	if (!t->n)
		return;
	qsort(t->entries, t->n, sizeof(*t->entries), by_addr);
	/* One symbol per address: aliases would only make lookups ambiguous. */
	for (size_t i = 0; i < t->n; i++)
		if (!kept || t->entries[kept - 1].addr != t->entries[i].addr)
			t->entries[kept++] = t->entries[i];
	t->n = kept;
}

const struct sym_entry *symtab_find(const struct symtab *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;
	const struct sym_entry *e;

	/* First entry above addr; the candidate is the one before it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->entries[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	e = &t->entries[lo - 1];
	if (e->size && addr - e->addr >= e->size)
		return NULL;
	return e;
}

void symtab_free(struct symtab *t)
{
	for (size_t i = 0; i < t->n_chunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->entries);
	*t = (struct symtab){0};
}

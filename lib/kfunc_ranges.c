#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/grow.h"
#include "sonde/kfunc_ranges.h"

struct range {
	uint64_t start;
	uint64_t end;		/* exclusive; 0 for the very last symbol */
	int name;
};

struct sonde_kfunc_ranges {
	struct range *r;
	size_t n;
};

struct growable {
	void *p;
	size_t n;
	size_t cap;
};

static int push(struct growable *g, const void *item, size_t size)
{
	g->p = sonde_grow(g->p, &g->cap, g->n + 1, size, 1024);
	if (g->cap == g->n)
		return -ENOMEM;
	memcpy((char *)g->p + g->n * size, item, size);
	g->n++;
	return 0;
}

/* "name" or "name.<suffix>" where the compiler made the suffix. */
static int match_name(const char *sym, size_t len, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (len >= nl && !memcmp(sym, names[i], nl) && (len == nl || sym[nl] == '.'))
			return i;
	}
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_range(const void *a, const void *b)
{
	return cmp_u64(&((const struct range *)a)->start, &((const struct range *)b)->start);
}

/* The first address above start, or 0 when start is the last symbol. */
static uint64_t next_address(const uint64_t *addrs, size_t n, uint64_t start)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addrs[mid] <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n ? addrs[lo] : 0;
}

struct sonde_kfunc_ranges *sonde_kfunc_ranges_read(FILE *f, const char *const *names, size_t n_names)
{
	struct growable addrs = {0}, found = {0};
	struct sonde_kfunc_ranges *out = calloc(1, sizeof(*out));
	char line[512];
	bool ok = out != NULL;

	while (ok && fgets(line, sizeof(line), f)) {
		char *end, *sym;
		uint64_t addr = strtoull(line, &end, 16);
		struct range r = {0};
		size_t len;

		/* " T name[\t[module]]" */
		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		sym = end + 3;
		len = strcspn(sym, " \t\n");
		if (!addr || !len)
			continue;
		ok = !push(&addrs, &addr, sizeof(addr));
		if (end[1] != 't' && end[1] != 'T')
			continue;
		r.name = match_name(sym, len, names, n_names);
		r.start = addr;
		if (ok && r.name >= 0)
			ok = !push(&found, &r, sizeof(r));
	}
	if (ok) {
		struct range *r = found.p;

		if (addrs.n)
			qsort(addrs.p, addrs.n, sizeof(uint64_t), cmp_u64);
		for (size_t i = 0; i < found.n; i++)
			r[i].end = next_address(addrs.p, addrs.n, r[i].start);
		if (found.n)
			qsort(found.p, found.n, sizeof(*r), cmp_range);
		out->r = found.p;
		out->n = found.n;
		found.p = NULL;
	}
	free(addrs.p);
	free(found.p);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

size_t sonde_kfunc_ranges_count(const struct sonde_kfunc_ranges *r)
{
	return r ? r->n : 0;
}

int sonde_kfunc_ranges_find(const struct sonde_kfunc_ranges *r, uint64_t addr)
{
	size_t lo = 0, hi = r ? r->n : 0;

	/* The last range starting at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->r[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	lo--;
	if (addr < r->r[lo].end)
		return r->r[lo].name;
	return -1;
}

void sonde_kfunc_ranges_free(struct sonde_kfunc_ranges *r)
{
	if (!r)
		return;
	free(r->r);
	free(r);
}

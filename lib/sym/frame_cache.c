/* The frames each address of a file resolved to, so that an address seen
 * again (the same stacks in every report of a profile, every interval)
 * costs a hash lookup instead of a DWARF or pclntab walk. Frames are kept
 * in one pool, an entry holds where its run starts; both grow by
 * doubling, and the cache starts afresh once it holds FRAME_CACHE_MAX
 * addresses, which bounds its memory. */
#include <stdlib.h>
#include <string.h>

#include "sonde/grow.h"
#include "internal.h"

#define FRAME_CACHE_MAX (1u << 20)

static size_t slot_of(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static struct frame_cache_slot *find(const struct frame_cache *c, uint64_t key)
{
	for (size_t i = slot_of(key, c->cap);; i = (i + 1) & (c->cap - 1))
		if (!c->slots[i].n || c->slots[i].key == key)
			return &c->slots[i];
}

size_t frame_cache_get(const struct frame_cache *c, uint64_t key, struct sonde_frame *frames,
		       size_t max)
{
	const struct frame_cache_slot *s;
	size_t n;

	if (!c->cap)
		return 0;
	s = find(c, key);
	if (!s->n)
		return 0;
	n = s->n < max ? s->n : max;
	memcpy(frames, c->pool + s->first, n * sizeof(*frames));
	return n;
}

static bool grow_slots(struct frame_cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	struct frame_cache_slot *old = c->slots, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return false;
	c->slots = slots;
	for (size_t i = 0; i < c->cap; i++)
		if (old[i].n) {
			size_t j = slot_of(old[i].key, cap);

			while (slots[j].n)
				j = (j + 1) & (cap - 1);
			slots[j] = old[i];
		}
	c->cap = cap;
	free(old);
	return true;
}

void frame_cache_put(struct frame_cache *c, uint64_t key, const struct sonde_frame *frames, size_t n)
{
	struct frame_cache_slot *s;

	if (!n || n > UINT16_MAX)
		return;
	if (c->n >= FRAME_CACHE_MAX)
		frame_cache_free(c);
	if ((c->n + 1) * 2 > c->cap && !grow_slots(c))
		return;
	if (SONDE_GROW(c->pool, c->pool_cap, c->pool_n + n, 4096))
		return;
	s = find(c, key);
	if (s->n)
		return;
	memcpy(c->pool + c->pool_n, frames, n * sizeof(*frames));
	*s = (struct frame_cache_slot){.key = key, .first = c->pool_n, .n = n};
	c->pool_n += n;
	c->n++;
}

void frame_cache_free(struct frame_cache *c)
{
	free(c->slots);
	free(c->pool);
	*c = (struct frame_cache){0};
}

/* Copied stacks waiting for their block's end, by thread. A slot belongs
 * to a thread for good once used (taking one only marks it free), so the
 * table needs no deletions and a thread's frame buffer is reused from one
 * block to the next: no allocation per block. Threads come and go, so
 * once the table holds PENDING_MAX of them it starts afresh, dropping
 * what waited (blocks that had not ended yet). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/stack_pending.h"

#define PENDING_MAX (1u << 16)

struct pending_slot {
	uint32_t tid;		/* 0: never used */
	uint32_t pid;
	bool waiting;
	size_t n, cap;
	uint64_t *ips;
};

struct sonde_stack_pending {
	struct pending_slot *slots;
	size_t cap;		/* a power of two */
	size_t used;
};

static size_t slot_of(uint32_t tid, size_t cap)
{
	return (size_t)(((uint64_t)tid * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct pending_slot *find(struct pending_slot *slots, size_t cap, uint32_t tid)
{
	for (size_t i = slot_of(tid, cap);; i = (i + 1) & (cap - 1))
		if (!slots[i].tid || slots[i].tid == tid)
			return &slots[i];
}

struct sonde_stack_pending *sonde_stack_pending_new(void)
{
	return calloc(1, sizeof(struct sonde_stack_pending));
}

static void drop_all(struct sonde_stack_pending *p)
{
	for (size_t i = 0; i < p->cap; i++)
		free(p->slots[i].ips);
	free(p->slots);
	p->slots = NULL;
	p->cap = p->used = 0;
}

void sonde_stack_pending_free(struct sonde_stack_pending *p)
{
	if (!p)
		return;
	drop_all(p);
	free(p);
}

static int grow(struct sonde_stack_pending *p)
{
	size_t cap = p->cap ? p->cap * 2 : 256;
	struct pending_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < p->cap; i++)
		if (p->slots[i].tid)
			*find(slots, cap, p->slots[i].tid) = p->slots[i];
	free(p->slots);
	p->slots = slots;
	p->cap = cap;
	return 0;
}

int sonde_stack_pending_put(struct sonde_stack_pending *p, uint32_t pid, uint32_t tid,
			    const uint64_t *ips, size_t n)
{
	struct pending_slot *s = p->cap ? find(p->slots, p->cap, tid) : NULL;

	if (!tid)
		return 0;	/* the idle task never blocks */
	if (!s || !s->tid) {
		if (p->used >= PENDING_MAX)
			drop_all(p);
		if ((p->used + 1) * 2 > p->cap && grow(p))
			return -ENOMEM;
		s = find(p->slots, p->cap, tid);
	}
	if (n > s->cap) {
		uint64_t *ips_new = realloc(s->ips, n * sizeof(*ips));

		if (!ips_new)
			return -ENOMEM;
		s->ips = ips_new;
		s->cap = n;
	}
	if (!s->tid) {
		s->tid = tid;
		p->used++;
	}
	s->pid = pid;
	s->n = n;
	s->waiting = true;
	if (n)
		memcpy(s->ips, ips, n * sizeof(*ips));
	return 0;
}

bool sonde_stack_pending_take(struct sonde_stack_pending *p, uint32_t pid, uint32_t tid,
			      const uint64_t **ips, size_t *n)
{
	struct pending_slot *s;

	if (!p->cap || !tid)
		return false;
	s = find(p->slots, p->cap, tid);
	if (!s->tid || !s->waiting || s->pid != pid)
		return false;
	s->waiting = false;
	*ips = s->ips;
	*n = s->n;
	return true;
}

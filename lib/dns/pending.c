/* Outstanding queries in a chained hash table, plus a list in send order:
 * matching a response is a lookup, expiring timeouts walks from the oldest
 * and stops at the first one still in time. */
#include <stdlib.h>
#include <string.h>

#include "sonde/dns_pending.h"

#define BUCKETS 1024

struct entry {
	struct sonde_dns_query q;
	struct entry *next_in_bucket;
	struct entry *older, *newer;	/* send order */
};

struct sonde_dns_pending {
	struct entry *buckets[BUCKETS];
	struct entry *oldest, *newest;
	size_t count, max;
};

_Static_assert(sizeof(struct sonde_dns_key) == 44, "struct sonde_dns_key has padding");

static size_t bucket_of(const struct sonde_dns_key *key)
{
	const uint8_t *b = (const uint8_t *)key;
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < sizeof(*key); i++)
		h = (h ^ b[i]) * 16777619u;
	return h % BUCKETS;
}

struct sonde_dns_pending *sonde_dns_pending_new(size_t max)
{
	struct sonde_dns_pending *p = calloc(1, sizeof(*p));

	if (p)
		p->max = max;
	return p;
}

static struct entry **find(struct sonde_dns_pending *p, const struct sonde_dns_key *key)
{
	struct entry **link = &p->buckets[bucket_of(key)];

	while (*link && memcmp(&(*link)->q.key, key, sizeof(*key)))
		link = &(*link)->next_in_bucket;
	return link;
}

enum sonde_dns_add sonde_dns_pending_add(struct sonde_dns_pending *p, const struct sonde_dns_query *q)
{
	struct entry **link = find(p, &q->key);
	struct entry *e;

	if (*link)
		return SONDE_DNS_RETRANSMIT;
	if (p->count >= p->max || !(e = malloc(sizeof(*e))))
		return SONDE_DNS_FULL;
	e->q = *q;
	e->next_in_bucket = NULL;
	*link = e;
	/* Events arrive in time order per CPU, nearly so overall: append. */
	e->older = p->newest;
	e->newer = NULL;
	if (p->newest)
		p->newest->newer = e;
	else
		p->oldest = e;
	p->newest = e;
	p->count++;
	return SONDE_DNS_ADDED;
}

static void unlink_entry(struct sonde_dns_pending *p, struct entry **link)
{
	struct entry *e = *link;

	*link = e->next_in_bucket;
	if (e->older)
		e->older->newer = e->newer;
	else
		p->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		p->newest = e->older;
	p->count--;
	free(e);
}

bool sonde_dns_pending_take(struct sonde_dns_pending *p, const struct sonde_dns_key *key,
			    struct sonde_dns_query *out)
{
	struct entry **link = find(p, key);

	if (!*link)
		return false;
	*out = (*link)->q;
	unlink_entry(p, link);
	return true;
}

size_t sonde_dns_pending_expire(struct sonde_dns_pending *p, uint64_t sent_before_ns,
				void (*fn)(void *ctx, const struct sonde_dns_query *q), void *ctx)
{
	size_t n = 0;

	while (p->oldest && p->oldest->q.sent_ns < sent_before_ns) {
		struct sonde_dns_query q = p->oldest->q;

		unlink_entry(p, find(p, &q.key));
		fn(ctx, &q);
		n++;
	}
	return n;
}

size_t sonde_dns_pending_count(const struct sonde_dns_pending *p)
{
	return p->count;
}

void sonde_dns_pending_free(struct sonde_dns_pending *p)
{
	if (!p)
		return;
	while (p->oldest)
		unlink_entry(p, find(p, &p->oldest->q.key));
	free(p);
}

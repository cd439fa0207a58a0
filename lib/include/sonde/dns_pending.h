/* Outstanding DNS queries, waiting for their response or their deadline.
 * A query is known by its conversation (namespace, transport, client and
 * server address and port) and its DNS id; the response names the same
 * conversation from the other side. The same key twice is a retransmit. */
#ifndef SONDE_DNS_PENDING_H
#define SONDE_DNS_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sonde/dns.h"

/* No padding: keys are hashed and compared as bytes. */
struct sonde_dns_key {
	uint8_t client[16];	/* network byte order; IPv4 in the first 4 */
	uint8_t server[16];
	uint32_t netns;
	uint16_t client_port;
	uint16_t server_port;
	uint16_t id;
	uint8_t af;
	uint8_t proto;
};

struct sonde_dns_query {
	struct sonde_dns_key key;
	uint64_t sent_ns;	/* CLOCK_MONOTONIC */
	uint32_t pid;
	uint32_t tid;
	char comm[16];
	uint16_t qtype;
	char qname[SONDE_DNS_NAME_MAX];
};

struct sonde_dns_pending;

/* At most max queries are held; NULL when out of memory. */
struct sonde_dns_pending *sonde_dns_pending_new(size_t max);
void sonde_dns_pending_free(struct sonde_dns_pending *p);

enum sonde_dns_add {
	SONDE_DNS_ADDED,
	SONDE_DNS_RETRANSMIT,	/* already waiting: the first send counts */
	SONDE_DNS_FULL,		/* max reached (or no memory): not tracked */
};
enum sonde_dns_add sonde_dns_pending_add(struct sonde_dns_pending *p, const struct sonde_dns_query *q);

/* Removes the query waiting under key into *out; false when none is. */
bool sonde_dns_pending_take(struct sonde_dns_pending *p, const struct sonde_dns_key *key,
			    struct sonde_dns_query *out);

/* Removes every query sent before sent_before_ns (all of them with
 * UINT64_MAX), oldest first, handing each to fn. Returns how many. */
size_t sonde_dns_pending_expire(struct sonde_dns_pending *p, uint64_t sent_before_ns,
				void (*fn)(void *ctx, const struct sonde_dns_query *q), void *ctx);

size_t sonde_dns_pending_count(const struct sonde_dns_pending *p);

#endif

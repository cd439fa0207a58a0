/* The DNS decoder against hand-built messages, well-formed and hostile,
 * and the pending-query table's matching, retransmits and expiry. */
#include <stdlib.h>

#include <sonde/dns.h>
#include <sonde/dns_pending.h>

#include "check.h"

/* ---- a tiny message builder ---- */

struct pkt {
	uint8_t b[1024];
	size_t len;
};

static void put8(struct pkt *p, uint8_t v)
{
	p->b[p->len++] = v;
}

static void put16(struct pkt *p, uint16_t v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

static void put_bytes(struct pkt *p, const void *s, size_t n)
{
	memcpy(p->b + p->len, s, n);
	p->len += n;
}

/* "www.example.com" as labels, with the terminating root label. */
static void put_name(struct pkt *p, const char *name)
{
	while (*name) {
		size_t n = strcspn(name, ".");

		put8(p, (uint8_t)n);
		put_bytes(p, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	put8(p, 0);
}

static void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	p->len = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, 0);
	put16(p, 0);
}

static void question(struct pkt *p, const char *name, uint16_t type)
{
	put_name(p, name);
	put16(p, type);
	put16(p, 1);
}

/* An answer whose owner is a pointer to the question name (offset 12). */
static void answer_rr(struct pkt *p, uint16_t type, const void *rdata, uint16_t rdlen)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put16(p, 0);
	put16(p, 300);
	put16(p, rdlen);
	put_bytes(p, rdata, rdlen);
}

static struct sonde_dns_msg msg;

/* ---- well-formed ---- */

static void test_query(void)
{
	struct pkt p;

	header(&p, 0x1234, 0x0100, 1, 0);
	question(&p, "www.example.com", SONDE_DNS_AAAA);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_U64(msg.id, 0x1234);
	CHECK(!msg.response);
	CHECK_STR(msg.qname, "www.example.com");
	CHECK_U64(msg.qtype, SONDE_DNS_AAAA);
	CHECK_U64(msg.qclass, 1);
	CHECK_U64(msg.n_answers, 0);
}

static void test_response_a_aaaa_cname(void)
{
	static const uint8_t v4[4] = {192, 0, 2, 7};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct pkt p;
	uint8_t target[32];
	size_t tlen;

	header(&p, 7, 0x8180, 1, 3);
	question(&p, "a.example.org", SONDE_DNS_A);
	/* CNAME rdata: "cdn" + pointer to "example.org" (offset 14). */
	tlen = 0;
	target[tlen++] = 3;
	memcpy(target + tlen, "cdn", 3);
	tlen += 3;
	target[tlen++] = 0xc0;
	target[tlen++] = 14;
	answer_rr(&p, SONDE_DNS_CNAME, target, (uint16_t)tlen);
	answer_rr(&p, SONDE_DNS_A, v4, 4);
	answer_rr(&p, SONDE_DNS_AAAA, v6, 16);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK(msg.response);
	CHECK_U64(msg.rcode, 0);
	CHECK_U64(msg.n_answers, 3);
	CHECK_STR(msg.answers[0].text, "CNAME cdn.example.org");
	CHECK_STR(msg.answers[1].text, "192.0.2.7");
	CHECK_STR(msg.answers[2].text, "2001:db8::1");
}

static void test_nxdomain_and_other_types(void)
{
	static const uint8_t mx[] = {0, 10, 0xc0, 12};
	struct pkt p;
	char buf[16];

	header(&p, 9, 0x8183, 1, 0);
	question(&p, "nope.test", SONDE_DNS_A);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_STR(sonde_dns_rcode_name(msg.rcode, buf), "NXDOMAIN");

	header(&p, 9, 0x8180, 1, 1);
	question(&p, "mail.test", 15);
	answer_rr(&p, 15, mx, sizeof(mx));
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_STR(msg.answers[0].text, "MX");
}

static void test_names_of_codes(void)
{
	char buf[16];

	CHECK_STR(sonde_dns_type_name(1, buf), "A");
	CHECK_STR(sonde_dns_type_name(28, buf), "AAAA");
	CHECK_STR(sonde_dns_type_name(65, buf), "HTTPS");
	CHECK_STR(sonde_dns_type_name(4242, buf), "TYPE4242");
	CHECK_STR(sonde_dns_rcode_name(0, buf), "NOERROR");
	CHECK_STR(sonde_dns_rcode_name(2, buf), "SERVFAIL");
	CHECK_STR(sonde_dns_rcode_name(5, buf), "REFUSED");
	CHECK_STR(sonde_dns_rcode_name(15, buf), "RCODE15");
}

static void test_root_and_escaped_labels(void)
{
	struct pkt p;

	header(&p, 1, 0x0100, 1, 0);
	put8(&p, 0);
	put16(&p, 2);
	put16(&p, 1);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_STR(msg.qname, ".");

	/* A dot, a backslash, an escape character and a space inside labels
	 * come out as \DDD or \c, never raw. */
	header(&p, 1, 0x0100, 1, 0);
	put8(&p, 6);
	put_bytes(&p, "a.b\\\x1b ", 6);
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_STR(msg.qname, "a\\.b\\\\\\027\\032");
}

static void test_answers_beyond_the_limit_are_counted(void)
{
	static const uint8_t v4[4] = {10, 0, 0, 1};
	struct pkt p;

	header(&p, 3, 0x8180, 1, SONDE_DNS_MAX_ANSWERS + 4);
	question(&p, "many.test", SONDE_DNS_A);
	for (int i = 0; i < SONDE_DNS_MAX_ANSWERS + 4; i++)
		answer_rr(&p, SONDE_DNS_A, v4, 4);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_U64(msg.n_answers, SONDE_DNS_MAX_ANSWERS);
	CHECK_U64(msg.n_answers_skipped, 4);
}

/* ---- malformed ---- */

static void test_short_and_empty(void)
{
	struct pkt p = {0};

	CHECK(sonde_dns_parse(p.b, 0, &msg) == SONDE_DNS_ERR_SHORT);
	header(&p, 1, 0x0100, 1, 0);
	CHECK(sonde_dns_parse(p.b, 11, &msg) == SONDE_DNS_ERR_SHORT);
	/* A header announcing a question that is not there. */
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_TRUNCATED);
	header(&p, 1, 0x0100, 0, 0);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NO_QUESTION);
}

static void test_truncated_everywhere(void)
{
	static const uint8_t v4[4] = {10, 0, 0, 1};
	struct pkt p;

	header(&p, 1, 0x8180, 1, 2);
	question(&p, "cut.example.com", SONDE_DNS_A);
	answer_rr(&p, SONDE_DNS_A, v4, 4);
	answer_rr(&p, SONDE_DNS_A, v4, 4);
	/* Every prefix decodes or fails cleanly; within the question it is
	 * an error, within the answers a partial result. */
	for (size_t n = 0; n <= p.len; n++) {
		int rc = sonde_dns_parse(p.b, n, &msg);

		if (n < 12)
			CHECK(rc == SONDE_DNS_ERR_SHORT);
		else if (n < 12 + 17 + 4)
			CHECK(rc == SONDE_DNS_ERR_TRUNCATED);
		else if (n < p.len)
			CHECK(rc == SONDE_DNS_INCOMPLETE && msg.n_answers <= 1);
		else
			CHECK(rc == SONDE_DNS_OK && msg.n_answers == 2);
	}
}

static void test_pointer_loops_and_forward_pointers(void)
{
	struct pkt p;

	/* A name that points to itself. */
	header(&p, 1, 0x0100, 1, 0);
	put16(&p, 0xc00c);
	put16(&p, 1);
	put16(&p, 1);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NAME);

	/* Two labels pointing at each other: the second jump goes forward. */
	header(&p, 1, 0x0100, 1, 0);
	put8(&p, 1);
	put8(&p, 'a');
	put16(&p, 0xc010);	/* -> offset 16, ahead */
	put16(&p, 0xc00c);	/* offset 16: back to 12 */
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NAME);

	/* A pointer beyond the end of the message. */
	header(&p, 1, 0x0100, 1, 0);
	put16(&p, 0xc3ff);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NAME);

	/* A pointer cut in half. */
	header(&p, 1, 0x0100, 1, 0);
	put8(&p, 0xc0);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_TRUNCATED);
}

static void test_overlong_labels_and_names(void)
{
	struct pkt p;
	char label[64];

	/* 0x40 and 0x80 label types do not exist. */
	header(&p, 1, 0x0100, 1, 0);
	put8(&p, 0x40);
	put_bytes(&p, "x", 1);
	put8(&p, 0);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NAME);

	/* Five 63-byte labels: 320 bytes, more than a name may have. */
	memset(label, 'z', sizeof(label));
	header(&p, 1, 0x0100, 1, 0);
	for (int i = 0; i < 5; i++) {
		put8(&p, 63);
		put_bytes(&p, label, 63);
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_NAME);

	/* Four of them (256 bytes with the root) is one too many as well;
	 * three plus a 61-byte label is exactly 255 and fine. */
	header(&p, 1, 0x0100, 1, 0);
	for (int i = 0; i < 3; i++) {
		put8(&p, 63);
		put_bytes(&p, label, 63);
	}
	put8(&p, 61);
	put_bytes(&p, label, 61);
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_OK);
	CHECK_U64(strlen(msg.qname), 63 * 3 + 61 + 3);
	p.b[12 + 3 * 64] = 62;	/* the last label one longer: 256 */
	CHECK(sonde_dns_parse(p.b, p.len, &msg) != SONDE_DNS_OK);
}

static void test_counts_larger_than_the_packet(void)
{
	static const uint8_t v4[4] = {10, 0, 0, 1};
	struct pkt p;

	header(&p, 1, 0x8180, 1, 65535);
	question(&p, "big.test", SONDE_DNS_A);
	answer_rr(&p, SONDE_DNS_A, v4, 4);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_INCOMPLETE);
	CHECK_U64(msg.n_answers, 1);

	/* An rdlength running past the end. */
	header(&p, 1, 0x8180, 1, 1);
	question(&p, "big.test", SONDE_DNS_A);
	answer_rr(&p, SONDE_DNS_A, v4, 4);
	p.b[p.len - 5] = 0xff;
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_INCOMPLETE);
	CHECK_U64(msg.n_answers, 0);

	/* Many questions announced, one present. */
	header(&p, 1, 0x0100, 40000, 0);
	question(&p, "q.test", SONDE_DNS_A);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_INCOMPLETE);
	CHECK_STR(msg.qname, "q.test");
}

static void test_bad_rdata(void)
{
	static const uint8_t five[5] = {1, 2, 3, 4, 5};
	static const uint8_t loop[2] = {0xc0, 0x00};	/* placeholder, patched below */
	struct pkt p;
	size_t at;

	header(&p, 1, 0x8180, 1, 1);
	question(&p, "r.test", SONDE_DNS_A);
	answer_rr(&p, SONDE_DNS_A, five, 5);
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_RDATA);

	/* A CNAME whose target points at itself. */
	header(&p, 1, 0x8180, 1, 1);
	question(&p, "r.test", SONDE_DNS_A);
	answer_rr(&p, SONDE_DNS_CNAME, loop, 2);
	at = p.len - 2;
	p.b[at + 1] = (uint8_t)at;
	CHECK(sonde_dns_parse(p.b, p.len, &msg) == SONDE_DNS_ERR_RDATA);
}

/* Random bytes and random mutations of a valid message never make the
 * decoder read out of bounds (the ASan build checks) or loop. */
static void test_random_inputs(void)
{
	static const uint8_t v4[4] = {10, 0, 0, 1};
	struct pkt base, p;
	uint8_t *heap;

	header(&base, 5, 0x8180, 1, 2);
	question(&base, "fuzz.example.com", SONDE_DNS_A);
	answer_rr(&base, SONDE_DNS_CNAME, "\x01x\xc0\x0c", 4);
	answer_rr(&base, SONDE_DNS_A, v4, 4);
	srand(42);
	for (int i = 0; i < 20000; i++) {
		p = base;
		for (int k = 0; k < 1 + i % 4; k++)
			p.b[rand() % p.len] = (uint8_t)rand();
		p.len = (size_t)rand() % (p.len + 1);
		/* An exact-size heap copy, so ASan sees any overread. */
		heap = malloc(p.len ? p.len : 1);
		memcpy(heap, p.b, p.len);
		(void)sonde_dns_parse(heap, p.len, &msg);
		free(heap);
	}
	CHECK(1);
}

/* ---- pending queries ---- */

static struct sonde_dns_query query(uint16_t id, uint16_t port, uint64_t sent)
{
	struct sonde_dns_query q = {.sent_ns = sent, .pid = 100 + id, .qtype = 1};

	q.key.af = 2;
	q.key.proto = 17;
	q.key.client[0] = 127;
	q.key.client[3] = 1;
	q.key.server[0] = 127;
	q.key.server[3] = 1;
	q.key.client_port = port;
	q.key.server_port = 53;
	q.key.id = id;
	q.key.netns = 4026531840u;
	snprintf(q.qname, sizeof(q.qname), "n%u.test", id);
	return q;
}

static int expired_count;
static uint16_t expired_ids[8];

static void on_expired(void *ctx, const struct sonde_dns_query *q)
{
	(void)ctx;
	if (expired_count < 8)
		expired_ids[expired_count] = q->key.id;
	expired_count++;
}

static void test_pending_match_retransmit_expire(void)
{
	struct sonde_dns_pending *p = sonde_dns_pending_new(3);
	struct sonde_dns_query a = query(1, 40000, 100), b = query(2, 40000, 200);
	struct sonde_dns_query c = query(3, 40001, 300), d = query(4, 40002, 400), got;
	struct sonde_dns_key other;

	CHECK(sonde_dns_pending_add(p, &a) == SONDE_DNS_ADDED);
	CHECK(sonde_dns_pending_add(p, &a) == SONDE_DNS_RETRANSMIT);
	CHECK(sonde_dns_pending_add(p, &b) == SONDE_DNS_ADDED);
	CHECK(sonde_dns_pending_add(p, &c) == SONDE_DNS_ADDED);
	CHECK(sonde_dns_pending_add(p, &d) == SONDE_DNS_FULL);
	CHECK_U64(sonde_dns_pending_count(p), 3);

	/* Same id, other namespace: not the same conversation. */
	other = b.key;
	other.netns++;
	CHECK(!sonde_dns_pending_take(p, &other, &got));
	CHECK(sonde_dns_pending_take(p, &b.key, &got));
	CHECK_U64(got.pid, b.pid);
	CHECK_STR(got.qname, "n2.test");
	CHECK(!sonde_dns_pending_take(p, &b.key, &got));

	expired_count = 0;
	CHECK_U64(sonde_dns_pending_expire(p, 250, on_expired, NULL), 1);
	CHECK_U64(expired_ids[0], 1);
	CHECK_U64(sonde_dns_pending_expire(p, UINT64_MAX, on_expired, NULL), 1);
	CHECK_U64(expired_ids[1], 3);
	CHECK_U64(sonde_dns_pending_count(p), 0);
	/* The first send of a retransmitted query had set the time. */
	CHECK(sonde_dns_pending_add(p, &d) == SONDE_DNS_ADDED);
	sonde_dns_pending_free(p);
}

int main(void)
{
	RUN(test_query);
	RUN(test_response_a_aaaa_cname);
	RUN(test_nxdomain_and_other_types);
	RUN(test_names_of_codes);
	RUN(test_root_and_escaped_labels);
	RUN(test_answers_beyond_the_limit_are_counted);
	RUN(test_short_and_empty);
	RUN(test_truncated_everywhere);
	RUN(test_pointer_loops_and_forward_pointers);
	RUN(test_overlong_labels_and_names);
	RUN(test_counts_larger_than_the_packet);
	RUN(test_bad_rdata);
	RUN(test_random_inputs);
	RUN(test_pending_match_retransmit_expire);
	return CHECK_DONE();
}

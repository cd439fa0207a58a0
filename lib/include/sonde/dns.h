/* DNS messages (RFC 1035) decoded from untrusted bytes, and the names of
 * their codes. sonde_dns_parse() is a pure function over a buffer: every
 * read is bounds-checked, names obey the wire limits, compression pointers
 * may only point backwards (no loops), and nothing is allocated — so it
 * can be fed anything, by a tool or by a fuzzer. */
#ifndef SONDE_DNS_PARSE_H
#define SONDE_DNS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SONDE_DNS_HEADER_LEN 12
/* A name in presentation form: 255 wire bytes, each byte at worst "\DDD". */
#define SONDE_DNS_NAME_MAX 1024
/* Answers kept per message; the rest are counted in n_answers_skipped. */
#define SONDE_DNS_MAX_ANSWERS 16
/* Text of one answer: an address, or "CNAME <name>", or a type name. */
#define SONDE_DNS_ANSWER_MAX (SONDE_DNS_NAME_MAX + 8)

enum sonde_dns_type {
	SONDE_DNS_A = 1,
	SONDE_DNS_NS = 2,
	SONDE_DNS_CNAME = 5,
	SONDE_DNS_PTR = 12,
	SONDE_DNS_AAAA = 28,
};

enum sonde_dns_status {
	SONDE_DNS_OK = 0,
	/* Answers ran past the end of the buffer: the message is whole up to
	 * there. Expected when a capture cut a long response short. */
	SONDE_DNS_INCOMPLETE = 1,
	SONDE_DNS_ERR_SHORT = -1,	/* not even a header */
	SONDE_DNS_ERR_NAME = -2,	/* bad label, pointer or name length */
	SONDE_DNS_ERR_TRUNCATED = -3,	/* question cut short */
	SONDE_DNS_ERR_NO_QUESTION = -4,	/* qdcount is 0 */
	SONDE_DNS_ERR_RDATA = -5,	/* A/AAAA/CNAME data of the wrong shape */
};

struct sonde_dns_answer {
	uint16_t type;
	char text[SONDE_DNS_ANSWER_MAX];
};

struct sonde_dns_msg {
	uint16_t id;
	bool response;		/* QR bit */
	bool truncated;		/* TC bit: the server cut the answer */
	uint8_t opcode;
	uint8_t rcode;
	uint16_t qdcount, ancount, nscount, arcount;
	/* The first question (resolvers send exactly one). */
	char qname[SONDE_DNS_NAME_MAX];
	uint16_t qtype;
	uint16_t qclass;
	size_t n_answers;
	size_t n_answers_skipped;	/* past SONDE_DNS_MAX_ANSWERS */
	struct sonde_dns_answer answers[SONDE_DNS_MAX_ANSWERS];
};

/* Decodes header, first question and answer section. Returns OK,
 * INCOMPLETE (msg holds what came before the end), or a negative
 * SONDE_DNS_ERR_* with msg unspecified beyond the header. */
int sonde_dns_parse(const uint8_t *buf, size_t len, struct sonde_dns_msg *msg);

/* Reads the (possibly compressed) name at *off into presentation form
 * ("www.example.com", "." for the root; dots and backslashes inside
 * labels and non-printable bytes as \DDD), advancing *off past it in the
 * record. Returns 0 or SONDE_DNS_ERR_NAME / SONDE_DNS_ERR_TRUNCATED. */
int sonde_dns_read_name(const uint8_t *buf, size_t len, size_t *off,
			char out[SONDE_DNS_NAME_MAX]);

/* "A", "AAAA", "MX", ...; "TYPE<n>" (RFC 3597) for others, in buf. */
const char *sonde_dns_type_name(uint16_t type, char buf[16]);
/* "NOERROR", "NXDOMAIN", ...; "RCODE<n>" for others, in buf. */
const char *sonde_dns_rcode_name(uint8_t rcode, char buf[16]);
const char *sonde_dns_status_name(int status);

#endif

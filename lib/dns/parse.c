/* A DNS message decoder for bytes taken off the wire: nothing in the
 * message is trusted, every offset is checked before it is read. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sonde/dns.h"

#define LABEL_MAX 63
#define NAME_WIRE_MAX 255
#define POINTER_FLAGS 0xc0
/* More jumps than a legitimate name could need (each must go backwards,
 * so loops are impossible anyway; this bounds the work). */
#define MAX_JUMPS 64

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Appends one label byte in presentation form; out has room for the
 * worst case by construction (255 wire bytes, 4 chars each). */
static size_t put_label_byte(char *out, size_t o, uint8_t c)
{
	if (c == '.' || c == '\\') {
		out[o++] = '\\';
		out[o++] = (char)c;
	} else if (c > 0x20 && c < 0x7f) {
		out[o++] = (char)c;
	} else {
		o += (size_t)snprintf(out + o, 5, "\\%03u", c);
	}
	return o;
}

/* Pointers must point strictly before the label that holds them, so every
 * jump goes backwards and a chain of them ends; labels and their length
 * bytes may not exceed the 255-byte wire limit. */
int sonde_dns_read_name(const uint8_t *buf, size_t len, size_t *off, char out[SONDE_DNS_NAME_MAX])
{
	size_t pos = *off, end_in_record = 0, o = 0, wire = 0, jumps = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return SONDE_DNS_ERR_TRUNCATED;
		l = buf[pos];
		if ((l & POINTER_FLAGS) == POINTER_FLAGS) {
			size_t target;

			if (pos + 2 > len)
				return SONDE_DNS_ERR_TRUNCATED;
			target = get16(buf + pos) & 0x3fff;
			if (target >= pos)
				return SONDE_DNS_ERR_NAME;
			if (!jumps)
				end_in_record = pos + 2;
			if (++jumps > MAX_JUMPS)
				return SONDE_DNS_ERR_NAME;
			pos = target;
			continue;
		}
		if (l & POINTER_FLAGS)	/* 0x40 and 0x80: no such label types */
			return SONDE_DNS_ERR_NAME;
		wire += 1 + l;
		if (wire > NAME_WIRE_MAX)
			return SONDE_DNS_ERR_NAME;
		if (l == 0) {
			pos++;
			break;
		}
		if (pos + 1 + l > len)
			return SONDE_DNS_ERR_TRUNCATED;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++)
			o = put_label_byte(out, o, buf[pos + 1 + i]);
		pos += 1 + l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	*off = jumps ? end_in_record : pos;
	return 0;
}

static int read_answer(const uint8_t *buf, size_t len, size_t *off, struct sonde_dns_msg *m)
{
	char owner[SONDE_DNS_NAME_MAX], target[SONDE_DNS_NAME_MAX];
	struct sonde_dns_answer *a;
	uint16_t type, rdlen;
	size_t rd;
	int rc;

	rc = sonde_dns_read_name(buf, len, off, owner);
	if (rc)
		return rc;
	if (*off + 10 > len)
		return SONDE_DNS_ERR_TRUNCATED;
	type = get16(buf + *off);
	rdlen = get16(buf + *off + 8);
	rd = *off + 10;
	if (rd + rdlen > len)
		return SONDE_DNS_ERR_TRUNCATED;
	*off = rd + rdlen;
	if (m->n_answers == SONDE_DNS_MAX_ANSWERS) {
		m->n_answers_skipped++;
		return 0;
	}
	a = &m->answers[m->n_answers];
	a->type = type;
	switch (type) {
	case SONDE_DNS_A:
	case SONDE_DNS_AAAA:
		if (rdlen != (type == SONDE_DNS_A ? 4 : 16))
			return SONDE_DNS_ERR_RDATA;
		inet_ntop(type == SONDE_DNS_A ? AF_INET : AF_INET6, buf + rd, a->text, sizeof(a->text));
		break;
	case SONDE_DNS_CNAME:
	case SONDE_DNS_NS:
	case SONDE_DNS_PTR: {
		size_t p = rd;
		char tn[16];

		/* The name may be compressed against the whole message but
		 * must itself lie within the rdata. */
		rc = sonde_dns_read_name(buf, rd + rdlen, &p, target);
		if (rc)
			return SONDE_DNS_ERR_RDATA;
		snprintf(a->text, sizeof(a->text), "%s %s", sonde_dns_type_name(type, tn), target);
		break;
	}
	default: {
		char tn[16];

		snprintf(a->text, sizeof(a->text), "%s", sonde_dns_type_name(type, tn));
		break;
	}
	}
	m->n_answers++;
	return 0;
}

int sonde_dns_parse(const uint8_t *buf, size_t len, struct sonde_dns_msg *m)
{
	size_t off = SONDE_DNS_HEADER_LEN;
	uint16_t flags;
	int rc;

	memset(m, 0, offsetof(struct sonde_dns_msg, answers));
	if (len < SONDE_DNS_HEADER_LEN)
		return SONDE_DNS_ERR_SHORT;
	m->id = get16(buf);
	flags = get16(buf + 2);
	m->response = flags >> 15;
	m->opcode = (flags >> 11) & 0xf;
	m->truncated = (flags >> 9) & 1;
	m->rcode = flags & 0xf;
	m->qdcount = get16(buf + 4);
	m->ancount = get16(buf + 6);
	m->nscount = get16(buf + 8);
	m->arcount = get16(buf + 10);
	if (m->qdcount == 0)
		return SONDE_DNS_ERR_NO_QUESTION;

	rc = sonde_dns_read_name(buf, len, &off, m->qname);
	if (rc)
		return rc;
	if (off + 4 > len)
		return SONDE_DNS_ERR_TRUNCATED;
	m->qtype = get16(buf + off);
	m->qclass = get16(buf + off + 2);
	off += 4;
	/* Further questions (never sent in practice) are stepped over. */
	for (uint16_t q = 1; q < m->qdcount; q++) {
		char skip[SONDE_DNS_NAME_MAX];

		rc = sonde_dns_read_name(buf, len, &off, skip);
		if (rc == SONDE_DNS_ERR_TRUNCATED || (!rc && off + 4 > len))
			return SONDE_DNS_INCOMPLETE;
		if (rc)
			return rc;
		off += 4;
	}
	for (uint16_t i = 0; i < m->ancount; i++) {
		rc = read_answer(buf, len, &off, m);
		if (rc == SONDE_DNS_ERR_TRUNCATED)
			return SONDE_DNS_INCOMPLETE;
		if (rc)
			return rc;
	}
	return SONDE_DNS_OK;
}

/* Names of DNS codes, as dig and the IANA registries spell them. */
#include <stdio.h>

#include "sonde/dns.h"

const char *sonde_dns_type_name(uint16_t type, char buf[16])
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{1, "A"}, {2, "NS"}, {5, "CNAME"}, {6, "SOA"}, {12, "PTR"}, {13, "HINFO"},
		{15, "MX"}, {16, "TXT"}, {28, "AAAA"}, {33, "SRV"}, {35, "NAPTR"},
		{39, "DNAME"}, {41, "OPT"}, {43, "DS"}, {46, "RRSIG"}, {47, "NSEC"},
		{48, "DNSKEY"}, {50, "NSEC3"}, {52, "TLSA"}, {64, "SVCB"}, {65, "HTTPS"},
		{99, "SPF"}, {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"}, {257, "CAA"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

const char *sonde_dns_rcode_name(uint8_t rcode, char buf[16])
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}

const char *sonde_dns_status_name(int status)
{
	switch (status) {
	case SONDE_DNS_OK:
		return "ok";
	case SONDE_DNS_INCOMPLETE:
		return "answers cut short";
	case SONDE_DNS_ERR_SHORT:
		return "shorter than a header";
	case SONDE_DNS_ERR_NAME:
		return "bad name";
	case SONDE_DNS_ERR_TRUNCATED:
		return "question cut short";
	case SONDE_DNS_ERR_NO_QUESTION:
		return "no question";
	case SONDE_DNS_ERR_RDATA:
		return "bad record data";
	}
	return "?";
}

/* DNS messages come off the wire from anyone. The parser must reject or
 * decode every input without reading out of bounds, and what it decodes
 * must keep its shape: bounded, NUL-terminated names made only of
 * printable bytes (anything else is written as \DDD). */
#include <stdlib.h>
#include <string.h>

#include <sonde/dns.h>

static void check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct sonde_dns_msg msg;
	int rc = sonde_dns_parse(data, size, &msg);

	if (rc == SONDE_DNS_OK || rc == SONDE_DNS_INCOMPLETE) {
		check_text(msg.qname, sizeof(msg.qname));
		if (msg.n_answers > SONDE_DNS_MAX_ANSWERS)
			abort();
		for (size_t i = 0; i < msg.n_answers; i++)
			check_text(msg.answers[i].text, sizeof(msg.answers[i].text));
	}
	return 0;
}

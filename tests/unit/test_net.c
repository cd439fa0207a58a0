#include <arpa/inet.h>

#include <sonde/net.h>

#include "check.h"

static const char *endpoint(int af, const char *addr, uint16_t port)
{
	static char buf[SONDE_ENDPOINT_STRLEN];
	uint8_t raw[16] = {0};

	inet_pton(af, addr, raw);
	sonde_format_endpoint(af, raw, port, buf);
	return buf;
}

static void endpoints(void)
{
	CHECK_STR(endpoint(AF_INET, "10.0.0.5", 443), "10.0.0.5:443");
	CHECK_STR(endpoint(AF_INET, "255.255.255.255", 65535), "255.255.255.255:65535");
	CHECK_STR(endpoint(AF_INET, "0.0.0.0", 0), "0.0.0.0:0");
	/* IPv6 in brackets, or the port would read as part of the address */
	CHECK_STR(endpoint(AF_INET6, "::1", 8080), "[::1]:8080");
	CHECK_STR(endpoint(AF_INET6, "::ffff:127.0.0.1", 22), "[::ffff:127.0.0.1]:22");
	/* a long address still fits with its port */
	CHECK_STR(endpoint(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	CHECK_STR(endpoint(99, "", 1), "?:1");
}

static void ca_states(void)
{
	CHECK_STR(sonde_tcp_ca_state_name(0), "open");
	CHECK_STR(sonde_tcp_ca_state_name(1), "disorder");
	CHECK_STR(sonde_tcp_ca_state_name(2), "cwr");
	CHECK_STR(sonde_tcp_ca_state_name(3), "recovery");
	CHECK_STR(sonde_tcp_ca_state_name(4), "loss");
	CHECK_STR(sonde_tcp_ca_state_name(5), "unknown");
	CHECK_STR(sonde_tcp_ca_state_name(-1), "unknown");
}

static void tcp_states(void)
{
	CHECK_STR(sonde_tcp_state_name(1), "ESTABLISHED");
	CHECK_STR(sonde_tcp_state_name(4), "FIN_WAIT1");
	CHECK_STR(sonde_tcp_state_name(12), "NEW_SYN_RECV");
	CHECK_STR(sonde_tcp_state_name(0), "UNKNOWN");
	CHECK_STR(sonde_tcp_state_name(13), "UNKNOWN");
}

int main(void)
{
	RUN(endpoints);
	RUN(ca_states);
	RUN(tcp_states);
	return CHECK_DONE();
}

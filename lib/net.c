#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sonde/net.h"

void sonde_format_addr(int af, const uint8_t *addr, char buf[SONDE_ADDR_STRLEN])
{
	if (!inet_ntop(af, addr, buf, SONDE_ADDR_STRLEN))
		snprintf(buf, SONDE_ADDR_STRLEN, "?");
}

void sonde_format_endpoint(int af, const uint8_t *addr, uint16_t port,
			   char buf[SONDE_ENDPOINT_STRLEN])
{
	char a[SONDE_ADDR_STRLEN];

	sonde_format_addr(af, addr, a);
	snprintf(buf, SONDE_ENDPOINT_STRLEN, af == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

const char *sonde_af_name(int af)
{
	return af == AF_INET ? "ipv4" : af == AF_INET6 ? "ipv6" : "unknown";
}

const char *sonde_tcp_state_name(int state)
{
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV",
		[4] = "FIN_WAIT1", [5] = "FIN_WAIT2", [6] = "TIME_WAIT",
		[7] = "CLOSE", [8] = "CLOSE_WAIT", [9] = "LAST_ACK",
		[10] = "LISTEN", [11] = "CLOSING", [12] = "NEW_SYN_RECV",
	};

	if (state > 0 && (size_t)state < sizeof(names) / sizeof(names[0]))
		return names[state];
	return "UNKNOWN";
}

const char *sonde_tcp_ca_state_name(int ca_state)
{
	/* include/net/tcp.h, enum tcp_ca_state */
	static const char *const names[] = {"open", "disorder", "cwr", "recovery", "loss"};

	if (ca_state >= 0 && (size_t)ca_state < sizeof(names) / sizeof(names[0]))
		return names[ca_state];
	return "unknown";
}

const char *sonde_errno_name(int err, char buf[16])
{
	static const struct {
		int err;
		const char *name;
	} known[] = {
		{ECONNREFUSED, "ECONNREFUSED"}, {ETIMEDOUT, "ETIMEDOUT"},
		{EHOSTUNREACH, "EHOSTUNREACH"}, {ENETUNREACH, "ENETUNREACH"},
		{ECONNRESET, "ECONNRESET"}, {ECONNABORTED, "ECONNABORTED"},
		{EPROTO, "EPROTO"}, {EACCES, "EACCES"}, {EPERM, "EPERM"},
		{EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENETDOWN, "ENETDOWN"},
		{EHOSTDOWN, "EHOSTDOWN"}, {EPIPE, "EPIPE"},
		/* Kernel-internal: a syscall interrupted by a signal, seen
		 * by tracers before it is restarted or turned into EINTR. */
		{512, "ERESTARTSYS"}, {513, "ERESTARTNOINTR"}, {514, "ERESTARTNOHAND"},
		{516, "ERESTART_RESTARTBLOCK"},
	};
	const char *name;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].err == err)
			return known[i].name;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, 16, "E%d", err);
	return buf;
}

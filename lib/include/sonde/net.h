#ifndef SONDE_NET_H
#define SONDE_NET_H

#include <stddef.h>
#include <stdint.h>

#define SONDE_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */

/* Formats a network-order address of family AF_INET (first 4 bytes) or
 * AF_INET6 (16 bytes). */
void sonde_format_addr(int af, const uint8_t *addr, char buf[SONDE_ADDR_STRLEN]);
/* "ipv4" / "ipv6" / "unknown". */
const char *sonde_af_name(int af);
/* "ESTABLISHED", "SYN_SENT", ... for the kernel's TCP_* states. */
const char *sonde_tcp_state_name(int state);
/* "ECONNREFUSED" etc. for errno values; "E<n>" otherwise. */
const char *sonde_errno_name(int err, char buf[16]);

#endif

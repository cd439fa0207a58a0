#ifndef SONDE_NET_H
#define SONDE_NET_H

#include <stddef.h>
#include <stdint.h>

#define SONDE_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */

/* Formats a network-order address of family AF_INET (first 4 bytes) or
 * AF_INET6 (16 bytes). */
void sonde_format_addr(int af, const uint8_t *addr, char buf[SONDE_ADDR_STRLEN]);
/* "10.0.0.1:443" or "[::1]:443": an address and a port in one column. */
#define SONDE_ENDPOINT_STRLEN (SONDE_ADDR_STRLEN + 8)
void sonde_format_endpoint(int af, const uint8_t *addr, uint16_t port,
			   char buf[SONDE_ENDPOINT_STRLEN]);
/* "ipv4" / "ipv6" / "unknown". */
const char *sonde_af_name(int af);
/* "ESTABLISHED", "SYN_SENT", ... for the kernel's TCP_* states. */
const char *sonde_tcp_state_name(int state);
/* "open", "disorder", "cwr", "recovery", "loss" for the kernel's TCP_CA_*
 * congestion-avoidance states; "unknown" otherwise. */
const char *sonde_tcp_ca_state_name(int ca_state);
/* "ECONNREFUSED" etc. for errno values; "E<n>" otherwise. */
const char *sonde_errno_name(int err, char buf[16]);

#endif

/* Probe-table alternatives that several tools declare alike, matching the
 * programs the shared BPF headers define (bpf/sonde_sock.bpf.h). */
#ifndef SONDE_PROBES_H
#define SONDE_PROBES_H

#include "sonde/session.h"

/* sock:inet_sock_set_state, from SONDE_ON_SET_STATE(). */
#define SONDE_ALTS_SET_STATE							\
	{SONDE_ATTACH_TP_BTF, "set_state_btf", "sock/inet_sock_set_state"},	\
	{SONDE_ATTACH_RAW_TP, "set_state_raw", "sock/inet_sock_set_state"},	\
	{SONDE_ATTACH_TRACEPOINT, "set_state_tp", "sock/inet_sock_set_state"}

#endif

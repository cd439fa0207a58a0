/* Probe-table alternatives that tools declare alike: the usual three for
 * a tracepoint, and those of the programs the shared BPF headers define
 * (bpf/sonde_sock.bpf.h). */
#ifndef SONDE_PROBES_H
#define SONDE_PROBES_H

#include "sonde/session.h"

/* A tracepoint ("category/name") reached three ways, best first, by the
 * programs PREFIX_btf, PREFIX_raw and PREFIX_tp (PREFIX a string literal):
 * the names every tool's BPF side gives them. */
#define SONDE_ALTS_TRACEPOINT(prefix, tracepoint)		\
	{SONDE_ATTACH_TP_BTF, prefix "_btf", tracepoint},	\
	{SONDE_ATTACH_RAW_TP, prefix "_raw", tracepoint},	\
	{SONDE_ATTACH_TRACEPOINT, prefix "_tp", tracepoint}

/* sock:inet_sock_set_state, from SONDE_ON_SET_STATE(). */
#define SONDE_ALTS_SET_STATE SONDE_ALTS_TRACEPOINT("set_state", "sock/inet_sock_set_state")

/* Its cover (see SONDE_ON_SET_STATE): a probe of its own, optional, next
 * to the one with SONDE_ALTS_SET_STATE. Raw tracepoints only: programs on
 * classic ones cannot run while another is running. */
#define SONDE_PROBE_SET_STATE_COVER						\
	{									\
		.name = "TCP state changes, covering skipped runs",			\
		.optional = true,						\
		.covers_previous = true,					\
		.alts = {							\
			{SONDE_ATTACH_TP_BTF, "set_state_cover_btf", "sock/inet_sock_set_state"}, \
			{SONDE_ATTACH_RAW_TP, "set_state_cover_raw", "sock/inet_sock_set_state"}, \
		},								\
	}

#endif

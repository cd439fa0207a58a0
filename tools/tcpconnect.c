/* sonde-tcpconnect: who connects where, how fast, and did it work. */
#include <stdio.h>
#include <string.h>

#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/log.h>
#include <sonde/net.h>
#include <sonde/out.h>
#include <sonde/probes.h>
#include <sonde/session.h>
#include <sonde/tool_main.h>

#include "tcpconnect.h"
#include "tcpconnect.skel.h"

enum { OPT_ATTEMPTS = SONDE_OPT_LONG };

struct tcpconnect {
	struct sonde_args args;
	bool attempts;
	bool show_uid;
	bool show_time;
	uint16_t ports[TCPCONNECT_MAX_PORTS];
	size_t n_ports;
	struct sonde_table table;
	struct sonde_json json;
	struct tcpconnect_bpf *skel;
};

static const struct sonde_option options[] = {
	{"attempts", OPT_ATTEMPTS, NULL, "also print each attempt when its SYN is sent"},
	{"port", 'P', "PORT[,PORT...]", "only connects to these destination ports (up to 16)"},
	{"print-uid", 'U', NULL, "add a UID column"},
	{"timestamp", 't', NULL, "add a TIME column (local wall clock)"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct tcpconnect *t = ctx;

	switch (key) {
	case OPT_ATTEMPTS:
		t->attempts = true;
		return 0;
	case 'P':
		if (sonde_parse_ports(arg, t->ports, TCPCONNECT_MAX_PORTS, &t->n_ports)) {
			sonde_err("invalid port list '%s' (1-65535, comma-separated, at most %d)",
				  arg, TCPCONNECT_MAX_PORTS);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case 'U':
		t->show_uid = true;
		return 0;
	case 't':
		t->show_time = true;
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

static const char *const outcome_names[] = {
	[TCPCONNECT_ATTEMPT] = "attempt",
	[TCPCONNECT_ESTABLISHED] = "established",
	[TCPCONNECT_REFUSED] = "refused",
	[TCPCONNECT_TIMEOUT] = "timeout",
	[TCPCONNECT_FAILED] = "failed",
	[TCPCONNECT_ABORTED] = "aborted",
};

enum { COL_TIME, COL_PID, COL_COMM, COL_UID, COL_AF, COL_SADDR, COL_SPORT,
       COL_DADDR, COL_DPORT, COL_OUTCOME, COL_LAT, N_COLS };

static const struct sonde_column all_columns[N_COLS] = {
	[COL_TIME] = {"TIME", 8, true},
	[COL_PID] = {"PID", 7, false},
	[COL_COMM] = {"COMM", 16, true},
	[COL_UID] = {"UID", 6, false},
	[COL_AF] = {"IP", 2, false},
	[COL_SADDR] = {"SADDR", 15, true},
	[COL_SPORT] = {"SPORT", 5, false},
	[COL_DADDR] = {"DADDR", 15, true},
	[COL_DPORT] = {"DPORT", 5, false},
	[COL_OUTCOME] = {"OUTCOME", 11, true},
	[COL_LAT] = {"LAT(ms)", 9, false},
};

static struct sonde_column columns[N_COLS];
static int column_of[N_COLS];

static void setup_table(struct tcpconnect *t)
{
	size_t n = 0;

	for (int c = 0; c < N_COLS; c++) {
		column_of[c] = -1;
		if ((c == COL_TIME && !t->show_time) || (c == COL_UID && !t->show_uid))
			continue;
		column_of[c] = n;
		columns[n++] = all_columns[c];
	}
	sonde_table_init(&t->table, columns, n, stdout);
}

static int print_table(struct tcpconnect *t, const struct tcpconnect_event *e, uint64_t wall)
{
	char when[16], pid[16], uid[16], sport[8], dport[8], lat[32], comm[17];
	char saddr[SONDE_ADDR_STRLEN], daddr[SONDE_ADDR_STRLEN];
	const char *cells[N_COLS];
	const char *by_col[N_COLS];

	sonde_format_clock(wall, when);
	snprintf(pid, sizeof(pid), "%u", e->pid);
	snprintf(uid, sizeof(uid), "%u", e->uid);
	snprintf(comm, sizeof(comm), "%.16s", e->comm);
	sonde_format_addr(e->af, e->saddr, saddr);
	sonde_format_addr(e->af, e->daddr, daddr);
	snprintf(sport, sizeof(sport), "%u", e->sport);
	snprintf(dport, sizeof(dport), "%u", e->dport);
	if (e->outcome == TCPCONNECT_ATTEMPT)
		snprintf(lat, sizeof(lat), "-");
	else
		snprintf(lat, sizeof(lat), "%.3f", e->latency_ns / 1e6);
	by_col[COL_TIME] = when;
	by_col[COL_PID] = pid;
	by_col[COL_COMM] = comm;
	by_col[COL_UID] = uid;
	by_col[COL_AF] = e->af == 2 ? "4" : "6";
	by_col[COL_SADDR] = saddr;
	by_col[COL_SPORT] = e->sport ? sport : "-";
	by_col[COL_DADDR] = daddr;
	by_col[COL_DPORT] = dport;
	by_col[COL_OUTCOME] = outcome_names[e->outcome];
	by_col[COL_LAT] = lat;
	for (int c = 0; c < N_COLS; c++)
		if (column_of[c] >= 0)
			cells[column_of[c]] = by_col[c];
	return sonde_table_row(&t->table, cells);
}

static int print_json(struct tcpconnect *t, const struct tcpconnect_event *e, uint64_t wall)
{
	struct sonde_json *j = &t->json;
	char saddr[SONDE_ADDR_STRLEN], daddr[SONDE_ADDR_STRLEN], errbuf[16];

	sonde_format_addr(e->af, e->saddr, saddr);
	sonde_format_addr(e->af, e->daddr, daddr);
	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", wall);
	sonde_json_u64(j, "pid", e->pid);
	sonde_json_u64(j, "tid", e->tid);
	sonde_json_strn(j, "comm", e->comm, strnlen(e->comm, sizeof(e->comm)));
	sonde_json_u64(j, "uid", e->uid);
	sonde_json_str(j, "af", sonde_af_name(e->af));
	sonde_json_str(j, "saddr", saddr);
	sonde_json_u64(j, "sport", e->sport);
	sonde_json_str(j, "daddr", daddr);
	sonde_json_u64(j, "dport", e->dport);
	sonde_json_str(j, "outcome", outcome_names[e->outcome]);
	if (e->outcome == TCPCONNECT_ATTEMPT)
		sonde_json_null(j, "latency_ns");
	else
		sonde_json_u64(j, "latency_ns", e->latency_ns);
	if (e->error)
		sonde_json_str(j, "error", sonde_errno_name(e->error, errbuf));
	sonde_json_str(j, "container", sonde_container_of_pid(e->pid));
	return sonde_json_emit(j, stdout);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct tcpconnect *t = ctx;
	const struct tcpconnect_event *e = data;
	uint64_t wall;

	if (size < sizeof(*e) || e->outcome > TCPCONNECT_ABORTED)
		return 0;
	wall = sonde_mono_to_wall_ns(e->ts_ns);
	if (t->args.format == SONDE_FMT_JSON)
		return print_json(t, e, wall);
	return print_table(t, e, wall);
}

static const struct sonde_probe probes[] = {
	{
		.name = "TCP state changes",
		.alts = {
			SONDE_ALTS_SET_STATE,
		},
	},
	SONDE_PROBE_SET_STATE_COVER,
	/* The next three only recover the source port of failed connects. */
	{
		.name = "TCP resets received",
		.optional = true,
		.alts = {
			SONDE_ALTS_TRACEPOINT("reset", "tcp/tcp_receive_reset"),
		},
	},
	{
		.name = "TCP retransmits",
		.optional = true,
		.alts = {
			SONDE_ALTS_TRACEPOINT("retransmit", "tcp/tcp_retransmit_skb"),
		},
	},
	{
		.name = "socket errors",
		.optional = true,
		.alts = {
			{SONDE_ATTACH_TP_BTF, "error_btf", "sock/inet_sk_error_report"},
			{SONDE_ATTACH_RAW_TP, "error_raw", "sock/inet_sk_error_report"},
		},
	},
};

static int setup(void *ctx, struct sonde_session_config *cfg)
{
	struct tcpconnect *t = ctx;

	t->skel = SONDE_OPEN_SKELETON(tcpconnect_bpf);
	if (!t->skel) {
		sonde_err("cannot open the BPF object: %m");
		return SONDE_EXIT_RUNTIME;
	}
	t->skel->rodata->report_attempts = t->attempts;
	t->skel->rodata->n_ports = t->n_ports;
	for (size_t i = 0; i < t->n_ports; i++)
		t->skel->rodata->ports[i] = t->ports[i];
	setup_table(t);
	*cfg = (struct sonde_session_config){
		.what = "TCP connects",
		.obj = t->skel->obj,
		.probes = probes,
		.n_probes = sizeof(probes) / sizeof(probes[0]),
		.header = &t->table,
		.on_event = on_event,
		.ctx = t,
	};
	return 0;
}

static void teardown(void *ctx)
{
	struct tcpconnect *t = ctx;

	tcpconnect_bpf__destroy(t->skel);
	sonde_json_free(&t->json);
}

int main(int argc, char **argv)
{
	static struct tcpconnect t;
	const struct sonde_tool tool = {
		.name = "tcpconnect",
		.summary = "Trace active TCP connects (IPv4 and IPv6) with their outcome and latency.",
		.description =
			"Each connect() is reported once its outcome is known: established (with the\n"
			"time from SYN to established), refused (answered by a reset), timeout (the\n"
			"kernel gave up retrying the SYN), failed (e.g. host unreachable) or aborted\n"
			"(closed by the application first). The process is the one that called\n"
			"connect(), even though the answer arrives in interrupt context.",
		.examples =
			"  sonde-tcpconnect 10                  watch connects for 10 seconds\n"
			"  sonde-tcpconnect -P 443,8443 -t      only HTTPS ports, with timestamps\n"
			"  sonde-tcpconnect -o json | jq 'select(.outcome != \"established\")'\n"
			"  sonde-tcpconnect -C 3f2a1b           only the container 3f2a1b...\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.options = options,
		.parse = parse_option,
		.ctx = &t,
	};
	const struct sonde_tool_main m = {&tool, &t.args, setup, teardown};

	return sonde_tool_main(&m, argc, argv);
}

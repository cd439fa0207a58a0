/* sonde-tcpretrans: which connections retransmit, and whose are they. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include <sonde/caps.h>
#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/grow.h>
#include <sonde/log.h>
#include <sonde/net.h>
#include <sonde/out.h>
#include <sonde/probes.h>
#include <sonde/session.h>
#include <sonde/sockowner.h>
#include <sonde/tool_main.h>

#include "tcpretrans.h"
#include "tcpretrans.skel.h"

/* -c is --cgroup in every sonde tool, so counting is long-only. */
enum { OPT_COUNT = SONDE_OPT_LONG };

struct tcpretrans {
	struct sonde_args args;
	bool count;
	uint16_t ports[TCPRETRANS_MAX_PORTS];
	size_t n_ports;
	struct tcpretrans_bpf *skel;
	struct sonde_table table;
	struct sonde_json json;
	uint64_t unknown_owner;	/* retransmissions reported with pid 0 */
	unsigned summaries;
};

static const struct sonde_option options[] = {
	{"count", OPT_COUNT, NULL, "count per connection; print them sorted at the end (and every -i)"},
	{"port", 'P', "PORT[,PORT...]", "only connections with this local or remote port (up to 16)"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct tcpretrans *t = ctx;

	switch (key) {
	case OPT_COUNT:
		t->count = true;
		return 0;
	case 'P':
		if (sonde_parse_ports(arg, t->ports, TCPRETRANS_MAX_PORTS, &t->n_ports)) {
			sonde_err("invalid port list '%s' (1-65535, comma-separated, at most %d)",
				  arg, TCPRETRANS_MAX_PORTS);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

static const char *kind_name(uint8_t kind)
{
	return kind == TCPRETRANS_TLP ? "tlp" : "retrans";
}

/* The owner BPF recorded, or else the one /proc says holds the socket;
 * false when neither knows it (pid 0, comm ""). */
static bool resolve_owner(uint32_t *pid, char comm[16], uint64_t ino)
{
	struct sonde_sock_owner owner;

	if (*pid)
		return true;
	if (!sonde_sock_owner_find(ino, &owner)) {
		*pid = owner.pid;
		memcpy(comm, owner.comm, 16);
		return true;
	}
	comm[0] = 0;
	return false;
}

/* ---- one line per retransmission ---- */

static const struct sonde_column event_columns[] = {
	{"TIME", 8, true},
	{"PID", 7, false},
	{"COMM", 16, true},
	{"IP", 2, false},
	{"LADDR:LPORT", 21, true},
	{"RADDR:RPORT", 21, true},
	{"STATE", 11, true},
	{"CA", 8, true},
	{"KIND", 7, true},
};

static int print_event_row(struct tcpretrans *t, const struct tcpretrans_event *e,
			   uint32_t pid, const char *comm, uint64_t wall)
{
	char when[16], pidbuf[16], comm_buf[17];
	char local[SONDE_ENDPOINT_STRLEN], remote[SONDE_ENDPOINT_STRLEN];
	const char *cells[] = {when, pidbuf, comm_buf, e->af == AF_INET ? "4" : "6", local, remote,
			       sonde_tcp_state_name(e->state), sonde_tcp_ca_state_name(e->ca_state),
			       kind_name(e->kind)};

	sonde_format_clock(wall, when);
	snprintf(pidbuf, sizeof(pidbuf), "%u", pid);
	snprintf(comm_buf, sizeof(comm_buf), "%.16s", pid ? comm : "-");
	sonde_format_endpoint(e->af, e->saddr, e->sport, local);
	sonde_format_endpoint(e->af, e->daddr, e->dport, remote);
	return sonde_table_row(&t->table, cells);
}

static void json_conn(struct sonde_json *j, int af, const uint8_t *saddr, uint16_t sport,
		      const uint8_t *daddr, uint16_t dport)
{
	char s[SONDE_ADDR_STRLEN], d[SONDE_ADDR_STRLEN];

	sonde_format_addr(af, saddr, s);
	sonde_format_addr(af, daddr, d);
	sonde_json_str(j, "af", sonde_af_name(af));
	sonde_json_str(j, "saddr", s);
	sonde_json_u64(j, "sport", sport);
	sonde_json_str(j, "daddr", d);
	sonde_json_u64(j, "dport", dport);
}

static int print_event_json(struct tcpretrans *t, const struct tcpretrans_event *e,
			    uint32_t pid, const char *comm, uint64_t wall)
{
	struct sonde_json *j = &t->json;

	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", wall);
	sonde_json_u64(j, "pid", pid);
	sonde_json_strn(j, "comm", comm, strnlen(comm, 16));
	json_conn(j, e->af, e->saddr, e->sport, e->daddr, e->dport);
	sonde_json_str(j, "state", sonde_tcp_state_name(e->state));
	sonde_json_str(j, "kind", kind_name(e->kind));
	sonde_json_str(j, "ca_state", sonde_tcp_ca_state_name(e->ca_state));
	sonde_json_str(j, "container", sonde_container_of_pid(pid));
	return sonde_json_emit(j, stdout);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	struct tcpretrans *t = ctx;
	const struct tcpretrans_event *e = data;
	uint32_t pid = e->pid;
	char comm[16];
	uint64_t wall;

	if (size < sizeof(*e))
		return 0;
	memcpy(comm, e->comm, sizeof(comm));
	if (!resolve_owner(&pid, comm, e->ino))
		t->unknown_owner++;
	wall = sonde_mono_to_wall_ns(e->ts_ns);
	if (t->args.format == SONDE_FMT_JSON)
		return print_event_json(t, e, pid, comm, wall);
	return print_event_row(t, e, pid, comm, wall);
}

/* ---- --count: per-connection summaries ---- */

struct conn_count {
	struct tcpretrans_conn conn;
	struct tcpretrans_tally tally;
};

static int by_count_desc(const void *a, const void *b)
{
	const struct tcpretrans_tally *x = &((const struct conn_count *)a)->tally;
	const struct tcpretrans_tally *y = &((const struct conn_count *)b)->tally;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (x->tlp < y->tlp) - (x->tlp > y->tlp);
}

/* Takes every connection out of the map: each summary covers the time
 * since the previous one. An increment that lands between our read and
 * delete of an entry is lost; the window is a few microseconds. */
static int drain_counts(struct tcpretrans *t, struct conn_count **out, size_t *n_out)
{
	const struct bpf_map *map = t->skel->maps.counts;
	struct tcpretrans_conn key, prev_key;
	struct conn_count *all = NULL;
	size_t n_keys = 0, n = 0, cap = 0;

	/* Keys first: deleting while walking would restart the walk. */
	while (!bpf_map__get_next_key(map, n_keys ? &prev_key : NULL, &key, sizeof(key))) {
		if (SONDE_GROW(all, cap, n_keys + 1, 64)) {
			free(all);
			return -ENOMEM;
		}
		all[n_keys++].conn = key;
		prev_key = key;
	}
	for (size_t i = 0; i < n_keys; i++) {
		all[n].conn = all[i].conn;
		if (!bpf_map__lookup_elem(map, &all[n].conn, sizeof(all[n].conn), &all[n].tally,
					  sizeof(all[n].tally), 0))
			bpf_map__delete_elem(map, &all[n++].conn, sizeof(key), 0);
	}
	if (n)
		qsort(all, n, sizeof(*all), by_count_desc);
	*out = all;
	*n_out = n;
	return 0;
}

static const struct sonde_column count_columns[] = {
	{"PID", 7, false},
	{"COMM", 16, true},
	{"IP", 2, false},
	{"LADDR:LPORT", 21, true},
	{"RADDR:RPORT", 21, true},
	{"RETRANS", 7, false},
	{"TLP", 5, false},
};

static int print_count_row(struct tcpretrans *t, const struct conn_count *c)
{
	const struct tcpretrans_conn *k = &c->conn;
	char pid[16], comm[17], total[24], tlp[24];
	char local[SONDE_ENDPOINT_STRLEN], remote[SONDE_ENDPOINT_STRLEN];
	const char *cells[] = {pid, comm, k->af == AF_INET ? "4" : "6", local, remote, total, tlp};

	snprintf(pid, sizeof(pid), "%u", c->tally.pid);
	snprintf(comm, sizeof(comm), "%.16s", c->tally.pid ? c->tally.comm : "-");
	sonde_format_endpoint(k->af, k->saddr, k->sport, local);
	sonde_format_endpoint(k->af, k->daddr, k->dport, remote);
	snprintf(total, sizeof(total), "%llu", (unsigned long long)c->tally.count);
	snprintf(tlp, sizeof(tlp), "%llu", (unsigned long long)c->tally.tlp);
	return sonde_table_row(&t->table, cells);
}

static int print_count_json(struct tcpretrans *t, const struct conn_count *c, uint64_t wall)
{
	const struct tcpretrans_conn *k = &c->conn;
	struct sonde_json *j = &t->json;

	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", wall);
	sonde_json_u64(j, "pid", c->tally.pid);
	sonde_json_strn(j, "comm", c->tally.comm, strnlen(c->tally.comm, 16));
	json_conn(j, k->af, k->saddr, k->sport, k->daddr, k->dport);
	sonde_json_u64(j, "count", c->tally.count);
	sonde_json_u64(j, "tlp_count", c->tally.tlp);
	sonde_json_str(j, "container", sonde_container_of_pid(c->tally.pid));
	return sonde_json_emit(j, stdout);
}

static int print_summary(struct tcpretrans *t, bool final)
{
	uint64_t wall = sonde_mono_to_wall_ns(sonde_now_mono_ns());
	struct conn_count *all;
	size_t n;
	int rc = 0;

	if (drain_counts(t, &all, &n)) {
		sonde_err("cannot read the per-connection counts: %s", strerror(ENOMEM));
		return -1;
	}
	if (!n && !final) {
		free(all);	/* a quiet interval prints nothing */
		return 0;
	}
	if (t->args.format == SONDE_FMT_TABLE) {
		if (t->args.interval_ns) {
			char when[16];

			sonde_format_clock(wall, when);
			printf("%s%s\n", t->summaries ? "\n" : "", when);
		}
		t->table.header_done = false;
		sonde_table_header(&t->table);
	}
	t->summaries++;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		struct conn_count *c = &all[i];

		if (!resolve_owner(&c->tally.pid, c->tally.comm, c->tally.ino))
			t->unknown_owner += c->tally.count;
		if (t->args.format == SONDE_FMT_JSON)
			rc = print_count_json(t, c, wall);
		else
			rc = print_count_row(t, c);
	}
	free(all);
	if (rc >= 0)
		rc = sonde_out_flush(stdout);
	return rc < 0 ? -1 : 0;
}

static int on_interval(void *ctx)
{
	return print_summary(ctx, false);
}

static int on_end(void *ctx)
{
	return print_summary(ctx, true);
}

/* ---- session ---- */

static const struct sonde_probe probes[] = {
	{
		.name = "TCP retransmits",
		.alts = {
			SONDE_ALTS_TRACEPOINT("retransmit", "tcp/tcp_retransmit_skb"),
		},
	},
	/* Owners: connect() and close. */
	{
		.name = "TCP state changes",
		.alts = {
			SONDE_ALTS_SET_STATE,
		},
	},
	SONDE_PROBE_SET_STATE_COVER,
	/* Owners of accepted sockets; without syscall tracepoints
	 * (CONFIG_FTRACE_SYSCALLS) they come from sends or /proc instead. */
	{
		.name = "accept4() returns",
		.optional = true,
		.alts = {{SONDE_ATTACH_TRACEPOINT, "accept4_exit", "syscalls/sys_exit_accept4"}},
	},
	{
		.name = "accept() returns",
		.optional = true,
		.alts = {{SONDE_ATTACH_TRACEPOINT, "accept_exit", "syscalls/sys_exit_accept"}},
	},
	/* Owners of sockets opened before the tool started (Linux 6.10+). The
	 * classic tracepoint's record has no socket, so it is not an option. */
	{
		.name = "TCP sends",
		.optional = true,
		.alts = {
			{SONDE_ATTACH_TP_BTF, "sendmsg_btf", "tcp/tcp_sendmsg_locked"},
			{SONDE_ATTACH_RAW_TP, "sendmsg_raw", "tcp/tcp_sendmsg_locked"},
		},
	},
};

static int setup(void *ctx, struct sonde_session_config *cfg)
{
	struct tcpretrans *t = ctx;

	if (t->args.interval_ns && !t->count) {
		sonde_err("-i needs --count (events are printed as they happen)");
		return SONDE_EXIT_USAGE;
	}
	t->skel = SONDE_OPEN_SKELETON(tcpretrans_bpf);
	if (!t->skel) {
		sonde_err("cannot open the BPF object: %m");
		return SONDE_EXIT_RUNTIME;
	}
	t->skel->rodata->count_mode = t->count;
	t->skel->rodata->n_ports = t->n_ports;
	for (size_t i = 0; i < t->n_ports; i++)
		t->skel->rodata->ports[i] = t->ports[i];
	if (t->count)
		sonde_table_init(&t->table, count_columns,
				 sizeof(count_columns) / sizeof(count_columns[0]), stdout);
	else
		sonde_table_init(&t->table, event_columns,
				 sizeof(event_columns) / sizeof(event_columns[0]), stdout);
	*cfg = (struct sonde_session_config){
		.what = "TCP retransmissions",
		.obj = t->skel->obj,
		.probes = probes,
		.n_probes = sizeof(probes) / sizeof(probes[0]),
		.header = t->count ? NULL : &t->table,
		.on_event = t->count ? NULL : on_event,
		.on_interval = t->count ? on_interval : NULL,
		.on_end = t->count ? on_end : NULL,
		.ctx = t,
		/* /proc/PID/fd of other processes, for owners BPF did not see */
		.keep_caps = SONDE_KEEP_PROC_READ,
	};
	return 0;
}

static void teardown(void *ctx)
{
	struct tcpretrans *t = ctx;

	if (t->unknown_owner)
		sonde_err("%llu retransmission%s on sockets whose owner is unknown (pid 0): "
			  "closed by their process, or held by none",
			  (unsigned long long)t->unknown_owner, t->unknown_owner == 1 ? "" : "s");
	if (sonde_sock_owner_scans())
		sonde_info(1, "looked for socket owners in /proc %llu time%s",
			   (unsigned long long)sonde_sock_owner_scans(),
			   sonde_sock_owner_scans() == 1 ? "" : "s");
	sonde_sock_owner_reset();
	tcpretrans_bpf__destroy(t->skel);
	sonde_json_free(&t->json);
}

int main(int argc, char **argv)
{
	static struct tcpretrans t;
	const struct sonde_tool tool = {
		.name = "tcpretrans",
		.summary = "Trace TCP retransmissions (IPv4 and IPv6) with the process that owns the socket.",
		.description =
			"Each retransmitted segment is printed with its connection, the socket's TCP\n"
			"state, the congestion state (CA: open, disorder, cwr, recovery, loss; RTOs\n"
			"show loss, fast retransmits recovery) and its kind: tlp for a tail loss\n"
			"probe, retrans otherwise. The process is the one that connected or accepted\n"
			"the socket (or first sent on it), not the task interrupted by the timer or\n"
			"softirq that retransmits; for older sockets it is looked up in /proc.\n"
			"PID 0 means the owner is unknown (e.g. the socket was already closed).\n"
			"With -p, -c or -C only sockets those processes opened, accepted or sent on\n"
			"are reported.\n"
			"\n"
			"--count aggregates in the kernel instead and prints one row per connection,\n"
			"sorted by count, at the end; with -i every interval, each covering the time\n"
			"since the previous summary. (-c is --cgroup, as in every sonde tool.)",
		.examples =
			"  sonde-tcpretrans                       every retransmission, until Ctrl-C\n"
			"  sonde-tcpretrans -P 443 30             only port 443 (either end), for 30 s\n"
			"  sonde-tcpretrans --count -i 10         top retransmitting connections every 10 s\n"
			"  sonde-tcpretrans -o json | jq 'select(.kind == \"retrans\")'\n"
			"  sonde-tcpretrans -C 3f2a1b             only sockets of the container 3f2a1b...\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.has_interval = true,
		.options = options,
		.parse = parse_option,
		.ctx = &t,
	};
	const struct sonde_tool_main m = {&tool, &t.args, setup, teardown};

	return sonde_tool_main(&m, argc, argv);
}

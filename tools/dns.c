/* sonde-dns: which process asks which name, what answer, how slow — from
 * the packets themselves, so every resolver (glibc, musl, Go's, dig, a
 * language runtime's own) is seen, not only libc's getaddrinfo(). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sonde/clock.h>
#include <sonde/cli.h>
#include <sonde/container.h>
#include <sonde/core_btf.h>
#include <sonde/dns.h>
#include <sonde/dns_pending.h>
#include <sonde/duration.h>
#include <sonde/grow.h>
#include <sonde/log.h>
#include <sonde/net.h>
#include <sonde/out.h>
#include <sonde/probes.h>
#include <sonde/session.h>
#include <sonde/tool_main.h>

#include "dns.h"
#include "dns.skel.h"

#define IPPROTO_TCP_ 6
#define DEFAULT_TIMEOUT_NS (5 * 1000000000ull)
/* Queries waiting at once; beyond, new ones are counted, not tracked. */
#define MAX_PENDING 16384

enum { OPT_PORT = SONDE_OPT_LONG, OPT_TIMEOUT, OPT_MIN_LATENCY };

struct counters {
	uint64_t queries, retransmits, untracked, responses, unmatched, malformed, cut, tcp_lost;
};

/* DNS-over-TCP events read from the perf buffer, ordered by time before
 * they are matched: per-CPU buffers do not keep order across CPUs. */
struct batch {
	struct dns_event *events;
	size_t n, cap;
};

struct dns_tool {
	struct sonde_args args;
	uint16_t port;
	uint64_t timeout_ns;
	uint64_t min_latency_ns;
	struct sonde_dns_pending *pending;
	struct counters n;
	struct sonde_table table;
	struct sonde_json json;
	struct dns_bpf *skel;
	struct perf_buffer *tcp_pb;
	struct batch tcp_batch;
};

static const struct sonde_option options[] = {
	{"port", OPT_PORT, "PORT", "the DNS server port to watch (default 53)"},
	{"timeout", OPT_TIMEOUT, "DUR", "report a query unanswered after DUR as TIMEOUT (default 5s)"},
	{"min-latency", OPT_MIN_LATENCY, "DUR", "only answers that took at least DUR (timeouts always show)"},
	{0},
};

static int parse_option(int key, const char *arg, void *ctx)
{
	struct dns_tool *t = ctx;
	uint64_t v;

	switch (key) {
	case OPT_PORT:
		if (sonde_parse_u64(arg, 1, 65535, &v)) {
			sonde_err("invalid port '%s' (1-65535)", arg);
			return SONDE_EXIT_USAGE;
		}
		t->port = (uint16_t)v;
		return 0;
	case OPT_TIMEOUT:
		if (sonde_parse_duration(arg, &t->timeout_ns) || !t->timeout_ns) {
			sonde_err("invalid timeout '%s' (e.g. 5s, 500ms)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	case OPT_MIN_LATENCY:
		if (sonde_parse_duration(arg, &t->min_latency_ns)) {
			sonde_err("invalid latency '%s' (e.g. 100ms)", arg);
			return SONDE_EXIT_USAGE;
		}
		return 0;
	}
	return SONDE_EXIT_USAGE;
}

/* ---- output ---- */

enum { COL_TIME, COL_PID, COL_COMM, COL_SERVER, COL_PROTO, COL_ID, COL_QTYPE, COL_QNAME,
       COL_RCODE, COL_LAT, COL_ANSWERS, N_COLS };

static const struct sonde_column columns[N_COLS] = {
	[COL_TIME] = {"TIME", 8, true},
	[COL_PID] = {"PID", 7, false},
	[COL_COMM] = {"COMM", 16, true},
	[COL_SERVER] = {"SERVER", 15, true},
	[COL_PROTO] = {"PROTO", 5, true},
	[COL_ID] = {"ID", 5, false},
	[COL_QTYPE] = {"QTYPE", 5, true},
	[COL_QNAME] = {"QNAME", 24, true},
	[COL_RCODE] = {"RCODE", 8, true},
	[COL_LAT] = {"LAT(ms)", 9, false},
	[COL_ANSWERS] = {"ANSWERS", 7, true},
};

/* What one finished query prints: the query, and its response if any. */
struct outcome {
	const struct sonde_dns_query *q;
	const struct sonde_dns_msg *resp;	/* NULL: timed out */
	uint64_t latency_ns;			/* time waited for a timeout */
};

/* The port only when it is not DNS's own. */
static void format_server(const struct sonde_dns_key *k, char buf[SONDE_ENDPOINT_STRLEN])
{
	if (k->server_port == 53)
		sonde_format_addr(k->af, k->server, buf);
	else
		sonde_format_endpoint(k->af, k->server, k->server_port, buf);
}

static const char *rcode_of(const struct outcome *o, char buf[16])
{
	return o->resp ? sonde_dns_rcode_name(o->resp->rcode, buf) : "TIMEOUT";
}

static const char *proto_name(const struct sonde_dns_key *k)
{
	return k->proto == IPPROTO_TCP_ ? "tcp" : "udp";
}

static int print_table(struct dns_tool *t, const struct outcome *o)
{
	const struct sonde_dns_query *q = o->q;
	char when[16], pid[16], server[SONDE_ENDPOINT_STRLEN], id[8], qtype[16], rcode[16];
	char lat[32], comm[17], answers[2048];
	const char *cells[N_COLS];
	size_t used = 0;

	sonde_format_clock(sonde_mono_to_wall_ns(q->sent_ns), when);
	snprintf(pid, sizeof(pid), "%u", q->pid);
	snprintf(comm, sizeof(comm), "%.16s", q->comm);
	format_server(&q->key, server);
	snprintf(id, sizeof(id), "%u", q->key.id);
	snprintf(lat, sizeof(lat), "%.3f", o->latency_ns / 1e6);
	answers[0] = 0;
	for (size_t i = 0; o->resp && i < o->resp->n_answers && used < sizeof(answers); i++)
		used += snprintf(answers + used, sizeof(answers) - used, "%s%s", i ? "," : "",
				 o->resp->answers[i].text);
	cells[COL_TIME] = when;
	cells[COL_PID] = q->pid ? pid : "-";
	cells[COL_COMM] = q->pid ? comm : "-";
	cells[COL_SERVER] = server;
	cells[COL_PROTO] = proto_name(&q->key);
	cells[COL_ID] = id;
	cells[COL_QTYPE] = sonde_dns_type_name(q->qtype, qtype);
	cells[COL_QNAME] = q->qname;
	cells[COL_RCODE] = rcode_of(o, rcode);
	cells[COL_LAT] = lat;
	cells[COL_ANSWERS] = answers[0] ? answers : "-";
	return sonde_table_row(&t->table, cells);
}

static int print_json(struct dns_tool *t, const struct outcome *o)
{
	const struct sonde_dns_query *q = o->q;
	struct sonde_json *j = &t->json;
	char server[SONDE_ADDR_STRLEN], qtype[16], rcode[16];

	sonde_format_addr(q->key.af, q->key.server, server);
	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", sonde_mono_to_wall_ns(q->sent_ns));
	sonde_json_u64(j, "pid", q->pid);
	sonde_json_u64(j, "tid", q->tid);
	sonde_json_strn(j, "comm", q->comm, strnlen(q->comm, sizeof(q->comm)));
	sonde_json_str(j, "server", server);
	sonde_json_u64(j, "server_port", q->key.server_port);
	sonde_json_str(j, "proto", proto_name(&q->key));
	sonde_json_u64(j, "id", q->key.id);
	sonde_json_str(j, "qname", q->qname);
	sonde_json_str(j, "qtype", sonde_dns_type_name(q->qtype, qtype));
	sonde_json_str(j, "rcode", rcode_of(o, rcode));
	sonde_json_array_begin(j, "answers");
	for (size_t i = 0; o->resp && i < o->resp->n_answers; i++)
		sonde_json_str(j, NULL, o->resp->answers[i].text);
	sonde_json_array_end(j);
	sonde_json_u64(j, "latency_ns", o->latency_ns);
	sonde_json_u64(j, "netns", q->key.netns);
	sonde_json_str(j, "container", q->pid ? sonde_container_of_pid(q->pid) : "");
	return sonde_json_emit(j, stdout);
}

static int print_outcome(struct dns_tool *t, const struct outcome *o)
{
	if (o->resp && o->latency_ns < t->min_latency_ns)
		return 0;
	if (t->args.format == SONDE_FMT_JSON)
		return print_json(t, o);
	return print_table(t, o);
}

/* ---- matching queries and responses ---- */

static void fill_key(struct sonde_dns_key *k, const struct dns_event *e, uint16_t id)
{
	bool query = e->direction == DNS_QUERY;

	memset(k, 0, sizeof(*k));
	memcpy(k->client, query ? e->saddr : e->daddr, 16);
	memcpy(k->server, query ? e->daddr : e->saddr, 16);
	k->client_port = query ? e->sport : e->dport;
	k->server_port = query ? e->dport : e->sport;
	k->netns = e->netns;
	k->af = (uint8_t)e->af;
	k->proto = e->proto;
	k->id = id;
}

static void on_query(struct dns_tool *t, const struct dns_event *e, const struct sonde_dns_msg *m)
{
	struct sonde_dns_query q = {.sent_ns = e->ts_ns, .pid = e->pid, .tid = e->tid,
				    .qtype = m->qtype};

	fill_key(&q.key, e, m->id);
	memcpy(q.comm, e->comm, sizeof(q.comm));
	memcpy(q.qname, m->qname, sizeof(q.qname));
	switch (sonde_dns_pending_add(t->pending, &q)) {
	case SONDE_DNS_ADDED:
		t->n.queries++;
		break;
	case SONDE_DNS_RETRANSMIT:
		t->n.retransmits++;
		break;
	case SONDE_DNS_FULL:
		t->n.untracked++;
		break;
	}
}

static int on_response(struct dns_tool *t, const struct dns_event *e, const struct sonde_dns_msg *m)
{
	struct sonde_dns_query q;
	struct sonde_dns_key key;
	struct outcome o = {.q = &q, .resp = m};

	fill_key(&key, e, m->id);
	/* Responses are taken from every process (the BPF side cannot tell
	 * whose they are); only those to a query we reported count. */
	if (!sonde_dns_pending_take(t->pending, &key, &q)) {
		t->n.unmatched++;
		return 0;
	}
	t->n.responses++;
	o.latency_ns = e->ts_ns > q.sent_ns ? e->ts_ns - q.sent_ns : 0;
	return print_outcome(t, &o);
}

static int handle_event(struct dns_tool *t, const struct dns_event *e)
{
	static struct sonde_dns_msg msg;	/* ~20 KiB: not on the stack */
	const uint8_t *payload;
	size_t len;
	int rc;

	if (e->captured > DNS_MAX_PAYLOAD)
		return 0;
	if (e->flags & DNS_F_NONLINEAR || !e->captured)
		return 0;	/* counted on the BPF side */
	payload = e->payload;
	len = e->captured;
	/* DNS over TCP: a 2-byte length, then the message. */
	if (e->proto == IPPROTO_TCP_) {
		if (len < 2) {
			t->n.malformed++;
			return 0;
		}
		payload += 2;
		len -= 2;
	}
	rc = sonde_dns_parse(payload, len, &msg);
	if (rc < 0 || msg.response != (e->direction == DNS_RESPONSE)) {
		t->n.malformed++;
		sonde_info(2, "malformed DNS packet (%s) from port %u to %u",
			   rc < 0 ? sonde_dns_status_name(rc) : "QR bit against direction",
			   e->sport, e->dport);
		return 0;
	}
	if (rc == SONDE_DNS_INCOMPLETE)
		t->n.cut++;
	if (e->direction == DNS_QUERY) {
		on_query(t, e, &msg);
		return 0;
	}
	return on_response(t, e, &msg);
}

static int on_event(void *ctx, const void *data, size_t size)
{
	if (size < sizeof(struct dns_event))
		return 0;
	return handle_event(ctx, data);
}

/* ---- DNS over TCP, through the perf buffer ---- */

static void on_tcp_sample(void *ctx, int cpu, void *data, __u32 size)
{
	const size_t head = offsetof(struct dns_event, payload);
	struct dns_tool *t = ctx;
	struct batch *b = &t->tcp_batch;
	struct dns_event *copy;

	(void)cpu;
	if (size < head) {
		t->n.malformed++;
		return;
	}
	if (SONDE_GROW(b->events, b->cap, b->n + 1, 64)) {
		t->n.tcp_lost++;
		return;
	}
	/* Perf samples are only 4-byte aligned: copy before reading. */
	copy = &b->events[b->n];
	memcpy(copy, data, head);
	if (copy->captured > DNS_MAX_PAYLOAD || (size_t)copy->skip + copy->captured > size - head) {
		t->n.malformed++;
		return;
	}
	memcpy(copy->payload, (const uint8_t *)data + head + copy->skip, copy->captured);
	copy->skip = 0;
	b->n++;
}

static void on_tcp_lost(void *ctx, int cpu, __u64 count)
{
	struct dns_tool *t = ctx;

	(void)cpu;
	t->n.tcp_lost += count;
}

static int by_time(const void *a, const void *b)
{
	const struct dns_event *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

static int drain_tcp(struct dns_tool *t)
{
	struct batch *b = &t->tcp_batch;
	int rc = 0;

	if (!t->tcp_pb)
		return 0;
	perf_buffer__consume(t->tcp_pb);
	if (b->n)
		qsort(b->events, b->n, sizeof(*b->events), by_time);
	for (size_t i = 0; i < b->n && rc >= 0; i++)
		rc = handle_event(t, &b->events[i]);
	b->n = 0;
	return rc;
}

/* With tp_btf the BPF side sends DNS over TCP through a perf buffer; it
 * is opened here, before privileges are dropped (it opens perf events),
 * and read on every tick. */
static int open_tcp_buffer(struct sonde_session *s, void *ctx)
{
	struct dns_tool *t = ctx;

	if (sonde_session_chosen(s, "packets sent") != SONDE_ATTACH_TP_BTF &&
	    sonde_session_chosen(s, "packets received") != SONDE_ATTACH_TP_BTF)
		return 0;
	t->tcp_pb = perf_buffer__new(bpf_map__fd(t->skel->maps.tcp_payloads), 16,
				     on_tcp_sample, on_tcp_lost, t, NULL);
	if (!t->tcp_pb) {
		sonde_err("cannot open the perf buffer for DNS over TCP: %s", strerror(errno));
		return errno == EPERM || errno == EACCES ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
	}
	return 0;
}

/* ---- deadlines ---- */

static void report_timeout(void *ctx, const struct sonde_dns_query *q)
{
	struct dns_tool *t = ctx;
	uint64_t now = sonde_now_mono_ns();
	struct outcome o = {.q = q, .latency_ns = now > q->sent_ns ? now - q->sent_ns : 0};

	print_outcome(t, &o);
}

static int on_tick(void *ctx)
{
	struct dns_tool *t = ctx;
	uint64_t now = sonde_now_mono_ns();

	if (drain_tcp(t) < 0)
		return -1;
	if (now > t->timeout_ns)
		sonde_dns_pending_expire(t->pending, now - t->timeout_ns, report_timeout, t);
	return sonde_out_closed() ? -1 : 0;
}

/* Checked often enough that a timeout is reported within a tenth of it,
 * and DNS over TCP within 100 ms. */
static uint64_t tick_for(uint64_t timeout_ns)
{
	uint64_t tick = timeout_ns / 10;

	if (tick < 10000000ull)
		tick = 10000000ull;
	if (tick > 100000000ull)
		tick = 100000000ull;
	return tick;
}

/* At the end, still-unanswered queries are reported as TIMEOUT (with the
 * time they waited), and what could not be decoded here is said on stderr
 * (the session says what the BPF side could not: bpf_stats). */
static int on_end(void *ctx)
{
	struct dns_tool *t = ctx;

	drain_tcp(t);
	sonde_dns_pending_expire(t->pending, UINT64_MAX, report_timeout, t);
	sonde_info(1, "%llu queries (%llu retransmits), %llu answered, %llu responses without a query seen",
		   (unsigned long long)t->n.queries, (unsigned long long)t->n.retransmits,
		   (unsigned long long)t->n.responses, (unsigned long long)t->n.unmatched);
	if (t->n.malformed)
		sonde_err("%llu malformed DNS packets ignored", (unsigned long long)t->n.malformed);
	if (t->n.cut)
		sonde_info(1, "%llu responses longer than the %d bytes captured: answers cut short",
			   (unsigned long long)t->n.cut, DNS_MAX_PAYLOAD);
	if (t->n.tcp_lost)
		sonde_err("lost %llu DNS-over-TCP packets: the perf buffer was full",
			  (unsigned long long)t->n.tcp_lost);
	if (t->n.untracked)
		sonde_err("%llu queries not tracked: more than %d waiting at once",
			  (unsigned long long)t->n.untracked, MAX_PENDING);
	return 0;
}

static const struct sonde_probe probes[] = {
	{
		.name = "packets sent",
		.alts = {
			SONDE_ALTS_TRACEPOINT("xmit", "net/net_dev_queue"),
		},
	},
	{
		.name = "packets received",
		.alts = {
			SONDE_ALTS_TRACEPOINT("receive", "net/netif_receive_skb"),
		},
	},
	/* Only attributes DNS-over-TCP segments sent from softirq. */
	{
		.name = "TCP connects",
		.optional = true,
		.alts = {
			SONDE_ALTS_SET_STATE,
		},
	},
	SONDE_PROBE_SET_STATE_COVER,
};

/* Counted on the BPF side; the session reports them with its own. */
static const struct sonde_stat_name bpf_stats[] = {
	{DNS_STAT_NONLINEAR,
	 "DNS packets not decoded: payload in page fragments (DNS over TCP without tp_btf)", true},
	{DNS_STAT_BAD_HEADER, "DNS packets with bad IP/UDP/TCP headers ignored", false},
};

static int setup(void *ctx, struct sonde_session_config *cfg)
{
	struct dns_tool *t = ctx;

	t->pending = sonde_dns_pending_new(MAX_PENDING);
	t->skel = SONDE_OPEN_SKELETON(dns_bpf);
	if (!t->pending || !t->skel) {
		sonde_err("cannot open the BPF object: %s", strerror(errno));
		return SONDE_EXIT_RUNTIME;
	}
	t->skel->rodata->dns_port = t->port;
	sonde_table_init(&t->table, columns, N_COLS, stdout);
	*cfg = (struct sonde_session_config){
		.what = "DNS queries",
		.obj = t->skel->obj,
		.probes = probes,
		.n_probes = sizeof(probes) / sizeof(probes[0]),
		.header = &t->table,
		.on_event = on_event,
		.on_tick = on_tick,
		.tick_ns = tick_for(t->timeout_ns),
		.on_end = on_end,
		.attach_extra = open_tcp_buffer,
		.stats = bpf_stats,
		.n_stats = sizeof(bpf_stats) / sizeof(bpf_stats[0]),
		.ctx = t,
	};
	return 0;
}

static void teardown(void *ctx)
{
	struct dns_tool *t = ctx;

	perf_buffer__free(t->tcp_pb);
	free(t->tcp_batch.events);
	sonde_dns_pending_free(t->pending);
	dns_bpf__destroy(t->skel);
	sonde_json_free(&t->json);
}

int main(int argc, char **argv)
{
	static struct dns_tool t = {.port = 53, .timeout_ns = DEFAULT_TIMEOUT_NS};
	const struct sonde_tool tool = {
		.name = "dns",
		.summary = "Trace DNS queries on the wire: process, name, answer, latency.",
		.description =
			"Every DNS query a process on this host sends (UDP or TCP, IPv4 or IPv6, in\n"
			"any network namespace) is matched with its response and printed with the\n"
			"sending process, server, query name and type, response code, answers\n"
			"(addresses, CNAMEs) and latency. Queries are read from the packets, so\n"
			"every resolver is seen: glibc, musl, Go's own, dig, language runtimes.\n"
			"A query left unanswered for --timeout is printed with rcode TIMEOUT;\n"
			"so are those still waiting when tracing ends. A retransmitted query\n"
			"(same id) counts once. Packets that do not decode are counted and\n"
			"reported on stderr at the end.",
		.examples =
			"  sonde-dns                            every query until Ctrl-C\n"
			"  sonde-dns --min-latency 100ms        only slow answers (and timeouts)\n"
			"  sonde-dns -p 1234 -o json            one process, as JSON Lines\n"
			"  sonde-dns --port 5353 --timeout 2s   a resolver on another port\n"
			"  sonde-dns -C 3f2a1b -o json | jq 'select(.rcode != \"NOERROR\")'\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.options = options,
		.parse = parse_option,
		.ctx = &t,
	};
	const struct sonde_tool_main m = {&tool, &t.args, setup, teardown};

	return sonde_tool_main(&m, argc, argv);
}

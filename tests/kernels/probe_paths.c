/* sonde-probe-paths: a test-only program, never installed. It traces
 * clock_nanosleep() requests through a probe table that offers fentry,
 * kprobe and tracepoint, so the tests can prove that the library's choice
 * of attach method and each of those attach paths work on a given kernel
 * (tests/kernels: Debian's 6.1 under qemu; the host: tracepoint only). */
#include <stdio.h>
#include <string.h>

#include <sonde/cli.h>
#include <sonde/clock.h>
#include <sonde/log.h>
#include <sonde/out.h>
#include <sonde/session.h>

#include "probe_paths.h"
#include "probe_paths.skel.h"

struct probe_paths {
	struct sonde_args args;
	struct sonde_table table;
	struct sonde_json json;
};

static const char *const via_names[] = {
	[PROBE_PATHS_FENTRY] = "fentry",
	[PROBE_PATHS_KPROBE] = "kprobe",
	[PROBE_PATHS_TRACEPOINT] = "tracepoint",
};

static const struct sonde_column columns[] = {
	{"PID", 7, false},
	{"TID", 7, false},
	{"COMM", 16, true},
	{"VIA", 10, true},
	{"REQUEST(ns)", 12, false},
};

static int on_event(void *ctx, const void *data, size_t size)
{
	struct probe_paths *p = ctx;
	const struct probe_paths_event *e = data;
	char pid[16], tid[16], comm[17], request[32];

	if (size < sizeof(*e) || e->via > PROBE_PATHS_TRACEPOINT)
		return 0;
	if (p->args.format == SONDE_FMT_JSON) {
		sonde_json_begin(&p->json);
		sonde_json_u64(&p->json, "ts_ns", sonde_mono_to_wall_ns(e->ts_ns));
		sonde_json_u64(&p->json, "pid", e->pid);
		sonde_json_u64(&p->json, "tid", e->tid);
		sonde_json_strn(&p->json, "comm", e->comm, strnlen(e->comm, sizeof(e->comm)));
		sonde_json_str(&p->json, "via", via_names[e->via]);
		sonde_json_i64(&p->json, "request_ns", e->request_ns);
		return sonde_json_emit(&p->json, stdout);
	}
	snprintf(pid, sizeof(pid), "%u", e->pid);
	snprintf(tid, sizeof(tid), "%u", e->tid);
	snprintf(comm, sizeof(comm), "%.16s", e->comm);
	snprintf(request, sizeof(request), "%lld", (long long)e->request_ns);
	return sonde_table_row(&p->table, (const char *const[]){pid, tid, comm, via_names[e->via], request});
}

static int on_ready(void *ctx)
{
	struct probe_paths *p = ctx;

	if (p->args.format == SONDE_FMT_TABLE)
		sonde_table_header(&p->table);
	return 0;
}

static const struct sonde_probe probes[] = {
	{
		.name = "clock_nanosleep calls",
		.alts = {
			{SONDE_ATTACH_FENTRY, "sleep_fentry", "hrtimer_nanosleep"},
			{SONDE_ATTACH_KPROBE, "sleep_kprobe", "hrtimer_nanosleep"},
			{SONDE_ATTACH_TRACEPOINT, "sleep_tp", "syscalls/sys_enter_clock_nanosleep"},
		},
	},
};

static void destroy_skel(struct probe_paths_bpf **skel)
{
	probe_paths_bpf__destroy(*skel);
}

int main(int argc, char **argv)
{
	static struct probe_paths p;
	const struct sonde_tool tool = {
		.name = "probe-paths",
		.summary = "Test-only: trace clock_nanosleep() requests by fentry, kprobe or tracepoint.",
		.description =
			"Proves the library's attach paths on a kernel: the best method this kernel\n"
			"offers is chosen (fentry, then kprobe, then the syscall tracepoint), and\n"
			"--attach forces one. Each event names the program that saw it (VIA).",
		.examples =
			"  sonde-probe-paths -v -o json            best method, JSON Lines\n"
			"  sonde-probe-paths --attach kprobe 5     force the kprobe path for 5 seconds\n",
		.formats = SONDE_FMT_TABLE | SONDE_FMT_JSON,
		.ctx = &p,
	};
	struct probe_paths_bpf *skel __attribute__((cleanup(destroy_skel))) = NULL;
	int rc = sonde_cli_parse(&tool, argc, argv, &p.args);

	if (rc != SONDE_CLI_CONTINUE)
		return rc;
	skel = probe_paths_bpf__open();
	if (!skel) {
		sonde_err("cannot open the BPF object: %m");
		return SONDE_EXIT_RUNTIME;
	}
	sonde_table_init(&p.table, columns, sizeof(columns) / sizeof(columns[0]), stdout);

	const struct sonde_session_config cfg = {
		.what = "clock_nanosleep() calls",
		.args = &p.args,
		.obj = skel->obj,
		.probes = probes,
		.n_probes = sizeof(probes) / sizeof(probes[0]),
		.on_ready = on_ready,
		.on_event = on_event,
		.ctx = &p,
	};
	rc = sonde_session_run(&cfg);
	sonde_json_free(&p.json);
	sonde_args_free(&p.args);
	return rc;
}

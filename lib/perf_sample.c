/* Timed sampling through perf events, one per CPU. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "sonde/features.h"
#include "sonde/log.h"
#include "sonde/perf_sample.h"
#include "sonde/session.h"

int sonde_parse_cpu_list(const char *text, bool *cpus, size_t max)
{
	const char *p = text;
	int count = 0;

	memset(cpus, 0, max * sizeof(*cpus));
	while (*p && *p != '\n') {
		char *end;
		unsigned long first = strtoul(p, &end, 10), last = first;

		if (end == p)
			return -1;
		if (*end == '-') {
			p = end + 1;
			last = strtoul(p, &end, 10);
			if (end == p || last < first)
				return -1;
		}
		if (last >= max)
			return -1;
		for (unsigned long c = first; c <= last; c++)
			count += !cpus[c], cpus[c] = true;
		p = end;
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -1;
	}
	return count;
}

static int open_sampler(bool hardware, unsigned hz, int cpu)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = hardware ? PERF_TYPE_HARDWARE : PERF_TYPE_SOFTWARE,
		.config = hardware ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = hz,
		.freq = 1,
	};

	return syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int sonde_online_cpus(bool *cpus)
{
	char text[4096];
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int n = -1;

	if (f && fgets(text, sizeof(text), f))
		n = sonde_parse_cpu_list(text, cpus, SONDE_MAX_CPUS);
	if (f)
		fclose(f);
	return n;
}

int sonde_perf_sample_attach(struct sonde_session *s, struct bpf_program *prog,
			     unsigned hz, int cpu)
{
	static bool cpus[SONDE_MAX_CPUS];
	bool hardware = sonde_feature_has(SONDE_FEAT_HW_PMU);
	int attached = 0;

	if (!hardware && !sonde_feature_has(SONDE_FEAT_PERF_CPU_CLOCK)) {
		sonde_err("cannot sample CPUs: %s", sonde_feature_reason(SONDE_FEAT_PERF_CPU_CLOCK));
		return SONDE_EXIT_UNSUPPORTED;
	}
	if (sonde_online_cpus(cpus) <= 0) {
		sonde_err("cannot read the online CPUs from /sys/devices/system/cpu/online");
		return SONDE_EXIT_RUNTIME;
	}
	if (cpu >= 0 && (cpu >= SONDE_MAX_CPUS || !cpus[cpu])) {
		sonde_err("CPU %d is not online", cpu);
		return SONDE_EXIT_USAGE;
	}
	sonde_info(1, "sampling at %u Hz with the %s event", hz,
		   hardware ? "cpu-cycles hardware" : "cpu-clock software");
	for (int c = 0; c < SONDE_MAX_CPUS; c++) {
		struct bpf_link *link;
		int fd;

		if (!cpus[c] || (cpu >= 0 && c != cpu))
			continue;
		fd = open_sampler(hardware, hz, c);
		/* A PMU can exist on some CPUs only (hybrid cores). */
		if (fd < 0 && hardware)
			fd = open_sampler(false, hz, c);
		if (fd < 0) {
			int err = errno;

			sonde_err("cannot open a sampling event on CPU %d: %s", c, strerror(err));
			return err == EACCES || err == EPERM ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
		}
		link = bpf_program__attach_perf_event(prog, fd);
		if (!link) {
			int err = errno;

			close(fd);
			sonde_err("cannot attach the sampling program on CPU %d: %s", c, strerror(err));
			return SONDE_EXIT_RUNTIME;
		}
		if (sonde_session_add_link(s, link)) {
			sonde_err("too many links: cannot sample CPU %d", c);
			return SONDE_EXIT_RUNTIME;
		}
		attached++;
	}
	sonde_info(2, "sampling %d CPU%s", attached, attached == 1 ? "" : "s");
	return 0;
}

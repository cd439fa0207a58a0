/* The CPU list parser behind per-CPU sampling (/sys/.../cpu/online). */
#include <stdbool.h>

#include <sonde/perf_sample.h>

#include "check.h"

static bool cpus[64];

static void lists(void)
{
	CHECK(sonde_parse_cpu_list("0\n", cpus, 64) == 1 && cpus[0] && !cpus[1]);
	CHECK(sonde_parse_cpu_list("0-3,8,10-11\n", cpus, 64) == 7);
	CHECK(cpus[3] && !cpus[4] && cpus[8] && !cpus[9] && cpus[11] && !cpus[12]);
	CHECK(sonde_parse_cpu_list("2,1-2", cpus, 64) == 2 && cpus[1] && cpus[2] && !cpus[0]);
	CHECK(sonde_parse_cpu_list("", cpus, 64) == 0);
}

static void malformed(void)
{
	CHECK(sonde_parse_cpu_list("a", cpus, 64) == -1);
	CHECK(sonde_parse_cpu_list("3-1", cpus, 64) == -1);
	CHECK(sonde_parse_cpu_list("0-64", cpus, 64) == -1);
	CHECK(sonde_parse_cpu_list("1;2", cpus, 64) == -1);
	CHECK(sonde_parse_cpu_list("1-", cpus, 64) == -1);
}

int main(void)
{
	RUN(lists);
	RUN(malformed);
	return CHECK_DONE();
}

/* Stacks as a pprof profile: the stack tools' -o pprof. Each entry becomes
 * one sample, leaf first, labelled with its process; user frames keep
 * their module as the mapping, with its build-id (with file:line and inline frames when the
 * symbolizer had DWARF), so `go tool pprof -lines` shows source lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sonde/pprof.h"
#include "sonde/stacks_pprof.h"
#include "sonde/sym.h"

static const struct sonde_pprof_value_type cpu_types[] = {
	{"samples", "count"}, {"cpu", "nanoseconds"},
};
static const struct sonde_pprof_value_type cpu_period = {"cpu", "nanoseconds"};
static const struct sonde_pprof_value_type off_cpu_types[] = {
	{"off_cpu", "nanoseconds"}, {"blocks", "count"},
};

struct sonde_pprof *sonde_stacks_pprof_new(bool off_cpu, int64_t period_ns)
{
	struct sonde_pprof *pp = off_cpu
		? sonde_pprof_new(off_cpu_types, 2, NULL, 0)
		: sonde_pprof_new(cpu_types, 2, &cpu_period, period_ns);
	struct timespec now;

	if (pp && !clock_gettime(CLOCK_REALTIME, &now))
		sonde_pprof_set_time(pp, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, 0);
	return pp;
}

int sonde_stacks_pprof_add(struct sonde_pprof *pp, const struct sonde_frame *frames, size_t n,
			   uint32_t pid, const char *comm, const int64_t values[2])
{
	struct sonde_pprof_frame *out = calloc(n ? n : 1, sizeof(*out));
	struct sonde_pprof_mapping *maps = calloc(n ? n : 1, sizeof(*maps));
	char (*names)[256] = calloc(n ? n : 1, sizeof(*names));
	const struct sonde_pprof_label labels[] = {
		{.key = "pid", .num = pid},
		{.key = "comm", .str = comm},
	};
	int rc = -ENOMEM;

	if (out && maps && names) {
		for (size_t i = 0; i < n; i++) {
			const struct sonde_frame *f = &frames[i];

			/* An unknown function keeps where it was in its name. */
			sonde_frame_format(f, 0, names[i], sizeof(names[i]));
			out[i] = (struct sonde_pprof_frame){
				.address = f->module_offset,
				.function = names[i],
				.file = f->file,
				.line = f->line,
				.inlined = f->inlined,
			};
			if (f->module && !f->kernel) {
				maps[i] = (struct sonde_pprof_mapping){
					.start = 0, .limit = UINT64_MAX, .file = f->module,
					.build_id = f->build_id,
				};
				out[i].mapping = &maps[i];
			}
		}
		rc = sonde_pprof_add_sample(pp, out, n, values, labels, 2);
	}
	free(out);
	free(maps);
	free(names);
	return rc;
}

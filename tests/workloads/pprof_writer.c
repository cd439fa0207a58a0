/* Writes a small, known profile with the pprof writer, for the test that
 * reads it back with `go tool pprof`: two stacks through a function
 * inlined into its caller, one kernel frame without mapping, labels, and
 * samples given twice so they must be merged.
 *
 *   pprof_writer OUT.pb.gz */
#include <stdio.h>

#include <sonde/pprof.h>

int main(int argc, char **argv)
{
	const struct sonde_pprof_value_type types[] = {
		{ "samples", "count" }, { "cpu", "nanoseconds" },
	};
	const struct sonde_pprof_value_type period = { "cpu", "nanoseconds" };
	const struct sonde_pprof_mapping app = {
		0x400000, 0x480000, 0, "/opt/sonde-test/app", "0123456789abcdef",
	};
	const struct sonde_pprof_frame hot[] = {
		{ 0x401100, &app, "checksum_block", "/src/checksum.c", 42, true },
		{ 0x401100, &app, "checksum_file", "/src/checksum.c", 57, false },
		{ 0x400800, &app, "main", "/src/main.c", 12, false },
	};
	const struct sonde_pprof_frame cold[] = {
		{ 0xffffffff81234567ull, NULL, "copy_user_generic", NULL, 0, false },
		{ 0x400900, &app, "read_input", "/src/io.c", 88, false },
		{ 0x400800, &app, "main", "/src/main.c", 12, false },
	};
	const struct sonde_pprof_label thread = { "thread", "worker-1", 0, NULL };
	const int64_t hot_value[] = { 7, 70000000 }, cold_value[] = { 3, 30000000 };
	struct sonde_pprof *p;
	FILE *out;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT\n", argv[0]);
		return 2;
	}
	p = sonde_pprof_new(types, 2, &period, 10000000);
	if (!p)
		return 1;
	sonde_pprof_set_time(p, 1700000000000000000ll, 1000000000ll);
	err |= sonde_pprof_add_sample(p, hot, 3, hot_value, &thread, 1);
	err |= sonde_pprof_add_sample(p, cold, 3, cold_value, &thread, 1);
	err |= sonde_pprof_add_sample(p, hot, 3, hot_value, &thread, 1);	/* merged: 14 */
	out = fopen(argv[1], "wb");
	if (err || !out || sonde_pprof_write(p, out)) {
		perror(argv[1]);
		err = 1;
	}
	if (out)
		fclose(out);
	sonde_pprof_free(p);
	return err ? 1 : 0;
}

/* A process with known memory behaviour for sonde-oomkill's tests.
 *
 *   oom_alloc [--join FILE] [--comm NAME] [--oom-score-adj N] alloc MAX_MB
 *       allocates and touches memory 1 MiB at a time, up to MAX_MB (a
 *       bound, so a missing limit cannot make it eat the machine), then
 *       prints "done" and exits 0; inside a smaller memory limit it is
 *       OOM-killed on the way.
 *   oom_alloc [--join FILE] [--comm NAME] [--oom-score-adj N] hold MB
 *       allocates and touches MB MiB, prints "ready" and waits to be
 *       killed.
 *
 * --join writes the process's own pid to FILE first (a cgroup's
 * cgroup.procs), so every page it touches is charged to that cgroup;
 * --comm renames the process (tests use names a terminal would act on). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static void write_file(const char *path, long value)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int len = snprintf(buf, sizeof(buf), "%ld\n", value);

	if (fd < 0 || write(fd, buf, len) != len) {
		fprintf(stderr, "oom_alloc: cannot write %ld to %s: %s\n", value, path, strerror(errno));
		exit(2);
	}
	close(fd);
}

/* Touches every page so that the memory is really charged. */
static void allocate_mib(void)
{
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("oom_alloc: mmap");
		exit(2);
	}
	for (size_t off = 0; off < MIB; off += 4096)
		p[off] = 1;
}

static long parse_mb(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0 || v > 4096) {
		fprintf(stderr, "oom_alloc: bad size '%s' (1-4096 MiB)\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--join"))
			write_file(argv[i + 1], getpid());
		else if (!strcmp(argv[i], "--comm"))
			prctl(PR_SET_NAME, argv[i + 1]);
		else if (!strcmp(argv[i], "--oom-score-adj"))
			write_file("/proc/self/oom_score_adj", atol(argv[i + 1]));
		else
			break;
	}
	if (argc - i != 2 || (strcmp(argv[i], "alloc") && strcmp(argv[i], "hold"))) {
		fprintf(stderr, "usage: oom_alloc [--join FILE] [--comm NAME] [--oom-score-adj N] alloc|hold MB\n");
		return 2;
	}
	long mb = parse_mb(argv[i + 1]);

	for (long n = 0; n < mb; n++)
		allocate_mib();
	if (!strcmp(argv[i], "alloc")) {
		puts("done");
		return 0;
	}
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}

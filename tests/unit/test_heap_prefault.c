/* lib/heap_prefault.c: after sonde_heap_prefault_for_btf(), buffers the
 * size of the kernel's BTF are written without page faults (they were
 * allocated in one call), and sonde_heap_prefault_for_btf_end() gives the
 * memory back; overlapping users of sonde_heap_prefault() keep the policy
 * until the last ends. Counts page faults and resident memory, not time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sonde/heap_prefault.h"

static long minor_faults(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_minflt;
}

static long resident_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* What a parse does: a buffer the size of the file, written, twice (a
 * store per page is enough to fault it in). */
static long faults_writing_two_copies(size_t size)
{
	long before = minor_faults();
	char *a = malloc(size), *b = malloc(size);

	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	/* Volatile: the compiler would drop stores to memory freed next. */
	for (size_t i = 0; i < size; i += 4096) {
		((volatile char *)a)[i] = 1;
		((volatile char *)b)[i] = ((volatile char *)a)[i];
	}
	free(b);
	free(a);
	return minor_faults() - before;
}

int main(void)
{
	struct stat st;
	size_t size;
	long pages, faults, rss_before, rss_after;

	if (!sonde_heap_prefault_supported() || stat("/sys/kernel/btf/vmlinux", &st) || st.st_size <= 0) {
		printf("%s: nothing is prefaulted, the calls change nothing\n",
		       sonde_heap_prefault_supported() ? "no kernel BTF" : "not glibc's malloc");
		sonde_heap_prefault_for_btf();
		sonde_heap_prefault_for_btf_end();
		CHECK(!sonde_heap_prefault(1 << 20));
		CHECK(faults_writing_two_copies(1 << 20) >= 0);
		return CHECK_DONE();
	}
	size = (size_t)st.st_size;
	pages = (long)(2 * size / (size_t)sysconf(_SC_PAGESIZE));

	sonde_heap_prefault_for_btf();
	faults = faults_writing_two_copies(size);
	/* A few for malloc's own bookkeeping, not one per page. */
	CHECK_MSG(faults >= 0 && faults < pages / 20, "%ld faults for %ld pages written", faults, pages);

	rss_before = resident_kib();
	sonde_heap_prefault_for_btf_end();
	rss_after = resident_kib();
	CHECK_MSG(rss_before - rss_after >= (long)(2 * size / 1024),
		  "resident %ld KiB -> %ld KiB after the end", rss_before, rss_after);

	/* The usual policy again: a big buffer is mapped afresh, page by page. */
	faults = faults_writing_two_copies(size);
	CHECK_MSG(faults >= pages / 2, "%ld faults for %ld pages written after the end", faults, pages);

	/* Users overlap (the symbolizer's threads): the policy comes back
	 * only when the last one ends. */
	CHECK(sonde_heap_prefault(2 * size + (1u << 20)));
	CHECK(sonde_heap_prefault(1u << 20));
	sonde_heap_prefault_end();
	faults = faults_writing_two_copies(size);
	CHECK_MSG(faults >= 0 && faults < pages / 20, "%ld faults with one user left", faults);
	sonde_heap_prefault_end();
	faults = faults_writing_two_copies(size);
	CHECK_MSG(faults >= pages / 2, "%ld faults once the last user ended", faults);
	return CHECK_DONE();
}

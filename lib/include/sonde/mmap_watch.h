/* New executable mappings of the machine's processes (dlopen, a JIT's
 * code regions), as the kernel reports them to perf: one "dummy"
 * software event per CPU that counts and samples nothing and only writes
 * a PERF_RECORD_MMAP2 record into its ring for each PROT_EXEC mapping.
 * No BPF program and no tracepoint: closing the fds is the whole detach.
 * The rings are polled (no wakeups): the stack tools read them on the
 * session's tick to see code that appeared after they classified a
 * process for --unwind. */
#ifndef SONDE_MMAP_WATCH_H
#define SONDE_MMAP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_mmap_record {
	uint32_t pid;
	uint32_t tid;
	uint64_t addr;
	uint64_t len;
	uint64_t pgoff;
	uint32_t prot;
	const char *file;	/* NUL-terminated, inside the parsed bytes */
};

/* Parses one record of a perf ring (header included, size bytes): true
 * for a well-formed PERF_RECORD_MMAP2, whose fields go to out. The file
 * name comes from the process that mapped it; a name without its NUL
 * within the record is refused. */
bool sonde_mmap_record_parse(const void *record, size_t size, struct sonde_mmap_record *out);

struct sonde_mmap_watch;

/* Opens the events on every online CPU; NULL with errno set when perf
 * refuses (without CAP_PERFMON, or perf_event_paranoid). */
struct sonde_mmap_watch *sonde_mmap_watch_open(void);
void sonde_mmap_watch_close(struct sonde_mmap_watch *w);

typedef void (*sonde_mmap_fn)(void *arg, const struct sonde_mmap_record *r);

/* Calls fn for each mapping reported since the last call. Returns how
 * many records the kernel dropped since (a ring was full). */
uint64_t sonde_mmap_watch_read(struct sonde_mmap_watch *w, sonde_mmap_fn fn, void *arg);

#endif

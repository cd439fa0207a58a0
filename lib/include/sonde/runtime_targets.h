/* The processes a runtime tool (GC, channels, goroutines) traces, and the
 * files it attaches its uprobes to: a Go executable, a libjvm.so, a
 * libpython... The tool says which files are runtimes for it; this module
 * finds them for the three targets every such tool takes:
 *   -p PID         the runtime files of these processes, probed for them;
 *   --binary PATH  one file, probed for every process running it (pid -1),
 *                  those running now and those started later;
 *   neither        system-wide: every runtime file running at start, each
 *                  once for all its processes, then those of programs
 *                  started later, reported by the "program starts" probe
 *                  (sched_process_exec; BPF side in bpf/sonde_exec.bpf.h).
 * Files found to be no runtime are remembered by identity (device, inode,
 * mtime), so that every exec of a common program is not parsed again. */
#ifndef SONDE_RUNTIME_TARGETS_H
#define SONDE_RUNTIME_TARGETS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "sonde/session.h"

/* The probe table entry for programs started later: its programs are the
 * ones SONDE_PROGRAM_START_PROGS defines in bpf/sonde_exec.bpf.h. */
#define SONDE_PROGRAM_STARTS_PROBE                                                  \
	{ "program starts", false, {                                                 \
		{SONDE_ATTACH_TP_BTF, "exec_btf", "sched/sched_process_exec"},        \
		{SONDE_ATTACH_RAW_TP, "exec_raw", "sched/sched_process_exec"},        \
		{SONDE_ATTACH_TRACEPOINT, "exec_tp", "sched/sched_process_exec"},     \
	} }

/* A file to attach to, each once per (file, pid). */
struct sonde_rt_file {
	char path[PATH_MAX];	/* as opened: /proc/PID/exe, /proc/PID/root/... */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	pid_t pid;		/* the process probed, or -1 for every one running it */
	void *data;		/* the tool's data about it (data_size bytes) */
};

enum sonde_rt_class {
	SONDE_RT_NOT_RUNTIME,
	SONDE_RT_RUNTIME,
	SONDE_RT_UNUSABLE,	/* a runtime, but not traceable (classify said why) */
};

struct sonde_rt_kind {
	/* Is the open file a runtime for this tool? For one, fill data
	 * (data_size zeroed bytes, e.g. function entries); for one that
	 * cannot be traced, print why and return SONDE_RT_UNUSABLE. */
	enum sonde_rt_class (*classify)(int fd, const char *path, void *data, void *ctx);
	size_t data_size;
	/* Attaches the tool's probes to a runtime file found: 0 or an exit status. */
	int (*attach)(struct sonde_session *s, const struct sonde_rt_file *f, void *ctx);
	/* Optional. A process running a traced file was found, its probes
	 * attached (at start, or when it started a program later): e.g. to
	 * read the state it built up before. Not called for a process whose
	 * file was already probed for every process: nothing was missed. */
	void (*on_process)(pid_t pid, const struct sonde_rt_file *f, void *ctx);
	/* Optional. Does a mapped file with this base name (libjvm.so) need
	 * a look when the executable is no self-contained runtime? */
	bool (*mapped_candidate)(const char *base);
	/* Optional. Is this executable's runtime all there is (a Go binary)?
	 * Without it every executable is self-contained. */
	bool (*self_contained)(const void *data);
	/* Optional. A just-started process that will load a runtime file
	 * later (a java launcher, its libjvm.so): its path in buf. */
	bool (*will_load)(pid_t pid, char *buf, size_t size);
	/* For messages: "PID 12 (bash) runs no <process_what>", "FILE
	 * <file_what>", "no <process_what> running yet". */
	const char *process_what;
	const char *file_what;
	void *ctx;
};

struct sonde_rt_targets;

/* NULL with errno set when out of memory. */
struct sonde_rt_targets *sonde_rt_targets_new(const struct sonde_rt_kind *kind);
void sonde_rt_targets_free(struct sonde_rt_targets *t);

/* Finds the runtime files of a target: binary (--binary) or pids (-p),
 * or with neither every process. 0, or an exit status after a one-line
 * error: SONDE_EXIT_UNSUPPORTED when a target is no runtime. */
int sonde_rt_targets_find(struct sonde_rt_targets *t, const char *binary, const pid_t *pids,
			  size_t n_pids);
/* System-wide: programs started later must be reported (the tool then
 * declares SONDE_PROGRAM_STARTS_PROBE and calls _program_started). */
bool sonde_rt_targets_follow(const struct sonde_rt_targets *t);
void sonde_rt_targets_set_follow(struct sonde_rt_targets *t, bool follow);

/* Attaches every file found (the session's attach_extra), then calls
 * on_process for the processes found running them. 0 or an exit status. */
int sonde_rt_targets_attach(struct sonde_rt_targets *t, struct sonde_session *s);
/* Process pid started a program: probes the runtime it brings, if new.
 * A failure is reported; what is traced goes on being traced. */
void sonde_rt_targets_program_started(struct sonde_rt_targets *t, pid_t pid);

size_t sonde_rt_targets_count(const struct sonde_rt_targets *t);
const struct sonde_rt_file *sonde_rt_targets_file(const struct sonde_rt_targets *t, size_t i);

#endif

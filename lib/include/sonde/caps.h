/* Privileges through libcap: check before loading, drop after attaching. */
#ifndef SONDE_CAPS_H
#define SONDE_CAPS_H

#include <stdbool.h>

/* 0 when the process may load and attach BPF tracing programs
 * (CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON); otherwise prints a line
 * naming what is missing and returns SONDE_EXIT_PRIVILEGE. */
int sonde_caps_check(void);

/* Whether the capability (CAP_*) is in the effective set. */
bool sonde_caps_have(int cap);

enum sonde_keep_caps {
	SONDE_KEEP_NONE = 0,
	/* reading other processes' memory maps and files, for symbols (and
	 * giving the symbolizer's idle threads the normal policy back) */
	SONDE_KEEP_PROC_READ = 1 << 0,
	/* attaching more probes later (e.g. to processes that start) */
	SONDE_KEEP_BPF = 1 << 1,
};

/* Drops every capability not needed from here on, from the effective,
 * permitted and inheritable sets; CAP_BPF stays for reading the tool's own
 * maps, and so does any a part of the library asked to keep. Returns 0 or
 * -errno. */
int sonde_caps_drop(unsigned keep);

/* Asks a later sonde_caps_drop() to keep the capability (CAP_*, below
 * 64): for a part of the library that has already started relying on it
 * (the symbolizer's idle threads, which need CAP_SYS_NICE to be given
 * their policy back, whatever the tool asked to keep). Thread-safe. */
void sonde_caps_keep_later(int cap);

#endif

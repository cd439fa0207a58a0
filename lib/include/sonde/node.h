/* What the node around the kernel allows a tracer: kernel lockdown, the
 * tracefs/debugfs mounts, the capabilities this process holds, and the
 * sysctls that restrict BPF and perf. For `sonde doctor`. */
#ifndef SONDE_NODE_H
#define SONDE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The active mode in /sys/kernel/security/lockdown text, e.g. "none" from
 * "[none] integrity confidentiality". Returns 0, or -EINVAL when no mode is
 * bracketed. */
int sonde_parse_lockdown(const char *text, char *mode, size_t size);

/* The kernel's lockdown mode: "none", "integrity" (the kernel cannot be
 * modified; tracing works) or "confidentiality" (BPF may not read kernel
 * memory: most tracing is refused). Mounts securityfs at
 * /sys/kernel/security when it is missing, and sets *mounted then.
 * Returns 0, -ENOENT when the kernel has no lockdown LSM (nothing is locked
 * down), or another -errno when it cannot be known. */
int sonde_lockdown(char *mode, size_t size, bool *mounted);

/* First mount point of a file system type in a mounts table (the format of
 * /proc/self/mounts). Returns 0 and fills dir, or -ENOENT. */
int sonde_find_mount(FILE *mounts, const char *fstype, char *dir, size_t size);
/* The same, on this process's mount table. */
int sonde_mount_point(const char *fstype, char *dir, size_t size);

/* The tracing-relevant capabilities in the effective set, space-separated
 * ("CAP_SYS_ADMIN CAP_BPF ..."), or "none". Returns true when the process
 * holds what loading tracing programs needs (CAP_SYS_ADMIN, or CAP_BPF and
 * CAP_PERFMON). */
bool sonde_caps_held(char *list, size_t size);

/* An integer sysctl under /proc/sys ("kernel/perf_event_paranoid");
 * returns 0 or -errno. */
int sonde_read_sysctl(const char *name, long *value);

#endif

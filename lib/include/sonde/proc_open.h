/* Opening the files of another process — the ELF files it maps, its
 * /tmp/perf-PID.map, the debug files under its /usr/lib/debug, a Go
 * binary it runs — the way that process sees them, WITHOUT letting it
 * redirect sonde to a file of the host.
 *
 * Why: "/proc/PID/root" + path looks like the process's file, but the
 * kernel resolves it with OUR root. A container that turns
 * /usr/lib/libfoo.so into a symlink to "/etc/shadow", or into
 * "../../../1/root/etc/shadow", would make a naive open() read the host's
 * file (and a JIT map would print its lines as symbol names). These
 * helpers resolve every component under the process's root instead:
 * absolute symlinks and ".." stop at that root (RESOLVE_IN_ROOT), and
 * /proc magic links inside it are refused (RESOLVE_NO_MAGICLINKS).
 *
 * Rule for every tool and library module: a path that names a file of
 * another process goes through sonde_proc_open()/sonde_proc_fopen() (path
 * as the process sees it) or sonde_open_proc_path() (a composed
 * "/proc/PID/root/..." string) — never through open()/fopen()/stat().
 * Two kinds of /proc entries are safe to open directly, because the
 * kernel hands out the very object, not a path the target chose:
 * /proc/PID/exe and /proc/PID/map_files/START-END (the executable and the
 * mapped file themselves), and /proc/PID/{maps,status,cgroup,comm}
 * (kernel-generated text, still parsed as untrusted bytes).
 *
 * Attaching uprobes or USDT probes by path (libbpf resolves that path
 * itself, following links): open the file with these helpers first and
 * attach only if sonde_same_file() says the path still names it. */
#ifndef SONDE_PROC_OPEN_H
#define SONDE_PROC_OPEN_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Opens path (absolute or relative, as seen from root_fd) resolved as if
 * root_fd were "/": no symlink or ".." leads out of it, magic links are
 * refused. Only a regular file or a directory: a FIFO or device the
 * process put there (whose open or reads would never end) fails with
 * ENODEV, without blocking. flags as for open(2); O_CLOEXEC is always
 * added. Uses openat2(2), and sonde_open_in_root_walk() where the kernel
 * lacks it (before 5.6). Returns an fd, or -1 with errno set (ENOENT,
 * ELOOP, ENODEV, ...). */
int sonde_open_in_root(int root_fd, const char *path, int flags);

/* The same resolution done in user space one component at a time (at most
 * 40 symlinks). Not race-free against a process renaming directories
 * while sonde walks them, which openat2 is: only the fallback. Public so
 * that tests check both give the same answers. */
int sonde_open_in_root_walk(int root_fd, const char *path, int flags);

/* An O_PATH descriptor of <proc>/<pid>/root (proc: "/proc", or a test's
 * fake tree), -1 with errno set when the process is gone or not ours to
 * read. */
int sonde_proc_root_fd(const char *proc, pid_t pid);

/* Opens path as process pid sees it (resolved under its root). */
int sonde_proc_open(const char *proc, pid_t pid, const char *path, int flags);
/* The same, read-only, as a stdio stream. */
FILE *sonde_proc_fopen(const char *proc, pid_t pid, const char *path);

/* For call sites holding a composed path: "/proc/PID/root/REST" opens
 * REST under PID's root; any other path is opened as it is. flags as for
 * open(2); O_CLOEXEC is always added. */
int sonde_open_proc_path(const char *path, int flags);

/* Whether path (resolved the ordinary way, following links) names the
 * file open at fd: before handing path to an API that opens it itself. */
bool sonde_same_file(int fd, const char *path);

/* Process pid's name from /proc/PID/comm ("" if gone). */
void sonde_comm_of(pid_t pid, char comm[16]);

#endif

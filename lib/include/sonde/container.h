/* Container identity from cgroup paths: docker, containerd (incl. k8s.io
 * namespaces), cri-o, podman and kubepods layouts all put the 64-hex
 * container ID in a path component. */
#ifndef SONDE_CONTAINER_H
#define SONDE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SONDE_CONTAINER_ID_LEN 64

/* Finds the innermost container ID in one cgroup path. */
bool sonde_container_id_from_path(const char *path, char id[SONDE_CONTAINER_ID_LEN + 1]);
/* Same for the text of /proc/PID/cgroup (all its lines). */
bool sonde_container_id_from_cgroup_file(const char *text, size_t len,
					  char id[SONDE_CONTAINER_ID_LEN + 1]);
/* The container of a process, "" for none. Cached per PID for the life of
 * the process, so the hot path does not read /proc once a PID is known. */
const char *sonde_container_of_pid(pid_t pid);

#endif

/* Turns -p, -c and -C into the BPF-side filter of bpf/sonde.bpf.h. */
#ifndef SONDE_TARGET_H
#define SONDE_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "sonde/cli.h"

struct bpf_object;

struct sonde_cgroup_ref {
	bool v1;		/* on a cgroup v1 hierarchy */
	uint32_t v1_ssid;	/* a subsystem bound to that hierarchy */
	uint64_t id;		/* kernfs id (the directory's inode) */
	char dir[PATH_MAX];	/* where it is mounted here */
};

/* Resolves a cgroup given as a filesystem path (/sys/fs/cgroup/...) or as
 * it appears in /proc/PID/cgroup ("/system.slice/x.service"). Prints the
 * error; returns 0 or an exit status. */
int sonde_cgroup_resolve(const char *path, struct sonde_cgroup_ref *ref);
/* The cgroup of the container whose ID starts with prefix. */
int sonde_container_resolve(const char *prefix, struct sonde_cgroup_ref *ref);

/* Before load: set the filter switches in .rodata. Returns 0 or an exit
 * status (resolution errors are printed). */
int sonde_target_configure(struct bpf_object *obj, const struct sonde_args *args);
/* After load: put the PIDs into the filter map. Returns 0 or -errno. */
int sonde_target_fill(struct bpf_object *obj, const struct sonde_args *args);

/* Mount points of cgroup file systems, and /proc/cgroups, are read from
 * these; tests point them at fixtures. */
void sonde_cgroup_set_proc_root(const char *proc_root);

#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sonde/container.h"
#include "sonde/log.h"
#include "sonde/rodata.h"
#include "sonde/target.h"

#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270

static char proc_root[256] = "/proc";

void sonde_cgroup_set_proc_root(const char *root)
{
	snprintf(proc_root, sizeof(proc_root), "%s", root);
}

/* Index of a controller in /proc/cgroups, which lists subsystems in the
 * kernel's subsystem-id order. -1 when absent or not mounted. */
static int controller_ssid(const char *controller)
{
	char path[PATH_MAX], line[256], name[64];
	int idx = 0, ssid = -1, hier;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroups", proc_root);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%63s %d", name, &hier) == 2 && !strcmp(name, controller)) {
			if (hier > 0)
				ssid = idx;
			break;
		}
		idx++;
	}
	fclose(f);
	return ssid;
}

/* A v1 mount's super options name its controllers ("rw,cpu,cpuacct"). */
static int ssid_of_v1_options(const char *opts)
{
	char copy[256], *save = NULL, *tok;

	snprintf(copy, sizeof(copy), "%s", opts);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int ssid;

		if (!strcmp(tok, "rw") || !strcmp(tok, "ro") || !strncmp(tok, "name=", 5))
			continue;
		ssid = controller_ssid(tok);
		if (ssid >= 0)
			return ssid;
	}
	return -1;
}

struct cgroup_mount {
	char dir[PATH_MAX];
	bool v1;
	char options[256];
};

/* Calls fn for every cgroup mount, v2 first; stops when fn returns true. */
static bool for_each_cgroup_mount(bool (*fn)(const struct cgroup_mount *, void *), void *ctx)
{
	char path[PATH_MAX], line[4096];
	struct cgroup_mount v1[32];
	int n_v1 = 0;
	bool done = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/mountinfo", proc_root);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!done && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char mnt[PATH_MAX], fstype[32], super[256];
		char *sep = strstr(line, " - ");
		struct cgroup_mount m = {0};

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %*s %255s", fstype, super) != 2)
			continue;
		snprintf(m.dir, sizeof(m.dir), "%s", mnt);
		snprintf(m.options, sizeof(m.options), "%s", super);
		if (!strcmp(fstype, "cgroup2")) {
			done = fn(&m, ctx);
		} else if (!strcmp(fstype, "cgroup") && n_v1 < 32) {
			m.v1 = true;
			v1[n_v1++] = m;
		}
	}
	fclose(f);
	for (int i = 0; !done && i < n_v1; i++)
		done = fn(&v1[i], ctx);
	return done;
}

static int ref_from_dir(const char *dir, const struct cgroup_mount *m, struct sonde_cgroup_ref *ref)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	memset(ref, 0, sizeof(*ref));
	snprintf(ref->dir, sizeof(ref->dir), "%s", dir);
	ref->id = st.st_ino;
	ref->v1 = m->v1;
	if (m->v1) {
		int ssid = ssid_of_v1_options(m->options);

		if (ssid < 0)
			return -ENOTSUP;
		ref->v1_ssid = ssid;
	}
	return 0;
}

struct find_ctx {
	const char *path;	/* absolute fs path, or cgroup-relative */
	bool absolute;
	bool want_v1;		/* for container lookups: which hierarchy */
	bool any_hierarchy;
	struct sonde_cgroup_ref *ref;
	int err;
};

static bool try_mount(const struct cgroup_mount *m, void *arg)
{
	struct find_ctx *c = arg;
	char dir[PATH_MAX];
	size_t mlen = strlen(m->dir);
	int err;

	if (!c->any_hierarchy && c->want_v1 != m->v1)
		return false;
	if (c->absolute) {
		if (strncmp(c->path, m->dir, mlen) || (c->path[mlen] && c->path[mlen] != '/'))
			return false;
		snprintf(dir, sizeof(dir), "%s", c->path);
	} else {
		if (snprintf(dir, sizeof(dir), "%s%s", m->dir, c->path) >= (int)sizeof(dir))
			return false;
	}
	err = ref_from_dir(dir, m, c->ref);
	if (err == -ENOTSUP && c->err != 0)
		c->err = err;
	if (!err)
		c->err = 0;
	return !err;
}

int sonde_cgroup_resolve(const char *path, struct sonde_cgroup_ref *ref)
{
	struct find_ctx c = {.path = path, .any_hierarchy = true, .ref = ref, .err = -ENOENT};
	struct statfs sfs;
	char real[PATH_MAX];

	if (!path || path[0] != '/') {
		sonde_err("cgroup '%s' must be an absolute path", path ? path : "");
		return SONDE_EXIT_USAGE;
	}
	/* A path inside a mounted cgroup file system... */
	if (statfs(path, &sfs) == 0 &&
	    (sfs.f_type == CGROUP2_SUPER_MAGIC || sfs.f_type == CGROUP_SUPER_MAGIC) &&
	    realpath(path, real)) {
		c.path = real;
		c.absolute = true;
		for_each_cgroup_mount(try_mount, &c);
		if (!c.err)
			return 0;
	}
	/* ...or a cgroup path as /proc/PID/cgroup shows it. */
	c.path = path;
	c.absolute = false;
	c.err = -ENOENT;
	if (for_each_cgroup_mount(try_mount, &c))
		return 0;
	if (c.err == -ENOTSUP)
		sonde_err("cgroup '%s' is on a v1 hierarchy without a controller; use a path on the unified or a controller hierarchy", path);
	else
		sonde_err("no cgroup '%s' (neither a directory under a cgroup mount nor a cgroup path)", path);
	return SONDE_EXIT_USAGE;
}

struct container_match {
	char id[SONDE_CONTAINER_ID_LEN + 1];
	char path[PATH_MAX];	/* cgroup path up to the container's component */
	bool v1;
	int n_ids;
	char other[SONDE_CONTAINER_ID_LEN + 1];
};

/* Cuts a cgroup path after the component holding the ID, so that every
 * process of the container, in nested cgroups too, is below it. */
static void cut_after_id(char *path, const char *id)
{
	char *at = strstr(path, id);
	char *slash = at ? strchr(at, '/') : NULL;

	if (slash)
		*slash = 0;
}

static void match_pid_cgroups(const char *pid, const char *prefix, struct container_match *m)
{
	char path[PATH_MAX], line[4096], id[SONDE_CONTAINER_ID_LEN + 1];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/cgroup", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool v1 = strncmp(line, "0:", 2) != 0;

		if (!c2)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (!sonde_container_id_from_path(c2 + 1, id) ||
		    strncmp(id, prefix, strlen(prefix)))
			continue;
		if (m->n_ids == 0) {
			memcpy(m->id, id, sizeof(id));
			m->n_ids = 1;
		} else if (strcmp(m->id, id)) {
			memcpy(m->other, id, sizeof(id));
			m->n_ids = 2;
			continue;
		}
		/* The unified hierarchy when it knows the container; a v1
		 * hierarchy only when a controller is bound to it (named ones
		 * like name=systemd cannot be reached from BPF). */
		*c2 = 0;
		if (v1 && (m->path[0] || !strncmp(c1 + 1, "name=", 5)))
			continue;
		if (!v1 || !m->path[0]) {
			snprintf(m->path, sizeof(m->path), "%s", c2 + 1);
			m->v1 = v1;
		}
	}
	fclose(f);
}

int sonde_container_resolve(const char *prefix, struct sonde_cgroup_ref *ref)
{
	struct container_match m = {0};
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *proc;

	snprintf(dir, sizeof(dir), "%s", proc_root);
	proc = opendir(dir);
	if (!proc) {
		sonde_err("cannot list %s: %m", proc_root);
		return SONDE_EXIT_RUNTIME;
	}
	while ((d = readdir(proc)) && m.n_ids < 2) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		match_pid_cgroups(d->d_name, prefix, &m);
	}
	closedir(proc);
	if (m.n_ids == 0) {
		sonde_err("no running container's ID starts with '%s'", prefix);
		return SONDE_EXIT_USAGE;
	}
	if (m.n_ids > 1) {
		sonde_err("container ID prefix '%s' is ambiguous (%.12s, %.12s, ...)", prefix, m.id, m.other);
		return SONDE_EXIT_USAGE;
	}
	if (!m.path[0]) {
		sonde_err("container %.12s is only in cgroup hierarchies without a controller", m.id);
		return SONDE_EXIT_UNSUPPORTED;
	}
	cut_after_id(m.path, m.id);
	{
		struct find_ctx c = {.path = m.path, .want_v1 = m.v1, .ref = ref, .err = -ENOENT};

		if (for_each_cgroup_mount(try_mount, &c))
			return 0;
	}
	sonde_err("container %.12s: cgroup %s is not mounted here", m.id, m.path);
	return SONDE_EXIT_UNSUPPORTED;
}

static int set_bool(struct bpf_object *obj, const char *name, bool v)
{
	return sonde_rodata_set(obj, name, &v, sizeof(v));
}

int sonde_target_configure(struct bpf_object *obj, const struct sonde_args *args)
{
	struct sonde_cgroup_ref ref;
	int rc;

	if (args->n_pids && set_bool(obj, "sonde_filter_pids", true))
		goto no_filter;
	if (args->n_pids == 1 && sonde_rodata_set(obj, "sonde_filter_one_pid", &args->pids[0],
						  sizeof(args->pids[0])))
		goto no_filter;
	if (!args->cgroup && !args->container)
		return 0;
	rc = args->cgroup ? sonde_cgroup_resolve(args->cgroup, &ref)
			  : sonde_container_resolve(args->container, &ref);
	if (rc)
		return rc;
	sonde_info(1, "filtering on cgroup %s (%s, id %llu)", ref.dir, ref.v1 ? "v1" : "v2",
		   (unsigned long long)ref.id);
	if (set_bool(obj, "sonde_filter_cgroup", true) ||
	    set_bool(obj, "sonde_cgroup_is_v1", ref.v1) ||
	    sonde_rodata_set(obj, "sonde_cgroup_v1_ssid", &ref.v1_ssid, sizeof(ref.v1_ssid)) ||
	    sonde_rodata_set(obj, "sonde_cgroup_id", &ref.id, sizeof(ref.id)))
		goto no_filter;
	return 0;
no_filter:
	sonde_err("internal error: BPF object lacks the common filter (bpf/sonde.bpf.h)");
	return SONDE_EXIT_RUNTIME;
}

int sonde_target_fill(struct bpf_object *obj, const struct sonde_args *args)
{
	struct bpf_map *map;
	__u8 one = 1;

	if (!args->n_pids)
		return 0;
	map = bpf_object__find_map_by_name(obj, "sonde_pids");
	if (!map)
		return -ENOENT;
	for (size_t i = 0; i < args->n_pids; i++) {
		__u32 pid = args->pids[i];

		if (bpf_map__update_elem(map, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY))
			return -errno;
	}
	return 0;
}

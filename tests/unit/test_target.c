/* Cgroup and container resolution against a fixture /proc and fixture
 * cgroup mounts made of plain directories. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/log.h>
#include <sonde/target.h>

#include "check.h"
#include "fixtures.h"

#define ID_A "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define ID_B "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb9999"

static char *root;

static uint64_t inode(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return stat(path, &st) ? 0 : st.st_ino;
}

static void setup(void)
{
	char mountinfo[2048], proc[300];

	root = fixture_tree_new("test-target");
	fixture_mkdirs(root, "proc/self");
	fixture_mkdirs(root, "proc/123");
	fixture_mkdirs(root, "proc/124");
	fixture_mkdirs(root, "unified/a/b");
	fixture_mkdirs(root, "memory/test/x");
	fixture_mkdirs(root, "memory/docker/" ID_A "/nested");
	fixture_mkdirs(root, "systemd/only");
	fixture_write(root, "proc/cgroups",
		   "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
		   "cpuset\t3\t1\t1\ncpu\t4\t1\t1\nmemory\t2\t5\t1\npids\t0\t1\t1\n");
	snprintf(mountinfo, sizeof(mountinfo),
		 "30 20 0:26 / %s/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
		 "31 20 0:27 / %s/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
		 "32 20 0:28 / %s/memory rw,nosuid - cgroup cgroup rw,memory\n"
		 "33 20 0:29 / /proc rw - proc proc rw\n",
		 root, root, root);
	fixture_write(root, "proc/self/mountinfo", mountinfo);
	fixture_write(root, "proc/123/cgroup",
		   "4:memory:/docker/" ID_A "/nested\n1:name=systemd:/docker/" ID_A "\n0::/\n");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	sonde_cgroup_set_proc_root(proc);
}

static void cgroup_paths(void)
{
	struct sonde_cgroup_ref ref;

	CHECK(sonde_cgroup_resolve("/a/b", &ref) == 0);
	CHECK(!ref.v1);
	CHECK_U64(ref.id, inode("unified/a/b"));

	CHECK(sonde_cgroup_resolve("/test/x", &ref) == 0);
	CHECK(ref.v1);
	CHECK_U64(ref.v1_ssid, 2);	/* memory is third in /proc/cgroups */
	CHECK_U64(ref.id, inode("memory/test/x"));

	/* Only on a hierarchy without controllers: BPF cannot see it. */
	CHECK(sonde_cgroup_resolve("/only", &ref) == SONDE_EXIT_USAGE);
	CHECK(sonde_cgroup_resolve("/missing", &ref) == SONDE_EXIT_USAGE);
	CHECK(sonde_cgroup_resolve("relative", &ref) == SONDE_EXIT_USAGE);
}

static void containers(void)
{
	struct sonde_cgroup_ref ref;

	/* The container's own cgroup, not the nested one of the process. */
	CHECK(sonde_container_resolve("aaaa1111", &ref) == 0);
	CHECK(ref.v1);
	CHECK_U64(ref.id, inode("memory/docker/" ID_A));
	CHECK(sonde_container_resolve("ffff", &ref) == SONDE_EXIT_USAGE);

	fixture_write(root, "proc/124/cgroup", "4:memory:/docker/" ID_B "\n0::/\n");
	CHECK(sonde_container_resolve("aaaa1111", &ref) == SONDE_EXIT_USAGE);	/* ambiguous */
	CHECK(sonde_container_resolve(ID_A, &ref) == 0);
}

int main(void)
{
	int rc;

	if (getenv("KEEP_STDERR") == NULL && !freopen("/dev/null", "w", stderr))
		return 1;
	setup();
	RUN(cgroup_paths);
	RUN(containers);
	rc = CHECK_DONE();
	fixture_tree_remove(root);
	return rc;
}

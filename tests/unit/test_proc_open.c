/* Opening files under another process's root: links and ".." that point
 * out of the root land inside it (or nowhere), never on the host's file.
 * Every case runs through openat2 and through the user-space walk. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/proc_open.h>

#include "check.h"

static char base[] = "/tmp/sonde-test-proc-open-XXXXXX";
static int root_fd;

static void write_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void link_to(const char *target, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	CHECK(symlink(target, path) == 0);
}

/* What opening path under the root gives: the file's first word, or
 * the errno as "errno:N". */
static const char *read_via(int (*open_fn)(int, const char *, int), const char *path)
{
	static char text[64];
	int fd = open_fn(root_fd, path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		snprintf(text, sizeof(text), "errno:%d", errno);
		return text;
	}
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = 0;
	close(fd);
	return text;
}

static void setup(void)
{
	char path[PATH_MAX], outside[PATH_MAX + 32];

	CHECK(mkdtemp(base) != NULL);
	snprintf(path, sizeof(path), "%s/root", base);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/root/etc", base);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/root/lib", base);
	CHECK(mkdir(path, 0755) == 0);
	write_file("secret", "host");
	write_file("root/secret", "inside");
	write_file("root/etc/conf", "conf");
	/* The host file by its absolute host path, and by climbing out. */
	snprintf(outside, sizeof(outside), "%s/secret", base);
	link_to(outside, "root/lib/abs-to-host");
	link_to("../../secret", "root/lib/climb");
	link_to("/secret", "root/lib/abs-inside");
	link_to("../etc", "root/lib/etc-dir");
	link_to("loop", "root/lib/loop");
	link_to("/proc/self/root/etc/passwd", "root/lib/through-proc");
	/* A FIFO nobody writes: opening it for reading would wait forever. */
	snprintf(path, sizeof(path), "%s/root/tmp-fifo", base);
	CHECK(mkfifo(path, 0600) == 0);
	link_to("/tmp-fifo", "root/lib/to-fifo");
	snprintf(path, sizeof(path), "%s/root", base);
	root_fd = open(path, O_PATH | O_DIRECTORY);
	CHECK(root_fd >= 0);
}

static void cases(int (*open_fn)(int, const char *, int))
{
	char err[32];
	int fd;

	CHECK_STR(read_via(open_fn, "/etc/conf"), "conf");
	CHECK_STR(read_via(open_fn, "etc/conf"), "conf");
	CHECK_STR(read_via(open_fn, "/lib/etc-dir/conf"), "conf");
	/* A link to "/secret" is the root's /secret, not the host's. */
	CHECK_STR(read_via(open_fn, "/lib/abs-inside"), "inside");
	/* ".." stops at the root: ../../secret is the root's /secret. */
	CHECK_STR(read_via(open_fn, "/lib/climb"), "inside");
	CHECK_STR(read_via(open_fn, "/../../../secret"), "inside");
	/* The host's path does not exist inside the root. */
	snprintf(err, sizeof(err), "errno:%d", ENOENT);
	CHECK_STR(read_via(open_fn, "/lib/abs-to-host"), err);
	CHECK_STR(read_via(open_fn, "/lib/through-proc"), err);
	snprintf(err, sizeof(err), "errno:%d", ELOOP);
	CHECK_STR(read_via(open_fn, "/lib/loop"), err);
	snprintf(err, sizeof(err), "errno:%d", ENOTDIR);
	CHECK_STR(read_via(open_fn, "/etc/conf/x"), err);
	snprintf(err, sizeof(err), "errno:%d", ENODEV);
	CHECK_STR(read_via(open_fn, "/tmp-fifo"), err);
	CHECK_STR(read_via(open_fn, "/lib/to-fifo"), err);
	/* What is opened blocks as asked. */
	fd = open_fn(root_fd, "/etc/conf", O_RDONLY);
	CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);
	fd = open_fn(root_fd, "/etc", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	close(fd);
}

static void with_openat2(void)
{
	cases(sonde_open_in_root);
}

static void with_walk(void)
{
	cases(sonde_open_in_root_walk);
}

/* A composed /proc/PID/root path resolves under that root; ours is "/",
 * so only the parsing shows here, and that other paths pass through. */
static void composed_paths(void)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root%s/root/etc/conf", (int)getpid(), base);
	fd = sonde_open_proc_path(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(sonde_same_file(fd, path));
	snprintf(path, sizeof(path), "%s/root/secret", base);
	CHECK(!sonde_same_file(fd, path));
	close(fd);
	fd = sonde_open_proc_path(path, O_RDONLY);
	CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	close(fd);
	fd = sonde_proc_open("/proc", getpid(), path, O_RDONLY);
	CHECK(fd >= 0);
	close(fd);
	CHECK(sonde_proc_open("/proc", -5, path, O_RDONLY) < 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	close(root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	RUN(setup);
	RUN(with_openat2);
	RUN(with_walk);
	RUN(composed_paths);
	RUN(teardown);
	return CHECK_DONE();
}

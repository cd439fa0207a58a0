/* Opening another process's files under its own root: see
 * sonde/proc_open.h for why. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sonde/proc_open.h"

/* As many as the kernel's path walk allows (MAXSYMLINKS). */
#define MAX_LINKS 40

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int fail(int fd, int err)
{
	if (fd >= 0)
		close(fd);
	errno = err;
	return -1;
}

/* Replaces *dir by next (an fd or -1); false with errno kept on -1. */
static bool move_to(int *dir, int next)
{
	int err = errno;

	if (next < 0)
		return false;
	close(*dir);
	*dir = next;
	errno = err;
	return true;
}

static int walk_in_root(int root_fd, const char *path, int flags)
{
	char todo[PATH_MAX * 2], next[PATH_MAX * 2], target[PATH_MAX];
	struct stat root_st, st;
	const char *p = todo;
	int dir, links = 0;

	if (strlen(path) >= PATH_MAX)
		return fail(-1, ENAMETOOLONG);
	if (fstat(root_fd, &root_st))
		return -1;
	dir = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -1;
	strcpy(todo, path);
	for (;;) {
		char name[NAME_MAX + 1];
		size_t len;
		bool last;
		ssize_t n;

		p += strspn(p, "/");
		if (!*p) {
			int fd = openat(dir, ".", flags | O_CLOEXEC);

			return fd < 0 ? fail(dir, errno) : (close(dir), fd);
		}
		len = strcspn(p, "/");
		if (len > NAME_MAX)
			return fail(dir, ENAMETOOLONG);
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		last = !p[strspn(p, "/")];
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			/* ".." of the root is the root, as for chroot(2). */
			if (fstat(dir, &st))
				return fail(dir, errno);
			if (!same_inode(&st, &root_st) &&
			    !move_to(&dir, openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC)))
				return fail(dir, errno);
			continue;
		}
		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW))
			return fail(dir, errno);
		if (S_ISLNK(st.st_mode)) {
			/* The link's text replaces its name in what is left to
			 * walk; an absolute one starts again at the root. */
			if (++links > MAX_LINKS)
				return fail(dir, ELOOP);
			n = readlinkat(dir, name, target, sizeof(target) - 1);
			if (n < 0)
				return fail(dir, errno);
			target[n] = 0;
			if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, p) >= sizeof(next))
				return fail(dir, ENAMETOOLONG);
			strcpy(todo, next);
			p = todo;
			if (target[0] == '/' &&
			    !move_to(&dir, openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)))
				return fail(dir, errno);
			continue;
		}
		if (last) {
			/* O_NOFOLLOW: a link swapped in since fstatat fails
			 * with ELOOP rather than being followed. */
			int fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);

			return fd < 0 ? fail(dir, errno) : (close(dir), fd);
		}
		if (!S_ISDIR(st.st_mode))
			return fail(dir, ENOTDIR);
		if (!move_to(&dir, openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
			return fail(dir, errno);
	}
}

/* Opened without blocking (a FIFO's open waits for a writer); kept only
 * if a regular file or directory, and then blocking as asked. */
static int only_files(int fd, int flags)
{
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st))
		return fail(fd, errno);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return fail(fd, ENODEV);
	if (!(flags & O_NONBLOCK) && !(flags & O_PATH) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
		return fail(fd, errno);
	return fd;
}

static int open_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return walk_in_root(root_fd, path, flags);
	return fd;
}

int sonde_open_in_root(int root_fd, const char *path, int flags)
{
	return only_files(open_in_root(root_fd, path, flags | O_NONBLOCK), flags);
}

int sonde_open_in_root_walk(int root_fd, const char *path, int flags)
{
	return only_files(walk_in_root(root_fd, path, flags | O_NONBLOCK), flags);
}

int sonde_proc_root_fd(const char *proc, pid_t pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d/root", proc, (int)pid);
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int sonde_proc_open(const char *proc, pid_t pid, const char *path, int flags)
{
	int root = sonde_proc_root_fd(proc, pid), fd, err;

	if (root < 0)
		return -1;
	fd = sonde_open_in_root(root, path, flags);
	err = errno;
	close(root);
	errno = err;
	return fd;
}

FILE *sonde_proc_fopen(const char *proc, pid_t pid, const char *path)
{
	int fd = sonde_proc_open(proc, pid, path, O_RDONLY);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

int sonde_open_proc_path(const char *path, int flags)
{
	int pid, end = 0;

	if (sscanf(path, "/proc/%d/root%n", &pid, &end) == 1 && end &&
	    (path[end] == '/' || !path[end]) && pid > 0)
		return sonde_proc_open("/proc", pid, path[end] ? path + end : "/", flags);
	return open(path, flags | O_CLOEXEC);
}

bool sonde_same_file(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(path, &b) && same_inode(&a, &b);
}

void sonde_comm_of(pid_t pid, char comm[16])
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	comm[0] = 0;
	f = fopen(path, "re");
	if (f && fgets(comm, 16, f))
		comm[strcspn(comm, "\n")] = 0;
	if (f)
		fclose(f);
}

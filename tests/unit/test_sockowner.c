/* The /proc scan behind sonde_sock_owner_find(), on a fake /proc tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/sockowner.h>

#include "check.h"
#include "fixtures.h"

static char *root;

static void put_process(int pid, const char *comm)
{
	char rel[64], text[64];

	snprintf(rel, sizeof(rel), "%d/fd", pid);
	fixture_mkdirs(root, rel);
	snprintf(rel, sizeof(rel), "%d/comm", pid);
	snprintf(text, sizeof(text), "%s\n", comm);
	fixture_write(root, rel, text);
}

static void put_fd(int pid, int fd, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d/fd/%d", root, pid, fd);
	CHECK(symlink(target, path) == 0);
}

static void parse_links(void)
{
	uint64_t ino = 0;

	CHECK(sonde_parse_socket_link("socket:[4242]", &ino));
	CHECK_U64(ino, 4242);
	CHECK(sonde_parse_socket_link("socket:[18446744073709551615]", &ino));
	CHECK_U64(ino, UINT64_MAX);
	CHECK(!sonde_parse_socket_link("socket:[18446744073709551616]", &ino));
	CHECK(!sonde_parse_socket_link("socket:[]", &ino));
	CHECK(!sonde_parse_socket_link("socket:[0]", &ino));
	CHECK(!sonde_parse_socket_link("socket:[12a]", &ino));
	CHECK(!sonde_parse_socket_link("socket:[12]x", &ino));
	CHECK(!sonde_parse_socket_link("socket:[-1]", &ino));
	CHECK(!sonde_parse_socket_link("pipe:[4242]", &ino));
	CHECK(!sonde_parse_socket_link("/tmp/socket:[4242]", &ino));
	CHECK(!sonde_parse_socket_link("", &ino));
}

static void finds_owners_and_caches(void)
{
	struct sonde_sock_owner owner;

	put_process(100, "nginx");
	put_fd(100, 0, "/dev/null");
	put_fd(100, 3, "socket:[4242]");
	put_fd(100, 4, "anon_inode:[eventpoll]");
	/* a child that inherited the socket: the lower PID is the owner */
	put_process(2000, "worker");
	put_fd(2000, 3, "socket:[4242]");
	put_fd(2000, 7, "socket:[77]");
	/* hostile comm: returned as is (output sanitises), cut at 15 bytes */
	put_process(30, "\x1b[31mevil-name-that-is-long");
	put_fd(30, 9, "socket:[9]");
	sonde_sock_owner_configure(root, 0);

	CHECK(sonde_sock_owner_find(4242, &owner) == 0);
	CHECK_U64(owner.pid, 100);
	CHECK_STR(owner.comm, "nginx");
	CHECK_U64(sonde_sock_owner_scans(), 1);
	CHECK(sonde_sock_owner_find(77, &owner) == 0);
	CHECK_U64(owner.pid, 2000);
	CHECK_STR(owner.comm, "worker");
	CHECK(sonde_sock_owner_find(9, &owner) == 0);
	CHECK_U64(owner.pid, 30);
	CHECK_STR(owner.comm, "\x1b[31mevil-name-");
	/* all from the one scan */
	CHECK_U64(sonde_sock_owner_scans(), 1);

	/* a miss rescans once; asking again for it does not */
	CHECK(sonde_sock_owner_find(555, &owner) == -ENOENT);
	CHECK_U64(sonde_sock_owner_scans(), 2);
	CHECK(sonde_sock_owner_find(555, &owner) == -ENOENT);
	CHECK_U64(sonde_sock_owner_scans(), 2);
	/* inode 0 (no file) never scans */
	CHECK(sonde_sock_owner_find(0, &owner) == -ENOENT);
	CHECK_U64(sonde_sock_owner_scans(), 2);

	/* a socket opened since is found by the rescan its miss causes */
	put_process(300, "late");
	put_fd(300, 5, "socket:[888]");
	CHECK(sonde_sock_owner_find(888, &owner) == 0);
	CHECK_U64(owner.pid, 300);
	CHECK_U64(sonde_sock_owner_scans(), 3);
}

static void rescans_are_rate_limited(void)
{
	struct sonde_sock_owner owner;

	sonde_sock_owner_configure(root, 3600ull * 1000000000ull);
	CHECK(sonde_sock_owner_find(4242, &owner) == 0);
	CHECK_U64(sonde_sock_owner_scans(), 1);
	put_process(400, "later");
	put_fd(400, 5, "socket:[999]");
	/* within the interval a miss does not rescan (and is not remembered) */
	CHECK(sonde_sock_owner_find(999, &owner) == -ENOENT);
	CHECK_U64(sonde_sock_owner_scans(), 1);
	CHECK(sonde_sock_owner_find(77, &owner) == 0);
}

static void many_sockets_grow_the_cache(void)
{
	struct sonde_sock_owner owner;
	char target[64];

	put_process(500, "busy");
	for (int fd = 0; fd < 3000; fd++) {
		snprintf(target, sizeof(target), "socket:[%d]", 100000 + fd);
		put_fd(500, fd, target);
	}
	sonde_sock_owner_configure(root, 0);
	CHECK(sonde_sock_owner_find(100000, &owner) == 0);
	CHECK(sonde_sock_owner_find(102999, &owner) == 0);
	CHECK_U64(owner.pid, 500);
	CHECK(sonde_sock_owner_find(888, &owner) == 0);
	CHECK_U64(sonde_sock_owner_scans(), 1);
}

static void missing_proc(void)
{
	struct sonde_sock_owner owner;

	sonde_sock_owner_configure("/nonexistent/proc", 0);
	CHECK(sonde_sock_owner_find(4242, &owner) == -ENOENT);
}

int main(void)
{
	int rc;

	root = fixture_tree_new("test-proc");
	RUN(parse_links);
	RUN(finds_owners_and_caches);
	RUN(rescans_are_rate_limited);
	RUN(many_sockets_grow_the_cache);
	RUN(missing_proc);
	sonde_sock_owner_reset();
	rc = CHECK_DONE();
	fixture_tree_remove(root);
	return rc;
}

/* Which process holds a socket, found by the socket's inode number in
 * /proc/PID/fd. For sockets whose owner BPF never saw in process context
 * (opened before the tool started). A full scan of /proc is expensive, so
 * it is cached: it runs again only for an inode the cache does not know,
 * and at most once per rescan interval. */
#ifndef SONDE_SOCKOWNER_H
#define SONDE_SOCKOWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sonde_sock_owner {
	pid_t pid;
	char comm[16];
};

/* Parses an fd link target "socket:[12345]" into the inode number. */
bool sonde_parse_socket_link(const char *link, uint64_t *ino);

/* 0 and the owner (the lowest PID holding the socket), or -ENOENT when no
 * process holds it, or no rescan was allowed yet. */
int sonde_sock_owner_find(uint64_t ino, struct sonde_sock_owner *owner);

/* How many times /proc was scanned, for -v and the tests. */
uint64_t sonde_sock_owner_scans(void);

/* Where proc is and how often a miss may rescan it (default "/proc" and
 * one second); forgets the cache. For the tests. */
void sonde_sock_owner_configure(const char *proc_root, uint64_t min_rescan_ns);
/* Frees the cache. */
void sonde_sock_owner_reset(void);

#endif

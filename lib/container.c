#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sonde/container.h"

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A component holds an ID when it has a run of exactly 64 hex digits
 * bounded by the component's ends or by '-', '.', ':' (docker-ID.scope,
 * cri-containerd-ID.scope, crio-ID, libpod-ID.scope, plain ID). */
static bool id_in_component(const char *c, size_t len, char *id)
{
	/* cri-o's and podman's monitor processes are not the container. */
	if (memmem(c, len, "conmon", 6))
		return false;
	for (size_t i = 0; i + SONDE_CONTAINER_ID_LEN <= len; i++) {
		size_t n = 0;

		if (i > 0 && c[i - 1] != '-' && c[i - 1] != '.' && c[i - 1] != ':')
			continue;
		while (i + n < len && is_hex(c[i + n]))
			n++;
		if (n == SONDE_CONTAINER_ID_LEN &&
		    (i + n == len || c[i + n] == '.' || c[i + n] == '-')) {
			memcpy(id, c + i, SONDE_CONTAINER_ID_LEN);
			id[SONDE_CONTAINER_ID_LEN] = 0;
			return true;
		}
		i += n;
	}
	return false;
}

static bool id_in_path(const char *path, size_t len, char *id)
{
	bool found = false;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (i > start && id_in_component(path + start, i - start, id))
			found = true;	/* keep going: the innermost wins */
		start = i + 1;
	}
	return found;
}

bool sonde_container_id_from_path(const char *path, char id[SONDE_CONTAINER_ID_LEN + 1])
{
	return id_in_path(path, strlen(path), id);
}

bool sonde_container_id_from_cgroup_file(const char *text, size_t len,
					  char id[SONDE_CONTAINER_ID_LEN + 1])
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *line_end = nl ? nl : end;
		/* "hierarchy-id:controllers:path" — the path is after the
		 * second colon and may itself contain colons. */
		const char *c1 = memchr(p, ':', line_end - p);
		const char *c2 = c1 ? memchr(c1 + 1, ':', line_end - c1 - 1) : NULL;

		if (c2 && id_in_path(c2 + 1, line_end - c2 - 1, id))
			return true;
		p = line_end + 1;
	}
	return false;
}

#define CACHE_SLOTS 4096

struct cache_entry {
	pid_t pid;
	char id[SONDE_CONTAINER_ID_LEN + 1];
};

static struct cache_entry cache[CACHE_SLOTS];

const char *sonde_container_of_pid(pid_t pid)
{
	struct cache_entry *e = &cache[(uint32_t)pid % CACHE_SLOTS];
	char path[64], text[4096];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return "";
	if (e->pid == pid)
		return e->id;
	e->pid = pid;
	e->id[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* Gone already: don't cache a miss that a later PID reuse
		 * would inherit. */
		e->pid = 0;
		return "";
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n > 0 && !sonde_container_id_from_cgroup_file(text, n, e->id))
		e->id[0] = 0;
	return e->id;
}

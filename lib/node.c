#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <unistd.h>

#include "sonde/node.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int sonde_parse_lockdown(const char *text, char *mode, size_t size)
{
	const char *open = strchr(text, '['), *close;

	if (!open || !(close = strchr(open, ']')) || close == open + 1 ||
	    (size_t)(close - open - 1) >= size)
		return -EINVAL;
	memcpy(mode, open + 1, close - open - 1);
	mode[close - open - 1] = 0;
	return 0;
}

int sonde_lockdown(char *mode, size_t size, bool *mounted)
{
	char text[128] = "", dir[256];
	FILE *f;
	bool read;

	*mounted = false;
	/* systemd mounts securityfs at boot; minimal hosts and containers may
	 * not. Mounting it exposes nothing new to a process that may mount. */
	if (sonde_mount_point("securityfs", dir, sizeof(dir))) {
		if (mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL))
			return -errno;
		*mounted = true;
	}
	f = fopen("/sys/kernel/security/lockdown", "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	read = fgets(text, sizeof(text), f) != NULL;
	fclose(f);
	if (!read || sonde_parse_lockdown(text, mode, size))
		return -EINVAL;
	return 0;
}

int sonde_find_mount(FILE *mounts, const char *fstype, char *dir, size_t size)
{
	char line[4096], path[4096], type[64];

	while (fgets(line, sizeof(line), mounts)) {
		/* "source mountpoint fstype options dump pass" */
		if (sscanf(line, "%*s %4095s %63s", path, type) != 2 || strcmp(type, fstype))
			continue;
		if (strlen(path) >= size)
			continue;
		strcpy(dir, path);
		return 0;
	}
	return -ENOENT;
}

int sonde_mount_point(const char *fstype, char *dir, size_t size)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	int rc;

	if (!f)
		return -errno;
	rc = sonde_find_mount(f, fstype, dir, size);
	fclose(f);
	return rc;
}

static const struct {
	cap_value_t cap;
	const char *name;
} tracing_caps[] = {
	{CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
	{CAP_BPF, "CAP_BPF"},
	{CAP_PERFMON, "CAP_PERFMON"},
	{CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
	{CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"},
	{CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
	{CAP_NET_ADMIN, "CAP_NET_ADMIN"},
};

bool sonde_caps_held(char *list, size_t size)
{
	bool held[sizeof(tracing_caps) / sizeof(tracing_caps[0])] = {0};
	cap_t caps = cap_get_proc();
	size_t len = 0;

	list[0] = 0;
	for (size_t i = 0; caps && i < sizeof(tracing_caps) / sizeof(tracing_caps[0]); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		/* An older libcap may not know CAP_BPF: then it is not held. */
		held[i] = !cap_get_flag(caps, tracing_caps[i].cap, CAP_EFFECTIVE, &v) && v == CAP_SET;
		if (held[i] && len < size)
			len += snprintf(list + len, size - len, "%s%s", len ? " " : "", tracing_caps[i].name);
	}
	if (caps)
		cap_free(caps);
	if (!list[0])
		snprintf(list, size, "none");
	return held[0] || (held[1] && held[2]);
}

int sonde_read_sysctl(const char *name, long *value)
{
	char path[256], text[32], *end;
	FILE *f;
	bool read;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	read = fgets(text, sizeof(text), f) != NULL;
	fclose(f);
	if (!read)
		return -EIO;
	*value = strtol(text, &end, 10);
	return end == text ? -EINVAL : 0;
}

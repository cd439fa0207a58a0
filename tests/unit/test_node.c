/* Parsers behind `sonde doctor`'s node checks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sonde/node.h>

#include "check.h"

static void lockdown_modes(void)
{
	char mode[32];

	CHECK(sonde_parse_lockdown("[none] integrity confidentiality\n", mode, sizeof(mode)) == 0);
	CHECK_STR(mode, "none");
	CHECK(sonde_parse_lockdown("none [integrity] confidentiality\n", mode, sizeof(mode)) == 0);
	CHECK_STR(mode, "integrity");
	CHECK(sonde_parse_lockdown("none integrity [confidentiality]\n", mode, sizeof(mode)) == 0);
	CHECK_STR(mode, "confidentiality");
	CHECK(sonde_parse_lockdown("none integrity\n", mode, sizeof(mode)) == -EINVAL);
	CHECK(sonde_parse_lockdown("[]", mode, sizeof(mode)) == -EINVAL);
	CHECK(sonde_parse_lockdown("[confidentiality]", mode, 8) == -EINVAL);
}

static void mounts(void)
{
	static const char table[] =
		"proc /proc proc rw,nosuid 0 0\n"
		"nodev /sys/kernel/tracing tracefs rw,relatime 0 0\n"
		"debugfs /sys/kernel/debug debugfs rw 0 0\n"
		"tracefs /mnt/other tracefs rw 0 0\n";
	char dir[64];
	FILE *f;

	f = fmemopen((void *)table, sizeof(table) - 1, "r");
	CHECK(sonde_find_mount(f, "tracefs", dir, sizeof(dir)) == 0);
	CHECK_STR(dir, "/sys/kernel/tracing");
	fclose(f);
	f = fmemopen((void *)table, sizeof(table) - 1, "r");
	CHECK(sonde_find_mount(f, "debugfs", dir, sizeof(dir)) == 0);
	CHECK_STR(dir, "/sys/kernel/debug");
	fclose(f);
	f = fmemopen((void *)table, sizeof(table) - 1, "r");
	CHECK(sonde_find_mount(f, "securityfs", dir, sizeof(dir)) == -ENOENT);
	fclose(f);
}

static void capabilities(void)
{
	char list[256];

	/* Whatever this process holds, the list is never empty. */
	sonde_caps_held(list, sizeof(list));
	CHECK(list[0] != 0);
}

static void sysctl(void)
{
	long v = -1;

	CHECK(sonde_read_sysctl("kernel/pid_max", &v) == 0 && v > 0);
	CHECK(sonde_read_sysctl("kernel/no_such_sysctl", &v) == -ENOENT);
}

int main(void)
{
	RUN(lockdown_modes);
	RUN(mounts);
	RUN(capabilities);
	RUN(sysctl);
	return CHECK_DONE();
}

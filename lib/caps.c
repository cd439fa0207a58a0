#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "sonde/caps.h"
#include "sonde/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool has_effective(cap_t caps, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	/* Older libcap does not know CAP_BPF; it is then not held. */
	if (cap_get_flag(caps, cap, CAP_EFFECTIVE, &v))
		return false;
	return v == CAP_SET;
}

bool sonde_caps_have(int cap)
{
	cap_t caps = cap_get_proc();
	bool have = caps && has_effective(caps, (cap_value_t)cap);

	cap_free(caps);
	return have;
}

int sonde_caps_check(void)
{
	cap_t caps = cap_get_proc();
	bool admin, bpf, perfmon;

	if (!caps) {
		sonde_err("cannot read own capabilities: %m");
		return SONDE_EXIT_PRIVILEGE;
	}
	admin = has_effective(caps, CAP_SYS_ADMIN);
	bpf = has_effective(caps, CAP_BPF);
	perfmon = has_effective(caps, CAP_PERFMON);
	cap_free(caps);
	if (admin || (bpf && perfmon))
		return 0;
	if (bpf)
		sonde_err("missing privileges: needs CAP_PERFMON (with CAP_BPF) or CAP_SYS_ADMIN; run as root");
	else if (perfmon)
		sonde_err("missing privileges: needs CAP_BPF (with CAP_PERFMON) or CAP_SYS_ADMIN; run as root");
	else
		sonde_err("missing privileges: needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN; run as root");
	return SONDE_EXIT_PRIVILEGE;
}

/* Keeps of caps[] those the process holds: asking to keep one it lacks
 * (e.g. CAP_SYS_RESOURCE outside a container's bounding set) would make
 * cap_set_proc() fail and keep everything. Returns the new count. */
static int only_permitted(cap_value_t *caps, int n)
{
	cap_t now = cap_get_proc();
	int kept = 0;

	if (!now)
		return n;
	for (int i = 0; i < n; i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!cap_get_flag(now, caps[i], CAP_PERMITTED, &v) && v == CAP_SET)
			caps[kept++] = caps[i];
	}
	cap_free(now);
	return kept;
}

/* Capabilities parts of the library asked to keep (bit = CAP_*). */
static _Atomic uint64_t keep_later;

void sonde_caps_keep_later(int cap)
{
	if (cap >= 0 && cap < 64)
		atomic_fetch_or(&keep_later, UINT64_C(1) << cap);
}

int sonde_caps_drop(unsigned keep)
{
	uint64_t asked = atomic_load(&keep_later);
	cap_value_t kept[12 + 64];
	int n = 0, rc = 0;
	cap_t caps;

	/* Reading our own maps goes through bpf(2), which kernels before 6.5
	 * refuse without CAP_BPF when unprivileged BPF is disabled. */
	kept[n++] = CAP_BPF;
	/* Kernels before 5.8 know no CAP_BPF and ask for CAP_SYS_ADMIN. */
	if (cap_max_bits() <= CAP_BPF)
		kept[n++] = CAP_SYS_ADMIN;
	if (keep & SONDE_KEEP_PROC_READ) {
		kept[n++] = CAP_SYS_PTRACE;
		kept[n++] = CAP_DAC_READ_SEARCH;
		/* /proc/PID/map_files: CAP_CHECKPOINT_RESTORE is enough
		 * since 5.9, before it only CAP_SYS_ADMIN. */
		kept[n++] = cap_max_bits() > CAP_CHECKPOINT_RESTORE ? CAP_CHECKPOINT_RESTORE
								   : CAP_SYS_ADMIN;
		/* The symbolizer's threads run idle until the report needs
		 * them, and then get the normal policy back (lib/sym/thread.c). */
		kept[n++] = CAP_SYS_NICE;
	}
	if (keep & SONDE_KEEP_BPF) {
		kept[n++] = CAP_PERFMON;
		kept[n++] = CAP_SYS_ADMIN;
		kept[n++] = CAP_DAC_READ_SEARCH;
		kept[n++] = CAP_SYS_RESOURCE;
	}
	for (int cap = 0; cap < 64; cap++)
		if (asked & (UINT64_C(1) << cap))
			kept[n++] = cap;
	n = only_permitted(kept, n);
	caps = cap_init();
	if (!caps)
		return -errno;
	if (n && (cap_set_flag(caps, CAP_EFFECTIVE, n, kept, CAP_SET) ||
		  cap_set_flag(caps, CAP_PERMITTED, n, kept, CAP_SET)))
		rc = -errno;
	if (!rc && cap_set_proc(caps))
		rc = -errno;
	cap_free(caps);
	if (!rc)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (rc)
		sonde_info(1, "could not drop capabilities: %s", strerror(-rc));
	else
		sonde_info(1, "dropped capabilities%s", n ? " except those still needed" : "");
	return rc;
}

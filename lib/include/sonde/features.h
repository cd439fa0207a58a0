/* What this kernel offers, probed once per process and cached. Each probe
 * asks the kernel directly (loading a tiny program where that is the only
 * reliable test) and keeps a one-line reason when the answer is no. */
#ifndef SONDE_FEATURES_H
#define SONDE_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

struct btf;

enum sonde_feature {
	SONDE_FEAT_BTF,		/* /sys/kernel/btf/vmlinux, needed for CO-RE */
	SONDE_FEAT_KPROBE,
	SONDE_FEAT_FENTRY,	/* fentry/fexit (BPF trampolines) */
	SONDE_FEAT_TP_BTF,	/* BTF-typed raw tracepoints */
	SONDE_FEAT_RAW_TP,
	SONDE_FEAT_TRACEPOINT,	/* classic tracepoints through tracefs ids */
	SONDE_FEAT_UPROBE,
	SONDE_FEAT_USDT,
	SONDE_FEAT_RINGBUF,
	SONDE_FEAT_HW_PMU,	/* hardware cycle counter */
	SONDE_FEAT_PERF_CPU_CLOCK, /* software cpu-clock sampling */
	SONDE_FEAT_COUNT,
};

const char *sonde_feature_name(enum sonde_feature f);
bool sonde_feature_has(enum sonde_feature f);
/* Why a feature is missing ("" when present). */
const char *sonde_feature_reason(enum sonde_feature f);
/* Whether f has been asked about yet (probing is lazy: a tool pays only
 * for what its probes consult). */
bool sonde_feature_probed(enum sonde_feature f);
void sonde_features_print(FILE *out);

/* The kernel's BTF, loaded once; NULL without BTF. */
const struct btf *sonde_vmlinux_btf(void);
/* Does the kernel have this tracepoint ("sock/inet_sock_set_state")?
 * Answered from BTF (btf_trace_<name>) or tracefs, whichever exists. */
bool sonde_kernel_has_tracepoint(const char *category_slash_name);
/* Is this function in the BTF of the kernel or of a loaded module (an
 * fentry target)? */
bool sonde_kernel_has_btf_func(const char *name);
/* Is this symbol probe-able with a kprobe (listed in kallsyms)? */
bool sonde_kernel_has_ksym(const char *name);

/* The mounted tracefs ("/sys/kernel/tracing" or the debugfs one), mounting
 * it when it is missing and we may. NULL when there is none. */
const char *sonde_tracefs(void);

#endif

/* "Program starts" for runtime tools that follow programs started after
 * them (system-wide mode): sched_process_exec, with each attach method a
 * kernel may offer, for the probe table's SONDE_PROGRAM_STARTS_PROBE
 * (sonde/runtime_targets.h). The tool's handler, run in the process that
 * has just exec'd, tells user space to look at it. */
#ifndef SONDE_EXEC_BPF_H
#define SONDE_EXEC_BPF_H

#define SONDE_PROGRAM_START_PROGS(handler)                \
	SEC("tp_btf/sched_process_exec")                  \
	int BPF_PROG(exec_btf)                            \
	{                                                 \
		return handler();                         \
	}                                                 \
	SEC("raw_tp/sched_process_exec")                  \
	int BPF_PROG(exec_raw)                            \
	{                                                 \
		return handler();                         \
	}                                                 \
	SEC("tracepoint/sched/sched_process_exec")        \
	int exec_tp(void *ctx)                            \
	{                                                 \
		return handler();                         \
	}

#endif

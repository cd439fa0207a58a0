/* Counters every BPF program keeps in the sonde_stats map, shared with user
 * space so the session can report what was lost. */
#ifndef SONDE_STATS_H
#define SONDE_STATS_H

/* Slots of the sonde_stats map left for a tool's own counters. */
#define SONDE_STAT_TOOL_SLOTS 8

enum sonde_stat {
	SONDE_STAT_LOST_EVENTS,	/* ring buffer reservation failed */
	SONDE_STAT_MAP_FULL,	/* a tracking map had no room for a new entry */
	SONDE_STAT_STACK_LOST,	/* a stack did not fit the stack map (collision, full) */
	/* A run the kernel skipped (a program was already running on that
	 * CPU, interrupted) that a cover program did instead: see
	 * SONDE_ON_SET_STATE. The session takes these off the misses it
	 * reports, and leaves out the cover programs' own misses. */
	SONDE_STAT_COVERED,
	/* A tool's own counters take the slots from here on: it numbers
	 * them from SONDE_STAT_TOOL in its <tool>.h and names them for the
	 * end-of-run report in its session config (struct sonde_stat_name). */
	SONDE_STAT_TOOL,
	SONDE_STAT_MAX = SONDE_STAT_TOOL + SONDE_STAT_TOOL_SLOTS,
};

/* Filters the library sets before load (see lib/target.c). */
#define SONDE_MAX_FILTER_PIDS 1024

#endif

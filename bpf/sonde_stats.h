/* Counters every BPF program keeps in the sonde_stats map, shared with user
 * space so the session can report what was lost. */
#ifndef SONDE_STATS_H
#define SONDE_STATS_H

enum sonde_stat {
	SONDE_STAT_LOST_EVENTS,	/* ring buffer reservation failed */
	SONDE_STAT_MAP_FULL,	/* a tracking map had no room for a new entry */
	SONDE_STAT_STACK_LOST,	/* a stack did not fit the stack map (collision, full) */
	SONDE_STAT_MAX,
};

/* Filters the library sets before load (see lib/filter.c). */
#define SONDE_MAX_FILTER_PIDS 1024

#endif

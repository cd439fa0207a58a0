#ifndef SONDE_CLOCK_H
#define SONDE_CLOCK_H

#include <stdint.h>

/* BPF stamps events with bpf_ktime_get_ns() (CLOCK_MONOTONIC); output uses
 * wall-clock Unix-epoch nanoseconds. The offset is measured once. */
uint64_t sonde_mono_to_wall_ns(uint64_t mono_ns);
uint64_t sonde_now_mono_ns(void);

/* "HH:MM:SS" local time of a wall-clock timestamp, for table columns. */
void sonde_format_clock(uint64_t wall_ns, char buf[16]);

#endif

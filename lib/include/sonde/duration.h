#ifndef SONDE_DURATION_H
#define SONDE_DURATION_H

#include <stdint.h>

/* Parses "10", "10s", "500ms", "250us", "100ns", "2m", "1h", "1.5s" into
 * nanoseconds. A bare number is seconds. Returns 0, or -EINVAL for anything
 * else (empty, negative, trailing junk, unknown unit, overflow). */
int sonde_parse_duration(const char *text, uint64_t *ns);

/* Parses a decimal unsigned integer within [min, max]; -EINVAL otherwise. */
int sonde_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

#endif

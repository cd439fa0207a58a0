#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/duration.h"

static const struct {
	const char *suffix;
	double ns;
} units[] = {
	{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
};

int sonde_parse_duration(const char *text, uint64_t *ns)
{
	const char *p = text;
	char *end;
	double value, scale = 1e9;

	if (!text || !*text)
		return -EINVAL;
	/* strtod would accept hex, "inf", "nan" and leading blanks. */
	for (; *p && (*p == '.' || (*p >= '0' && *p <= '9')); p++)
		;
	if (p == text)
		return -EINVAL;
	errno = 0;
	value = strtod(text, &end);
	if (errno || end != p)
		return -EINVAL;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].suffix))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		scale = units[i].ns;
	}
	value *= scale;
	if (!isfinite(value) || value >= 18446744073709551616.0)
		return -EINVAL;
	*ns = (uint64_t)value;
	return 0;
}

int sonde_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

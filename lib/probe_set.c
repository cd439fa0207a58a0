#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sonde/probe_set.h"

static bool kernel_supports(const struct sonde_probe_alt *alt, char *why, size_t size, void *ctx)
{
	(void)ctx;
	return sonde_alt_supported(alt, why, size);
}

static bool set_has_kind(const struct sonde_probe_set *set, enum sonde_attach_kind kind)
{
	for (size_t p = 0; p < set->n_probes; p++)
		if (sonde_probe_has_kind(&set->probes[p], kind))
			return true;
	return false;
}

static void append(char *buf, size_t size, const char *set, const char *probe, const char *why)
{
	size_t len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, "%s%s: %s: %s", len ? "; " : "", set, probe, why);
}

int sonde_probe_set_choose(const struct sonde_probe_set *sets, size_t n_sets,
			   enum sonde_attach_kind forced, sonde_alt_check_fn supported,
			   void *ctx, char *reasons, size_t size)
{
	if (!supported)
		supported = kernel_supports;
	for (size_t s = 0; s < n_sets; s++) {
		const struct sonde_probe_set *set = &sets[s];
		bool usable = true;

		if (forced != SONDE_ATTACH_NONE && !set_has_kind(set, forced)) {
			append(reasons, size, set->name, "all",
			       "has no alternative of the forced kind");
			continue;
		}
		for (size_t p = 0; p < set->n_probes && usable; p++) {
			const struct sonde_probe *probe = &set->probes[p];
			char why[256] = "";

			if (sonde_choose_alt(probe, forced, supported, ctx, why, sizeof(why)) >= 0 ||
			    probe->optional)
				continue;
			append(reasons, size, set->name, probe->name, why);
			usable = false;
		}
		if (usable)
			return (int)s;
	}
	return -1;
}

#include <stdio.h>
#include <string.h>

#include "sonde/session.h"

bool sonde_probe_has_kind(const struct sonde_probe *probe, enum sonde_attach_kind kind)
{
	for (int a = 0; a < SONDE_MAX_ALTS && probe->alts[a].prog; a++)
		if (probe->alts[a].kind == kind)
			return true;
	return false;
}

int sonde_choose_alt(const struct sonde_probe *probe, enum sonde_attach_kind forced,
		     sonde_alt_check_fn supported, void *ctx, char *reasons, size_t size)
{
	bool only_forced = forced != SONDE_ATTACH_NONE && sonde_probe_has_kind(probe, forced);
	char why[256];

	for (int a = 0; a < SONDE_MAX_ALTS && probe->alts[a].prog; a++) {
		const struct sonde_probe_alt *alt = &probe->alts[a];
		size_t len = strlen(reasons);

		if (only_forced && alt->kind != forced)
			continue;
		why[0] = 0;
		if (supported(alt, why, sizeof(why), ctx))
			return a;
		if (len < size)
			snprintf(reasons + len, size - len, "%s%s: %s", len ? "; " : "",
				 sonde_attach_kind_name(alt->kind), why);
	}
	return -1;
}

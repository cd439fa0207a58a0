#include <string.h>

#include "sonde/out.h"

#define BAR_WIDTH 40

unsigned sonde_log2_slot(uint64_t value)
{
	return value ? 63 - __builtin_clzll(value) : 0;
}

static void slot_range(size_t i, uint64_t *low, uint64_t *high)
{
	*low = i ? 1ull << i : 0;
	*high = i >= 63 ? UINT64_MAX : (2ull << i) - 1;
}

void sonde_hist_print(FILE *out, const uint64_t *slots, size_t n, const char *unit)
{
	size_t first = n, last = 0;
	uint64_t max = 0;

	for (size_t i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		if (first == n)
			first = i;
		last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	if (first == n) {
		fprintf(out, "     (no samples)\n");
		return;
	}
	fprintf(out, "%24s : %-10s %s\n", unit, "count", "distribution");
	for (size_t i = first; i <= last; i++) {
		uint64_t low, high;
		char range[48], bar[BAR_WIDTH + 1];
		size_t stars = max ? (size_t)(slots[i] * BAR_WIDTH / max) : 0;

		slot_range(i, &low, &high);
		memset(bar, '*', stars);
		memset(bar + stars, ' ', BAR_WIDTH - stars);
		bar[BAR_WIDTH] = 0;
		snprintf(range, sizeof(range), "%llu -> %llu", (unsigned long long)low,
			 (unsigned long long)high);
		fprintf(out, "%24s : %-10llu |%s|\n", range, (unsigned long long)slots[i], bar);
	}
}

void sonde_hist_json(struct sonde_json *j, const char *key, const uint64_t *slots, size_t n)
{
	sonde_json_array_begin(j, key);
	for (size_t i = 0; i < n; i++) {
		uint64_t low, high;

		if (!slots[i])
			continue;
		slot_range(i, &low, &high);
		sonde_json_object_begin(j, NULL);
		sonde_json_u64(j, "low", low);
		sonde_json_u64(j, "high", high);
		sonde_json_u64(j, "count", slots[i]);
		sonde_json_object_end(j);
	}
	sonde_json_array_end(j);
}

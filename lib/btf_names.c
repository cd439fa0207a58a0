/* libbpf's btf__find_by_name_kind() scans the kernel's BTF (126,000
 * types here) up to the first match: 0.05-0.7 ms a call, cold. Most tools
 * ask 2 to 7 names at start-up, for which scans are cheapest. A tool that
 * asks more (sonde-fsslower asked 66) would spend tens of ms: from the
 * 13th name, one scan fills a hash table of the functions and typedefs
 * (raw tracepoints are typedefs, btf_trace_<name>), the two kinds asked
 * for by name. Filling it costs ~4.6 ms, most of it reading 60,000 names
 * from cold memory. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "sonde/btf_names.h"
#include "sonde/features.h"

#define SCANS_BEFORE_INDEX 12

static struct {
	unsigned scans;	/* of the kernel's BTF, before its index */
	const struct btf *btf;
	__u32 *ids;	/* 0: an empty slot (type 0 is void, never named) */
	size_t mask;
} index_of;

static bool indexed_kind(__u32 kind)
{
	return kind == BTF_KIND_FUNC || kind == BTF_KIND_TYPEDEF;
}

static size_t slot_of(const char *name, __u32 kind)
{
	uint64_t h = 1469598103934665603ull ^ kind;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static bool build(const struct btf *btf)
{
	__u32 n = btf__type_cnt(btf), named = 0;
	size_t cap = 16;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		named += t->name_off && indexed_kind(btf_kind(t));
	}
	while (cap < (size_t)named * 2)
		cap *= 2;
	free(index_of.ids);
	index_of.ids = calloc(cap, sizeof(*index_of.ids));
	index_of.btf = index_of.ids ? btf : NULL;
	if (!index_of.ids)
		return false;
	index_of.mask = cap - 1;
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name;
		size_t i;

		if (!t->name_off || !indexed_kind(btf_kind(t)))
			continue;
		name = btf__name_by_offset(btf, t->name_off);
		for (i = slot_of(name, btf_kind(t)) & index_of.mask; index_of.ids[i];
		     i = (i + 1) & index_of.mask) {
			const struct btf_type *o = btf__type_by_id(btf, index_of.ids[i]);

			/* The first of the same name and kind wins, as in a scan. */
			if (btf_kind(o) == btf_kind(t) && !strcmp(btf__name_by_offset(btf, o->name_off), name))
				break;
		}
		if (!index_of.ids[i])
			index_of.ids[i] = id;
	}
	return true;
}

int sonde_btf_find(const struct btf *btf, const char *name, __u32 kind)
{
	if (!btf || !name)
		return -EINVAL;
	/* Only the kernel's BTF, which stays loaded, is indexed: another
	 * freed, and a new one at its address, would find a stale index. */
	if (!indexed_kind(kind) || btf != sonde_vmlinux_btf())
		return btf__find_by_name_kind(btf, name, kind);
	if (index_of.btf != btf && (index_of.scans++ < SCANS_BEFORE_INDEX || !build(btf)))
		return btf__find_by_name_kind(btf, name, kind);
	for (size_t i = slot_of(name, kind) & index_of.mask; index_of.ids[i]; i = (i + 1) & index_of.mask) {
		const struct btf_type *t = btf__type_by_id(btf, index_of.ids[i]);

		if (btf_kind(t) == kind && !strcmp(btf__name_by_offset(btf, t->name_off), name))
			return index_of.ids[i];
	}
	return -ENOENT;
}

/* sonde_btf_find() answers as libbpf's scan does, through its index, for
 * the kernel's own BTF (readable without privileges). */
#include <errno.h>
#include <stdio.h>

#include <bpf/btf.h>

#include <sonde/btf_names.h>
#include <sonde/features.h>

#include "check.h"

static const struct btf *btf;

/* Every FUNC and TYPEDEF name of the kernel, looked up through the index,
 * gives the first type of that name and kind, as a scan would; so does a
 * sample of other kinds (scanned). */
static void agrees_with_a_scan(void)
{
	__u32 n = btf__type_cnt(btf), compared = 0;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name = btf__name_by_offset(btf, t->name_off);
		bool indexed = btf_is_func(t) || btf_is_typedef(t);

		if (!t->name_off || (!indexed && id % 5000))
			continue;
		/* A scan of all 150,000 types per name would take minutes:
		 * compare a sample of the indexed ones to the scan, and
		 * every one to its own id or an earlier one of its name. */
		if (id % 499 == 0 || !indexed) {
			CHECK_MSG(sonde_btf_find(btf, name, btf_kind(t)) ==
				  btf__find_by_name_kind(btf, name, btf_kind(t)), "%s", name);
			compared++;
		} else {
			int found = sonde_btf_find(btf, name, btf_kind(t));

			CHECK_MSG(found > 0 && (__u32)found <= id, "%s: %d for %u", name, found, id);
			if (found > 0 && (__u32)found < id) {
				const struct btf_type *f = btf__type_by_id(btf, found);

				CHECK(btf_kind(f) == btf_kind(t));
				CHECK_STR(btf__name_by_offset(btf, f->name_off), name);
			}
		}
	}
	CHECK(compared > 50);
}

static void known_and_unknown_names(void)
{
	CHECK(sonde_btf_find(btf, "schedule", BTF_KIND_FUNC) > 0);
	CHECK(sonde_btf_find(btf, "btf_trace_sched_switch", BTF_KIND_TYPEDEF) > 0);
	/* A name of one kind is not found as another. */
	CHECK(sonde_btf_find(btf, "schedule", BTF_KIND_TYPEDEF) == -ENOENT);
	CHECK(sonde_btf_find(btf, "no_such_function_in_any_kernel", BTF_KIND_FUNC) == -ENOENT);
	CHECK(sonde_btf_find(btf, "", BTF_KIND_FUNC) == -ENOENT);
	CHECK(sonde_btf_find(NULL, "schedule", BTF_KIND_FUNC) == -EINVAL);
}

int main(void)
{
	btf = sonde_vmlinux_btf();
	if (!btf) {
		printf("no kernel BTF here: skipped\n");
		return 77;
	}
	RUN(known_and_unknown_names);
	RUN(agrees_with_a_scan);
	return CHECK_DONE();
}

/* lib/core_btf.c against the running kernel's BTF (readable without root)
 * and two of sonde's own BPF objects: the small BTF holds the types their
 * relocations start from, laid out as the kernel has them, and nothing a
 * relocation cannot reach; objects it cannot read, or whose relocations
 * need the whole BTF, give NULL. (tests/integration/test_core_btf.py
 * checks that libbpf relocates every tool's programs identically.) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sonde/core_btf.h>
#include <sonde/features.h>

#include "check.h"
#include "oomkill.skel.h"
#include "profile.skel.h"

static const struct btf *kernel;

static const struct btf_type *struct_named(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	return id > 0 ? btf__type_by_id(btf, id) : NULL;
}

/* Same size, members, offsets, and member kinds as the kernel's. */
static void same_layout(const struct btf *small, const char *name)
{
	const struct btf_type *k = struct_named(kernel, name), *s = struct_named(small, name);

	CHECK_MSG(k && s, "struct %s: %s", name, k ? "missing from the small BTF" : "not in the kernel");
	if (!k || !s)
		return;
	CHECK_U64(s->size, k->size);
	CHECK_U64(btf_vlen(s), btf_vlen(k));
	for (__u16 i = 0; i < btf_vlen(s) && i < btf_vlen(k); i++) {
		const struct btf_member *sm = btf_members(s) + i, *km = btf_members(k) + i;

		CHECK_STR(btf__name_by_offset(small, sm->name_off), btf__name_by_offset(kernel, km->name_off));
		CHECK_U64(sm->offset, km->offset);
		CHECK_U64(btf_kind(btf__type_by_id(small, sm->type)),
			  btf_kind(btf__type_by_id(kernel, km->type)));
	}
}

/* Only kinds a relocation walks, every reference inside, pointers void. */
static void well_formed(const struct btf *small)
{
	__u32 n = btf__type_cnt(small);

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(small, id);
		__u32 kind = btf_kind(t);

		CHECK_MSG(kind != BTF_KIND_FUNC && kind != BTF_KIND_VAR && kind != BTF_KIND_DATASEC,
			  "type %u has kind %u", id, kind);
		if (kind == BTF_KIND_PTR)
			CHECK_U64(t->type, 0);
		if (btf_is_composite(t))
			for (__u16 i = 0; i < btf_vlen(t); i++)
				CHECK(btf_members(t)[i].type < n);
		if (btf_is_mod(t) || btf_is_typedef(t))
			CHECK(t->type < n);
	}
}

static void profile_object(void)
{
	size_t size;
	const void *elf = profile_bpf__elf_bytes(&size);
	struct btf *small = sonde_core_btf_new(elf, size, kernel), *again;
	const void *raw;
	__u32 raw_size;

	CHECK(small);
	if (!small)
		return;
	same_layout(small, "task_struct");
	same_layout(small, "css_set");
	CHECK(btf__type_cnt(small) < btf__type_cnt(kernel) / 20);
	well_formed(small);
	/* What libbpf reads back from the memfd. */
	raw = btf__raw_data(small, &raw_size);
	again = raw ? btf__new(raw, raw_size) : NULL;
	CHECK(again && btf__type_cnt(again) == btf__type_cnt(small));
	btf__free(again);
	btf__free(small);
}

/* oomkill's mm_struct___old and vmlinux.h's mm_struct are both
 * candidates for the kernel's one: it is written once. */
static void flavors_share_a_kernel_type(void)
{
	size_t size;
	const void *elf = oomkill_bpf__elf_bytes(&size);
	struct btf *small = sonde_core_btf_new(elf, size, kernel);
	int found = 0;

	CHECK(small);
	if (!small)
		return;
	same_layout(small, "mm_struct");
	for (__u32 id = 1; id < btf__type_cnt(small); id++) {
		const struct btf_type *t = btf__type_by_id(small, id);

		found += btf_is_struct(t) && !strcmp(btf__name_by_offset(small, t->name_off), "mm_struct");
	}
	CHECK_U64(found, 1);
	well_formed(small);
	btf__free(small);
}

/* A copy of profile's object with one change. */
static unsigned char *profile_copy(size_t *size)
{
	const void *elf = profile_bpf__elf_bytes(size);
	unsigned char *copy = malloc(*size);

	if (copy)
		memcpy(copy, elf, *size);
	return copy;
}

static unsigned char *find(unsigned char *hay, size_t size, const void *needle, size_t len)
{
	return memmem(hay, size, needle, len);
}

static void unreadable_objects(void)
{
	size_t size;
	unsigned char *copy = profile_copy(&size), *at;
	static const unsigned char garbage[256] = {0x7f, 'E', 'L', 'F', 2, 1, 1};

	CHECK(copy);
	if (!copy)
		return;
	/* Cut short anywhere: never read past the end. */
	for (size_t len = 0; len < size; len += len < 128 ? 1 : 4093)
		btf__free(sonde_core_btf_new(copy, len, kernel));
	CHECK(!sonde_core_btf_new(garbage, sizeof(garbage), kernel));
	CHECK(!sonde_core_btf_new(copy, size, NULL));
	/* No .BTF.ext, so no relocations known: libbpf's default. */
	at = find(copy, size, ".BTF.ext", 9);
	CHECK(at);
	if (at) {
		at[1] = 'X';
		CHECK(!sonde_core_btf_new(copy, size, kernel));
	}
	free(copy);
}

static void whole_btf_on_request(void)
{
	size_t size;
	const void *elf = profile_bpf__elf_bytes(&size);
	const char *path;
	struct btf *btf;

	setenv("SONDE_CORE_BTF", "kernel", 1);
	CHECK(!sonde_core_btf_path(elf, size));
	unsetenv("SONDE_CORE_BTF");
	path = sonde_core_btf_path(elf, size);
	CHECK(path);
	/* Written by a thread: complete once waited for. */
	CHECK(!sonde_core_btf_wait());
	btf = path ? btf__parse(path, NULL) : NULL;
	CHECK(btf && struct_named(btf, "task_struct"));
	btf__free(btf);
}

int main(void)
{
	/* Off: a subset kept by an earlier run would be read back, not written
	 * (tests/unit/test_core_btf_cache.c tests keeping them). */
	setenv("SONDE_CACHE_DIR", "", 1);
	kernel = sonde_vmlinux_btf();
	CHECK(kernel);
	if (!kernel)
		return CHECK_DONE();
	RUN(profile_object);
	RUN(flavors_share_a_kernel_type);
	RUN(unreadable_objects);
	RUN(whole_btf_on_request);
	return CHECK_DONE();
}

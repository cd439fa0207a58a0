#include <errno.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sonde/rodata.h"

static struct bpf_map *rodata_map(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		/* libbpf names it "<obj prefix>.rodata". */
		if (len >= 7 && !strcmp(name + len - 7, ".rodata"))
			return map;
	}
	return NULL;
}

int sonde_rodata_set(struct bpf_object *obj, const char *name, const void *value, size_t size)
{
	struct bpf_map *map = rodata_map(obj);
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t data_size;
	char *data;
	int id;

	if (!map || !btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	/* Before load this is libbpf's writable copy of the section. */
	data = (char *)bpf_map__initial_value(map, &data_size);
	if (!data)
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != size || vs->offset + size > data_size)
			return -EINVAL;
		memcpy(data + vs->offset, value, size);
		return 0;
	}
	return -ENOENT;
}

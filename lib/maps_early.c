/* The kernel's side of a BPF object's maps, made before libbpf loads it.
 *
 * Creating the preallocated maps of a stack tool is kernel work of a few
 * milliseconds (a 16 MiB stack map, a 40,960-entry hash of totals, the
 * ring buffer). libbpf creates them inside bpf_object__load(), after the
 * object's CO-RE BTF must be ready; made here, they are created while the
 * thread of lib/core_btf.c is still writing that BTF, and libbpf takes
 * them over (bpf_map__reuse_fd) instead of creating them.
 *
 * Only plain maps of the types sonde uses are made here, as libbpf would
 * make them: not libbpf's own (.rodata, .bss: it fills and freezes them),
 * not those whose size libbpf decides at load (perf event arrays), not
 * maps of maps. Nor those with a name longer than the kernel keeps (15
 * characters): taking a map over, libbpf renames it to the kernel's name,
 * and a lookup by the whole name would no longer find it. A map that
 * cannot be made here is left to libbpf, which then says why. */
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sonde/maps_early.h"

static bool made_here(const struct bpf_map *map)
{
	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_STACK_TRACE:
	case BPF_MAP_TYPE_RINGBUF:
		break;
	default:
		return false;
	}
	return !bpf_map__is_internal(map) && bpf_map__autocreate(map) && bpf_map__fd(map) < 0 &&
	       !bpf_map__pin_path(map) && strlen(bpf_map__name(map)) < BPF_OBJ_NAME_LEN;
}

int sonde_maps_create_early(struct bpf_object *obj)
{
	struct bpf_map *map;
	int made = 0;

	bpf_object__for_each_map(map, obj) {
		LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = bpf_map__map_flags(map),
			    .numa_node = bpf_map__numa_node(map), .map_extra = bpf_map__map_extra(map));
		int fd;

		if (!made_here(map))
			continue;
		fd = bpf_map_create(bpf_map__type(map), bpf_map__name(map), bpf_map__key_size(map),
				    bpf_map__value_size(map), bpf_map__max_entries(map), &opts);
		if (fd < 0)
			continue;
		/* reuse_fd keeps a duplicate of its own. */
		if (!bpf_map__reuse_fd(map, fd))
			made++;
		close(fd);
	}
	return made;
}

#include <errno.h>
#include <stdio.h>

#include <bpf/btf.h>

#include "sonde/btf_names.h"
#include "sonde/tp_proto.h"

int sonde_tp_arg_kind(const struct btf *btf, const char *name, unsigned idx)
{
	const struct btf_type *t;
	const struct btf_param *params;
	char typedef_name[256];
	int id;

	if (!btf)
		return -ENOENT;
	/* Every raw tracepoint has "typedef void (*btf_trace_<name>)(void *, args...)". */
	snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s", name);
	id = sonde_btf_find(btf, typedef_name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t))
		return -EINVAL;
	if (idx + 1 >= btf_vlen(t))
		return -ENOENT;
	params = btf_params(t);
	id = btf__resolve_type(btf, params[idx + 1].type);
	if (id < 0)
		return -EINVAL;
	return btf_kind(btf__type_by_id(btf, id));
}

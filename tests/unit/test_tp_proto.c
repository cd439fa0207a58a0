#include <errno.h>

#include <bpf/btf.h>
#include <linux/btf.h>

#include <sonde/tp_proto.h>

#include "check.h"

/* typedef void (*btf_trace_<name>)(void *, <args>) as the kernel has it. */
static void add_tracepoint(struct btf *btf, const char *name, const int *arg_types, int n)
{
	char tname[128];
	int proto = btf__add_func_proto(btf, 0);

	btf__add_func_param(btf, "", btf__find_by_name_kind(btf, "void_ptr", BTF_KIND_TYPEDEF));
	for (int i = 0; i < n; i++)
		btf__add_func_param(btf, "", arg_types[i]);
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	btf__add_typedef(btf, tname, btf__add_ptr(btf, proto));
}

static void prototypes(void)
{
	struct btf *btf = btf__new_empty();
	int int_t = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int uint_t = btf__add_int(btf, "unsigned int", 4, 0);
	int uid_t = btf__add_typedef(btf, "uid_t", uint_t);
	int task = btf__add_struct(btf, "task_struct", 0);
	int task_ptr = btf__add_ptr(btf, task);
	int const_task_ptr = btf__add_const(btf, task_ptr);

	btf__add_typedef(btf, "void_ptr", btf__add_ptr(btf, 0));
	add_tracepoint(btf, "new_victim", (int[]){task_ptr, uid_t}, 2);
	add_tracepoint(btf, "old_victim", (int[]){int_t}, 1);
	add_tracepoint(btf, "qualified", (int[]){const_task_ptr}, 1);
	btf__add_typedef(btf, "btf_trace_broken", int_t);

	CHECK(sonde_tp_arg_kind(btf, "new_victim", 0) == BTF_KIND_PTR);
	CHECK(sonde_tp_arg_kind(btf, "new_victim", 1) == BTF_KIND_INT);	/* typedef resolved */
	CHECK(sonde_tp_arg_kind(btf, "new_victim", 2) == -ENOENT);
	CHECK(sonde_tp_arg_kind(btf, "old_victim", 0) == BTF_KIND_INT);
	CHECK(sonde_tp_arg_kind(btf, "qualified", 0) == BTF_KIND_PTR);	/* const skipped */
	CHECK(sonde_tp_arg_kind(btf, "missing", 0) == -ENOENT);
	CHECK(sonde_tp_arg_kind(btf, "broken", 0) == -EINVAL);
	CHECK(sonde_tp_arg_kind(NULL, "new_victim", 0) == -ENOENT);
	btf__free(btf);
}

int main(void)
{
	RUN(prototypes);
	return CHECK_DONE();
}

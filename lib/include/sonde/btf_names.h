/* Finding functions and typedefs of the kernel's BTF by name, quickly. */
#ifndef SONDE_BTF_NAMES_H
#define SONDE_BTF_NAMES_H

#include <linux/types.h>

struct btf;

/* The id of the first type of btf named name of this kind, or a negative
 * errno (-ENOENT: none), as btf__find_by_name_kind(). FUNC and TYPEDEF
 * lookups in the kernel's BTF (sonde_vmlinux_btf()) go through an index
 * built at the first; others scan. */
int sonde_btf_find(const struct btf *btf, const char *name, __u32 kind);

#endif

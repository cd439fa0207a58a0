#ifndef SONDE_RODATA_H
#define SONDE_RODATA_H

#include <stddef.h>

struct bpf_object;

/* Sets a `const volatile` global of an opened, not yet loaded object by
 * name, found through the object's BTF. The library uses it for the
 * switches every tool shares, whose offsets differ from tool to tool.
 * Returns 0, -ENOENT (no such variable) or -EINVAL (size mismatch). */
int sonde_rodata_set(struct bpf_object *obj, const char *name, const void *value, size_t size);

#endif

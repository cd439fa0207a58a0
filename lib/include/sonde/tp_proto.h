/* The prototype of a raw tracepoint, from the kernel's BTF: tracepoints
 * change their arguments across kernels (oom:mark_victim passed a pid
 * before 6.9, the task since), and tp_btf/raw_tp programs must be chosen
 * to match before they are loaded. */
#ifndef SONDE_TP_PROTO_H
#define SONDE_TP_PROTO_H

struct btf;

/* The BTF kind (BTF_KIND_PTR, BTF_KIND_INT, ...) of argument idx (0 is the
 * first after the hidden context pointer) of tracepoint name ("mark_victim",
 * no category), typedefs and qualifiers resolved. -ENOENT when the
 * tracepoint or the argument is not in btf, -EINVAL when its type is not a
 * tracepoint prototype. */
int sonde_tp_arg_kind(const struct btf *btf, const char *name, unsigned idx);

#endif

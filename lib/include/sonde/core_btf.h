/* A small BTF for a BPF object's CO-RE relocations (lib/core_btf.c says
 * why and what it holds). */
#ifndef SONDE_CORE_BTF_H
#define SONDE_CORE_BTF_H

#include <stddef.h>

struct btf;

/* The types of kernel that the CO-RE relocations of the BPF object in
 * elf (an ELF image: a skeleton's bytes) can match and reach; NULL when
 * the object needs all of kernel's BTF (a relocation no type matches, a
 * type-based one) or has no relocations. */
struct btf *sonde_core_btf_new(const void *elf, size_t size, const struct btf *kernel);

/* That BTF for the running kernel, written to a memfd kept open, by a
 * thread: a path for bpf_object_open_opts.btf_custom_path, or NULL to let
 * libbpf use all of the kernel's BTF (also when SONDE_CORE_BTF=kernel is
 * set). The file is complete once sonde_core_btf_wait() has returned. */
const char *sonde_core_btf_path(const void *elf, size_t size);
/* Before the object opened last loads: waits for its BTF. 0, or -1 when
 * it could not be written (libbpf's load then fails on the file). */
int sonde_core_btf_wait(void);

/* Opens a skeleton (name: its prefix, "profile_bpf") with that BTF. */
#define SONDE_OPEN_SKELETON(name)                                                       \
	({                                                                              \
		size_t sonde_elf_size_;                                                 \
		const void *sonde_elf_ = name##__elf_bytes(&sonde_elf_size_);           \
		LIBBPF_OPTS(bpf_object_open_opts, sonde_opts_,                         \
			    .btf_custom_path = sonde_core_btf_path(sonde_elf_,          \
								   sonde_elf_size_));   \
		name##__open_opts(&sonde_opts_);                                        \
	})

#endif

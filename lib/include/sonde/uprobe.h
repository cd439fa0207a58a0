/* Uprobes at an address of an ELF file rather than at a symbol: a Go
 * function's entry found in the binary's own pclntab (stripped binaries
 * have no symbol table libbpf could search). */
#ifndef SONDE_UPROBE_H
#define SONDE_UPROBE_H

#include <stdint.h>
#include <sys/types.h>

struct bpf_link;
struct bpf_program;

/* The file offset that the loadable segment holding virtual address vaddr
 * maps there. 0 or -errno: -ENOEXEC not ELF, -ENOENT in no segment's file
 * bytes, -EIO unreadable. */
int sonde_elf_vaddr_to_offset(int fd, uint64_t vaddr, uint64_t *offset);

/* Does the ELF file declare the USDT probe provider:name (a SystemTap
 * .note.stapsdt note)? 1 yes, 0 no, or -errno (-ENOEXEC not ELF). */
int sonde_elf_has_usdt(int fd, const char *provider, const char *name);

/* Attaches prog as a uprobe (never a uretprobe) at vaddr of the ELF file
 * at path, for process pid or every process (-1). NULL with errno set.
 * A "/proc/PID/root/..." path is read under that root, and refused
 * (EXDEV) when the path leads elsewhere (see sonde/proc_open.h). */
struct bpf_link *sonde_uprobe_attach_vaddr(const struct bpf_program *prog, pid_t pid,
					   const char *path, uint64_t vaddr);
/* The same with a cookie the program reads with bpf_get_attach_cookie():
 * what differs between the files one program is attached to (e.g. a
 * struct offset per Go release). */
struct bpf_link *sonde_uprobe_attach_vaddr_cookie(const struct bpf_program *prog, pid_t pid,
						  const char *path, uint64_t vaddr,
						  uint64_t cookie);

#endif

/* Uprobes at virtual addresses: the kernel wants a file offset, which the
 * program headers give (a segment maps [p_offset, p_offset + p_filesz) at
 * p_vaddr). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "sonde/proc_open.h"
#include "sonde/uprobe.h"

/* An ELF file read through libelf's mapping: 0, -EIO or -ENOEXEC. */
static int open_elf(int fd, Elf **elf)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	*elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!*elf)
		return -EIO;
	if (elf_kind(*elf) != ELF_K_ELF) {
		elf_end(*elf);
		return -ENOEXEC;
	}
	return 0;
}

int sonde_elf_vaddr_to_offset(int fd, uint64_t vaddr, uint64_t *offset)
{
	size_t n = 0;
	int err = -ENOENT;
	Elf *elf;

	err = open_elf(fd, &elf);
	if (err)
		return err;
	if (elf_getphdrnum(elf, &n)) {
		elf_end(elf);
		return -ENOEXEC;
	}
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			*offset = vaddr - ph.p_vaddr + ph.p_offset;
			err = 0;
			break;
		}
	}
	elf_end(elf);
	return err;
}

struct bpf_link *sonde_uprobe_attach_vaddr(const struct bpf_program *prog, pid_t pid,
					   const char *path, uint64_t vaddr)
{
	return sonde_uprobe_attach_vaddr_cookie(prog, pid, path, vaddr, 0);
}

struct bpf_link *sonde_uprobe_attach_vaddr_cookie(const struct bpf_program *prog, pid_t pid,
						  const char *path, uint64_t vaddr,
						  uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie);
	uint64_t offset;
	int fd = sonde_open_proc_path(path, O_RDONLY);
	int err;

	if (fd < 0)
		return NULL;
	/* libbpf opens path again, following links: only the file read. */
	err = sonde_same_file(fd, path) ? sonde_elf_vaddr_to_offset(fd, vaddr, &offset) : -EXDEV;
	close(fd);
	if (err) {
		errno = -err;
		return NULL;
	}
	return bpf_program__attach_uprobe_opts(prog, pid, path, offset, &opts);
}

/* A stapsdt note's descriptor: three addresses (pc, base, semaphore) of
 * the ELF class's size, then "provider\0name\0arguments\0". */
static bool note_is(const char *desc, size_t size, size_t addr_size, const char *provider,
		    const char *name)
{
	size_t plen = strlen(provider) + 1, nlen = strlen(name) + 1;

	if (size < 3 * addr_size + plen + nlen)
		return false;
	desc += 3 * addr_size;
	return !memcmp(desc, provider, plen) && !memcmp(desc + plen, name, nlen);
}

int sonde_elf_has_usdt(int fd, const char *provider, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, addr_size;
	int found = 0, err;
	Elf *elf;

	err = open_elf(fd, &elf);
	if (err)
		return err;
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		elf_end(elf);
		return -ENOEXEC;
	}
	addr_size = gelf_getclass(elf) == ELFCLASS32 ? 4 : 8;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		const char *sname;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		data = elf_getdata(scn, NULL);
		while (data && !found &&
		       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == 3 && nh.n_namesz == 8 &&
			    !memcmp((char *)data->d_buf + name_off, "stapsdt", 8))
				found = note_is((char *)data->d_buf + desc_off, nh.n_descsz,
						addr_size, provider, name);
		}
	}
	elf_end(elf);
	return found;
}

/* A live Go process' goroutines, from the runtime's own list of every g
 * it ever made (runtime.allgs, a []*g that only grows) in its memory:
 * what existed before a tracer attached. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/golang.h>

/* More than any program runs; a bigger length is a misread. */
#define MAX_GS (16u << 20)
#define GSCAN 0x1000

/* The link-time address of the file's first page: that of the loadable
 * segment mapping file offset 0 (0 for a C PIE; Go links its PIEs at
 * 0x400000 like its other executables). */
static int first_page_vaddr(int fd, const Elf64_Ehdr *eh, uint64_t *vaddr)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + (uint64_t)i * eh->e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return -EIO;
		if (ph.p_type == PT_LOAD && ph.p_offset == 0) {
			*vaddr = ph.p_vaddr;
			return 0;
		}
	}
	return -ENOEXEC;
}

int sonde_go_load_bias(pid_t pid, uint64_t *bias)
{
	char path[64], line[512];
	uint64_t first = 0;
	Elf64_Ehdr eh;
	struct stat st;
	bool in_place = false;	/* not position-independent: loaded where linked */
	FILE *maps;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || fstat(fd, &st))
		err = -EIO;
	else if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
		 eh.e_phentsize < sizeof(Elf64_Phdr))
		err = -ENOEXEC;
	else if (eh.e_type != ET_DYN)
		in_place = true;
	else
		err = first_page_vaddr(fd, &eh, &first);
	close(fd);
	if (err)
		return err;
	if (in_place) {
		*bias = 0;
		return 0;
	}
	/* Where the file's first page is mapped, less where it was linked. */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	if (!maps)
		return -errno;
	err = -ENOENT;
	while (err && fgets(line, sizeof(line), maps)) {
		uint64_t start, offset, inode;

		if (sscanf(line, "%" SCNx64 "-%*x %*s %" SCNx64 " %*s %" SCNu64, &start, &offset,
			   &inode) == 3 && offset == 0 && inode == st.st_ino) {
			*bias = start - (first & ~(uint64_t)0xfff);
			err = 0;
		}
	}
	fclose(maps);
	return err;
}

static int read_at(int fd, uint64_t addr, void *buf, size_t size)
{
	return pread(fd, buf, size, (off_t)addr) == (ssize_t)size ? 0 : -EIO;
}

int sonde_go_read_allgs(pid_t pid, uint64_t allgs, uint64_t bias,
			const struct sonde_go_g_offsets *o,
			int (*fn)(const struct sonde_go_g_info *g, void *ctx), void *ctx)
{
	uint32_t span = o->goid;
	uint64_t slice[2];	/* array, len */
	uint64_t *gs = NULL;
	uint8_t *g = NULL;
	char path[64];
	int fd, n = 0, err;

	if (o->gopc > span)
		span = o->gopc;
	if (o->startpc > span)
		span = o->startpc;
	if (o->atomicstatus > span)
		span = o->atomicstatus;
	span += 8;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_at(fd, allgs + bias, slice, sizeof(slice));
	if (!err && slice[1] > MAX_GS)
		err = -EINVAL;
	if (!err && slice[1]) {
		gs = calloc(slice[1], sizeof(*gs));
		g = malloc(span);
		err = gs && g ? read_at(fd, slice[0], gs, slice[1] * sizeof(*gs)) : -ENOMEM;
	}
	for (uint64_t i = 0; !err && i < slice[1]; i++) {
		struct sonde_go_g_info info;

		/* A g freed meanwhile cannot be: allgs holds every g forever. */
		if (!gs[i] || read_at(fd, gs[i], g, span))
			continue;
		memcpy(&info.goid, g + o->goid, 8);
		memcpy(&info.gopc, g + o->gopc, 8);
		memcpy(&info.startpc, g + o->startpc, 8);
		memcpy(&info.status, g + o->atomicstatus, 4);
		info.status &= ~(uint32_t)GSCAN;
		/* _Gidle: allocated, not yet initialised. */
		if (info.status == SONDE_GO_GDEAD || info.status == 0)
			continue;
		n++;
		if (fn(&info, ctx))
			break;
	}
	free(gs);
	free(g);
	close(fd);
	return err ? err : n;
}

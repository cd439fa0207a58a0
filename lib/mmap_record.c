/* PERF_RECORD_MMAP2 records, as perf writes them without sample_id_all:
 * the header, pid and tid, address, length and file offset, the file's
 * identity (device and inode, or a build-id), protection and flags, then
 * the file name, NUL-terminated and padded to 8 bytes. */
#include <linux/perf_event.h>
#include <string.h>

#include "sonde/mmap_watch.h"

struct mmap2_fixed {
	struct perf_event_header header;
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	uint8_t file_id[24];	/* maj, min, ino, ino_generation; or a build-id */
	uint32_t prot, flags;
};

bool sonde_mmap_record_parse(const void *record, size_t size, struct sonde_mmap_record *out)
{
	struct mmap2_fixed f;
	const char *name;
	size_t room;

	if (size < sizeof(f))
		return false;
	memcpy(&f, record, sizeof(f));
	if (f.header.type != PERF_RECORD_MMAP2 || f.header.size > size || f.header.size < sizeof(f))
		return false;
	name = (const char *)record + sizeof(f);
	room = f.header.size - sizeof(f);
	if (!memchr(name, 0, room))
		return false;
	*out = (struct sonde_mmap_record){
		.pid = f.pid, .tid = f.tid, .addr = f.addr, .len = f.len, .pgoff = f.pgoff,
		.prot = f.prot, .file = name,
	};
	return true;
}

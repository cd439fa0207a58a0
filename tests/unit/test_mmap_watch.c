/* PERF_RECORD_MMAP2 records as sonde_mmap_watch reads them from perf's
 * rings (opening the events needs CAP_PERFMON: tests/integration covers
 * that, test_late_code.py). */
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>

#include <sonde/mmap_watch.h>

#include "check.h"

/* A record as the kernel writes it: the name NUL-terminated and padded
 * to 8 bytes. Returns its size. */
static size_t make(unsigned char *buf, uint32_t type, const char *name)
{
	struct perf_event_header h = {.type = type};
	uint32_t ids[2] = {4242, 4243}, prot[2] = {5, 2};
	uint64_t where[3] = {0x7f0000001000, 0x2000, 0x3000};
	size_t at = sizeof(h), len = strlen(name) + 1;

	memcpy(buf + at, ids, sizeof(ids));
	at += sizeof(ids);
	memcpy(buf + at, where, sizeof(where));
	at += sizeof(where);
	memset(buf + at, 0, 24);
	at += 24;
	memcpy(buf + at, prot, sizeof(prot));
	at += sizeof(prot);
	memset(buf + at, 0, (len + 7) / 8 * 8);
	memcpy(buf + at, name, len);
	at += (len + 7) / 8 * 8;
	h.size = (uint16_t)at;
	memcpy(buf, &h, sizeof(h));
	return at;
}

static void reads_a_mapping(void)
{
	unsigned char buf[256];
	size_t size = make(buf, PERF_RECORD_MMAP2, "/usr/lib/libplugin.so");
	struct sonde_mmap_record r;

	CHECK(sonde_mmap_record_parse(buf, size, &r));
	CHECK_U64(r.pid, 4242);
	CHECK_U64(r.tid, 4243);
	CHECK_U64(r.addr, 0x7f0000001000);
	CHECK_U64(r.len, 0x2000);
	CHECK_U64(r.pgoff, 0x3000);
	CHECK_U64(r.prot, 5);
	CHECK_STR(r.file, "/usr/lib/libplugin.so");
}

static void refuses_what_is_not_one(void)
{
	unsigned char buf[256];
	size_t size = make(buf, PERF_RECORD_MMAP2, "/lib/x.so");
	struct sonde_mmap_record r;
	struct perf_event_header h;

	/* Cut short: the header says more than there is. */
	CHECK(!sonde_mmap_record_parse(buf, size - 8, &r));
	CHECK(!sonde_mmap_record_parse(buf, 20, &r));
	/* Another kind of record. */
	size = make(buf, PERF_RECORD_MMAP, "/lib/x.so");
	CHECK(!sonde_mmap_record_parse(buf, size, &r));
	/* A name without its NUL inside the record. */
	size = make(buf, PERF_RECORD_MMAP2, "/lib/x.so");
	memset(buf + size - 8, 'A', 8);
	memcpy(&h, buf, sizeof(h));
	CHECK(!sonde_mmap_record_parse(buf, size, &r));
	/* A header smaller than the fixed part. */
	h.size = 16;
	memcpy(buf, &h, sizeof(h));
	CHECK(!sonde_mmap_record_parse(buf, size, &r));
}

int main(void)
{
	RUN(reads_a_mapping);
	RUN(refuses_what_is_not_one);
	return CHECK_DONE();
}

/* The perf events and rings of sonde_mmap_watch (see its header). */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sonde/mmap_watch.h"
#include "sonde/perf_sample.h"

/* Data pages per CPU: a record is ~100 bytes, and a burst of dlopens (a
 * JVM starting) writes a few dozen between two polls. */
#define DATA_PAGES 4

struct ring {
	int fd;
	void *base;		/* the metadata page, then the data */
	size_t data_size;
};

struct sonde_mmap_watch {
	struct ring *rings;
	size_t n;
	size_t page;
	/* A record as read from its ring, which it may wrap around the end
	 * of: its header's size is 16 bits. */
	unsigned char record[UINT16_MAX + 1];
};

static int open_event(int cpu)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_DUMMY,
		.mmap = 1,		/* PROT_EXEC mappings only */
		.mmap2 = 1,
	};

	return syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

void sonde_mmap_watch_close(struct sonde_mmap_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++) {
		if (w->rings[i].base)
			munmap(w->rings[i].base, w->page + w->rings[i].data_size);
		close(w->rings[i].fd);
	}
	free(w->rings);
	free(w);
}

struct sonde_mmap_watch *sonde_mmap_watch_open(void)
{
	static bool cpus[SONDE_MAX_CPUS];
	struct sonde_mmap_watch *w = calloc(1, sizeof(*w));
	int n = sonde_online_cpus(cpus), err;

	if (!w || n <= 0 || !(w->rings = calloc((size_t)n, sizeof(*w->rings)))) {
		free(w);
		errno = n <= 0 ? ENOENT : ENOMEM;
		return NULL;
	}
	w->page = (size_t)sysconf(_SC_PAGESIZE);
	for (int cpu = 0; cpu < SONDE_MAX_CPUS && w->n < (size_t)n; cpu++) {
		struct ring *r = &w->rings[w->n];

		if (!cpus[cpu])
			continue;
		r->fd = open_event(cpu);
		if (r->fd < 0)
			goto fail;
		r->data_size = DATA_PAGES * w->page;
		r->base = mmap(NULL, w->page + r->data_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       r->fd, 0);
		w->n++;
		if (r->base == MAP_FAILED) {
			r->base = NULL;
			goto fail;
		}
	}
	return w;
fail:
	err = errno;
	sonde_mmap_watch_close(w);
	errno = err;
	return NULL;
}

/* Copies len bytes at offset pos of the ring's data, wrapping. */
static void ring_copy(const struct ring *r, const unsigned char *data, uint64_t pos, void *to,
		      size_t len)
{
	size_t at = (size_t)(pos % r->data_size), first = r->data_size - at;

	if (first >= len) {
		memcpy(to, data + at, len);
		return;
	}
	memcpy(to, data + at, first);
	memcpy((unsigned char *)to + first, data, len - first);
}

static uint64_t ring_read(struct sonde_mmap_watch *w, struct ring *r, sonde_mmap_fn fn, void *arg)
{
	struct perf_event_mmap_page *meta = r->base;
	const unsigned char *data = (const unsigned char *)r->base + w->page;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail, lost = 0;

	while (head - tail >= sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		struct sonde_mmap_record m;

		ring_copy(r, data, tail, &h, sizeof(h));
		/* The kernel writes whole records: anything else is not ours
		 * to interpret, so the rest of the ring is skipped. */
		if (h.size < sizeof(h) || h.size > head - tail) {
			tail = head;
			break;
		}
		ring_copy(r, data, tail, w->record, h.size);
		if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 2 * sizeof(uint64_t)) {
			uint64_t n;

			memcpy(&n, w->record + sizeof(h) + sizeof(uint64_t), sizeof(n));
			lost += n;
		} else if (sonde_mmap_record_parse(w->record, h.size, &m)) {
			fn(arg, &m);
		}
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
	return lost;
}

uint64_t sonde_mmap_watch_read(struct sonde_mmap_watch *w, sonde_mmap_fn fn, void *arg)
{
	uint64_t lost = 0;

	for (size_t i = 0; i < w->n; i++)
		lost += ring_read(w, &w->rings[i], fn, arg);
	return lost;
}

/* Backs the heap with memory before libbpf and lib/features.c parse the
 * kernel's BTF, and gives it back after.
 *
 * Parsing /sys/kernel/btf/vmlinux (5 MB, 126,000 types here) copies it
 * into fresh malloc'd buffers, libbpf twice: ~1,350 page faults a copy.
 * Where a page fault costs a trip to the hypervisor (paravirtualized
 * guests such as this PVM VM), those faults were 25-35 ms of a 40 ms
 * parse, for a tool that attaches in 40-80 ms. One
 * madvise(MADV_POPULATE_WRITE) over a block of the heap allocates the
 * same pages in one call (~4 ms for 20 MiB); with big allocations served
 * from the heap rather than mmap() while the parse runs, libbpf's buffers
 * land on those pages (parse: ~39 -> ~11 ms here). Afterwards the usual
 * allocation policy returns and the unused memory is given back. The
 * block comes from the calling thread's arena, which is where that
 * thread's parse then allocates.
 *
 * The symbolizer's background threads do the same for what they read
 * (kallsyms' ~120,000 entries and their sort, libc's compressed DWARF
 * inflated): ~5,000 of sonde-profile's ~6,800 page faults. */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sonde/heap_prefault.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

#define MAX_BLOCK (32u << 20)

/* Under AddressSanitizer malloc is its own, which mallopt() does not
 * steer: nothing to gain there. */
#if defined(__SANITIZE_ADDRESS__)
#define OWN_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OWN_MALLOC 1
#endif
#endif

bool sonde_heap_prefault_supported(void)
{
#ifdef OWN_MALLOC
	return false;
#else
	return true;
#endif
}

/* glibc's defaults, restored after the last user. */
#define DEFAULT_MMAP_THRESHOLD (128 * 1024)
#define DEFAULT_TRIM_THRESHOLD (128 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int users;

bool sonde_heap_prefault(size_t bytes)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;
	char *block;

	if (!sonde_heap_prefault_supported() || !bytes)
		return false;
	if (bytes > MAX_BLOCK - (1u << 20))
		bytes = MAX_BLOCK - (1u << 20);
	/* Allocations up to the threshold (the block, buffers of a few MB)
	 * from the heap, and the block kept there once freed. glibc refuses
	 * a threshold over 32 MiB. */
	pthread_mutex_lock(&lock);
	if (users++ == 0) {
		mallopt(M_MMAP_THRESHOLD, MAX_BLOCK);
		mallopt(M_TRIM_THRESHOLD, MAX_BLOCK);
	}
	pthread_mutex_unlock(&lock);
	/* From the calling thread's arena: where it allocates next. */
	block = malloc(bytes);
	if (!block)
		return true;
	start = ((uintptr_t)block + page - 1) & ~(page - 1);
	end = ((uintptr_t)block + bytes) & ~(page - 1);
	/* Fails before 5.14 (populate) or without THP (huge pages): the
	 * pages then fault in as before. */
	if (end > start) {
		madvise((void *)start, end - start, MADV_HUGEPAGE);
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	}
	free(block);
	return true;
}

void sonde_heap_prefault_end(void)
{
	pthread_mutex_lock(&lock);
	if (users > 0 && --users == 0) {
		mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD);
		malloc_trim(0);
	}
	pthread_mutex_unlock(&lock);
}

static atomic_flag btf_done = ATOMIC_FLAG_INIT;
static atomic_bool btf_active;

void sonde_heap_prefault_for_btf(void)
{
	struct stat st;

	if (atomic_flag_test_and_set(&btf_done) || stat("/sys/kernel/btf/vmlinux", &st) ||
	    st.st_size <= 0)
		return;
	/* lib/features.c's copy, libbpf's read and its copy, and the type
	 * indexes (tools attaching by BTF parse it both ways). */
	if (sonde_heap_prefault(3 * (size_t)st.st_size + (4u << 20)))
		atomic_store(&btf_active, true);
}

void sonde_heap_prefault_for_btf_end(void)
{
	if (atomic_exchange(&btf_active, false))
		sonde_heap_prefault_end();
}

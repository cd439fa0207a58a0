/* Page faults of big reads, taken in one call (see lib/heap_prefault.c). */
#ifndef SONDE_HEAP_PREFAULT_H
#define SONDE_HEAP_PREFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* False where malloc is not glibc's (sanitizer builds): the calls below
 * then do nothing. */
bool sonde_heap_prefault_supported(void);

/* Backs the calling thread's heap with bytes (at most ~31 MiB) allocated
 * in one call, and keeps big allocations on the heap until the matching
 * sonde_heap_prefault_end(), which is owed if this returned true. Any
 * thread; users overlap. */
bool sonde_heap_prefault(size_t bytes);

/* The last of them restores glibc's allocation policy and gives unused
 * heap memory back. */
void sonde_heap_prefault_end(void);

/* For the parses of /sys/kernel/btf/vmlinux: before the first, on the
 * thread that parses (only the first call of the process does anything),
 * and after the last (libbpf's is done once the object is loaded). */
void sonde_heap_prefault_for_btf(void);
void sonde_heap_prefault_for_btf_end(void);

#endif

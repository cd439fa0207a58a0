/* Page faults during the kernel-BTF parse, taken in one call (see
 * lib/heap_prefault.c). */
#ifndef SONDE_HEAP_PREFAULT_H
#define SONDE_HEAP_PREFAULT_H

#include <stdbool.h>

/* False where malloc is not glibc's (sanitizer builds): the calls below
 * then do nothing. */
bool sonde_heap_prefault_supported(void);

/* Before the first parse of /sys/kernel/btf/vmlinux, on the thread that
 * parses; only the first call of the process does anything. */
void sonde_heap_prefault_for_btf(void);

/* After it (libbpf's is done once the object is loaded): the usual
 * allocation policy again, and unused heap memory given back. */
void sonde_heap_prefault_end(void);

#endif

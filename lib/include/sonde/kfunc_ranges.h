/* Where named kernel functions lie in memory, from kallsyms: enough to
 * tell which of them a kernel stack passes through (e.g. whether an OOM
 * kill came from a memory cgroup's charge or from the page allocator),
 * without symbolizing the whole stack. */
#ifndef SONDE_KFUNC_RANGES_H
#define SONDE_KFUNC_RANGES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sonde_kfunc_ranges;

/* Reads a kallsyms listing ("ffffffff81000000 T name [module]") and keeps
 * the text ranges of the named functions, with the parts the compiler
 * split off or specialised (name.cold, name.constprop.0, name.isra.0). A
 * range ends where the next symbol starts. Functions that are absent, or
 * listed at address 0 (kallsyms hidden from this process), get no range.
 * NULL only when out of memory. */
struct sonde_kfunc_ranges *sonde_kfunc_ranges_read(FILE *kallsyms, const char *const *names,
						   size_t n_names);
/* How many ranges were found (a function may have several). */
size_t sonde_kfunc_ranges_count(const struct sonde_kfunc_ranges *r);
/* The index in names of the function holding addr, or -1. */
int sonde_kfunc_ranges_find(const struct sonde_kfunc_ranges *r, uint64_t addr);
void sonde_kfunc_ranges_free(struct sonde_kfunc_ranges *r);

#endif

/* Growing an array by doubling: the one copy of the idiom that arrays
 * of any type across the library and the tools use. */
#ifndef SONDE_GROW_H
#define SONDE_GROW_H

#include <errno.h>
#include <stddef.h>

/* Makes room for at least `need` items of `item_size` (> 0) bytes in
 * `items`, an array of *cap items (NULL while *cap is 0). The capacity
 * starts at `initial` (0 counts as 1) and doubles until it holds `need`.
 * Returns the array to use from now on. On failure (out of memory, or a
 * size that size_t cannot hold) it returns `items` itself, untouched and
 * still valid, leaves *cap as it was and sets errno to ENOMEM: the caller
 * tells failure by *cap < need. Added items are not zeroed: every caller
 * writes an item as it adds it.
 *
 * The array goes in and comes back as a value rather than through a
 * `void **`: writing a `struct x *` through a `void **` breaks the
 * aliasing rules. Returning the old array on failure makes assigning the
 * result back always safe, which is what SONDE_GROW does. */
void *sonde_grow(void *items, size_t *cap, size_t need, size_t item_size, size_t initial);

/* sonde_grow for an array `arr` whose capacity is the size_t `cap`, with
 * the item size taken from the array's type: assigns the grown array back
 * and is 0, or -ENOMEM with arr and cap unchanged. arr, cap and need are
 * evaluated more than once: pass plain variables or members. */
#define SONDE_GROW(arr, cap, need, initial) \
	((arr) = sonde_grow((arr), &(cap), (need), sizeof(*(arr)), (initial)), \
	 (cap) >= (need) ? 0 : -ENOMEM)

#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sonde/grow.h"

void *sonde_grow(void *items, size_t *cap, size_t need, size_t item_size, size_t initial)
{
	size_t n = *cap ? *cap : initial ? initial : 1;
	void *grown;

	if (need <= *cap)
		return items;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			goto too_big;
		n *= 2;
	}
	if (n > SIZE_MAX / item_size)
		goto too_big;
	grown = realloc(items, n * item_size);
	if (!grown)
		return items;	/* realloc set errno */
	*cap = n;
	return grown;
too_big:
	errno = ENOMEM;
	return items;
}

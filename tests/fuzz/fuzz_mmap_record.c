/* PERF_RECORD_MMAP2 records from the perf rings of sonde_mmap_watch: the
 * kernel frames them, but the file name is whatever a process mapped.
 * A record accepted must keep its name, NUL included, inside its bytes. */
#include <stdlib.h>
#include <string.h>

#include "sonde/mmap_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sonde_mmap_record r;
	unsigned char *copy = malloc(size ? size : 1);

	/* A copy of exactly size bytes: ASan sees any read past it. */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (sonde_mmap_record_parse(copy, size, &r)) {
		const char *end = (const char *)copy + size;

		if (r.file < (const char *)copy || r.file >= end ||
		    !memchr(r.file, 0, (size_t)(end - r.file)))
			abort();
	}
	free(copy);
	return 0;
}

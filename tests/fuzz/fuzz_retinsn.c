/* Function exits are decoded from other processes' binaries: a hostile or
 * truncated file, or a nonsense range, must give an error, never a crash,
 * a hang or unbounded memory. The input's first 16 bytes are the range
 * [entry, end) (little-endian), the rest is the ELF image; every function
 * a pclntab in the image names is decoded too. */
#include <stdint.h>
#include <string.h>

#include <sonde/golang.h>
#include <sonde/retinsn.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sonde_func_exit exits[8];
	struct sonde_gopclntab *t = NULL;
	uint64_t range[2];

	if (size < sizeof(range))
		return 0;
	memcpy(range, data, sizeof(range));
	data += sizeof(range);
	size -= sizeof(range);
	sonde_func_exits_image(data, size, range[0], range[1], exits, 8);
	if (sonde_gopclntab_open_image(data, size, &t) == 0) {
		for (size_t i = 0; i < sonde_gopclntab_nfuncs(t) && i < 64; i++) {
			struct sonde_go_func f;

			if (sonde_gopclntab_func(t, i, &f) == 0)
				sonde_func_exits_image(data, size, f.entry, f.end, exits, 8);
		}
		sonde_gopclntab_free(t);
	}
	return 0;
}

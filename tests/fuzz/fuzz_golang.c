/* Go binaries and their tables are read from other processes' files: a
 * hostile or corrupt binary must give an error, never a crash, a hang or
 * unbounded memory. Each input is tried as a bare pclntab, as an ELF image
 * (pclntab and build info), and every function it yields is looked up. */
#include <stdint.h>
#include <stdlib.h>

#include <sonde/golang.h>

static void walk(struct sonde_gopclntab *t)
{
	size_t n = sonde_gopclntab_nfuncs(t);
	struct sonde_go_frame frames[8];
	struct sonde_go_func f, found[4];
	int32_t delta;

	for (size_t i = 0; i < n && i < 256; i++) {
		if (sonde_gopclntab_func(t, i, &f))
			continue;
		sonde_gopclntab_lookup(t, f.entry, frames, 8);
		sonde_gopclntab_lookup(t, f.end - 1, frames, 8);
		sonde_gopclntab_sp_delta(t, f.end - 1, &delta);
		if (i == 0)
			sonde_gopclntab_find(t, f.name, found, 4);
	}
	sonde_gopclntab_lookup(t, 0x401000, frames, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sonde_gopclntab *t = NULL;
	struct sonde_go_buildinfo bi;

	if (sonde_gopclntab_open_table(data, size, &t) == 0) {
		walk(t);
		sonde_gopclntab_free(t);
	}
	t = NULL;
	if (sonde_gopclntab_open_image(data, size, &t) == 0) {
		walk(t);
		sonde_gopclntab_free(t);
	}
	sonde_go_buildinfo_read_image(data, size, &bi);
	return 0;
}

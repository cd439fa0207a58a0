/* Prints what libsonde's Go parsers make of a binary, for integration
 * tests on Go binaries the build does not produce (e.g. a current Go
 * release's, fetched by the test):
 *
 *   gosym_query BINARY [FUNCTION|0xPC...]
 *
 * "version", "path", "module" from the build info; "format", "inline",
 * "functions" from the pclntab; per FUNCTION one "func NAME ENTRY END" line
 * per match, the frames at its entry and how many of its PCs have inline
 * frames ("inlined_pcs NAME N"); per PC its frames. Frames are printed
 * innermost first as "frame PC FUNCTION FILE LINE inlined|-". */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sonde/golang.h>

static void print_frames(const struct sonde_gopclntab *t, uint64_t pc)
{
	struct sonde_go_frame fr[16];
	int n = sonde_gopclntab_lookup(t, pc, fr, 16);

	for (int i = 0; i < n && i < 16; i++)
		printf("frame 0x%" PRIx64 " %s %s %" PRId64 " %s\n", pc, fr[i].function,
		       fr[i].file ? fr[i].file : "?", fr[i].line, fr[i].inlined ? "inlined" : "-");
}

int main(int argc, char **argv)
{
	struct sonde_go_buildinfo bi;
	struct sonde_gopclntab *t;
	int fd, err;

	if (argc < 2) {
		fprintf(stderr, "usage: %s BINARY [FUNCTION...]\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	err = sonde_go_buildinfo_read_fd(fd, &bi);
	if (err) {
		fprintf(stderr, "%s: build info: %s\n", argv[1], strerror(-err));
		return 1;
	}
	printf("version %s\npath %s\nmodule %s\n", bi.version, bi.path, bi.module);
	err = sonde_gopclntab_open_fd(fd, &t);
	close(fd);
	if (err) {
		fprintf(stderr, "%s: pclntab: %s\n", argv[1], strerror(-err));
		return 1;
	}
	printf("format %s\ninline %s\nfunctions %zu\n", sonde_gopclntab_format(t),
	       sonde_gopclntab_has_inline(t) ? "yes" : "no", sonde_gopclntab_nfuncs(t));
	for (int i = 2; i < argc; i++) {
		struct sonde_go_func f[4];
		int n;

		if (!strncmp(argv[i], "0x", 2)) {
			print_frames(t, strtoull(argv[i], NULL, 16));
			continue;
		}
		n = sonde_gopclntab_find(t, argv[i], f, 4);
		for (int j = 0; j < n && j < 4; j++) {
			struct sonde_go_frame fr[2];
			size_t inlined = 0;

			printf("func %s 0x%" PRIx64 " 0x%" PRIx64 "\n", f[j].name, f[j].entry, f[j].end);
			print_frames(t, f[j].entry);
			for (uint64_t pc = f[j].entry; pc < f[j].end; pc++)
				inlined += sonde_gopclntab_lookup(t, pc, fr, 2) > 1;
			printf("inlined_pcs %s %zu\n", f[j].name, inlined);
		}
	}
	sonde_gopclntab_free(t);
	return 0;
}

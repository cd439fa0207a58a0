/* capstone, opened with dlopen() the first time Go code is decoded.
 *
 * Linked in, libcapstone cost every tool's start 1.5-2 ms: its tables are
 * 1.3 MiB of pointers that the dynamic loader relocates (77,000
 * relocations), a copy-on-write page fault per 4 KiB, before main(). Only
 * the Go tools decode instructions (the return instructions of Go
 * functions, the code that reaches runtime.allgs). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <sonde/log.h>

#include "x86_decoder.h"

static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	cs_insn *(*malloc)(csh);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
	bool (*insn_group)(csh, const cs_insn *, unsigned int);
	void (*free)(cs_insn *, size_t);
	cs_err (*close)(csh *);
	bool loaded;
} cs;

static pthread_once_t cs_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *lib = dlopen(SONDE_CAPSTONE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		/* Said once, whatever the verbosity: the caller's error that
		 * follows can only say "No such file or directory". */
		sonde_err("cannot load %s (%s): Go code cannot be decoded without capstone",
			  SONDE_CAPSTONE_SONAME, dlerror());
		return;
	}
	/* Kept loaded for the process's life. */
	cs.open = (cs_err(*)(cs_arch, cs_mode, csh *))dlsym(lib, "cs_open");
	cs.option = (cs_err(*)(csh, cs_opt_type, size_t))dlsym(lib, "cs_option");
	cs.malloc = (cs_insn * (*)(csh)) dlsym(lib, "cs_malloc");
	cs.disasm_iter = (bool (*)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *))dlsym(
		lib, "cs_disasm_iter");
	cs.insn_group = (bool (*)(csh, const cs_insn *, unsigned int))dlsym(lib, "cs_insn_group");
	cs.free = (void (*)(cs_insn *, size_t))dlsym(lib, "cs_free");
	cs.close = (cs_err(*)(csh *))dlsym(lib, "cs_close");
	cs.loaded = cs.open && cs.option && cs.malloc && cs.disasm_iter && cs.insn_group &&
		    cs.free && cs.close;
	if (!cs.loaded)
		sonde_err("%s lacks a function sonde uses: Go code cannot be decoded",
			  SONDE_CAPSTONE_SONAME);
}

struct sonde_x86_decoder {
	csh handle;
	cs_insn *insn;
};

struct sonde_x86_decoder *sonde_x86_open(void)
{
	struct sonde_x86_decoder *d;

	pthread_once(&cs_once, load);
	if (!cs.loaded) {
		errno = ENOENT;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (cs.open(CS_ARCH_X86, CS_MODE_64, &d->handle) != CS_ERR_OK) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	if (cs.option(d->handle, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK ||
	    !(d->insn = cs.malloc(d->handle))) {
		cs.close(&d->handle);
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

const cs_insn *sonde_x86_next(struct sonde_x86_decoder *d, const uint8_t **code, size_t *size,
			      uint64_t *address)
{
	return cs.disasm_iter(d->handle, code, size, address, d->insn) ? d->insn : NULL;
}

bool sonde_x86_in_group(struct sonde_x86_decoder *d, const cs_insn *insn, uint8_t group)
{
	return cs.insn_group(d->handle, insn, group);
}

void sonde_x86_close(struct sonde_x86_decoder *d)
{
	if (!d)
		return;
	cs.free(d->insn, 1);
	cs.close(&d->handle);
	free(d);
}

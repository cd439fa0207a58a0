/* x86-64 instruction decoding with capstone, loaded on first use
 * (lib/golang/x86_decoder.c says why). */
#ifndef SONDE_X86_DECODER_H
#define SONDE_X86_DECODER_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sonde_x86_decoder;

/* A decoder that gives each instruction's details; NULL with errno set:
 * ENOENT when libcapstone cannot be loaded (said once). */
struct sonde_x86_decoder *sonde_x86_open(void);
/* Decodes the instruction at *code (address *address, *size bytes left)
 * and steps past it; NULL at an invalid one. The instruction is the
 * decoder's until the next call. */
const cs_insn *sonde_x86_next(struct sonde_x86_decoder *d, const uint8_t **code, size_t *size,
			      uint64_t *address);
/* Whether insn is in group (CS_GRP_RET, CS_GRP_JUMP...). */
bool sonde_x86_in_group(struct sonde_x86_decoder *d, const cs_insn *insn, uint8_t group);
void sonde_x86_close(struct sonde_x86_decoder *d);

#endif

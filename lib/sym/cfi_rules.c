/* How to step from a frame to its caller at one code address, from the
 * DWARF CFI, kept per address: a copied stack is then unwound with a few
 * hash lookups and reads of the copy, where libdwfl would look up the FDE,
 * run its CFA program, allocate a frame and evaluate every register's
 * rule again for each frame of each sample (most of the cost of
 * `sonde-offcpu` on a busy machine). Only the rules compilers write for
 * ordinary code are kept: the CFA as the stack or frame pointer plus an
 * offset, the return address saved at an offset from it, the frame
 * pointer kept, saved or lost. Anything else (signal frames, DWARF
 * expressions, code without CFI, which libdwfl walks by frame pointers)
 * is marked CFI_RULE_LIBDWFL, and the caller leaves the whole stack to
 * libdwfl: the result is the same either way, only slower.
 *
 * The lookup mirrors libdwfl's own (frame_unwind.c): the module of the
 * address, its .eh_frame first and then its .debug_frame, the first
 * whose FDE covers the address deciding. */
#include <dwarf.h>
#include <stdlib.h>

#include "internal.h"

/* A process's code has a bounded number of addresses where stacks are
 * caught; this bounds the cache should it be fed garbage. */
#define CFI_RULES_MAX (1u << 16)

#if defined(__x86_64__)
#define DWARF_RA 16	/* the return address column */
#elif defined(__aarch64__)
#define DWARF_RA 30	/* x30 */
#endif

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 24) & (cap - 1);
}

static struct cfi_rule *find(const struct cfi_rules *r, uint64_t addr)
{
	for (size_t i = slot_of(addr, r->cap);; i = (i + 1) & (r->cap - 1))
		if (r->slots[i].kind == CFI_RULE_EMPTY || r->slots[i].addr == addr)
			return &r->slots[i];
}

static bool grow(struct cfi_rules *r)
{
	size_t cap = r->cap ? r->cap * 2 : 1024;
	struct cfi_rule *old = r->slots, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return false;
	r->slots = slots;
	r->cap = cap;
	for (size_t i = 0; i < cap / 2 && old; i++)
		if (old[i].kind != CFI_RULE_EMPTY)
			*find(r, old[i].addr) = old[i];
	free(old);
	return true;
}

/* An offset that fits the rule's fields. */
static bool small(int64_t v, int32_t *out)
{
	if (v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

/* A register "saved at CFA + offset" (DW_CFA_offset and kin): libdw
 * presents it as DW_OP_call_frame_cfa, then DW_OP_plus_uconst unless the
 * offset is 0. value: the rule is val_offset (the register's value is
 * that address, not stored there), which libdw ends with
 * DW_OP_stack_value. */
static bool cfa_offset_rule(const Dwarf_Op *ops, size_t nops, bool value, int32_t *offset)
{
	size_t want = 1 + (value ? 1 : 0);

	if (nops < want || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (value && ops[nops - 1].atom != DW_OP_stack_value)
		return false;
	if (nops == want) {
		*offset = 0;
		return true;
	}
	return nops == want + 1 && ops[1].atom == DW_OP_plus_uconst &&
	       small((int64_t)ops[1].number, offset);
}

static void from_frame(Dwarf_Frame *frame, struct cfi_rule *out)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;
	Dwarf_Addr start, end;
	bool signal;
	int32_t sp_offset;

	if (dwarf_frame_info(frame, &start, &end, &signal) != DWARF_RA || signal)
		return;
	if (dwarf_frame_cfa(frame, &ops, &nops) || nops != 1 || ops[0].atom != DW_OP_bregx ||
	    (ops[0].number != SYM_DWARF_SP && ops[0].number != SYM_DWARF_FP) ||
	    !small((int64_t)ops[0].number2, &out->cfa_offset))
		return;
	out->cfa_reg = (uint8_t)ops[0].number;
	/* The caller's stack pointer is the CFA (the ABI's rule). */
	if (dwarf_frame_register(frame, SYM_DWARF_SP, mem, &ops, &nops) ||
	    !cfa_offset_rule(ops, nops, true, &sp_offset) || sp_offset)
		return;
	if (dwarf_frame_register(frame, SYM_DWARF_FP, mem, &ops, &nops))
		return;
	if (!nops)
		out->fp = ops ? CFI_FP_LOST : CFI_FP_KEPT;	/* undefined : same value */
	else if (cfa_offset_rule(ops, nops, false, &out->fp_offset))
		out->fp = CFI_FP_SAVED;
	else
		return;
	if (dwarf_frame_register(frame, DWARF_RA, mem, &ops, &nops))
		return;
	if (!nops && ops) {
		out->kind = CFI_RULE_OUTERMOST;	/* undefined: no caller */
		return;
	}
	if (cfa_offset_rule(ops, nops, false, &out->ra_offset))
		out->kind = CFI_RULE_STEP;
}

static void compute(Dwfl *dwfl, uint64_t addr, struct cfi_rule *out)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
	Dwarf_Frame *frame = NULL;
	Dwarf_CFI *cfi;
	Dwarf_Addr bias;

	out->kind = mod ? CFI_RULE_LIBDWFL : CFI_RULE_NO_MODULE;
	if (!mod)
		return;
	cfi = dwfl_module_eh_cfi(mod, &bias);
	if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame)) {
		frame = NULL;
		cfi = dwfl_module_dwarf_cfi(mod, &bias);
		if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame))
			return;
	}
	from_frame(frame, out);
	free(frame);
}

const struct cfi_rule *cfi_rule_at(struct cfi_rules *r, Dwfl *dwfl, uint64_t addr)
{
	static const struct cfi_rule unknown = {.kind = CFI_RULE_LIBDWFL};
	struct cfi_rule *slot, rule = {.addr = addr};

	if (r->cap) {
		slot = find(r, addr);
		if (slot->kind != CFI_RULE_EMPTY)
			return slot;
	}
	compute(dwfl, addr, &rule);
	if (r->n >= CFI_RULES_MAX)
		cfi_rules_free(r);	/* start afresh */
	if ((r->n + 1) * 2 > r->cap && !grow(r))
		return &unknown;
	slot = find(r, addr);
	*slot = rule;
	r->n++;
	return slot;
}

void cfi_rules_free(struct cfi_rules *r)
{
	free(r->slots);
	r->slots = NULL;
	r->cap = r->n = 0;
}

/* The Go runtime's function table (pclntab), read the way the runtime
 * reads it: a header, a function table sorted by entry PC, one record per
 * function whose PC-value tables (varint-delta encoded) give the file and
 * line at each PC, and for inlined code an inline tree (FUNCDATA_InlTree)
 * indexed by a PC-value table (PCDATA_InlTreeIndex).
 *
 * Formats differ by the magic number: Go 1.2-1.15 (0xfffffffb: offsets from
 * the table start), 1.16-1.17 (0xfffffffa: separate name, CU, file and
 * PC-value sub-tables), 1.18-1.19 (0xfffffff0: entries as 32-bit offsets
 * from the text start, funcdata as offsets from moduledata.gofunc) and
 * 1.20+ (0xfffffff1: a startLine field in each record, a smaller inline
 * tree entry). Every read goes through a bounds-checked accessor. */
#include <errno.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sonde/golang.h"
#include "elf_image.h"

enum format { FMT_12, FMT_116, FMT_118, FMT_120 };

enum {
	PCDATA_INL_TREE_INDEX = 2,
	FUNCDATA_INL_TREE = 3,
	/* Deeper inlining than this is treated as a malformed (cyclic) tree. */
	MAX_INLINE_DEPTH = 64,
};

struct sonde_gopclntab {
	const uint8_t *tab;
	uint64_t size;
	uint64_t addr;			/* virtual address of tab, 0 if unknown */
	enum format fmt;
	unsigned ptrsize, quantum;
	uint64_t nfunc;
	uint64_t text_start;		/* 1.18+: base of the entry offsets */
	/* Sub-tables, as offsets into tab (all 0 for Go 1.2 but filetab). */
	uint64_t funcnametab, cutab, filetab, pctab, funcs;
	uint64_t functab;		/* nfunc + 1 entries of functab_entsize */
	unsigned functab_entsize;
	uint32_t nfiles_12;		/* Go 1.2: entries of filetab */
	struct elf_image elf;		/* valid if has_elf */
	bool has_elf;
	uint64_t gofunc;		/* 1.18+: moduledata.gofunc, 0 if unknown */
	void *map;			/* from open_fd */
	size_t map_len;
};

/* A function record, decoded. */
struct func_rec {
	uint64_t entry;
	uint64_t off;			/* of the record in tab */
	uint32_t nameoff, pcsp, pcfile, pcln, npcdata, cu, nfuncdata;
	uint64_t pcdata;		/* offset in tab of the pcdata array */
	uint64_t funcdata;		/* offset in tab of the funcdata array */
};

/* ---- bounds-checked reads from the table ---- */

static bool tab_word(const struct sonde_gopclntab *t, uint64_t off, unsigned size, uint64_t *v)
{
	if (!elf_in_bounds(off, size, t->size))
		return false;
	*v = elf_le(t->tab + off, size);
	return true;
}

static bool tab_u32(const struct sonde_gopclntab *t, uint64_t off, uint32_t *v)
{
	uint64_t w;

	if (!tab_word(t, off, 4, &w))
		return false;
	*v = (uint32_t)w;
	return true;
}

/* A NUL-terminated string at off, or NULL if it runs off the table. */
static const char *tab_str(const struct sonde_gopclntab *t, uint64_t off)
{
	if (off >= t->size || !memchr(t->tab + off, 0, t->size - off))
		return NULL;
	return (const char *)t->tab + off;
}

/* ---- the header ---- */

static bool known_magic(uint32_t magic, enum format *fmt)
{
	switch (magic) {
	case 0xfffffffb: *fmt = FMT_12; return true;
	case 0xfffffffa: *fmt = FMT_116; return true;
	case 0xfffffff0: *fmt = FMT_118; return true;
	case 0xfffffff1: *fmt = FMT_120; return true;
	}
	return false;
}

/* Header word i after the fixed 8 bytes. */
static bool header_word(const struct sonde_gopclntab *t, unsigned i, uint64_t *v)
{
	return tab_word(t, 8 + (uint64_t)i * t->ptrsize, t->ptrsize, v);
}

static int parse_header(struct sonde_gopclntab *t)
{
	uint64_t nfiles, filetab_off;
	uint32_t magic;

	if (!tab_u32(t, 0, &magic) || t->size < 8)
		return -EINVAL;
	if (!known_magic(magic, &t->fmt))
		return -ENOTSUP;
	t->quantum = t->tab[6];
	t->ptrsize = t->tab[7];
	if (t->tab[4] || t->tab[5] || (t->quantum != 1 && t->quantum != 2 && t->quantum != 4) ||
	    (t->ptrsize != 4 && t->ptrsize != 8))
		return -EINVAL;
	if (!header_word(t, 0, &t->nfunc))
		return -EINVAL;
	switch (t->fmt) {
	case FMT_12:
		t->functab = 8 + t->ptrsize;
		t->functab_entsize = 2 * t->ptrsize;
		break;
	case FMT_116:
		if (!header_word(t, 1, &nfiles) || !header_word(t, 2, &t->funcnametab) ||
		    !header_word(t, 3, &t->cutab) || !header_word(t, 4, &t->filetab) ||
		    !header_word(t, 5, &t->pctab) || !header_word(t, 6, &t->funcs))
			return -EINVAL;
		t->functab = t->funcs;
		t->functab_entsize = 2 * t->ptrsize;
		break;
	case FMT_118:
	case FMT_120:
		if (!header_word(t, 1, &nfiles) || !header_word(t, 2, &t->text_start) ||
		    !header_word(t, 3, &t->funcnametab) || !header_word(t, 4, &t->cutab) ||
		    !header_word(t, 5, &t->filetab) || !header_word(t, 6, &t->pctab) ||
		    !header_word(t, 7, &t->funcs))
			return -EINVAL;
		t->functab = t->funcs;
		t->functab_entsize = 8;
		break;
	}
	if (t->funcnametab >= t->size || t->cutab >= t->size || t->filetab >= t->size ||
	    t->pctab >= t->size || t->functab >= t->size)
		return -EINVAL;
	/* The function table (nfunc entries and the end PC) must fit: this
	 * also bounds nfunc by the input's size. */
	if (!t->nfunc || t->nfunc >= (t->size - t->functab) / t->functab_entsize)
		return -EINVAL;
	if (t->fmt == FMT_12) {
		/* The file table offset follows the entries and the end PC. */
		uint64_t at = t->functab + t->nfunc * t->functab_entsize + t->ptrsize;

		if (!tab_word(t, at, 4, &filetab_off) || filetab_off >= t->size ||
		    !tab_u32(t, filetab_off, &t->nfiles_12))
			return -EINVAL;
		t->filetab = filetab_off;
	}
	return 0;
}

/* Entry i of the function table: its entry PC and record offset. Entry
 * nfunc holds the end of the last function. */
static bool functab_entry(const struct sonde_gopclntab *t, uint64_t i, uint64_t *entry, uint64_t *rec)
{
	uint64_t at = t->functab + i * t->functab_entsize, e, r;
	unsigned w = t->functab_entsize / 2;

	if (i > t->nfunc || !tab_word(t, at, w, &e) || !tab_word(t, at + w, w, &r))
		return false;
	*entry = t->fmt >= FMT_118 ? t->text_start + e : e;
	*rec = t->funcs + r;	/* funcs is 0 for Go 1.2: offsets from the table start */
	return true;
}

static int read_func(const struct sonde_gopclntab *t, uint64_t i, struct func_rec *f)
{
	uint64_t rec, P = t->ptrsize;
	/* Field offsets: nameoff, pcfile, pcln, npcdata, cu (0: none),
	 * nfuncdata, pcdata; nfuncdata is a byte since Go 1.16. */
	uint64_t o_name, o_file, o_ln, o_npc, o_cu, o_nfd, o_pcdata;
	uint64_t v;

	if (i >= t->nfunc || !functab_entry(t, i, &f->entry, &rec))
		return -EINVAL;
	switch (t->fmt) {
	case FMT_12:
		o_name = P, o_file = P + 16, o_ln = P + 20, o_npc = P + 24, o_cu = 0;
		o_nfd = P + 28, o_pcdata = P + 32;
		break;
	case FMT_116:
		o_name = P, o_file = P + 16, o_ln = P + 20, o_npc = P + 24, o_cu = P + 28;
		o_nfd = P + 35, o_pcdata = P + 36;
		break;
	case FMT_118:
		o_name = 4, o_file = 20, o_ln = 24, o_npc = 28, o_cu = 32, o_nfd = 39, o_pcdata = 40;
		break;
	default:
		o_name = 4, o_file = 20, o_ln = 24, o_npc = 28, o_cu = 32, o_nfd = 43, o_pcdata = 44;
		break;
	}
	if (!elf_in_bounds(rec, o_pcdata, t->size))
		return -EINVAL;
	f->off = rec;
	f->nameoff = elf_le(t->tab + rec + o_name, 4);
	/* pcsp precedes pcfile in every format. */
	f->pcsp = elf_le(t->tab + rec + o_file - 4, 4);
	f->pcfile = elf_le(t->tab + rec + o_file, 4);
	f->pcln = elf_le(t->tab + rec + o_ln, 4);
	f->npcdata = elf_le(t->tab + rec + o_npc, 4);
	f->cu = o_cu ? elf_le(t->tab + rec + o_cu, 4) : 0;
	f->nfuncdata = t->fmt == FMT_12 ? elf_le(t->tab + rec + o_nfd, 4) : t->tab[rec + o_nfd];
	f->pcdata = rec + o_pcdata;
	v = f->pcdata + 4ull * f->npcdata;
	if (t->fmt <= FMT_116)	/* pointer-sized funcdata, aligned */
		v = rec + ((v - rec + P - 1) & ~(P - 1));
	f->funcdata = v;
	return 0;
}

static const char *func_name(const struct sonde_gopclntab *t, uint32_t nameoff)
{
	if (nameoff > INT32_MAX)
		return NULL;
	return tab_str(t, t->funcnametab + nameoff);
}

/* Sanity beyond the header: the first entries ascend, the last function
 * ends after the first begins and the first name is readable. Tells a
 * real table from bytes that merely start with a magic number. */
static bool plausible(const struct sonde_gopclntab *t)
{
	uint64_t first, last, prev, e, rec;
	struct func_rec f;

	if (!functab_entry(t, 0, &first, &rec) || !functab_entry(t, t->nfunc, &last, &rec) ||
	    last <= first)
		return false;
	prev = first;
	for (uint64_t i = 1; i < t->nfunc && i < 16; i++) {
		if (!functab_entry(t, i, &e, &rec) || e < prev)
			return false;
		prev = e;
	}
	return !read_func(t, 0, &f) && func_name(t, f.nameoff);
}

/* ---- PC-value tables ---- */

struct pc_iter {
	const uint8_t *p, *end;
	uint64_t pc, entry;
	uint32_t val;
	unsigned quantum;
};

static bool uvarint32(struct pc_iter *it, uint32_t *v)
{
	uint32_t r = 0;

	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (it->p >= it->end)
			return false;
		b = *it->p++;
		r |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Starts iterating the table at pctab + off for a function at entry. */
static bool pc_iter_init(const struct sonde_gopclntab *t, uint32_t off, uint64_t entry, struct pc_iter *it)
{
	uint64_t at = t->pctab + off;

	if (!off || at >= t->size)
		return false;
	it->p = t->tab + at;
	it->end = t->tab + t->size;
	it->pc = it->entry = entry;
	it->val = (uint32_t)-1;
	it->quantum = t->quantum;
	return true;
}

/* Advances to the next (value, end PC) pair; false at the end of the
 * table or on malformed input. Go never writes an empty PC range, so a
 * zero PC delta is malformed: every step advances the PC, and iteration
 * is bounded by both the table size and the distance to any target PC. */
static bool pc_step(struct pc_iter *it)
{
	uint32_t uv, pcdelta;

	if (!uvarint32(it, &uv) || (uv == 0 && it->pc != it->entry))
		return false;
	/* Zig-zag: low bit set means negative. */
	it->val += (uv & 1) ? ~(uv >> 1) : uv >> 1;
	if (!uvarint32(it, &pcdelta) || !pcdelta)
		return false;
	it->pc += (uint64_t)pcdelta * it->quantum;
	return true;
}

/* The value of table off at pc; false if the table does not cover pc. */
static bool pcvalue(const struct sonde_gopclntab *t, uint32_t off, uint64_t entry, uint64_t pc, int32_t *val)
{
	struct pc_iter it;

	if (!pc_iter_init(t, off, entry, &it))
		return false;
	while (pc_step(&it))
		if (pc < it.pc) {
			*val = (int32_t)it.val;
			return true;
		}
	return false;
}

/* The end of a function's code: where its line table stops. */
static uint64_t func_end(const struct sonde_gopclntab *t, const struct func_rec *f, uint64_t next_entry)
{
	struct pc_iter it;
	uint64_t end = f->entry;

	if (pc_iter_init(t, f->pcln, f->entry, &it))
		while (end <= next_entry && pc_step(&it))
			end = it.pc;
	return end > f->entry && end <= next_entry ? end : next_entry;
}

static const char *file_name(const struct sonde_gopclntab *t, const struct func_rec *f, int32_t fileno)
{
	uint32_t off;

	if (t->fmt == FMT_12) {
		if (fileno < 1 || (uint32_t)fileno >= t->nfiles_12 ||
		    !tab_u32(t, t->filetab + 4ull * (uint32_t)fileno, &off))
			return NULL;
		return tab_str(t, off);
	}
	if (fileno < 0 || !tab_u32(t, t->cutab + 4ull * ((uint64_t)f->cu + (uint32_t)fileno), &off) ||
	    off == UINT32_MAX)
		return NULL;
	return tab_str(t, t->filetab + off);
}

/* ---- inline trees ---- */

static bool inline_tree(const struct sonde_gopclntab *t, const struct func_rec *f, uint64_t *addr)
{
	uint32_t off;

	if (!sonde_gopclntab_has_inline(t) || f->npcdata <= PCDATA_INL_TREE_INDEX ||
	    f->nfuncdata <= FUNCDATA_INL_TREE)
		return false;
	if (t->fmt == FMT_116)
		return tab_word(t, f->funcdata + FUNCDATA_INL_TREE * t->ptrsize, t->ptrsize, addr) && *addr;
	if (!tab_u32(t, f->funcdata + 4 * FUNCDATA_INL_TREE, &off) || off == UINT32_MAX)
		return false;
	*addr = t->gofunc + off;
	return true;
}

/* Entry ix of an inline tree: the inlined function's name offset and the
 * offset from the entry of a PC whose position is the call site. */
static bool inline_entry(const struct sonde_gopclntab *t, uint64_t tree, int32_t ix,
			 uint32_t *nameoff, int32_t *parent_pc)
{
	/* Go 1.16-1.19: parent, funcID, _, file, line, func_, parentPc (20
	 * bytes); 1.20+: funcID, _[3], nameOff, parentPc, startLine (16). */
	unsigned size = t->fmt == FMT_120 ? 16 : 20;
	unsigned o_name = t->fmt == FMT_120 ? 4 : 12, o_parent = t->fmt == FMT_120 ? 8 : 16;
	size_t avail;
	const uint8_t *p = elf_image_at_vaddr(&t->elf, tree + (uint64_t)ix * size, &avail);

	if (ix < 0 || !p || avail < size)
		return false;
	*nameoff = elf_le(p + o_name, 4);
	*parent_pc = (int32_t)elf_le(p + o_parent, 4);
	return true;
}

/* ---- lookups ---- */

/* Index of the function holding pc, or -1. */
static int64_t find_index(const struct sonde_gopclntab *t, uint64_t pc)
{
	uint64_t lo = 0, hi = t->nfunc, e, rec;

	if (!functab_entry(t, 0, &e, &rec) || pc < e || !functab_entry(t, t->nfunc, &e, &rec) || pc >= e)
		return -1;
	while (hi - lo > 1) {	/* entry(lo) <= pc < entry(hi) */
		uint64_t mid = lo + (hi - lo) / 2;

		if (!functab_entry(t, mid, &e, &rec))
			return -1;
		if (e <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return (int64_t)lo;
}

int sonde_gopclntab_lookup(const struct sonde_gopclntab *t, uint64_t pc,
			   struct sonde_go_frame *frames, size_t max)
{
	int64_t i = find_index(t, pc);
	struct func_rec f;
	const char *name;
	uint64_t tree = 0, cur = pc;
	bool has_tree;
	int n = 0;

	if (i < 0)
		return -ENOENT;
	if (read_func(t, (uint64_t)i, &f) || !(name = func_name(t, f.nameoff)))
		return -EINVAL;
	has_tree = inline_tree(t, &f, &tree);
	for (int depth = 0;; depth++) {
		struct sonde_go_frame fr = { .function = name, .entry = f.entry };
		int32_t fileno, line, ix = -1, parent_pc;
		uint32_t pcdata, nameoff;
		const char *inl_name;

		if (pcvalue(t, f.pcfile, f.entry, cur, &fileno))
			fr.file = file_name(t, &f, fileno);
		if (pcvalue(t, f.pcln, f.entry, cur, &line) && line > 0)
			fr.line = line;
		if (has_tree && depth < MAX_INLINE_DEPTH &&
		    tab_u32(t, f.pcdata + 4 * PCDATA_INL_TREE_INDEX, &pcdata))
			pcvalue(t, pcdata, f.entry, cur, &ix);
		if (ix >= 0 && inline_entry(t, tree, ix, &nameoff, &parent_pc) && parent_pc >= 0 &&
		    (inl_name = func_name(t, nameoff))) {
			fr.function = inl_name;
			fr.inlined = true;
			cur = f.entry + (uint32_t)parent_pc;
		}
		if ((size_t)n < max)
			frames[n] = fr;
		n++;
		if (!fr.inlined)
			return n;
	}
}

int sonde_gopclntab_sp_delta(const struct sonde_gopclntab *t, uint64_t pc, int32_t *delta)
{
	int64_t i = find_index(t, pc);
	struct func_rec f;

	if (i < 0)
		return -ENOENT;
	if (read_func(t, (uint64_t)i, &f) || !pcvalue(t, f.pcsp, f.entry, pc, delta))
		return -EINVAL;
	return 0;
}

size_t sonde_gopclntab_nfuncs(const struct sonde_gopclntab *t)
{
	return t->nfunc;
}

int sonde_gopclntab_func(const struct sonde_gopclntab *t, size_t i, struct sonde_go_func *out)
{
	struct func_rec f;
	uint64_t next, rec;

	if (read_func(t, i, &f) || !functab_entry(t, i + 1, &next, &rec) || next < f.entry ||
	    !(out->name = func_name(t, f.nameoff)))
		return -EINVAL;
	out->entry = f.entry;
	out->end = func_end(t, &f, next);
	return 0;
}

int sonde_gopclntab_find(const struct sonde_gopclntab *t, const char *name,
			 struct sonde_go_func *out, size_t max)
{
	int found = 0;

	for (uint64_t i = 0; i < t->nfunc; i++) {
		struct func_rec f;
		const char *n;

		if (read_func(t, i, &f))
			return -EINVAL;
		n = func_name(t, f.nameoff);
		if (!n || strcmp(n, name))
			continue;
		if ((size_t)found < max && sonde_gopclntab_func(t, i, &out[found]))
			return -EINVAL;
		if (found < INT32_MAX)
			found++;
	}
	return found;
}

const char *sonde_gopclntab_format(const struct sonde_gopclntab *t)
{
	static const char *const names[] = {
		[FMT_12] = "go1.2", [FMT_116] = "go1.16", [FMT_118] = "go1.18", [FMT_120] = "go1.20",
	};

	return names[t->fmt];
}

bool sonde_gopclntab_has_inline(const struct sonde_gopclntab *t)
{
	/* Go 1.2-1.15 inline trees changed layout within that format. */
	return t->has_elf && (t->fmt == FMT_116 || (t->fmt >= FMT_118 && t->gofunc));
}

/* ---- opening ---- */

static int init_table(struct sonde_gopclntab *t, const uint8_t *data, uint64_t size, uint64_t addr)
{
	struct elf_image elf = t->elf;
	int err;

	/* Start clean: a rejected candidate may have set any field. */
	memset(t, 0, sizeof(*t));
	t->elf = elf;
	t->tab = data;
	t->size = size;
	t->addr = addr;
	err = parse_header(t);
	if (!err && !plausible(t))
		err = -EINVAL;
	return err;
}

/* Looks for a table header in [data, data + size) at 4-byte steps. */
static bool scan_region(struct sonde_gopclntab *t, const uint8_t *data, uint64_t size, uint64_t addr)
{
	enum format fmt;

	for (uint64_t off = 0; size >= 8 && off <= size - 8; off += 4)
		if (known_magic(elf_le(data + off, 4), &fmt) &&
		    !init_table(t, data + off, size - off, addr ? addr + off : 0))
			return true;
	return false;
}

static int locate_table(struct sonde_gopclntab *t, const struct elf_image *e)
{
	struct elf_section s;
	const uint8_t *data;

	/* Go's internal linker names it .data.rel.ro.gopclntab in PIEs. */
	if (elf_image_find_section(e, ".gopclntab", &s) ||
	    elf_image_find_section(e, ".data.rel.ro.gopclntab", &s)) {
		data = elf_image_section_data(e, &s);
		return data ? init_table(t, data, s.size, s.addr) : -EINVAL;
	}
	/* Linked externally, the table sits somewhere inside read-only data. */
	for (size_t i = 0; i < e->shnum; i++)
		if (elf_image_section(e, i, &s) && s.type == SHT_PROGBITS && (s.flags & SHF_ALLOC) &&
		    !(s.flags & SHF_EXECINSTR) && (data = elf_image_section_data(e, &s)) &&
		    scan_region(t, data, s.size, s.addr))
			return 0;
	/* No section headers: the loaded segments. */
	for (size_t i = 0; !e->shnum && i < e->phnum; i++) {
		struct elf_segment seg;

		if (elf_image_segment(e, i, &seg) && seg.type == PT_LOAD &&
		    elf_in_bounds(seg.offset, seg.filesz, e->size) &&
		    scan_region(t, e->data + seg.offset, seg.filesz, seg.vaddr))
			return 0;
	}
	return -ENOENT;
}

/* moduledata fields, in words: pcHeader, then funcnametab's pointer. */
enum { MD_TEXT = 22, MD_GOFUNC_118 = 38, MD_GOFUNC_120 = 40 /* after covctrs, ecovctrs */ };

static bool match_moduledata(struct sonde_gopclntab *t, const uint8_t *p, size_t avail)
{
	unsigned P = t->ptrsize, gofunc_at = t->fmt == FMT_120 ? MD_GOFUNC_120 : MD_GOFUNC_118;
	uint64_t text, gofunc;

	if (avail < (size_t)(gofunc_at + 1) * P || elf_le(p, P) != t->addr ||
	    elf_le(p + P, P) != t->addr + t->funcnametab)
		return false;
	text = elf_le(p + MD_TEXT * P, P);
	gofunc = elf_le(p + (size_t)gofunc_at * P, P);
	if (!gofunc || (t->text_start && text != t->text_start))
		return false;
	if (!t->text_start)
		t->text_start = text;
	t->gofunc = gofunc;
	return true;
}

/* Go 1.18+ keeps funcdata as offsets from moduledata.gofunc, and the only
 * pointer to moduledata is runtime.firstmoduledata itself: find it by
 * its first two fields, which point at the table and its name table. In
 * PIE binaries those are filled in by relocations at run time, so there
 * the search fails and inline frames are not available. */
static void find_moduledata(struct sonde_gopclntab *t)
{
	struct elf_section s;
	const uint8_t *data = NULL;
	uint64_t size = 0;

	if (t->fmt < FMT_118 || !t->addr)
		return;
	if (elf_image_find_section(&t->elf, ".noptrdata", &s) && (data = elf_image_section_data(&t->elf, &s)))
		size = s.size;
	for (uint64_t off = 0; data && off + t->ptrsize <= size; off += t->ptrsize)
		if (match_moduledata(t, data + off, size - off))
			return;
	for (size_t i = 0; i < t->elf.phnum; i++) {
		struct elf_segment seg;

		if (!elf_image_segment(&t->elf, i, &seg) || seg.type != PT_LOAD || !(seg.flags & PF_W) ||
		    !elf_in_bounds(seg.offset, seg.filesz, t->elf.size))
			continue;
		for (uint64_t off = 0; off + t->ptrsize <= seg.filesz; off += t->ptrsize)
			if (match_moduledata(t, t->elf.data + seg.offset + off, seg.filesz - off))
				return;
	}
}

int sonde_gopclntab_open_image(const uint8_t *data, size_t size, struct sonde_gopclntab **out)
{
	struct sonde_gopclntab *t = calloc(1, sizeof(*t));
	struct elf_section text;
	int err;

	if (!t)
		return -ENOMEM;
	err = elf_image_open(&t->elf, data, size);
	if (!err)
		err = locate_table(t, &t->elf);
	if (err) {
		free(t);
		return err;
	}
	t->has_elf = true;
	find_moduledata(t);
	/* A PIE table may carry no text start: .text is where code begins. */
	if (t->fmt >= FMT_118 && !t->text_start && elf_image_find_section(&t->elf, ".text", &text))
		t->text_start = text.addr;
	*out = t;
	return 0;
}

int sonde_gopclntab_open_table(const uint8_t *data, size_t size, struct sonde_gopclntab **out)
{
	struct sonde_gopclntab *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	err = data ? init_table(t, data, size, 0) : -EINVAL;
	if (err) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

int sonde_gopclntab_open_fd(int fd, struct sonde_gopclntab **out)
{
	size_t len;
	void *map;
	int err = elf_image_map_fd(fd, &map, &len);

	if (err)
		return err;
	err = sonde_gopclntab_open_image(map, len, out);
	if (err) {
		munmap(map, len);
		return err;
	}
	(*out)->map = map;
	(*out)->map_len = len;
	return 0;
}

void sonde_gopclntab_free(struct sonde_gopclntab *t)
{
	if (!t)
		return;
	if (t->map)
		munmap(t->map, t->map_len);
	free(t);
}

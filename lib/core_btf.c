/* The kernel types a BPF object's CO-RE relocations can match, as a small
 * BTF of their own.
 *
 * libbpf resolves CO-RE relocations against the kernel's BTF: it parses
 * all of it again (8 ms here, though the tool has it parsed already) and,
 * for every type a relocation starts from, scans all 126,000 kernel types
 * for candidates of the same name. That was a third of fsslower's start.
 * libbpf also takes another BTF to resolve against (btf_custom_path): this
 * file writes one holding only the candidates, and what relocations can
 * walk into from them, to a memfd.
 *
 * What a relocation can reach from a candidate, following libbpf's
 * matching (relo_core.c): members of structs and unions, into embedded
 * ones and arrays, through typedefs and modifiers; enum values; int and
 * float sizes and signedness. Not what pointers point to: a pointer field
 * matches any pointer, and following them would pull in most of the
 * kernel. So pointers here point to void. Type-based relocations
 * (bpf_core_type_exists() and kin), which would compare pointees, are not
 * used by sonde's programs; an object that has one gets the whole kernel
 * BTF, as does one with a relocation no kernel type matches. (The type may
 * be in a module, whose BTF libbpf searches only without a custom BTF; no
 * sonde program relocates against a module's types.)
 *
 * The kernel's BTF is parsed and the subset written on a thread, while the
 * tool goes on with its start-up; sonde_core_btf_wait() joins it before
 * the object loads. */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sonde/core_btf.h"
#include "sonde/core_btf_cache.h"
#include "sonde/features.h"
#include "sonde/log.h"

/* .BTF.ext as the compiler writes it (include/uapi/linux/btf.h has no
 * copy: libbpf keeps its own). */
struct btf_ext_header {
	__u16 magic;
	__u8 version;
	__u8 flags;
	__u32 hdr_len;
	__u32 func_info_off, func_info_len;
	__u32 line_info_off, line_info_len;
	__u32 core_relo_off, core_relo_len;
};

struct core_relo {
	__u32 insn_off;
	__u32 type_id;
	__u32 access_str_off;
	__u32 kind;	/* enum bpf_core_relo_kind */
};

/* Relocations about a type as a whole (exists, size, matches, id), whose
 * answers depend on what pointers point to. */
static bool type_based(__u32 kind)
{
	return kind == BPF_CORE_TYPE_ID_LOCAL || kind == BPF_CORE_TYPE_ID_TARGET ||
	       kind == BPF_CORE_TYPE_EXISTS || kind == BPF_CORE_TYPE_SIZE ||
	       kind == BPF_CORE_TYPE_MATCHES;
}

/* A section of an ELF image in memory; false when it has none or the
 * image is not a well-formed 64-bit ELF of ours. */
static bool elf_section(const unsigned char *elf, size_t size, const char *name,
			const unsigned char **data, size_t *len)
{
	Elf64_Ehdr eh;
	Elf64_Shdr names, sh;

	if (size < sizeof(eh))
		return false;
	memcpy(&eh, elf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_shentsize != sizeof(sh) || eh.e_shoff > size ||
	    (size - eh.e_shoff) / sizeof(sh) < eh.e_shnum || eh.e_shstrndx >= eh.e_shnum)
		return false;
	memcpy(&names, elf + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(sh));
	if (names.sh_offset > size || names.sh_size > size - names.sh_offset)
		return false;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		memcpy(&sh, elf + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_name >= names.sh_size || sh.sh_offset > size ||
		    sh.sh_size > size - sh.sh_offset ||
		    strnlen((const char *)elf + names.sh_offset + sh.sh_name,
			    names.sh_size - sh.sh_name) != strlen(name) ||
		    memcmp(elf + names.sh_offset + sh.sh_name, name, strlen(name)))
			continue;
		*data = elf + sh.sh_offset;
		*len = sh.sh_size;
		return true;
	}
	return false;
}

/* The local types CO-RE relocations start from: roots[id] set. Returns
 * how many, 0 when there are none, -1 when the object must keep libbpf's
 * default (a type-based relocation, or unreadable records). */
static int relocation_roots(const unsigned char *ext, size_t len, size_t n_types, bool *roots)
{
	struct btf_ext_header h;
	const unsigned char *p, *end;
	__u32 rec_size;
	int n = 0;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, ext, sizeof(h));
	if (h.magic != 0xeB9F || h.hdr_len > len)
		return -1;
	/* A header from before CO-RE, or no relocations. */
	if (h.hdr_len < sizeof(h) || !h.core_relo_len)
		return 0;
	if (h.core_relo_off > len - h.hdr_len || h.core_relo_len > len - h.hdr_len - h.core_relo_off ||
	    h.core_relo_len < sizeof(rec_size))
		return -1;
	p = ext + h.hdr_len + h.core_relo_off;
	end = p + h.core_relo_len;
	memcpy(&rec_size, p, sizeof(rec_size));
	p += sizeof(rec_size);
	if (rec_size < sizeof(struct core_relo))
		return -1;
	/* Per ELF section: its name, how many records, the records. */
	while (p < end) {
		__u32 sec[2];

		if ((size_t)(end - p) < sizeof(sec))
			return -1;
		memcpy(sec, p, sizeof(sec));
		p += sizeof(sec);
		if (sec[1] > (size_t)(end - p) / rec_size)
			return -1;
		for (__u32 i = 0; i < sec[1]; i++, p += rec_size) {
			struct core_relo r;

			memcpy(&r, p, sizeof(r));
			if (type_based(r.kind) || !r.type_id || r.type_id >= n_types)
				return -1;
			n += !roots[r.type_id];
			roots[r.type_id] = true;
		}
	}
	return n;
}

/* libbpf's candidates share the name up to a "___flavor" suffix. */
static size_t essential_len(const char *name)
{
	const char *flavor = strstr(name, "___");

	return flavor ? (size_t)(flavor - name) : strlen(name);
}

/* ENUM and ENUM64 match each other. */
static __u32 kind_class(const struct btf_type *t)
{
	return btf_kind(t) == BTF_KIND_ENUM64 ? BTF_KIND_ENUM : btf_kind(t);
}

struct wanted {
	const char *name;
	size_t len;
	__u32 kind;
	bool found;
};

/* Marks the wanted names that kernel type name of this kind is a
 * candidate for (several local flavors may share it); a handful of names:
 * a linear look is quicker than hashing 126,000. */
static bool wanted_match(struct wanted *w, size_t n, const char *name, __u32 kind)
{
	bool any = false;

	for (size_t i = 0; i < n; i++)
		if (w[i].kind == kind && !strncmp(w[i].name, name, w[i].len) &&
		    essential_len(name) == w[i].len)
			any = w[i].found = true;
	return any;
}

/* The kernel types being written: order[] lists them, new_id[] numbers
 * them from 1 in that order (0: not written). */
struct closure {
	const struct btf *kernel;
	__u32 *new_id, *order, n;
	__u32 *todo, n_todo;	/* found, their references not followed yet */
};

static void add(struct closure *c, __u32 id)
{
	if (!id || c->new_id[id])
		return;
	c->new_id[id] = ++c->n;
	c->order[c->n - 1] = id;
	c->todo[c->n_todo++] = id;	/* each id once: never more than there are */
}

/* Calls fn on each field of t holding a type id that a relocation can
 * walk into: members, parameters and the return type, an array's element
 * and index, what a typedef or modifier names. Not a pointer's target. */
static void for_each_walked_id(struct btf_type *t, void (*fn)(__u32 *id, void *ctx), void *ctx)
{
	switch (btf_kind(t)) {
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (__u16 i = 0; i < btf_vlen(t); i++)
			fn(&btf_members(t)[i].type, ctx);
		break;
	case BTF_KIND_FUNC_PROTO:
		for (__u16 i = 0; i < btf_vlen(t); i++)
			fn(&btf_params(t)[i].type, ctx);
		fn(&t->type, ctx);
		break;
	case BTF_KIND_ARRAY:
		fn(&btf_array(t)->type, ctx);
		fn(&btf_array(t)->index_type, ctx);
		break;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		fn(&t->type, ctx);
		break;
	default:	/* int, float, enums, fwd; pointers stop here */
		break;
	}
}

static void add_walked(__u32 *id, void *c)
{
	add(c, *id);
}

/* Adds id and what a relocation can walk into from it. */
static void add_reachable(struct closure *c, __u32 id)
{
	add(c, id);
	/* Only read through the pointer: the kernel's BTF is not changed. */
	while (c->n_todo)
		for_each_walked_id((struct btf_type *)btf__type_by_id(c->kernel, c->todo[--c->n_todo]),
				   add_walked, c);
}

static void renumber(__u32 *id, void *new_id)
{
	*id = ((const __u32 *)new_id)[*id];
}

/* Writes the kernel types of order[] as a new BTF, their references
 * renumbered by new_id[] and pointers made void *. */
static struct btf *subset(const struct btf *kernel, const __u32 *order, __u32 n, const __u32 *new_id)
{
	struct btf *out = btf__new_empty();

	for (__u32 i = 0; out && i < n; i++)
		if (btf__add_type(out, kernel, btf__type_by_id(kernel, order[i])) != (int)i + 1) {
			btf__free(out);
			return NULL;
		}
	for (__u32 id = 1; out && id <= n; id++) {
		/* Ours, and writable: libbpf made it so for btf__add_type(). */
		struct btf_type *t = (struct btf_type *)btf__type_by_id(out, id);

		if (btf_is_ptr(t))
			t->type = 0;
		else
			for_each_walked_id(t, renumber, (void *)new_id);
	}
	return out;
}

struct btf *sonde_core_btf_new(const void *elf, size_t size, const struct btf *kernel)
{
	const unsigned char *btf_data, *ext;
	size_t btf_len, ext_len;
	struct btf *local = NULL, *out = NULL;
	struct wanted *wanted = NULL;
	struct closure c = {.kernel = kernel};
	bool *roots = NULL, first_chars[256] = {0};
	__u32 n_wanted = 0, n_local, n_kernel;
	int n_roots;

	if (!kernel || !elf_section(elf, size, ".BTF", &btf_data, &btf_len) ||
	    !elf_section(elf, size, ".BTF.ext", &ext, &ext_len))
		return NULL;
	local = btf__new(btf_data, btf_len);
	if (!local)
		return NULL;
	n_local = btf__type_cnt(local);
	n_kernel = btf__type_cnt(kernel);
	roots = calloc(n_local, sizeof(*roots));
	n_roots = roots ? relocation_roots(ext, ext_len, n_local, roots) : -1;
	wanted = n_roots > 0 ? calloc(n_roots, sizeof(*wanted)) : NULL;
	if (!wanted)
		goto out;
	for (__u32 id = 1; id < n_local; id++) {
		const struct btf_type *t = btf__type_by_id(local, id);
		const char *name;

		if (!roots[id])
			continue;
		name = btf__name_by_offset(local, t->name_off);
		if (!name || !*name)
			goto out;
		wanted[n_wanted++] = (struct wanted){name, essential_len(name), kind_class(t), false};
		first_chars[(unsigned char)name[0]] = true;
	}
	c.new_id = calloc(n_kernel, sizeof(*c.new_id));
	c.order = calloc(n_kernel, sizeof(*c.order));
	c.todo = calloc(n_kernel, sizeof(*c.todo));
	if (!c.new_id || !c.order || !c.todo)
		goto out;
	for (__u32 id = 1; id < n_kernel; id++) {
		const struct btf_type *t = btf__type_by_id(kernel, id);
		const char *name;

		if (!t->name_off || btf_kind(t) == BTF_KIND_FUNC || btf_kind(t) == BTF_KIND_VAR ||
		    btf_kind(t) == BTF_KIND_DATASEC || btf_kind(t) == BTF_KIND_DECL_TAG)
			continue;
		name = btf__name_by_offset(kernel, t->name_off);
		if (!name || !first_chars[(unsigned char)name[0]])
			continue;
		if (wanted_match(wanted, n_wanted, name, kind_class(t)))
			add_reachable(&c, id);
	}
	for (__u32 i = 0; i < n_wanted; i++)
		if (!wanted[i].found) {
			sonde_info(2, "CO-RE: no kernel type for %s: resolving against all of the kernel's BTF",
				   wanted[i].name);
			goto out;
		}
	out = subset(kernel, c.order, c.n, c.new_id);
out:
	btf__free(local);
	free(roots);
	free(wanted);
	free(c.new_id);
	free(c.order);
	free(c.todo);
	return out;
}

/* Whether the object has CO-RE relocations at all (without, libbpf needs
 * no kernel BTF for it). */
static bool has_core_relocations(const void *elf, size_t size)
{
	const unsigned char *ext;
	struct btf_ext_header h;
	size_t len;

	if (!elf_section(elf, size, ".BTF.ext", &ext, &len) || len < sizeof(h))
		return false;
	memcpy(&h, ext, sizeof(h));
	return h.hdr_len >= sizeof(h) && h.core_relo_len;
}

/* What the subset of an object depends on, besides the kernel: its types
 * and its relocations. */
static uint64_t object_key(const void *elf, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *names[] = {".BTF", ".BTF.ext"};

	for (size_t i = 0; i < 2; i++) {
		const unsigned char *data = NULL;
		size_t len = 0;

		elf_section(elf, size, names[i], &data, &len);
		h = sonde_core_btf_hash(h, &len, sizeof(len));
		h = sonde_core_btf_hash(h, data, len);
	}
	return h;
}

/* The BTF being written for the object opened last: libbpf reads the file
 * only when the object loads, so the tool opens it at once and goes on
 * (sizing maps, probing the kernel, choosing, making maps: lib/session.c)
 * while a thread parses the kernel's BTF (4 ms) and writes the subset
 * (1 ms). */
static struct {
	pthread_t thread;
	bool running;
	int fd;
	const void *elf;
	size_t size;
	bool ok;
	bool keep;	/* in cache_path, for the next start */
	char cache_path[4096];
} pending = {.fd = -1};

/* The subset; where there is none (a relocation no kernel type matches, a
 * type-based one), all of the kernel's BTF: what libbpf would have
 * resolved against, but for modules' BTF. */
static void *write_core_btf(void *arg)
{
	const struct btf *kernel = sonde_vmlinux_btf();
	struct btf *btf = kernel ? sonde_core_btf_new(pending.elf, pending.size, kernel) : NULL;
	const void *raw = NULL;
	__u32 raw_size = 0;

	(void)arg;
	if (btf)
		raw = btf__raw_data(btf, &raw_size);
	else if (kernel)
		raw = btf__raw_data(kernel, &raw_size);
	pending.ok = raw && sonde_core_btf_write(pending.fd, raw, raw_size);
	if (btf && pending.ok) {
		sonde_info(2, "CO-RE: resolving against %u of the kernel's types",
			   btf__type_cnt(btf) - 1);
		/* Only a subset: the whole BTF is 5 MiB, and its fallback
		 * rare. */
		if (pending.keep)
			sonde_core_btf_cache_store(pending.cache_path, raw, raw_size);
	}
	btf__free(btf);
	return NULL;
}

int sonde_core_btf_wait(void)
{
	if (pending.running) {
		pthread_join(pending.thread, NULL);
		pending.running = false;
	}
	return pending.fd < 0 || pending.ok ? 0 : -1;
}

const char *sonde_core_btf_path(const void *elf, size_t size)
{
	static char path[64];
	const char *mode = getenv("SONDE_CORE_BTF");
	unsigned n_types;

	if (mode && !strcmp(mode, "kernel"))
		return NULL;
	/* Without the kernel's BTF, libbpf says so in its own words. */
	if (access("/sys/kernel/btf/vmlinux", R_OK) || !has_core_relocations(elf, size))
		return NULL;
	sonde_core_btf_wait();
	pending.keep = sonde_core_btf_cache_path(object_key(elf, size), pending.cache_path,
						 sizeof(pending.cache_path));
	if (pending.keep && sonde_core_btf_cache_usable(pending.cache_path, &n_types)) {
		sonde_info(2, "CO-RE: resolving against %u of the kernel's types (kept in %s)",
			   n_types, pending.cache_path);
		pending.ok = true;	/* ready: nothing to wait for */
		return pending.cache_path;
	}
	/* Open for the process's life (an earlier object's too): libbpf
	 * reads it at load time. */
	pending.fd = memfd_create("sonde-core-btf", MFD_CLOEXEC);
	if (pending.fd < 0)
		return NULL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pending.fd);
	/* libbpf opens it by path: without /proc, it would fail the load. */
	if (access(path, R_OK)) {
		close(pending.fd);
		pending.fd = -1;
		return NULL;
	}
	pending.elf = elf;
	pending.size = size;
	pending.ok = false;
	pending.running = !pthread_create(&pending.thread, NULL, write_core_btf, NULL);
	if (!pending.running)
		write_core_btf(NULL);
	return path;
}

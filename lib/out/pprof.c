/* pprof writer. Everything a profile references is interned in a
 * blob_set: a byte-string set that hands out dense indices, so strings,
 * functions, mappings, locations and sample keys (stack + labels) are each
 * a key made of 64-bit words and deduplicated by the same hash table. The
 * protobuf encoding is written by hand (varints, length-delimited and
 * packed fields) and gzip-compressed with zlib. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sonde/grow.h"
#include "sonde/pprof.h"

/* ---- a set of byte strings with dense indices ---- */

struct blob_entry {
	size_t off, len;
};

struct blob_set {
	uint8_t *data;
	size_t len, cap;
	struct blob_entry *ent;
	uint32_t n, ent_cap;
	uint32_t *slots;	/* entry index + 1; 0 = empty */
	uint32_t n_slots;	/* power of two, kept at least twice n */
};

static uint64_t hash_bytes(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static const uint8_t *blob_at(const struct blob_set *s, uint32_t i, size_t *len)
{
	*len = s->ent[i].len;
	return s->data + s->ent[i].off;
}

static int blob_rehash(struct blob_set *s)
{
	uint32_t n_slots = s->n_slots ? s->n_slots * 2 : 64;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		size_t len;
		const uint8_t *b = blob_at(s, i, &len);
		uint32_t j = hash_bytes(b, len) & (n_slots - 1);

		while (slots[j])
			j = (j + 1) & (n_slots - 1);
		slots[j] = i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->n_slots = n_slots;
	return 0;
}

/* Finds key or adds it; *index is its dense index. 0 or -ENOMEM. */
static int blob_intern(struct blob_set *s, const void *key, size_t len, uint32_t *index)
{
	size_t ent_cap = s->ent_cap;
	uint32_t j;
	int err;

	if ((uint64_t)(s->n + 1) * 2 > s->n_slots) {
		if (s->n_slots >= UINT32_MAX / 2)
			return -ENOMEM;
		err = blob_rehash(s);
		if (err)
			return err;
	}
	j = hash_bytes(key, len) & (s->n_slots - 1);
	while (s->slots[j]) {
		size_t elen;
		const uint8_t *b = blob_at(s, s->slots[j] - 1, &elen);

		if (elen == len && !memcmp(b, key, len)) {
			*index = s->slots[j] - 1;
			return 0;
		}
		j = (j + 1) & (s->n_slots - 1);
	}
	if (SONDE_GROW(s->data, s->cap, s->len + len + 1, 16) ||
	    SONDE_GROW(s->ent, ent_cap, s->n + 1, 16))
		return -ENOMEM;
	s->ent_cap = ent_cap;
	memcpy(s->data + s->len, key, len);
	s->data[s->len + len] = 0;	/* strings stay NUL-terminated */
	s->ent[s->n] = (struct blob_entry){ .off = s->len, .len = len };
	s->len += len + 1;
	s->slots[j] = s->n + 1;
	*index = s->n++;
	return 0;
}

static void blob_free(struct blob_set *s)
{
	free(s->data);
	free(s->ent);
	free(s->slots);
}

/* ---- the profile ---- */

/* Mapping capabilities pprof checks before trying to symbolize itself. */
enum {
	MAP_HAS_FUNCTIONS = 1,
	MAP_HAS_FILENAMES = 2,
	MAP_HAS_LINES = 4,
	MAP_HAS_INLINE = 8,
};

struct sonde_pprof {
	struct blob_set strings;	/* index = string_table index */
	struct blob_set functions;	/* {name, file}; id = index + 1 */
	struct blob_set mappings;	/* {start, limit, offset, file, build_id} */
	struct blob_set locations;	/* {mapping_id, address, {function_id, line}...} */
	struct blob_set samples;	/* {n_locations, location_ids..., {key, str, num, unit}...} */
	uint8_t *mapping_flags;
	size_t mapping_flags_cap;
	int64_t *values;		/* n_types per sample */
	size_t values_cap;
	/* Scratch space, reused across samples: a key being built, the lines
	 * of a location, the location ids of a sample. */
	uint64_t *key, *lines, *loc_ids;
	size_t key_cap, lines_cap, loc_ids_cap;
	size_t n_types;
	uint32_t *type_strings;		/* type, unit per sample type */
	bool has_period_type;
	uint32_t period_type[2];
	int64_t period;
	int64_t time_nanos, duration_nanos;
};

static int intern_str(struct sonde_pprof *p, const char *s, uint32_t *index)
{
	if (!s)
		s = "";
	return blob_intern(&p->strings, s, strlen(s), index);
}

struct sonde_pprof *sonde_pprof_new(const struct sonde_pprof_value_type *types, size_t n_types,
				    const struct sonde_pprof_value_type *period_type, int64_t period)
{
	struct sonde_pprof *p = calloc(1, sizeof(*p));
	uint32_t empty;

	if (!p)
		return NULL;
	p->n_types = n_types;
	p->type_strings = calloc(n_types ? n_types * 2 : 1, sizeof(*p->type_strings));
	if (!p->type_strings || intern_str(p, "", &empty))
		goto fail;
	for (size_t i = 0; i < n_types; i++)
		if (intern_str(p, types[i].type, &p->type_strings[2 * i]) ||
		    intern_str(p, types[i].unit, &p->type_strings[2 * i + 1]))
			goto fail;
	if (period_type) {
		p->has_period_type = true;
		if (intern_str(p, period_type->type, &p->period_type[0]) ||
		    intern_str(p, period_type->unit, &p->period_type[1]))
			goto fail;
	}
	p->period = period;
	return p;
fail:
	sonde_pprof_free(p);
	return NULL;
}

void sonde_pprof_set_time(struct sonde_pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

static int key_put(struct sonde_pprof *p, size_t *n, uint64_t word)
{
	if (SONDE_GROW(p->key, p->key_cap, *n + 1, 16))
		return -ENOMEM;
	p->key[(*n)++] = word;
	return 0;
}

/* Mapping id (index + 1) of m, 0 for none. */
static int intern_mapping(struct sonde_pprof *p, const struct sonde_pprof_mapping *m, uint64_t *id)
{
	uint32_t file, build_id, index, n_before;
	uint64_t key[5];
	int err;

	*id = 0;
	if (!m)
		return 0;
	if (intern_str(p, m->file, &file) || intern_str(p, m->build_id, &build_id))
		return -ENOMEM;
	key[0] = m->start;
	key[1] = m->limit;
	key[2] = m->offset;
	key[3] = file;
	key[4] = build_id;
	if (SONDE_GROW(p->mapping_flags, p->mapping_flags_cap, (size_t)p->mappings.n + 1, 16))
		return -ENOMEM;
	n_before = p->mappings.n;
	err = blob_intern(&p->mappings, key, sizeof(key), &index);
	if (err)
		return err;
	if (index == n_before)
		p->mapping_flags[index] = 0;
	*id = index + 1;
	return 0;
}

static int intern_function(struct sonde_pprof *p, const struct sonde_pprof_frame *f, uint64_t *id)
{
	uint32_t name, file, index;
	uint64_t key[2];
	int err;

	if (intern_str(p, f->function ? f->function : "[unknown]", &name) ||
	    intern_str(p, f->file, &file))
		return -ENOMEM;
	key[0] = name;
	key[1] = file;
	err = blob_intern(&p->functions, key, sizeof(key), &index);
	if (!err)
		*id = index + 1;
	return err;
}

/* One Location for frames[0..n): n-1 inlined frames and their caller.
 * Its address and mapping are the caller's (the physical frame) or, if it
 * has none, the first inlined frame's that has one. */
static int intern_location(struct sonde_pprof *p, const struct sonde_pprof_frame *frames, size_t n,
			   uint64_t *id)
{
	const struct sonde_pprof_frame *phys = &frames[n - 1];
	uint64_t *lines, mapping_id, address = phys->address;
	const struct sonde_pprof_mapping *mapping = phys->mapping;
	uint32_t index;
	size_t len = 0;
	uint8_t flags = 0;
	int err;

	for (size_t i = 0; i < n && (!address || !mapping); i++) {
		if (!address)
			address = frames[i].address;
		if (!mapping)
			mapping = frames[i].mapping;
	}
	if (n > SIZE_MAX / 2 || SONDE_GROW(p->lines, p->lines_cap, 2 * n, 16))
		return -ENOMEM;
	lines = p->lines;
	for (size_t i = 0; i < n; i++) {
		err = intern_function(p, &frames[i], &lines[2 * i]);
		if (err)
			return err;
		lines[2 * i + 1] = (uint64_t)frames[i].line;
		if (frames[i].function)
			flags |= MAP_HAS_FUNCTIONS | MAP_HAS_INLINE;
		if (frames[i].file)
			flags |= MAP_HAS_FILENAMES;
		if (frames[i].line)
			flags |= MAP_HAS_LINES;
	}
	err = intern_mapping(p, mapping, &mapping_id);
	if (err)
		return err;
	if (mapping_id)
		p->mapping_flags[mapping_id - 1] |= flags;
	err = key_put(p, &len, mapping_id) ?: key_put(p, &len, address);
	for (size_t i = 0; i < 2 * n && !err; i++)
		err = key_put(p, &len, lines[i]);
	if (!err)
		err = blob_intern(&p->locations, p->key, len * sizeof(*p->key), &index);
	if (!err)
		*id = index + 1;
	return err;
}

int sonde_pprof_add_sample(struct sonde_pprof *p, const struct sonde_pprof_frame *frames, size_t n_frames,
			   const int64_t *values, const struct sonde_pprof_label *labels, size_t n_labels)
{
	uint64_t *loc_ids;
	size_t n_locs = 0, len = 0;
	uint32_t index, prev_n;
	int err = 0;

	if ((n_frames && !frames) || (p->n_types && !values) || (n_labels && !labels))
		return -EINVAL;
	if (SONDE_GROW(p->loc_ids, p->loc_ids_cap, n_frames, 16))
		return -ENOMEM;
	loc_ids = p->loc_ids;
	for (size_t i = 0; i < n_frames && !err;) {
		size_t j = i;

		while (j + 1 < n_frames && frames[j].inlined)
			j++;
		err = intern_location(p, frames + i, j - i + 1, &loc_ids[n_locs++]);
		i = j + 1;
	}
	err = err ?: key_put(p, &len, n_locs);
	for (size_t i = 0; i < n_locs && !err; i++)
		err = key_put(p, &len, loc_ids[i]);
	for (size_t i = 0; i < n_labels && !err; i++) {
		const struct sonde_pprof_label *l = &labels[i];
		uint32_t k, s = 0, u = 0;

		if (!l->key)
			err = -EINVAL;
		else if (intern_str(p, l->key, &k) || (l->str && intern_str(p, l->str, &s)) ||
			 (!l->str && l->num_unit && intern_str(p, l->num_unit, &u)))
			err = -ENOMEM;
		/* A string label's str index is never 0 ("" is also a value):
		 * tell string and numeric labels apart by a flag word. */
		else
			err = key_put(p, &len, k) ?: key_put(p, &len, l->str ? 1 : 0) ?:
			      key_put(p, &len, s) ?: key_put(p, &len, (uint64_t)(l->str ? 0 : l->num)) ?:
			      key_put(p, &len, u);
	}
	if (err)
		return err;
	prev_n = p->samples.n;
	if (SONDE_GROW(p->values, p->values_cap, (size_t)(prev_n + 1) * p->n_types, 16))
		return -ENOMEM;
	err = blob_intern(&p->samples, p->key, len * sizeof(*p->key), &index);
	if (err)
		return err;
	if (index == prev_n)
		memset(p->values + (size_t)index * p->n_types, 0, p->n_types * sizeof(*p->values));
	for (size_t t = 0; t < p->n_types; t++)
		p->values[(size_t)index * p->n_types + t] += values[t];
	return 0;
}

/* ---- protobuf encoding ---- */

struct pb {
	uint8_t *b;
	size_t len, cap;
	bool oom;
};

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

static void pb_raw(struct pb *pb, const void *data, size_t len)
{
	if (pb->oom || SONDE_GROW(pb->b, pb->cap, pb->len + len, 16)) {
		pb->oom = true;
		return;
	}
	memcpy(pb->b + pb->len, data, len);
	pb->len += len;
}

static void pb_varint(struct pb *pb, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	pb_raw(pb, tmp, n);
}

/* A varint field; zero is the default and is left out. */
static void pb_uint(struct pb *pb, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pb_varint(pb, (uint64_t)field << 3 | WIRE_VARINT);
	pb_varint(pb, v);
}

static void pb_bytes(struct pb *pb, unsigned field, const void *data, size_t len)
{
	pb_varint(pb, (uint64_t)field << 3 | WIRE_LEN);
	pb_varint(pb, len);
	pb_raw(pb, data, len);
}

/* Appends sub as a length-delimited field and empties it for reuse. */
static void pb_message(struct pb *pb, unsigned field, struct pb *sub)
{
	pb->oom |= sub->oom;
	pb_bytes(pb, field, sub->b, sub->len);
	sub->len = 0;
}

static void pb_free(struct pb *pb)
{
	free(pb->b);
}

static uint64_t word(const uint8_t *blob, size_t i)
{
	uint64_t w;

	memcpy(&w, blob + i * sizeof(w), sizeof(w));
	return w;
}

static void encode_value_type(struct pb *out, unsigned field, const uint32_t strings[2], struct pb *sub)
{
	pb_uint(sub, 1, strings[0]);
	pb_uint(sub, 2, strings[1]);
	pb_message(out, field, sub);
}

static void encode_samples(struct sonde_pprof *p, struct pb *out, struct pb *msg, struct pb *sub)
{
	for (uint32_t i = 0; i < p->samples.n; i++) {
		size_t len;
		const uint8_t *k = blob_at(&p->samples, i, &len);
		size_t n_locs = word(k, 0), n_words = len / sizeof(uint64_t);

		/* location_id and value are packed repeated fields. */
		for (size_t j = 0; j < n_locs; j++)
			pb_varint(sub, word(k, 1 + j));
		if (n_locs)
			pb_message(msg, 1, sub);
		for (size_t t = 0; t < p->n_types; t++)
			pb_varint(sub, (uint64_t)p->values[(size_t)i * p->n_types + t]);
		if (p->n_types)
			pb_message(msg, 2, sub);
		for (size_t j = 1 + n_locs; j + 5 <= n_words; j += 5) {
			pb_uint(sub, 1, word(k, j));
			if (word(k, j + 1)) {
				pb_uint(sub, 2, word(k, j + 2));
			} else {
				pb_uint(sub, 3, word(k, j + 3));
				pb_uint(sub, 4, word(k, j + 4));
			}
			pb_message(msg, 3, sub);
		}
		pb_message(out, 2, msg);
	}
}

static void encode_mappings(struct sonde_pprof *p, struct pb *out, struct pb *msg)
{
	for (uint32_t i = 0; i < p->mappings.n; i++) {
		size_t len;
		const uint8_t *k = blob_at(&p->mappings, i, &len);
		uint8_t f = p->mapping_flags[i];

		pb_uint(msg, 1, i + 1);
		pb_uint(msg, 2, word(k, 0));
		pb_uint(msg, 3, word(k, 1));
		pb_uint(msg, 4, word(k, 2));
		pb_uint(msg, 5, word(k, 3));
		pb_uint(msg, 6, word(k, 4));
		pb_uint(msg, 7, !!(f & MAP_HAS_FUNCTIONS));
		pb_uint(msg, 8, !!(f & MAP_HAS_FILENAMES));
		pb_uint(msg, 9, !!(f & MAP_HAS_LINES));
		pb_uint(msg, 10, !!(f & MAP_HAS_INLINE));
		pb_message(out, 3, msg);
	}
}

static void encode_locations(struct sonde_pprof *p, struct pb *out, struct pb *msg, struct pb *sub)
{
	for (uint32_t i = 0; i < p->locations.n; i++) {
		size_t len;
		const uint8_t *k = blob_at(&p->locations, i, &len);
		size_t n_words = len / sizeof(uint64_t);

		pb_uint(msg, 1, i + 1);
		pb_uint(msg, 2, word(k, 0));
		pb_uint(msg, 3, word(k, 1));
		for (size_t j = 2; j + 2 <= n_words; j += 2) {
			pb_uint(sub, 1, word(k, j));
			pb_uint(sub, 2, word(k, j + 1));
			pb_message(msg, 4, sub);
		}
		pb_message(out, 4, msg);
	}
}

static void encode_functions(struct sonde_pprof *p, struct pb *out, struct pb *msg)
{
	for (uint32_t i = 0; i < p->functions.n; i++) {
		size_t len;
		const uint8_t *k = blob_at(&p->functions, i, &len);

		pb_uint(msg, 1, i + 1);
		pb_uint(msg, 2, word(k, 0));
		pb_uint(msg, 3, word(k, 0));	/* system_name: the symbol as is */
		pb_uint(msg, 4, word(k, 1));
		pb_message(out, 5, msg);
	}
}

static int encode_profile(struct sonde_pprof *p, struct pb *out)
{
	struct pb msg = {0}, sub = {0};

	for (size_t t = 0; t < p->n_types; t++)
		encode_value_type(out, 1, &p->type_strings[2 * t], &msg);
	encode_samples(p, out, &msg, &sub);
	encode_mappings(p, out, &msg);
	encode_locations(p, out, &msg, &sub);
	encode_functions(p, out, &msg);
	for (uint32_t i = 0; i < p->strings.n; i++) {
		size_t len;
		const uint8_t *s = blob_at(&p->strings, i, &len);

		pb_bytes(out, 6, s, len);
	}
	pb_uint(out, 9, (uint64_t)p->time_nanos);
	pb_uint(out, 10, (uint64_t)p->duration_nanos);
	if (p->has_period_type)
		encode_value_type(out, 11, p->period_type, &msg);
	pb_uint(out, 12, (uint64_t)p->period);
	out->oom |= msg.oom | sub.oom;
	pb_free(&msg);
	pb_free(&sub);
	return out->oom ? -ENOMEM : 0;
}

static int gzip_to(FILE *out, const uint8_t *data, size_t len)
{
	uint8_t chunk[16384];
	z_stream z = {0};
	int zerr, err = 0;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip header */, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)data;
	do {
		/* avail_in is 32-bit: feed huge buffers in slices. */
		size_t left = len - (size_t)(z.next_in - data);
		int flush;

		z.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
		flush = z.avail_in == left ? Z_FINISH : Z_NO_FLUSH;
		do {
			size_t n;

			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			zerr = deflate(&z, flush);
			if (zerr == Z_STREAM_ERROR) {
				err = -EINVAL;
				goto out;
			}
			n = sizeof(chunk) - z.avail_out;
			if (n && fwrite(chunk, 1, n, out) != n) {
				err = errno ? -errno : -EIO;
				goto out;
			}
		} while (z.avail_out == 0);
	} while (zerr != Z_STREAM_END);
	if (fflush(out))
		err = errno ? -errno : -EIO;
out:
	deflateEnd(&z);
	return err;
}

int sonde_pprof_write(struct sonde_pprof *p, FILE *out)
{
	struct pb pb = {0};
	int err = encode_profile(p, &pb);

	if (!err) {
		errno = 0;
		err = gzip_to(out, pb.b, pb.len);
	}
	pb_free(&pb);
	return err;
}

void sonde_pprof_free(struct sonde_pprof *p)
{
	if (!p)
		return;
	blob_free(&p->strings);
	blob_free(&p->functions);
	blob_free(&p->mappings);
	blob_free(&p->locations);
	blob_free(&p->samples);
	free(p->mapping_flags);
	free(p->values);
	free(p->key);
	free(p->lines);
	free(p->loc_ids);
	free(p->type_strings);
	free(p);
}

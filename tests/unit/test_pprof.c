/* The pprof writer: a profile is written, gunzipped and decoded again by a
 * small protobuf reader that knows profile.proto's field numbers, so every
 * field the encoder emits is checked by number and value. */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include <sonde/pprof.h>

#include "check.h"

/* ---- a minimal protobuf reader ---- */

struct field {
	unsigned number;
	unsigned wire;		/* 0 varint, 2 length-delimited */
	uint64_t value;		/* varint */
	const uint8_t *data;	/* length-delimited */
	size_t len;
};

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t read_varint(struct reader *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static bool next_field(struct reader *r, struct field *f)
{
	uint64_t key;

	if (r->bad || r->p >= r->end)
		return false;
	key = read_varint(r);
	f->number = key >> 3;
	f->wire = key & 7;
	if (f->wire == 0) {
		f->value = read_varint(r);
	} else if (f->wire == 2) {
		f->len = read_varint(r);
		if (f->len > (size_t)(r->end - r->p)) {
			r->bad = true;
			return false;
		}
		f->data = r->p;
		r->p += f->len;
	} else {
		r->bad = true;	/* the encoder only uses varints and bytes */
	}
	return !r->bad;
}

static struct reader sub_reader(const struct field *f)
{
	return (struct reader){ .p = f->data, .end = f->data + f->len };
}

/* Packed varints of a length-delimited field into out[]; returns count. */
static size_t read_packed(const struct field *f, uint64_t *out, size_t max)
{
	struct reader r = sub_reader(f);
	size_t n = 0;

	while (r.p < r.end && n < max)
		out[n++] = read_varint(&r);
	return r.bad ? 0 : n;
}

/* ---- the decoded profile ---- */

#define MAX 32

struct line { uint64_t function_id; int64_t line; };
struct location { uint64_t id, mapping_id, address; struct line lines[4]; size_t n_lines; };
struct function { uint64_t id, name, system_name, filename; };
struct mapping { uint64_t id, start, limit, offset, filename, build_id; bool has[4]; };
struct label { uint64_t key, str, num_unit; int64_t num; };
struct sample {
	uint64_t loc[MAX]; size_t n_loc;
	int64_t val[4]; size_t n_val;
	struct label labels[4]; size_t n_labels;
};

struct profile {
	uint64_t sample_type[4][2]; size_t n_sample_type;
	struct sample samples[MAX]; size_t n_samples;
	struct mapping mappings[MAX]; size_t n_mappings;
	struct location locations[MAX]; size_t n_locations;
	struct function functions[MAX]; size_t n_functions;
	char *strings[MAX * 4]; size_t n_strings;
	int64_t time_nanos, duration_nanos, period;
	uint64_t period_type[2];
	bool bad;
};

static void value_type(const struct field *f, uint64_t out[2])
{
	struct reader r = sub_reader(f);
	struct field g;

	while (next_field(&r, &g))
		if (g.number == 1 || g.number == 2)
			out[g.number - 1] = g.value;
}

static void decode_sample(const struct field *f, struct sample *s)
{
	struct reader r = sub_reader(f);
	struct field g;
	uint64_t tmp[MAX];

	while (next_field(&r, &g)) {
		if (g.number == 1) {
			s->n_loc = read_packed(&g, s->loc, MAX);
		} else if (g.number == 2) {
			s->n_val = read_packed(&g, tmp, 4);
			for (size_t i = 0; i < s->n_val; i++)
				s->val[i] = (int64_t)tmp[i];
		} else if (g.number == 3 && s->n_labels < 4) {
			struct label *l = &s->labels[s->n_labels++];
			struct reader lr = sub_reader(&g);
			struct field h;

			while (next_field(&lr, &h)) {
				if (h.number == 1)
					l->key = h.value;
				else if (h.number == 2)
					l->str = h.value;
				else if (h.number == 3)
					l->num = (int64_t)h.value;
				else if (h.number == 4)
					l->num_unit = h.value;
			}
		}
	}
}

static void decode_location(const struct field *f, struct location *l)
{
	struct reader r = sub_reader(f);
	struct field g;

	while (next_field(&r, &g)) {
		if (g.number == 1)
			l->id = g.value;
		else if (g.number == 2)
			l->mapping_id = g.value;
		else if (g.number == 3)
			l->address = g.value;
		else if (g.number == 4 && l->n_lines < 4) {
			struct line *ln = &l->lines[l->n_lines++];
			struct reader lr = sub_reader(&g);
			struct field h;

			while (next_field(&lr, &h)) {
				if (h.number == 1)
					ln->function_id = h.value;
				else if (h.number == 2)
					ln->line = (int64_t)h.value;
			}
		}
	}
}

static void decode_function(const struct field *f, struct function *fn)
{
	struct reader r = sub_reader(f);
	struct field g;

	while (next_field(&r, &g)) {
		uint64_t *slot[] = { NULL, &fn->id, &fn->name, &fn->system_name, &fn->filename };

		if (g.number >= 1 && g.number <= 4)
			*slot[g.number] = g.value;
	}
}

static void decode_mapping(const struct field *f, struct mapping *m)
{
	struct reader r = sub_reader(f);
	struct field g;

	while (next_field(&r, &g)) {
		uint64_t *slot[] = { NULL, &m->id, &m->start, &m->limit, &m->offset, &m->filename,
				     &m->build_id };

		if (g.number >= 1 && g.number <= 6)
			*slot[g.number] = g.value;
		else if (g.number >= 7 && g.number <= 10)
			m->has[g.number - 7] = g.value;
	}
}

static void decode_profile(const uint8_t *data, size_t len, struct profile *p)
{
	struct reader r = { .p = data, .end = data + len };
	struct field f;

	memset(p, 0, sizeof(*p));
	while (next_field(&r, &f)) {
		switch (f.number) {
		case 1:
			if (p->n_sample_type < 4)
				value_type(&f, p->sample_type[p->n_sample_type++]);
			break;
		case 2:
			if (p->n_samples < MAX)
				decode_sample(&f, &p->samples[p->n_samples++]);
			break;
		case 3:
			if (p->n_mappings < MAX)
				decode_mapping(&f, &p->mappings[p->n_mappings++]);
			break;
		case 4:
			if (p->n_locations < MAX)
				decode_location(&f, &p->locations[p->n_locations++]);
			break;
		case 5:
			if (p->n_functions < MAX)
				decode_function(&f, &p->functions[p->n_functions++]);
			break;
		case 6:
			if (p->n_strings < MAX * 4)
				p->strings[p->n_strings++] = strndup((const char *)f.data, f.len);
			break;
		case 9: p->time_nanos = (int64_t)f.value; break;
		case 10: p->duration_nanos = (int64_t)f.value; break;
		case 11: value_type(&f, p->period_type); break;
		case 12: p->period = (int64_t)f.value; break;
		default: p->bad = true;	/* a field the encoder should not write */
		}
	}
	p->bad |= r.bad;
}

static void free_profile(struct profile *p)
{
	for (size_t i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
}

static const char *str(const struct profile *p, uint64_t i)
{
	return i < p->n_strings ? p->strings[i] : "(out of range)";
}

static const struct function *function_by_id(const struct profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_functions; i++)
		if (p->functions[i].id == id)
			return &p->functions[i];
	return NULL;
}

static const struct location *location_by_id(const struct profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_locations; i++)
		if (p->locations[i].id == id)
			return &p->locations[i];
	return NULL;
}

static const char *line_function(const struct profile *p, const struct line *l)
{
	const struct function *f = function_by_id(p, l->function_id);

	return f ? str(p, f->name) : "(no function)";
}

/* Writes the profile, gunzips it and decodes it into *out. */
static int roundtrip(struct sonde_pprof *pp, struct profile *out)
{
	FILE *f = tmpfile();
	static uint8_t gz[1 << 16], raw[1 << 18];
	size_t gz_len;
	z_stream z = {0};
	int err;

	if (!f)
		return -errno;
	err = sonde_pprof_write(pp, f);
	rewind(f);
	gz_len = fread(gz, 1, sizeof(gz), f);
	fclose(f);
	if (err)
		return err;
	if (gz_len < 2 || gz[0] != 0x1f || gz[1] != 0x8b)
		return -EBADMSG;	/* not gzip */
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	z.next_in = gz;
	z.avail_in = gz_len;
	z.next_out = raw;
	z.avail_out = sizeof(raw);
	err = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (err != Z_STREAM_END)
		return -EBADMSG;
	decode_profile(raw, z.total_out, out);
	return out->bad ? -EBADMSG : 0;
}

/* ---- tests ---- */

static const struct sonde_pprof_value_type types[] = {
	{ "samples", "count" }, { "cpu", "nanoseconds" },
};

static void full_profile(void)
{
	const struct sonde_pprof_value_type period_type = { "cpu", "nanoseconds" };
	struct sonde_pprof_mapping app = { 0x400000, 0x500000, 0x1000, "/usr/bin/app", "abcdef01" };
	struct sonde_pprof_mapping app_copy = app;	/* same content, other address */
	struct sonde_pprof_frame stack[] = {
		{ 0x401234, &app, "inner", "src/a.c", 10, true },
		{ 0x401234, &app, "outer", "src/a.c", 20, false },
		{ 0x402000, &app_copy, "main", "src/main.c", 30, false },
	};
	struct sonde_pprof_frame kernel[] = {
		{ 0xffffffff81000010ull, NULL, NULL, NULL, 0, false },
		{ 0x402000, &app, "main", "src/main.c", 30, false },
	};
	struct sonde_pprof_label worker[] = {
		{ "thread", "worker", 0, NULL }, { "bytes", NULL, 4096, "bytes" },
	};
	struct sonde_pprof_label other[] = { { "thread", "other", 0, NULL } };
	int64_t v1[] = { 1, 100 }, v2[] = { 1, 50 }, vneg[] = { 3, -5 };
	struct sonde_pprof *pp = sonde_pprof_new(types, 2, &period_type, 10000000);
	struct profile p;
	const struct sample *merged = NULL, *single = NULL, *kern = NULL;

	CHECK(pp != NULL);
	if (!pp)
		return;
	sonde_pprof_set_time(pp, 1700000000000000000ll, 2000000000ll);
	CHECK_U64(sonde_pprof_add_sample(pp, stack, 3, v1, worker, 2), 0);
	CHECK_U64(sonde_pprof_add_sample(pp, stack, 3, v2, worker, 2), 0);	/* merged */
	CHECK_U64(sonde_pprof_add_sample(pp, stack, 3, v1, other, 1), 0);	/* other label */
	CHECK_U64(sonde_pprof_add_sample(pp, kernel, 2, vneg, NULL, 0), 0);
	CHECK_U64(sonde_pprof_add_sample(pp, stack, 3, NULL, NULL, 0), (uint64_t)-EINVAL);

	CHECK_U64(roundtrip(pp, &p), 0);
	sonde_pprof_free(pp);

	CHECK_STR(str(&p, 0), "");
	CHECK_U64(p.n_sample_type, 2);
	CHECK_STR(str(&p, p.sample_type[0][0]), "samples");
	CHECK_STR(str(&p, p.sample_type[0][1]), "count");
	CHECK_STR(str(&p, p.sample_type[1][0]), "cpu");
	CHECK_STR(str(&p, p.sample_type[1][1]), "nanoseconds");
	CHECK_STR(str(&p, p.period_type[0]), "cpu");
	CHECK_STR(str(&p, p.period_type[1]), "nanoseconds");
	CHECK_U64(p.period, 10000000);
	CHECK_U64(p.time_nanos, 1700000000000000000ull);
	CHECK_U64(p.duration_nanos, 2000000000ull);

	/* Every string once. */
	for (size_t i = 0; i < p.n_strings; i++)
		for (size_t j = i + 1; j < p.n_strings; j++)
			CHECK(strcmp(p.strings[i], p.strings[j]) != 0);

	CHECK_U64(p.n_mappings, 1);	/* app and app_copy are one mapping */
	CHECK_U64(p.mappings[0].id, 1);
	CHECK_U64(p.mappings[0].start, 0x400000);
	CHECK_U64(p.mappings[0].limit, 0x500000);
	CHECK_U64(p.mappings[0].offset, 0x1000);
	CHECK_STR(str(&p, p.mappings[0].filename), "/usr/bin/app");
	CHECK_STR(str(&p, p.mappings[0].build_id), "abcdef01");
	for (int i = 0; i < 4; i++)
		CHECK(p.mappings[0].has[i]);

	CHECK_U64(p.n_functions, 4);	/* inner, outer, main, [unknown] */
	CHECK_U64(p.n_locations, 3);	/* inner+outer, main, kernel */
	CHECK_U64(p.n_samples, 3);
	for (size_t i = 0; i < p.n_samples; i++) {
		const struct sample *s = &p.samples[i];

		if (s->n_labels == 0)
			kern = s;
		else if (s->n_labels == 2)
			merged = s;
		else if (s->n_labels == 1)
			single = s;
	}
	CHECK(merged && single && kern);
	if (!merged || !single || !kern)
		goto out;

	CHECK_U64(merged->n_val, 2);
	CHECK_U64(merged->val[0], 2);
	CHECK_U64(merged->val[1], 150);
	CHECK_STR(str(&p, merged->labels[0].key), "thread");
	CHECK_STR(str(&p, merged->labels[0].str), "worker");
	CHECK_STR(str(&p, merged->labels[1].key), "bytes");
	CHECK_U64(merged->labels[1].str, 0);
	CHECK_U64(merged->labels[1].num, 4096);
	CHECK_STR(str(&p, merged->labels[1].num_unit), "bytes");
	CHECK_STR(str(&p, single->labels[0].str), "other");
	CHECK_U64(single->val[1], 100);
	CHECK((int64_t)kern->val[1] == -5);

	/* The inlined pair is one location with two lines, leaf first. */
	CHECK_U64(merged->n_loc, 2);
	const struct location *l0 = location_by_id(&p, merged->loc[0]);
	const struct location *l1 = location_by_id(&p, merged->loc[1]);
	CHECK(l0 && l1);
	if (l0 && l1) {
		CHECK_U64(l0->address, 0x401234);
		CHECK_U64(l0->mapping_id, 1);
		CHECK_U64(l0->n_lines, 2);
		CHECK_STR(line_function(&p, &l0->lines[0]), "inner");
		CHECK_U64(l0->lines[0].line, 10);
		CHECK_STR(line_function(&p, &l0->lines[1]), "outer");
		CHECK_U64(l0->lines[1].line, 20);
		const struct function *inner = function_by_id(&p, l0->lines[0].function_id);
		CHECK_STR(str(&p, inner->filename), "src/a.c");
		CHECK_STR(str(&p, inner->system_name), "inner");
		CHECK_U64(l1->address, 0x402000);
		CHECK_U64(l1->n_lines, 1);
		CHECK_STR(line_function(&p, &l1->lines[0]), "main");
		CHECK_U64(l1->lines[0].line, 30);
	}
	CHECK_U64(single->loc[0], merged->loc[0]);
	CHECK_U64(kern->loc[1], merged->loc[1]);	/* main's location is shared */
	const struct location *k = location_by_id(&p, kern->loc[0]);
	CHECK(k != NULL);
	if (k) {
		CHECK_U64(k->mapping_id, 0);
		CHECK_U64(k->address, 0xffffffff81000010ull);
		CHECK_STR(line_function(&p, &k->lines[0]), "[unknown]");
		CHECK_U64(k->lines[0].line, 0);
	}
out:
	free_profile(&p);
}

static void empty_profile(void)
{
	struct sonde_pprof *pp = sonde_pprof_new(types, 1, NULL, 0);
	struct profile p;

	CHECK(pp != NULL);
	if (!pp)
		return;
	CHECK_U64(roundtrip(pp, &p), 0);
	sonde_pprof_free(pp);
	CHECK_U64(p.n_samples, 0);
	CHECK_U64(p.n_sample_type, 1);
	CHECK_U64(p.n_strings, 3);
	CHECK_STR(str(&p, 0), "");
	CHECK_U64(p.period, 0);
	free_profile(&p);
}

/* Many distinct stacks: the hash tables grow and still deduplicate. */
static void many_samples(void)
{
	struct sonde_pprof *pp = sonde_pprof_new(types, 2, NULL, 0);
	struct profile p;
	char names[20][16];
	int64_t v[] = { 1, 7 };
	int err = 0;

	CHECK(pp != NULL);
	if (!pp)
		return;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 20; i++) {
			struct sonde_pprof_frame f[2] = {
				{ 0x1000 + i, NULL, names[i], "x.c", i + 1, false },
				{ 0x9000, NULL, "root", "x.c", 1, false },
			};

			snprintf(names[i], sizeof(names[i]), "fn%d", i);
			err |= sonde_pprof_add_sample(pp, f, 2, v, NULL, 0);
		}
	CHECK_U64(err, 0);
	CHECK_U64(roundtrip(pp, &p), 0);
	sonde_pprof_free(pp);
	CHECK_U64(p.n_samples, 20);
	CHECK_U64(p.n_locations, 21);
	CHECK_U64(p.n_functions, 21);
	CHECK_U64(p.n_mappings, 0);
	for (size_t i = 0; i < p.n_samples; i++) {
		CHECK_U64(p.samples[i].val[0], 3);
		CHECK_U64(p.samples[i].val[1], 21);
	}
	free_profile(&p);
}

/* Frames of a mapping with addresses only: the mapping says it has no
 * symbols, so pprof may symbolize them from the file itself. */
static void unsymbolized_mapping(void)
{
	struct sonde_pprof_mapping lib = { 0x7f0000000000ull, 0x7f0000100000ull, 0, "/usr/lib/libx.so", NULL };
	struct sonde_pprof_frame f[] = {
		{ 0x7f0000001234ull, &lib, NULL, NULL, 0, false },
		{ 0x7f0000005678ull, &lib, NULL, NULL, 0, false },
	};
	struct sonde_pprof *pp = sonde_pprof_new(types, 1, NULL, 0);
	int64_t v = 5;
	struct profile p;

	CHECK(pp != NULL);
	if (!pp)
		return;
	CHECK_U64(sonde_pprof_add_sample(pp, f, 2, &v, NULL, 0), 0);
	CHECK_U64(roundtrip(pp, &p), 0);
	sonde_pprof_free(pp);
	CHECK_U64(p.n_mappings, 1);
	for (int i = 0; i < 4; i++)
		CHECK(!p.mappings[0].has[i]);
	CHECK_U64(p.mappings[0].build_id, 0);	/* NULL build id: "" */
	CHECK_U64(p.n_locations, 2);
	CHECK_U64(p.locations[0].address, 0x7f0000001234ull);
	CHECK_U64(p.locations[1].address, 0x7f0000005678ull);
	CHECK_STR(line_function(&p, &p.locations[0].lines[0]), "[unknown]");
	free_profile(&p);
}

int main(void)
{
	RUN(full_profile);
	RUN(empty_profile);
	RUN(many_samples);
	RUN(unsymbolized_mapping);
	return CHECK_DONE();
}

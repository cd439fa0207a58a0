/* A pprof profile writer: collects samples (stacks with values and labels)
 * and writes them as a gzip-compressed profile.proto
 * (github.com/google/pprof/proto/profile.proto) that `go tool pprof` reads.
 * Strings, functions, locations and mappings are deduplicated; samples
 * with the same stack and labels are merged by adding their values. */
#ifndef SONDE_PPROF_H
#define SONDE_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* e.g. {"samples", "count"}, {"cpu", "nanoseconds"} */
struct sonde_pprof_value_type {
	const char *type;
	const char *unit;
};

/* build_id: hex string or NULL */
struct sonde_pprof_mapping {
	uint64_t start, limit, offset;
	const char *file;
	const char *build_id;
};

struct sonde_pprof_frame {
	uint64_t address;				/* 0 if unknown */
	const struct sonde_pprof_mapping *mapping;	/* NULL: none (e.g. kernel frame without module) */
	const char *function;				/* symbol name; NULL → "[unknown]" */
	const char *file;				/* source file or NULL */
	int64_t line;					/* 0 if unknown */
	/* This frame was inlined into the NEXT frame of the array (its
	 * caller): both share one pprof Location (same address), as
	 * consecutive Line entries. */
	bool inlined;
};

/* str != NULL → string label, else numeric (num, with num_unit or NULL) */
struct sonde_pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

struct sonde_pprof;

/* NULL on allocation failure. period_type may be NULL (no period). */
struct sonde_pprof *sonde_pprof_new(const struct sonde_pprof_value_type *types, size_t n_types,
				    const struct sonde_pprof_value_type *period_type, int64_t period);
void sonde_pprof_set_time(struct sonde_pprof *p, int64_t time_nanos, int64_t duration_nanos);
/* frames are leaf first (pprof order); values has n_types entries;
 * identical stacks+labels are merged by adding values. 0 or -errno. */
int sonde_pprof_add_sample(struct sonde_pprof *p, const struct sonde_pprof_frame *frames, size_t n_frames,
			   const int64_t *values, const struct sonde_pprof_label *labels, size_t n_labels);
/* gzip'd profile.proto; 0 or -errno */
int sonde_pprof_write(struct sonde_pprof *p, FILE *out);
void sonde_pprof_free(struct sonde_pprof *p);

#endif

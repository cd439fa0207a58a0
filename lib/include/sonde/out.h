/* Output writers shared by every tool: JSON Lines, aligned tables and log2
 * histograms. Strings a target controls (comm, file and DNS names) are made
 * safe here: escaped in JSON, neutralised in tables. A write to a closed
 * pipe marks the output closed; the session then ends quietly. */
#ifndef SONDE_OUT_H
#define SONDE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* True once stdout has hit EPIPE (e.g. `| head` finished). */
bool sonde_out_closed(void);
/* Flushes a stream; a failure marks the output closed and returns -1. */
int sonde_out_flush(FILE *f);
/* Puts flushes off until sonde_out_release(), which does the one still
 * due: a burst of events is written with a few write()s rather than one
 * per line, and no line waits longer than the burst. */
void sonde_out_hold(void);
int sonde_out_release(void);

/* ---- JSON Lines ---- */

struct sonde_json {
	char *buf;
	size_t len;
	size_t cap;
	bool comma;	/* a value precedes: the next one needs a comma */
	bool oom;
};

void sonde_json_begin(struct sonde_json *j);
void sonde_json_str(struct sonde_json *j, const char *key, const char *value);
/* A string of known length that may hold any byte, NULs included. */
void sonde_json_strn(struct sonde_json *j, const char *key, const char *value, size_t len);
void sonde_json_u64(struct sonde_json *j, const char *key, uint64_t value);
void sonde_json_i64(struct sonde_json *j, const char *key, int64_t value);
void sonde_json_double(struct sonde_json *j, const char *key, double value);
void sonde_json_bool(struct sonde_json *j, const char *key, bool value);
void sonde_json_null(struct sonde_json *j, const char *key);
/* Nested values: key is NULL inside an array. */
void sonde_json_array_begin(struct sonde_json *j, const char *key);
void sonde_json_array_end(struct sonde_json *j);
void sonde_json_object_begin(struct sonde_json *j, const char *key);
void sonde_json_object_end(struct sonde_json *j);
/* Closes the object and writes it as one line, flushed. -1 once closed. */
int sonde_json_emit(struct sonde_json *j, FILE *out);
void sonde_json_free(struct sonde_json *j);

/* Appends the JSON string literal (quotes included) of len bytes to the
 * buffer: control characters, quotes and backslashes escaped, invalid
 * UTF-8 replaced by U+FFFD. Exposed for the unit tests and fuzzers. */
void sonde_json_escape(struct sonde_json *j, const char *s, size_t len);

/* ---- tables ---- */

struct sonde_column {
	const char *name;
	int width;	/* minimum; long cells widen their row only */
	bool left;	/* left-aligned (text); numbers align right */
};

struct sonde_table {
	const struct sonde_column *cols;
	size_t n_cols;
	FILE *out;
	bool header_done;
};

void sonde_table_init(struct sonde_table *t, const struct sonde_column *cols,
		      size_t n_cols, FILE *out);
void sonde_table_header(struct sonde_table *t);
/* One row of n_cols cells; the header is printed first if it was not yet.
 * Cells are sanitised. Returns -1 once the output is closed. */
int sonde_table_row(struct sonde_table *t, const char *const *cells);

/* Copies s into buf (size > 0) with every byte a terminal would act on
 * (C0 controls, DEL, C1 controls, invalid UTF-8) shown as \xNN. */
void sonde_sanitize(const char *s, size_t len, char *buf, size_t size);

/* ---- log2 histograms ---- */

#define SONDE_HIST_SLOTS 64

/* Bucket i counts values in [2^i, 2^(i+1)); bucket 0 also holds 0. */
unsigned sonde_log2_slot(uint64_t value);
/* Prints the non-empty range of buckets with a bar per bucket, in the
 * manner of BCC's print_log2_hist. unit names the value ("usecs"). */
void sonde_hist_print(FILE *out, const uint64_t *slots, size_t n_slots, const char *unit);
/* Adds "key": [{"low":..,"high":..,"count":..}, ...] of non-empty buckets. */
void sonde_hist_json(struct sonde_json *j, const char *key, const uint64_t *slots, size_t n_slots);

#endif

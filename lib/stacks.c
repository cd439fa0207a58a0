/* Stacks aggregated in the kernel, read back, symbolized and printed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sonde/clock.h"
#include "sonde/container.h"
#include "sonde/grow.h"
#include "sonde/log.h"
#include "sonde/mmap_watch.h"
#include "sonde/pprof.h"
#include "sonde/stack_pending.h"
#include "sonde/stacks.h"
#include "sonde/stacks_pprof.h"
#include "sonde/sym.h"
#include "sonde/unwind.h"

int sonde_stacks_set_storage(struct bpf_object *obj, uint32_t entries,
			     enum sonde_unwind_mode unwind)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "sonde_stacks");
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	int err;

	if (!map || !events)
		return -ENOENT;
	err = bpf_map__set_max_entries(map, entries);
	if (!err && unwind != SONDE_UNWIND_FP)
		err = bpf_map__set_max_entries(events, SONDE_STACK_COPY_RING);
	return err;
}

/* ---- reading ---- */

static int by_total_desc(const void *a, const void *b)
{
	const struct sonde_stack_entry *x = a, *y = b;

	if (x->value.total != y->value.total)
		return x->value.total > y->value.total ? -1 : 1;
	return x->key.pid < y->key.pid ? -1 : x->key.pid > y->key.pid;
}

void sonde_stacks_sort(struct sonde_stack_entry *entries, size_t n)
{
	if (n)
		qsort(entries, n, sizeof(*entries), by_total_desc);
}

int sonde_stacks_read(struct bpf_object *obj, bool clear,
		      struct sonde_stack_entry **entries, size_t *n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "sonde_totals");
	struct sonde_stack_key key, next;
	struct sonde_stack_entry *v = NULL;
	size_t count = 0, cap = 0;
	int fd, err = 0;
	void *prev = NULL;

	*entries = NULL;
	*n = 0;
	if (!map)
		return -ENOENT;
	fd = bpf_map__fd(map);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		err = SONDE_GROW(v, cap, count + 1, 1024);
		if (err)
			break;
		v[count].key = next;
		if (!bpf_map_lookup_elem(fd, &next, &v[count].value))
			count++;
		key = next;
		prev = &key;
	}
	/* Deleting while walking would restart the walk: delete after. */
	for (size_t i = 0; clear && i < count; i++)
		bpf_map_delete_elem(fd, &v[i].key);
	for (size_t i = 0; i < count; i++) {
		v[i].user_ips = NULL;
		v[i].n_user_ips = 0;
	}
	sonde_stacks_sort(v, count);
	*entries = v;
	*n = count;
	return err;
}

/* The map holding stack id, and its index there; -1 when there is none. */
static int stack_map_fd(struct bpf_object *obj, __s32 *id)
{
	struct bpf_map *map;

	if (*id < 0)
		return -1;
	if (*id & SONDE_STACK_OVERFLOW_BIT) {
		*id &= ~SONDE_STACK_OVERFLOW_BIT;
		map = bpf_object__find_map_by_name(obj, "sonde_overflow");
	} else {
		map = bpf_object__find_map_by_name(obj, "sonde_stacks");
	}
	return map ? bpf_map__fd(map) : -1;
}

void sonde_stacks_release(struct bpf_object *obj, const struct sonde_stack_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		__s32 ids[] = {entries[i].key.user_stack_id, entries[i].key.kernel_stack_id,
			       entries[i].key.other_user_stack_id,
			       entries[i].key.other_kernel_stack_id};

		for (size_t j = 0; j < 4; j++) {
			int fd = stack_map_fd(obj, &ids[j]);

			if (fd >= 0)
				bpf_map_delete_elem(fd, &ids[j]);
		}
	}
}

/* ---- frames ---- */

struct frame_list {
	struct sonde_frame *v;
	size_t n;
	size_t cap;
};

static void push(struct frame_list *l, const struct sonde_frame *f)
{
	if (SONDE_GROW(l->v, l->cap, l->n + 1, 256))
		return;
	l->v[l->n++] = *f;
}

static void push_marker(struct frame_list *l, const char *what, bool kernel)
{
	push(l, &(struct sonde_frame){.function = what, .kernel = kernel});
}

/* The tracer's own frames on top of a kernel stack taken from a
 * tracepoint: the BPF program and the code that called it. */
static bool tracing_frame(const struct sonde_frame *f)
{
	static const char *const prefixes[] = {
		"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "trace_call_bpf",
		"perf_trace_", "perf_tp_event", "__traceiter_",
	};

	for (size_t i = 0; f->function && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(f->function, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Appends one stack, leaf first; every address gives at least a frame. */
static void add_ips(struct sonde_stack_printer *p, struct frame_list *l, __u32 pid,
		    const uint64_t *ips, size_t n_ips, bool kernel)
{
	struct sonde_frame frames[SONDE_SYM_MAX_FRAMES];
	size_t start = l->n;

	for (size_t i = 0; i < n_ips && ips[i]; i++) {
		size_t n = kernel ? sonde_sym_kernel(p->sym, ips[i], frames, SONDE_SYM_MAX_FRAMES)
				  : sonde_sym_user(p->sym, pid, ips[i], i > 0, frames,
						   SONDE_SYM_MAX_FRAMES);

		if (kernel && l->n == start && tracing_frame(&frames[0]))
			continue;
		for (size_t j = 0; j < n; j++)
			push(l, &frames[j]);
	}
}

/* caller: for the user stack of Go code, the return address found at
 * the stack pointer (0: none). */
static void add_stack(struct sonde_stack_printer *p, struct frame_list *l, __u32 pid,
		      __s32 id, bool kernel, uint64_t caller)
{
	uint64_t ips[SONDE_STACK_DEPTH + 1] = {0};
	int fd;

	if (id == SONDE_STACK_NONE)
		return;
	if (id == -EFAULT) {
		push_marker(l, kernel ? "[missing kernel stack]" : "[missing user stack]", kernel);
		return;
	}
	fd = stack_map_fd(p->obj, &id);
	if (fd < 0 || bpf_map_lookup_elem(fd, &id, ips)) {
		push_marker(l, "[lost stack]", kernel);
		return;
	}
	/* A Go leaf without a frame left the frame pointer to its caller,
	 * whose frame the walk then skipped: the caller's return address
	 * is the one that was at the stack pointer. */
	if (caller && ips[0] && sonde_sym_user_frameless(p->sym, pid, ips[0])) {
		memmove(ips + 2, ips + 1, (SONDE_STACK_DEPTH - 1) * sizeof(*ips));
		ips[1] = caller;
	}
	add_ips(p, l, pid, ips, SONDE_STACK_DEPTH + 1, kernel);
}

void sonde_folded_frame(const char *text, bool kernel, bool inlined, char *buf, size_t size)
{
	char clean[1024];
	size_t len;

	sonde_sanitize(text, strlen(text), clean, sizeof(clean));
	for (char *c = clean; *c; c++)
		if (*c == ';')
			*c = ':';
	len = snprintf(buf, size, "%s", clean);
	if (len < size && kernel)
		snprintf(buf + len, size - len, "_[k]");
	else if (len < size && inlined)
		snprintf(buf + len, size - len, "_[i]");
}

static const char *frame_text(const struct sonde_frame *f, unsigned flags, char *buf, size_t size)
{
	sonde_frame_format(f, flags, buf, size);
	return buf;
}

/* ---- output ---- */

static void format_value(const struct sonde_stack_printer *p, uint64_t total, char *buf, size_t size)
{
	if (p->unit == SONDE_STACK_NS)
		snprintf(buf, size, "%" PRIu64, total / 1000);
	else
		snprintf(buf, size, "%" PRIu64, total);
}

/* The folded line of an entry, without its value: root first. */
static char *folded_text(const struct sonde_stack_entry *e, const struct frame_list *mine,
			 const struct frame_list *other)
{
	char text[1024], part[1024], *line = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&line, &size);

	if (!f)
		return NULL;
	snprintf(part, sizeof(part), "%.16s", e->key.comm);
	sonde_folded_frame(part, false, false, text, sizeof(text));
	fputs(text[0] ? text : "?", f);
	for (size_t i = mine->n; i-- > 0;) {
		sonde_folded_frame(frame_text(&mine->v[i], 0, part, sizeof(part)), mine->v[i].kernel,
				   mine->v[i].inlined, text, sizeof(text));
		fprintf(f, ";%s", text);
	}
	if (other) {
		/* The waker's stack follows leaf first, as offwaketime does, so
		 * both stacks meet at the wakeup in a flame graph. */
		fputs(";--", f);
		for (size_t i = 0; i < other->n; i++) {
			sonde_folded_frame(frame_text(&other->v[i], 0, part, sizeof(part)),
					   other->v[i].kernel, other->v[i].inlined, text, sizeof(text));
			fprintf(f, ";%s", text);
		}
		snprintf(part, sizeof(part), "%.16s", e->key.other_comm);
		sonde_folded_frame(part, false, false, text, sizeof(text));
		fprintf(f, ";%s", text);
	}
	if (fclose(f)) {
		free(line);
		return NULL;
	}
	return line;
}

static void json_frames(struct sonde_json *j, const char *key, const struct frame_list *l)
{
	sonde_json_array_begin(j, key);
	for (size_t i = 0; i < l->n; i++) {
		const struct sonde_frame *f = &l->v[i];

		sonde_json_object_begin(j, NULL);
		if (f->function)
			sonde_json_str(j, "function", f->function);
		else
			sonde_json_null(j, "function");
		if (f->module) {
			sonde_json_u64(j, "offset", f->offset);
			sonde_json_str(j, "module", f->module);
			sonde_json_u64(j, "module_offset", f->module_offset);
		}
		if (f->file) {
			sonde_json_str(j, "file", f->file);
			sonde_json_u64(j, "line", f->line);
		}
		sonde_json_bool(j, "inlined", f->inlined);
		sonde_json_bool(j, "kernel", f->kernel);
		sonde_json_object_end(j);
	}
	sonde_json_array_end(j);
}

static int print_json(struct sonde_stack_printer *p, const struct sonde_stack_entry *e,
		      const struct frame_list *mine, const struct frame_list *other, uint64_t now)
{
	struct sonde_json *j = &p->json;

	sonde_json_begin(j);
	sonde_json_u64(j, "ts_ns", now);
	sonde_json_u64(j, "pid", e->key.pid);
	if (p->show_tid)
		sonde_json_u64(j, "tid", e->key.tid);
	sonde_json_strn(j, "comm", e->key.comm, strnlen(e->key.comm, sizeof(e->key.comm)));
	sonde_json_str(j, "container", e->key.pid ? sonde_container_of_pid(e->key.pid) : "");
	if (p->unit == SONDE_STACK_NS)
		sonde_json_u64(j, "total_ns", e->value.total);
	sonde_json_u64(j, "count", e->value.count);
	json_frames(j, "frames", mine);
	if (other) {
		char key[64];

		snprintf(key, sizeof(key), "%s_pid", p->other);
		sonde_json_u64(j, key, e->key.other_pid);
		snprintf(key, sizeof(key), "%s_comm", p->other);
		sonde_json_strn(j, key, e->key.other_comm, strnlen(e->key.other_comm, 16));
		snprintf(key, sizeof(key), "%s_frames", p->other);
		json_frames(j, key, other);
	}
	return sonde_json_emit(j, p->out);
}

/* Leaf first, " <- " between frames: the top of a table is read from the
 * function that was running. */
static char *stack_cell(const struct frame_list *l)
{
	size_t cap = 256, len = 0;
	char *s = malloc(cap), part[1024];

	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < l->n; i++) {
		int n = sonde_frame_format(&l->v[i], 0, part, sizeof(part));
		/* " <- ", the frame (cut to part's size), "_[k]", the NUL. */
		size_t frame = n < 0 ? 0 : (size_t)n < sizeof(part) ? (size_t)n : sizeof(part) - 1;
		size_t need = len + 4 + frame + 4 + 1;

		if (SONDE_GROW(s, cap, need, 256))
			break;
		len += (size_t)snprintf(s + len, cap - len, "%s%s%s", i ? " <- " : "", part,
					l->v[i].kernel ? "_[k]" : "");
	}
	return s;
}

enum { COL_VALUE, COL_COUNT, COL_PCT, COL_PID, COL_TID, COL_COMM, COL_STACK, N_COLS };

static void table_setup(struct sonde_stack_printer *p, struct sonde_column *cols, int *col_of)
{
	const struct sonde_column all[N_COLS] = {
		[COL_VALUE] = {p->unit == SONDE_STACK_NS ? "TOTAL(us)" : "SAMPLES", 9, false},
		[COL_COUNT] = {"COUNT", 7, false},
		[COL_PCT] = {"PCT", 6, false},
		[COL_PID] = {"PID", 7, false},
		[COL_TID] = {"TID", 7, false},
		[COL_COMM] = {"COMM", 16, true},
		[COL_STACK] = {"STACK", 5, true},
	};
	size_t n = 0;

	for (int c = 0; c < N_COLS; c++) {
		col_of[c] = -1;
		if ((c == COL_COUNT && p->unit != SONDE_STACK_NS) || (c == COL_TID && !p->show_tid))
			continue;
		col_of[c] = n;
		cols[n++] = all[c];
	}
	sonde_table_init(&p->table, cols, n, p->out);
}

static char *table_cell(const struct sonde_stack_printer *p, const struct sonde_stack_entry *e,
			const struct frame_list *mine, const struct frame_list *other)
{
	char *stack = stack_cell(mine), *waker, *joined;

	if (!other || !stack)
		return stack;
	waker = stack_cell(other);
	if (!waker || asprintf(&joined, "%s  [%s %.16s: %s]", stack, p->other, e->key.other_comm,
			       waker) < 0)
		joined = NULL;
	free(stack);
	free(waker);
	return joined;
}

/* Entries whose stacks print the same (return addresses differ within
 * a function) become one row. */
struct row {
	char *text;	/* identity: the folded line, or pid/tid/comm/stack */
	char *cell;	/* table: the STACK cell */
	const struct sonde_stack_entry *e;
	uint64_t total;
	uint64_t count;
};

static int row_by_text(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

static int row_by_total(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->text, y->text);
}

static size_t merge_rows(struct row *rows, size_t n)
{
	size_t kept = 0;

	qsort(rows, n, sizeof(*rows), row_by_text);
	for (size_t i = 0; i < n; i++) {
		if (kept && !strcmp(rows[kept - 1].text, rows[i].text)) {
			rows[kept - 1].total += rows[i].total;
			rows[kept - 1].count += rows[i].count;
			free(rows[i].text);
			free(rows[i].cell);
			continue;
		}
		rows[kept++] = rows[i];
	}
	qsort(rows, kept, sizeof(*rows), row_by_total);
	return kept;
}

static int print_rows(struct sonde_stack_printer *p, struct row *rows, size_t n, uint64_t grand_total)
{
	struct sonde_column cols[N_COLS];
	int col_of[N_COLS], rc = 0;

	if (p->format == SONDE_FMT_TABLE) {
		table_setup(p, cols, col_of);
		sonde_table_header(&p->table);
	}
	for (size_t i = 0; i < n && rc >= 0; i++) {
		const struct sonde_stack_entry *e = rows[i].e;
		char value[32], count[32], pct[16], pid[16], tid[16], comm[17];
		const char *by_col[N_COLS], *cells[N_COLS];

		format_value(p, rows[i].total, value, sizeof(value));
		if (p->format == SONDE_FMT_FOLDED) {
			fprintf(p->out, "%s %s\n", rows[i].text, value);
			rc = ferror(p->out) ? sonde_out_flush(p->out) : 0;
			continue;
		}
		if (p->top && i >= p->top) {
			fprintf(p->out, "(%zu more stacks; --top 0 shows all)\n", n - p->top);
			break;
		}
		snprintf(count, sizeof(count), "%" PRIu64, rows[i].count);
		snprintf(pct, sizeof(pct), "%.1f", grand_total ? 100.0 * rows[i].total / grand_total : 0.0);
		snprintf(pid, sizeof(pid), "%u", e->key.pid);
		snprintf(tid, sizeof(tid), "%u", e->key.tid);
		snprintf(comm, sizeof(comm), "%.16s", e->key.comm);
		by_col[COL_VALUE] = value;
		by_col[COL_COUNT] = count;
		by_col[COL_PCT] = pct;
		by_col[COL_PID] = pid;
		by_col[COL_TID] = tid;
		by_col[COL_COMM] = comm;
		by_col[COL_STACK] = rows[i].cell ? rows[i].cell : "";
		for (int c = 0; c < N_COLS; c++)
			if (col_of[c] >= 0)
				cells[col_of[c]] = by_col[c];
		rc = sonde_table_row(&p->table, cells);
	}
	return rc;
}

int sonde_stacks_print(struct sonde_stack_printer *p, const struct sonde_stack_entry *entries,
		       size_t n)
{
	struct frame_list mine = {0}, other = {0};
	uint64_t grand_total = 0, now = sonde_mono_to_wall_ns(sonde_now_mono_ns());
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	size_t n_rows = 0;
	int rc = 0;
	struct sonde_pprof *pp = NULL;

	if (!rows)
		return -1;
	if (p->format == SONDE_FMT_PPROF &&
	    !(pp = sonde_stacks_pprof_new(p->unit == SONDE_STACK_NS, p->period_ns))) {
		free(rows);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		grand_total += entries[i].value.total;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		const struct sonde_stack_entry *e = &entries[i];
		const struct frame_list *o = NULL;
		struct row *r = &rows[n_rows];

		mine.n = other.n = 0;
		add_stack(p, &mine, e->key.pid, e->key.kernel_stack_id, true, 0);
		if (e->user_ips)
			add_ips(p, &mine, e->key.pid, e->user_ips, e->n_user_ips, false);
		else
			add_stack(p, &mine, e->key.pid, e->key.user_stack_id, false, e->key.user_caller);
		/* Without a waker (e.g. preempted), the entry has none to show. */
		if (p->other && e->key.other_comm[0]) {
			add_stack(p, &other, e->key.other_pid, e->key.other_kernel_stack_id, true, 0);
			add_stack(p, &other, e->key.other_pid, e->key.other_user_stack_id, false, 0);
			o = &other;
		}
		if (p->format == SONDE_FMT_JSON) {
			rc = print_json(p, e, &mine, o, now);
			continue;
		}
		if (pp) {
			char comm[17];
			const int64_t values[2] = {
				p->unit == SONDE_STACK_NS ? (int64_t)e->value.total : (int64_t)e->value.count,
				p->unit == SONDE_STACK_NS ? (int64_t)e->value.count
							  : (int64_t)e->value.count * p->period_ns,
			};

			snprintf(comm, sizeof(comm), "%.16s", e->key.comm);
			rc = sonde_stacks_pprof_add(pp, mine.v, mine.n, e->key.pid, comm, values);
			continue;
		}
		*r = (struct row){.e = e, .total = e->value.total, .count = e->value.count};
		if (p->format == SONDE_FMT_FOLDED) {
			r->text = folded_text(e, &mine, o);
		} else {
			r->cell = table_cell(p, e, &mine, o);
			if (r->cell && asprintf(&r->text, "%u\t%u\t%.16s\t%s", e->key.pid,
						p->show_tid ? e->key.tid : 0, e->key.comm, r->cell) < 0)
				r->text = NULL;
		}
		if (r->text)
			n_rows++;
		else
			free(r->cell);
	}
	free(mine.v);
	free(other.v);
	if (pp) {
		if (rc >= 0)
			rc = sonde_pprof_write(pp, p->out);
		sonde_pprof_free(pp);
	} else if (p->format != SONDE_FMT_JSON && rc >= 0) {
		n_rows = merge_rows(rows, n_rows);
		rc = print_rows(p, rows, n_rows, grand_total);
	}
	for (size_t i = 0; i < n_rows; i++) {
		free(rows[i].text);
		free(rows[i].cell);
	}
	free(rows);
	if (rc >= 0)
		rc = sonde_out_flush(p->out);
	/* Printed: what was kept for processes gone since is not needed. */
	sonde_sym_forget_exited(p->sym);
	return rc < 0 ? -1 : 0;
}

int sonde_stacks_print_all(struct sonde_stack_printer *p, bool clear)
{
	struct sonde_stack_entry *entries, *all;
	size_t n, n_agg = p->agg ? sonde_stack_agg_count(p->agg) : 0;
	int rc;

	if (sonde_stacks_read(p->obj, clear, &entries, &n)) {
		sonde_err("cannot read the stacks: %s", strerror(errno));
		free(entries);
		return -1;
	}
	all = n_agg ? realloc(entries, (n + n_agg) * sizeof(*entries)) : entries;
	if (!all && n + n_agg) {
		sonde_err("out of memory");
		free(entries);
		return -1;
	}
	if (n_agg)
		n += sonde_stack_agg_entries(p->agg, all + n);
	sonde_stacks_sort(all, n);
	rc = sonde_stacks_print(p, all, n);
	if (!clear && p->copies)
		sonde_info(1, "%llu user stacks copied for DWARF unwinding, %llu bytes each on "
			   "average (at most %d)", (unsigned long long)p->copies,
			   (unsigned long long)(p->copied_bytes / p->copies), SONDE_USER_STACK_BYTES);
	if (!clear && p->copies_cut_short)
		sonde_info(1, "%llu copied user stacks ended short of a thread's stack end learned "
			   "earlier: their outermost frames are missing",
			   (unsigned long long)p->copies_cut_short);
	if (clear) {
		sonde_stacks_release(p->obj, all, n);
		if (p->agg)
			sonde_stack_agg_clear(p->agg);
	}
	free(all);
	return rc;
}

void sonde_stack_printer_free(struct sonde_stack_printer *p)
{
	sonde_unwinder_free(p->unwinder);
	sonde_stack_agg_free(p->agg);
	sonde_stack_pending_free(p->pending);
	sonde_mmap_watch_close(p->mmaps);
	p->mmaps = NULL;
	p->unwinder = NULL;
	p->agg = NULL;
	p->pending = NULL;
	sonde_json_free(&p->json);
}

#if defined(__SANITIZE_ADDRESS__)
#define LEAKS_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define LEAKS_CHECKED 1
#endif
#endif

void sonde_stack_printer_end(struct sonde_stack_printer *p)
{
#ifdef LEAKS_CHECKED
	sonde_stack_printer_free(p);
	sonde_symbolizer_free(p->sym);
	p->sym = NULL;
#else
	(void)p;
#endif
}

void sonde_stacks_load_kernel_symbols(struct sonde_stack_printer *p)
{
	if (!sonde_sym_kernel_open(p->sym))
		sonde_err("kernel symbols are hidden (kptr_restrict): kernel frames will be [unknown]");
}

void sonde_stacks_read_ahead(struct sonde_stack_printer *p)
{
	sonde_sym_kernel_read_ahead(p->sym);
}

void sonde_stacks_attach_user(struct sonde_stack_printer *p, const pid_t *pids, size_t n_pids)
{
	for (size_t i = 0; i < n_pids; i++)
		sonde_stacks_prepare(p, pids[i]);
	sonde_stacks_watch_mappings(p);
	if (sonde_sym_prefetch_libc(p->sym, n_pids ? pids[0] : 0))
		sonde_info(1, "reading the C library's debug info ahead, on a thread");
}

void sonde_stacks_prepare(struct sonde_stack_printer *p, uint32_t pid)
{
	sonde_sym_user_prepare(p->sym, pid);
	sonde_stacks_classify(p, pid);
}

int sonde_stacks_on_event(struct sonde_stack_printer *p, const void *data, size_t size)
{
	const struct sonde_stack_new_process *e = data;

	/* Records are told apart by size: a copied stack's is sized for its
	 * copy, the smallest bigger than any other. */
	_Static_assert(SONDE_USER_SAMPLE_SIZE(SONDE_USER_STACK_MIN) > sizeof(struct sonde_stack_ended),
		       "a sample record is the biggest");
	if (size >= SONDE_USER_SAMPLE_SIZE(SONDE_USER_STACK_MIN)) {
		if (p->agg)
			sonde_stacks_add_user_sample(p, data, size);
	} else if (size == sizeof(struct sonde_stack_ended)) {
		if (p->agg)
			sonde_stacks_add_ended(p, data);
	} else if (size >= sizeof(*e)) {
		/* After an exec the cached mappings are the old program's, and
		 * its addresses may overlap the new one's (non-PIE executables
		 * both load at 0x400000): read them again. */
		if (e->exec) {
			sonde_sym_forget(p->sym, e->pid);
			if (p->unwinder)
				sonde_unwinder_forget(p->unwinder, e->pid);
		}
		sonde_stacks_prepare(p, e->pid);
	}
	return 0;
}

/* ---- aggregation in user space ---- */

struct agg_slot {
	bool used;
	uint64_t hash;
	struct sonde_stack_entry e;
	uint64_t *ips;
};

struct sonde_stack_agg {
	struct agg_slot *slots;
	size_t cap;		/* a power of two */
	size_t n;
};

/* Mixes one word into h: a multiply carries its low bits up, the shift
 * brings the high bits back down to the slot index. */
static uint64_t agg_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

/* A word at a time: a block's key and stack are hashed for every block
 * of a copied stack, and byte-wise FNV over them was most of the cost of
 * adding one. */
static uint64_t agg_hash(const struct sonde_stack_key *key, const uint64_t *ips, size_t n)
{
	uint64_t words[sizeof(*key) / sizeof(uint64_t)], h = n;

	_Static_assert(sizeof(*key) % sizeof(uint64_t) == 0, "the key is hashed as whole words");
	memcpy(words, key, sizeof(words));
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		h = agg_mix(h, words[i]);
	for (size_t i = 0; i < n; i++)
		h = agg_mix(h, ips[i]);
	return h;
}

static struct agg_slot *agg_find(struct agg_slot *slots, size_t cap, uint64_t hash,
				 const struct sonde_stack_key *key, const uint64_t *ips, size_t n)
{
	for (size_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct agg_slot *s = &slots[i];

		if (!s->used || (s->hash == hash && s->e.n_user_ips == n &&
				 !memcmp(&s->e.key, key, sizeof(*key)) &&
				 !memcmp(s->ips, ips, n * sizeof(*ips))))
			return s;
	}
}

static int agg_grow(struct sonde_stack_agg *a)
{
	size_t cap = a->cap ? a->cap * 2 : 1024;
	struct agg_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++) {
		struct agg_slot *old = &a->slots[i];

		if (old->used)
			*agg_find(slots, cap, old->hash, &old->e.key, old->ips, old->e.n_user_ips) = *old;
	}
	free(a->slots);
	a->slots = slots;
	a->cap = cap;
	return 0;
}

struct sonde_stack_agg *sonde_stack_agg_new(void)
{
	return calloc(1, sizeof(struct sonde_stack_agg));
}

int sonde_stack_agg_add(struct sonde_stack_agg *a, const struct sonde_stack_key *key,
			const uint64_t *ips, size_t n_ips, uint64_t value)
{
	struct sonde_stack_key k = *key;
	struct agg_slot *s;
	uint64_t hash;

	k.user_stack_id = SONDE_STACK_NONE;
	if ((a->n + 1) * 2 > a->cap && agg_grow(a))
		return -ENOMEM;
	hash = agg_hash(&k, ips, n_ips);
	s = agg_find(a->slots, a->cap, hash, &k, ips, n_ips);
	if (!s->used) {
		s->ips = malloc(n_ips ? n_ips * sizeof(*ips) : 1);
		if (!s->ips)
			return -ENOMEM;
		memcpy(s->ips, ips, n_ips * sizeof(*ips));
		s->used = true;
		s->hash = hash;
		s->e = (struct sonde_stack_entry){.key = k, .user_ips = s->ips, .n_user_ips = n_ips};
		a->n++;
	}
	s->e.value.total += value;
	s->e.value.count++;
	return 0;
}

size_t sonde_stack_agg_count(const struct sonde_stack_agg *a)
{
	return a->n;
}

size_t sonde_stack_agg_entries(const struct sonde_stack_agg *a, struct sonde_stack_entry *out)
{
	size_t n = 0;

	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i].used)
			out[n++] = a->slots[i].e;
	return n;
}

void sonde_stack_agg_clear(struct sonde_stack_agg *a)
{
	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i].used)
			free(a->slots[i].ips);
	if (a->slots)	/* never added to */
		memset(a->slots, 0, a->cap * sizeof(*a->slots));
	a->n = 0;
}

void sonde_stack_agg_free(struct sonde_stack_agg *a)
{
	if (!a)
		return;
	sonde_stack_agg_clear(a);
	free(a->slots);
	free(a);
}

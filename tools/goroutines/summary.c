/* sonde-goroutines' summaries: see summary.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sonde/clock.h>
#include <sonde/grow.h>
#include <sonde/log.h>
#include <sonde/proc_open.h>
#include <sonde/runtime_targets.h>
#include <sonde/sym.h>

#include "goroutines.h"
#include "summary.h"

/* Goroutines read from the map per system call. */
#define GOROUTINE_BATCH 4096
/* A site whose live count grew at this many summaries in a row leaks. */
#define GROWTH_INTERVALS 3

struct site_growth {
	uint64_t gopc, startpc;
	uint64_t live;
	unsigned streak;	/* consecutive summaries it grew at */
};

/* One creation site of one process, gathered from the maps. */
struct site_row {
	uint32_t tgid;
	uint64_t gopc, startpc;
	uint64_t live, created, exited;
	uint64_t oldest_ns;	/* creation of the oldest live one; 0: none live */
	uint64_t over_age;	/* live ones older than --leak-age */
	unsigned streak;
};

struct rows {
	struct site_row *v;
	size_t n, cap;
};

void summary_init(struct summary *s, struct bpf_object *obj, struct sonde_symbolizer *sym,
		  const struct sonde_args *args, uint64_t leak_age_ns)
{
	s->obj = obj;
	s->sym = sym;
	s->args = args;
	s->leak_age_ns = leak_age_ns;
}

void summary_started(struct summary *s, uint64_t now_ns)
{
	s->start_ns = now_ns;
	for (size_t i = 0; i < s->n_procs; i++)
		s->procs[i].last_ns = now_ns;
}

static int map_fd(const struct summary *s, const char *name)
{
	return bpf_map__fd(bpf_object__find_map_by_name(s->obj, name));
}

static struct proc_state *find_process(struct summary *s, pid_t pid)
{
	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

struct proc_state *summary_process(struct summary *s, pid_t pid)
{
	struct proc_state *p = find_process(s, pid);

	if (p)
		return p;
	if (SONDE_GROW(s->procs, s->cap_procs, s->n_procs + 1, 16))
		return NULL;
	p = &s->procs[s->n_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->baseline = BASELINE_COMPLETE;
	p->last_ns = s->start_ns ? s->start_ns : sonde_now_mono_ns();
	sonde_comm_of(pid, p->comm);
	/* Its addresses must still resolve once it has exited. */
	sonde_sym_user_prepare(s->sym, pid);
	return p;
}

/* Deletes every key of a map whose leading u32 is tgid: collected
 * first, as deleting the key a walk stands on restarts it. */
static void purge_map(int fd, size_t key_size, uint32_t tgid)
{
	uint8_t key[32], *doomed = NULL;
	size_t n = 0, cap = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : key, key)) {
		first = false;
		if (*(uint32_t *)key != tgid)
			continue;
		doomed = sonde_grow(doomed, &cap, n + 1, key_size, 64);
		if (cap == n)
			break;
		memcpy(doomed + n++ * key_size, key, key_size);
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, doomed + i * key_size);
	free(doomed);
}

void summary_forget(struct summary *s, pid_t pid)
{
	struct proc_state *p = find_process(s, pid);
	uint32_t tgid = (uint32_t)pid;
	struct proc_counts c;

	/* Most programs that start are no traced Go process. */
	if (!p && bpf_map_lookup_elem(map_fd(s, "procs"), &tgid, &c))
		return;

	purge_map(map_fd(s, "goroutines"), sizeof(struct goroutine_key), (uint32_t)pid);
	purge_map(map_fd(s, "sites"), sizeof(struct site_key), (uint32_t)pid);
	purge_map(map_fd(s, "procs"), sizeof(uint32_t), (uint32_t)pid);
	sonde_sym_forget(s->sym, pid);
	if (!p)
		return;
	free(p->growth);
	*p = s->procs[--s->n_procs];
}

/* ---- gathering ---- */

static struct site_row *add_row(struct rows *r, uint32_t tgid, uint64_t gopc, uint64_t startpc)
{
	if (SONDE_GROW(r->v, r->cap, r->n + 1, 256))
		return NULL;
	r->v[r->n] = (struct site_row){.tgid = tgid, .gopc = gopc, .startpc = startpc};
	return &r->v[r->n++];
}

static int by_site(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->gopc != y->gopc)
		return x->gopc < y->gopc ? -1 : 1;
	if (x->startpc != y->startpc)
		return x->startpc < y->startpc ? -1 : 1;
	return 0;
}

/* Rows of the same site merged into one. */
static void merge_rows(struct rows *r)
{
	size_t out = 0;

	qsort(r->v, r->n, sizeof(*r->v), by_site);
	for (size_t i = 0; i < r->n; i++) {
		struct site_row *d = out ? &r->v[out - 1] : NULL;

		if (!d || by_site(d, &r->v[i])) {
			r->v[out++] = r->v[i];
			continue;
		}
		d->live += r->v[i].live;
		d->created += r->v[i].created;
		d->exited += r->v[i].exited;
		d->over_age += r->v[i].over_age;
		if (r->v[i].oldest_ns && (!d->oldest_ns || r->v[i].oldest_ns < d->oldest_ns))
			d->oldest_ns = r->v[i].oldest_ns;
	}
	r->n = out;
}

static int gather(struct summary *s, struct rows *r, uint64_t now)
{
	int sites_fd = map_fd(s, "sites"), gs_fd = map_fd(s, "goroutines");
	static struct goroutine_key batch_keys[GOROUTINE_BATCH];
	static struct goroutine batch_values[GOROUTINE_BATCH];
	struct site_key sk, *prev_sk = NULL;
	__u32 token = 0;

	/* Never NULL, even with no rows: slices of it are taken. */
	r->cap = 256;
	r->v = malloc(r->cap * sizeof(*r->v));
	if (!r->v)
		return -ENOMEM;
	while (!bpf_map_get_next_key(sites_fd, prev_sk, &sk)) {
		struct site_counts c;
		struct site_row *row;

		prev_sk = &sk;
		if (bpf_map_lookup_elem(sites_fd, &sk, &c))
			continue;
		row = add_row(r, sk.tgid, sk.gopc, sk.startpc);
		if (!row)
			return -ENOMEM;
		row->created = c.created;
		row->exited = c.exited;
	}
	/* The goroutine map may hold millions: read in batches, one system
	 * call per batch rather than two per goroutine. */
	for (bool first = true, more = true; more; first = false) {
		__u32 n = GOROUTINE_BATCH;
		int err = bpf_map_lookup_batch(gs_fd, first ? NULL : &token, &token, batch_keys,
					       batch_values, &n, NULL);

		more = !err;
		if (err && errno != ENOENT)
			return -errno;
		for (__u32 i = 0; i < n; i++) {
			const struct goroutine *g = &batch_values[i];
			struct site_row *row = add_row(r, batch_keys[i].tgid, g->gopc, g->startpc);
			/* One that predates sonde counts from when it attached. */
			uint64_t born = g->created_ns ? g->created_ns : s->start_ns;

			if (!row)
				return -ENOMEM;
			row->live = 1;
			row->oldest_ns = born ? born : 1;
			row->over_age = s->leak_age_ns && now > born && now - born > s->leak_age_ns;
		}
	}
	merge_rows(r);
	return 0;
}

/* Live counts per site compared with the previous summary's. */
static void track_growth(struct proc_state *p, struct site_row *rows, size_t n)
{
	struct site_growth *g = calloc(n ? n : 1, sizeof(*g));

	if (!g)
		return;
	for (size_t i = 0; i < n; i++) {
		g[i] = (struct site_growth){rows[i].gopc, rows[i].startpc, rows[i].live, 0};
		for (size_t j = 0; j < p->n_growth; j++) {
			if (p->growth[j].gopc != rows[i].gopc || p->growth[j].startpc != rows[i].startpc)
				continue;
			if (rows[i].live > p->growth[j].live)
				g[i].streak = p->growth[j].streak + 1;
			break;
		}
		rows[i].streak = g[i].streak;
	}
	free(p->growth);
	p->growth = g;
	p->n_growth = n;
}

/* ---- printing ---- */

/* "main.serve (/src/server.go:42)": where the go statement is. */
static void site_name(struct summary *s, pid_t pid, uint64_t gopc, char *buf, size_t size)
{
	struct sonde_frame f[SONDE_SYM_MAX_FRAMES];

	if (!gopc) {
		snprintf(buf, size, "-");
		return;
	}
	sonde_sym_user(s->sym, pid, gopc, true, f, SONDE_SYM_MAX_FRAMES);
	sonde_frame_format(&f[0], SONDE_FRAME_LINE, buf, size);
}

/* The goroutine's function: the one whose entry startpc is. */
static void start_name(struct summary *s, pid_t pid, uint64_t startpc, char *buf, size_t size)
{
	struct sonde_frame f[SONDE_SYM_MAX_FRAMES];
	size_t n;

	if (!startpc) {
		snprintf(buf, size, "-");
		return;
	}
	n = sonde_sym_user(s->sym, pid, startpc, false, f, SONDE_SYM_MAX_FRAMES);
	sonde_frame_format(&f[n - 1], 0, buf, size);
}

enum { COL_PID, COL_COMM, COL_LIVE, COL_CREATED, COL_EXITED, COL_CREATE_RATE, COL_EXIT_RATE,
       COL_OLDEST, COL_SITE, COL_START, N_COLS };

static const struct sonde_column columns[N_COLS] = {
	[COL_PID] = {"PID", 7, false},
	[COL_COMM] = {"COMM", 16, true},
	[COL_LIVE] = {"LIVE", 8, false},
	[COL_CREATED] = {"CREATED", 8, false},
	[COL_EXITED] = {"EXITED", 8, false},
	[COL_CREATE_RATE] = {"CREATED/s", 9, false},
	[COL_EXIT_RATE] = {"EXITED/s", 9, false},
	[COL_OLDEST] = {"OLDEST(s)", 9, false},
	[COL_SITE] = {"SITE", 40, true},
	[COL_START] = {"START", 0, true},
};

enum { LEAK_PID, LEAK_COMM, LEAK_KIND, LEAK_COUNT, LEAK_OLDEST, LEAK_SITE, LEAK_START,
       N_LEAK_COLS };

static const struct sonde_column leak_columns[N_LEAK_COLS] = {
	[LEAK_PID] = {"PID", 7, false},
	[LEAK_COMM] = {"COMM", 16, true},
	[LEAK_KIND] = {"LEAK", 7, true},
	[LEAK_COUNT] = {"COUNT", 8, false},
	[LEAK_OLDEST] = {"OLDEST(s)", 9, false},
	[LEAK_SITE] = {"SITE", 40, true},
	[LEAK_START] = {"START", 0, true},
};

struct proc_totals {
	uint64_t live, created, exited;
};

static int print_process_table(struct summary *s, struct proc_state *p,
			       const struct proc_totals *tot, struct site_row *rows, size_t n,
			       uint64_t now)
{
	char pid[16], live[32], created[32], exited[32], crate[32], erate[32], oldest[32];
	char site[512], start[256];
	const char *cells[N_COLS];
	double secs = (now - p->last_ns) / 1e9;
	uint64_t oldest_ns = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].oldest_ns && (!oldest_ns || rows[i].oldest_ns < oldest_ns))
			oldest_ns = rows[i].oldest_ns;
	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	snprintf(live, sizeof(live), "%s%llu", p->baseline == BASELINE_UNKNOWN ? ">=" : "",
		 (unsigned long long)tot->live);
	snprintf(created, sizeof(created), "%llu", (unsigned long long)tot->created);
	snprintf(exited, sizeof(exited), "%llu", (unsigned long long)tot->exited);
	snprintf(crate, sizeof(crate), "%.1f", secs > 0 ? (tot->created - p->last_created) / secs : 0);
	snprintf(erate, sizeof(erate), "%.1f", secs > 0 ? (tot->exited - p->last_exited) / secs : 0);
	if (oldest_ns)
		snprintf(oldest, sizeof(oldest), "%.1f", (now - oldest_ns) / 1e9);
	else
		snprintf(oldest, sizeof(oldest), "-");
	cells[COL_PID] = pid;
	cells[COL_COMM] = p->comm;
	cells[COL_LIVE] = live;
	cells[COL_CREATED] = created;
	cells[COL_EXITED] = exited;
	cells[COL_CREATE_RATE] = crate;
	cells[COL_EXIT_RATE] = erate;
	cells[COL_OLDEST] = oldest;
	cells[COL_SITE] = "(all)";
	cells[COL_START] = "-";
	if (sonde_table_row(&s->table, cells) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(live, sizeof(live), "%llu", (unsigned long long)rows[i].live);
		snprintf(created, sizeof(created), "%llu", (unsigned long long)rows[i].created);
		snprintf(exited, sizeof(exited), "%llu", (unsigned long long)rows[i].exited);
		if (rows[i].oldest_ns)
			snprintf(oldest, sizeof(oldest), "%.1f", (now - rows[i].oldest_ns) / 1e9);
		else
			snprintf(oldest, sizeof(oldest), "-");
		site_name(s, p->pid, rows[i].gopc, site, sizeof(site));
		start_name(s, p->pid, rows[i].startpc, start, sizeof(start));
		cells[COL_CREATE_RATE] = "-";
		cells[COL_EXIT_RATE] = "-";
		cells[COL_SITE] = site;
		cells[COL_START] = start;
		if (sonde_table_row(&s->table, cells) < 0)
			return -1;
	}
	return 0;
}

static int print_process_json(struct summary *s, struct proc_state *p,
			      const struct proc_totals *tot, struct site_row *rows, size_t n,
			      uint64_t now)
{
	struct sonde_json *j = &s->json;
	char site[512], start[256];

	sonde_json_begin(j);
	sonde_json_u64(j, "pid", (uint64_t)p->pid);
	sonde_json_strn(j, "comm", p->comm, strnlen(p->comm, sizeof(p->comm)));
	if (p->baseline == BASELINE_UNKNOWN)
		sonde_json_null(j, "live");
	else
		sonde_json_u64(j, "live", tot->live);
	sonde_json_u64(j, "created", tot->created);
	sonde_json_u64(j, "exited", tot->exited);
	sonde_json_array_begin(j, "sites");
	for (size_t i = 0; i < n; i++) {
		site_name(s, p->pid, rows[i].gopc, site, sizeof(site));
		start_name(s, p->pid, rows[i].startpc, start, sizeof(start));
		sonde_json_object_begin(j, NULL);
		sonde_json_str(j, "site", site);
		sonde_json_str(j, "start", start);
		sonde_json_u64(j, "live", rows[i].live);
		sonde_json_u64(j, "created", rows[i].created);
		if (rows[i].oldest_ns)
			sonde_json_u64(j, "oldest_age_ns", now - rows[i].oldest_ns);
		else
			sonde_json_null(j, "oldest_age_ns");
		sonde_json_object_end(j);
	}
	sonde_json_array_end(j);
	return sonde_json_emit(j, stdout);
}

/* One leak finding, as a row of the leak table or a JSON line. */
static int print_leak(struct summary *s, struct sonde_table *t, struct proc_state *p,
		      const struct site_row *r, const char *start, const char *kind,
		      uint64_t count, uint64_t now)
{
	char pid[16], cnt[32], oldest[32], site[512];
	const char *cells[N_LEAK_COLS];

	site_name(s, p->pid, r->gopc, site, sizeof(site));
	if (s->args->format == SONDE_FMT_JSON) {
		sonde_json_begin(&s->json);
		sonde_json_u64(&s->json, "pid", (uint64_t)p->pid);
		sonde_json_strn(&s->json, "comm", p->comm, strnlen(p->comm, sizeof(p->comm)));
		sonde_json_str(&s->json, "leak", kind);
		sonde_json_str(&s->json, "site", site);
		sonde_json_str(&s->json, "start", start);
		sonde_json_u64(&s->json, "count", count);
		sonde_json_u64(&s->json, "oldest_age_ns", now - r->oldest_ns);
		return sonde_json_emit(&s->json, stdout);
	}
	if (!t->header_done)
		printf("\npossible leaks:\n");
	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)count);
	snprintf(oldest, sizeof(oldest), "%.1f", (now - r->oldest_ns) / 1e9);
	cells[LEAK_PID] = pid;
	cells[LEAK_COMM] = p->comm;
	cells[LEAK_KIND] = kind;
	cells[LEAK_COUNT] = cnt;
	cells[LEAK_OLDEST] = oldest;
	cells[LEAK_SITE] = site;
	cells[LEAK_START] = start;
	return sonde_table_row(t, cells);
}

/* The runtime's own goroutines (the main one, the finalizer, sweeper,
 * scavenger, forced-GC helper...) live as long as the program by design:
 * no leak. Go's traceback tells them apart the same way, by package. */
static bool runtime_goroutine(const char *start)
{
	return !strncmp(start, "runtime.", 8);
}

/* Sites that hold goroutines past --leak-age, and sites that grew at
 * GROWTH_INTERVALS summaries in a row. */
static int print_leaks(struct summary *s, struct site_row *rows, size_t n, uint64_t now)
{
	struct sonde_table t;
	int rc = 0;

	sonde_table_init(&t, leak_columns, N_LEAK_COLS, stdout);
	for (size_t i = 0; i < n && !rc; i++) {
		struct proc_state *p = find_process(s, (pid_t)rows[i].tgid);
		bool growing = rows[i].streak >= GROWTH_INTERVALS;
		char start[256];

		if (!p || !rows[i].live || (!rows[i].over_age && !growing))
			continue;
		start_name(s, p->pid, rows[i].startpc, start, sizeof(start));
		if (runtime_goroutine(start))
			continue;
		if (rows[i].over_age)
			rc = print_leak(s, &t, p, &rows[i], start, "age", rows[i].over_age, now);
		if (!rc && growing)
			rc = print_leak(s, &t, p, &rows[i], start, "growing", rows[i].live, now);
	}
	return rc;
}

/* Site rows of one process in display order: most live first. */
static int by_live(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	if (x->live != y->live)
		return x->live > y->live ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return by_site(a, b);
}

static void process_totals(struct summary *s, struct proc_state *p, const struct site_row *rows,
			   size_t n, struct proc_totals *tot)
{
	struct proc_counts c = {0};
	uint32_t tgid = (uint32_t)p->pid;

	bpf_map_lookup_elem(map_fd(s, "procs"), &tgid, &c);
	memset(tot, 0, sizeof(*tot));
	for (size_t i = 0; i < n; i++)
		tot->live += rows[i].live;
	tot->created = c.created;
	tot->exited = c.exited;
}

int summary_print(struct summary *s, bool final)
{
	uint64_t now = sonde_now_mono_ns();
	struct rows r = {0};
	char when[16];
	int rc = 0;

	if (gather(s, &r, now)) {
		free(r.v);
		sonde_err("cannot read the goroutine maps: out of memory");
		return -1;
	}
	/* Processes the probes saw that nothing announced: started later. */
	for (size_t i = 0; i < r.n; i++)
		summary_process(s, (pid_t)r.v[i].tgid);
	if (s->args->format == SONDE_FMT_TABLE) {
		if (s->args->interval_ns) {
			sonde_format_clock(sonde_mono_to_wall_ns(now), when);
			printf("\n%s\n", when);
		}
		if (!s->n_procs)
			printf("no goroutines seen\n");
		sonde_table_init(&s->table, columns, N_COLS, stdout);
	}
	for (size_t i = 0; i < s->n_procs && !rc; i++) {
		struct proc_state *p = &s->procs[i];
		size_t first = 0, n = 0;
		struct proc_totals tot;

		while (first < r.n && r.v[first].tgid < (uint32_t)p->pid)
			first++;
		while (first + n < r.n && r.v[first + n].tgid == (uint32_t)p->pid)
			n++;
		track_growth(p, r.v + first, n);
		process_totals(s, p, r.v + first, n, &tot);
		qsort(r.v + first, n, sizeof(*r.v), by_live);
		rc = s->args->format == SONDE_FMT_JSON
			     ? print_process_json(s, p, &tot, r.v + first, n, now)
			     : print_process_table(s, p, &tot, r.v + first, n, now);
		p->last_created = tot.created;
		p->last_exited = tot.exited;
		p->last_ns = now;
		qsort(r.v + first, n, sizeof(*r.v), by_site);
	}
	if (!rc)
		rc = print_leaks(s, r.v, r.n, now);
	free(r.v);
	if (!rc)
		rc = sonde_out_flush(stdout);
	/* Processes gone have had their last summary. */
	for (size_t i = 0; !final && i < s->n_procs;) {
		if (kill(s->procs[i].pid, 0) && errno == ESRCH)
			summary_forget(s, s->procs[i].pid);
		else
			i++;
	}
	return rc;
}

void summary_free(struct summary *s)
{
	for (size_t i = 0; i < s->n_procs; i++)
		free(s->procs[i].growth);
	free(s->procs);
	sonde_json_free(&s->json);
}

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sonde/caps.h"
#include "sonde/core_btf.h"
#include "sonde/heap_prefault.h"
#include "sonde/detach.h"
#include "sonde/features.h"
#include "sonde/log.h"
#include "sonde/maps_early.h"
#include "sonde/out.h"
#include "sonde/session.h"
#include "sonde/target.h"
#include "../bpf/sonde_events.h"
#include "../bpf/sonde_stats.h"

#define MAX_LINKS 256

struct sonde_session {
	const struct sonde_session_config *cfg;
	/* chosen alternative per probe, -1 when none */
	int chosen[64];
	struct bpf_link *links[MAX_LINKS];
	size_t n_links;
	struct ring_buffer *rb;
	/* Its events may come without a wakeup for SONDE_EVENT_WAKE_NS. */
	bool rb_timed;
	bool events_read;	/* the last read of rb found events */
	int epfd;
	int sigfd;
	int interval_fd;
	int deadline_fd;
	int tick_fd;
	int *pidfds;
	size_t live_targets;
	bool loaded;
	unsigned features_said;	/* bits of enum sonde_feature said with -v */
	bool stop;
	int status;
};

static const char *const kind_names[] = {
	[SONDE_ATTACH_NONE] = "none",
	[SONDE_ATTACH_FENTRY] = "fentry",
	[SONDE_ATTACH_FEXIT] = "fexit",
	[SONDE_ATTACH_KPROBE] = "kprobe",
	[SONDE_ATTACH_KRETPROBE] = "kretprobe",
	[SONDE_ATTACH_TP_BTF] = "tp_btf",
	[SONDE_ATTACH_RAW_TP] = "raw_tp",
	[SONDE_ATTACH_TRACEPOINT] = "tracepoint",
};

const char *sonde_attach_kind_name(enum sonde_attach_kind kind)
{
	return kind <= SONDE_ATTACH_TRACEPOINT ? kind_names[kind] : "?";
}

enum sonde_attach_kind sonde_attach_kind_parse(const char *name)
{
	for (int k = SONDE_ATTACH_FENTRY; k <= SONDE_ATTACH_TRACEPOINT; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return SONDE_ATTACH_NONE;
}

static enum sonde_feature kind_feature(enum sonde_attach_kind kind)
{
	switch (kind) {
	case SONDE_ATTACH_FENTRY:
	case SONDE_ATTACH_FEXIT:
		return SONDE_FEAT_FENTRY;
	case SONDE_ATTACH_KPROBE:
	case SONDE_ATTACH_KRETPROBE:
		return SONDE_FEAT_KPROBE;
	case SONDE_ATTACH_TP_BTF:
		return SONDE_FEAT_TP_BTF;
	case SONDE_ATTACH_RAW_TP:
		return SONDE_FEAT_RAW_TP;
	case SONDE_ATTACH_TRACEPOINT:
	case SONDE_ATTACH_NONE:
		break;
	}
	return SONDE_FEAT_TRACEPOINT;
}

bool sonde_alt_supported(const struct sonde_probe_alt *alt, char *why, size_t size)
{
	enum sonde_feature feat = kind_feature(alt->kind);
	bool exists;

	if (!sonde_feature_has(feat)) {
		snprintf(why, size, "%s", sonde_feature_reason(feat));
		return false;
	}
	switch (alt->kind) {
	case SONDE_ATTACH_FENTRY:
	case SONDE_ATTACH_FEXIT:
		exists = sonde_kernel_has_btf_func(alt->target);
		break;
	case SONDE_ATTACH_KPROBE:
	case SONDE_ATTACH_KRETPROBE:
		exists = sonde_kernel_has_ksym(alt->target);
		break;
	default:
		exists = sonde_kernel_has_tracepoint(alt->target);
		break;
	}
	if (!exists)
		snprintf(why, size, "%s is not in this kernel", alt->target);
	return exists;
}

/* ---- choosing ---- */

static bool kernel_check(const struct sonde_probe_alt *alt, char *why, size_t size, void *ctx)
{
	const char *probe = ctx;
	bool ok = sonde_alt_supported(alt, why, size);

	if (ok)
		sonde_info(1, "%s: using %s %s", probe, sonde_attach_kind_name(alt->kind), alt->target);
	else
		sonde_info(1, "%s: not %s: %s", probe, sonde_attach_kind_name(alt->kind), why);
	return ok;
}

static int choose(struct sonde_session *s)
{
	const struct sonde_session_config *cfg = s->cfg;
	enum sonde_attach_kind forced = cfg->args->attach;
	bool forced_offered = false, forced_used = false;

	/* A method no probe offers is refused before anything is probed. */
	for (size_t p = 0; forced && p < cfg->n_probes; p++)
		forced_offered |= sonde_probe_has_kind(&cfg->probes[p], forced);
	if (forced && !forced_offered) {
		sonde_err("this tool has no %s probes (see -v for what it uses)", kind_names[forced]);
		return SONDE_EXIT_UNSUPPORTED;
	}
	for (size_t p = 0; p < cfg->n_probes; p++) {
		const struct sonde_probe *probe = &cfg->probes[p];
		bool has_forced = forced && sonde_probe_has_kind(probe, forced);
		char reasons[768] = "";

		if (probe->covers_previous && (p == 0 || s->chosen[p - 1] < 0)) {
			s->chosen[p] = -1;
			sonde_info(1, "%s: skipped: what it covers is not attached", probe->name);
			continue;
		}
		s->chosen[p] = sonde_choose_alt(probe, forced, kernel_check, (void *)probe->name,
						reasons, sizeof(reasons));
		if (s->chosen[p] >= 0) {
			forced_used |= has_forced;
			continue;
		}
		if (probe->optional) {
			sonde_info(1, "%s: skipped (optional): %s", probe->name, reasons);
			continue;
		}
		if (has_forced)
			sonde_err("cannot attach %s with %s: %s", probe->name, kind_names[forced], reasons);
		else
			sonde_err("cannot trace %s on this kernel: %s", probe->name, reasons);
		return SONDE_EXIT_UNSUPPORTED;
	}
	/* Offered only by optional probes this kernel cannot serve. */
	if (forced && !forced_used) {
		sonde_err("no probe of this tool can attach with %s here (see -v)", kind_names[forced]);
		return SONDE_EXIT_UNSUPPORTED;
	}
	return 0;
}

static const struct sonde_probe_alt *chosen_alt(const struct sonde_session *s, size_t p)
{
	return s->chosen[p] >= 0 ? &s->cfg->probes[p].alts[s->chosen[p]] : NULL;
}

/* Whether libbpf will parse the kernel's BTF to find attach points. */
static bool needs_kernel_btf(const struct sonde_session *s)
{
	for (size_t p = 0; p < s->cfg->n_probes; p++) {
		const struct sonde_probe_alt *alt = chosen_alt(s, p);

		if (alt && (alt->kind == SONDE_ATTACH_TP_BTF || alt->kind == SONDE_ATTACH_FENTRY ||
			    alt->kind == SONDE_ATTACH_FEXIT))
			return true;
	}
	return false;
}

enum sonde_attach_kind sonde_session_chosen(const struct sonde_session *s, const char *name)
{
	for (size_t p = 0; p < s->cfg->n_probes; p++) {
		const struct sonde_probe_alt *alt = chosen_alt(s, p);

		if (!strcmp(s->cfg->probes[p].name, name))
			return alt ? alt->kind : SONDE_ATTACH_NONE;
	}
	return SONDE_ATTACH_NONE;
}

/* Only chosen programs are loaded: the others may not even verify here. */
static int set_autoload(struct sonde_session *s)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->cfg->obj)
		bpf_program__set_autoload(prog, false);
	for (const char *const *extra = s->cfg->extra_progs; extra && *extra; extra++) {
		prog = bpf_object__find_program_by_name(s->cfg->obj, *extra);
		if (!prog) {
			sonde_err("internal error: no BPF program %s", *extra);
			return SONDE_EXIT_RUNTIME;
		}
		bpf_program__set_autoload(prog, true);
	}
	for (size_t p = 0; p < s->cfg->n_probes; p++) {
		const struct sonde_probe_alt *alt = chosen_alt(s, p);
		const char *slash;

		if (!alt)
			continue;
		prog = bpf_object__find_program_by_name(s->cfg->obj, alt->prog);
		if (!prog) {
			sonde_err("internal error: no BPF program %s", alt->prog);
			return SONDE_EXIT_RUNTIME;
		}
		bpf_program__set_autoload(prog, true);
		slash = strchr(alt->target, '/');
		if (alt->kind == SONDE_ATTACH_TP_BTF)
			bpf_program__set_attach_target(prog, 0, slash ? slash + 1 : alt->target);
		else if (alt->kind == SONDE_ATTACH_FENTRY || alt->kind == SONDE_ATTACH_FEXIT)
			bpf_program__set_attach_target(prog, 0, alt->target);
	}
	return 0;
}

/* ---- attaching ---- */

int sonde_session_add_link(struct sonde_session *s, struct bpf_link *link)
{
	if (s->n_links == MAX_LINKS) {
		bpf_link__destroy(link);
		return -ENOSPC;
	}
	s->links[s->n_links++] = link;
	return 0;
}

static struct bpf_link *attach_alt(struct bpf_program *prog, const struct sonde_probe_alt *alt)
{
	char cat[128];
	const char *slash = strchr(alt->target, '/');

	switch (alt->kind) {
	case SONDE_ATTACH_KPROBE:
	case SONDE_ATTACH_KRETPROBE:
		return bpf_program__attach_kprobe(prog, alt->kind == SONDE_ATTACH_KRETPROBE, alt->target);
	case SONDE_ATTACH_RAW_TP:
		return bpf_program__attach_raw_tracepoint(prog, slash ? slash + 1 : alt->target);
	case SONDE_ATTACH_TRACEPOINT:
		if (!slash || (size_t)(slash - alt->target) >= sizeof(cat)) {
			errno = EINVAL;
			return NULL;
		}
		memcpy(cat, alt->target, slash - alt->target);
		cat[slash - alt->target] = 0;
		return bpf_program__attach_tracepoint(prog, cat, slash + 1);
	default:
		return bpf_program__attach_trace(prog);
	}
}

static int attach_all(struct sonde_session *s)
{
	const struct sonde_session_config *cfg = s->cfg;
	int err;

	if (cfg->attach_extra) {
		err = cfg->attach_extra(s, cfg->ctx);
		if (err)
			return err;
	}
	for (size_t p = 0; p < cfg->n_probes; p++) {
		const struct sonde_probe_alt *alt = chosen_alt(s, p);
		struct bpf_program *prog;
		struct bpf_link *link;

		if (!alt)
			continue;
		prog = bpf_object__find_program_by_name(cfg->obj, alt->prog);
		link = attach_alt(prog, alt);
		if (!link) {
			err = errno;
			sonde_err("cannot attach %s (%s %s): %s", cfg->probes[p].name,
				  kind_names[alt->kind], alt->target, strerror(err));
			return err == EPERM || err == EACCES ? SONDE_EXIT_PRIVILEGE : SONDE_EXIT_RUNTIME;
		}
		sonde_session_add_link(s, link);
		sonde_info(2, "attached %s to %s %s", alt->prog, kind_names[alt->kind], alt->target);
	}
	return 0;
}

/* Links whose detach waits on the kernel are handed to a child process
 * (lib/detach.c), so the tool's exit does not wait for them. */
static void detach_all(struct sonde_session *s)
{
	pid_t pid = sonde_detach_links(s->links, s->n_links, true);

	if (pid)
		sonde_info(1, "detaching in the background (pid %d): the probes stay attached until it ends",
			   (int)pid);
	s->n_links = 0;
}

/* ---- stats ---- */

uint64_t sonde_session_stat(const struct sonde_session *s, unsigned stat)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->cfg->obj, "sonde_stats");
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;
	__u32 key = stat;

	if (!map || ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (vals && !bpf_map__lookup_elem(map, &key, sizeof(key), vals, ncpu * sizeof(*vals), 0))
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* Whether the program is one of a covering probe's (covers_previous). */
static bool is_cover(const struct sonde_session_config *cfg, const char *prog)
{
	for (size_t p = 0; p < cfg->n_probes; p++)
		for (size_t a = 0; cfg->probes[p].covers_previous && a < SONDE_MAX_ALTS; a++)
			if (cfg->probes[p].alts[a].prog && !strcmp(cfg->probes[p].alts[a].prog, prog))
				return true;
	return false;
}

/* Runs the kernel skipped because a BPF program was already running on
 * that CPU (classic tracepoints share one such guard with map syscalls),
 * but for those a cover program did instead (SONDE_STAT_COVERED). A
 * cover's own misses lose nothing: it is skipped only while it runs
 * already, after the main program's run for that change has ended, so
 * the main program runs for the change that nests there. */
static uint64_t recursion_misses(struct sonde_session *s, uint64_t covered)
{
	struct bpf_program *prog;
	uint64_t misses = 0;

	bpf_object__for_each_program(prog, s->cfg->obj) {
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (is_cover(s->cfg, bpf_program__name(prog)))
			continue;
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			misses += info.recursion_misses;
	}
	return misses > covered ? misses - covered : 0;
}

/* Returns true if anything was lost. */
static bool report_losses(struct sonde_session *s)
{
	uint64_t covered = sonde_session_stat(s, SONDE_STAT_COVERED);
	uint64_t skipped = recursion_misses(s, covered);
	uint64_t lost = sonde_session_stat(s, SONDE_STAT_LOST_EVENTS);
	uint64_t full = sonde_session_stat(s, SONDE_STAT_MAP_FULL);
	uint64_t stacks = sonde_session_stat(s, SONDE_STAT_STACK_LOST);

	if (covered)
		sonde_info(1, "%llu runs the kernel skipped (the program was already running on that CPU) were done by a second program",
			   (unsigned long long)covered);
	if (skipped)
		sonde_err("missed %llu events: the kernel skipped the BPF program while another was running on that CPU",
			  (unsigned long long)skipped);
	if (lost)
		sonde_err("lost %llu events: the ring buffer was full (user space fell behind)",
			  (unsigned long long)lost);
	if (full)
		sonde_err("missed %llu items: a tracking map was full", (unsigned long long)full);
	if (stacks)
		sonde_err("lost %llu stacks: the stack maps were full or several stacks shared a bucket (shown as [lost stack])",
			  (unsigned long long)stacks);
	return skipped || lost || full || stacks;
}

/* The tool's own counters; returns true if one that counts losses is not
 * zero. */
static bool report_tool_stats(struct sonde_session *s)
{
	bool lost = false;

	for (size_t i = 0; i < s->cfg->n_stats; i++) {
		const struct sonde_stat_name *stat = &s->cfg->stats[i];
		uint64_t n = sonde_session_stat(s, stat->slot);

		if (!n)
			continue;
		sonde_err("%llu %s", (unsigned long long)n, stat->what);
		lost |= stat->lost;
	}
	return lost;
}

/* A slot outside the tool's part of the map would read another counter. */
static bool tool_stats_valid(const struct sonde_session_config *cfg)
{
	for (size_t i = 0; i < cfg->n_stats; i++) {
		if (cfg->stats[i].slot < SONDE_STAT_TOOL || cfg->stats[i].slot >= SONDE_STAT_MAX) {
			sonde_err("internal error: stat slot %u is not one of the tool's", cfg->stats[i].slot);
			return false;
		}
	}
	return true;
}

/* ---- event loop ---- */

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	struct sonde_session *s = ctx;
	int rc = s->cfg->on_event(s->cfg->ctx, data, size);

	if (rc < 0 || sonde_out_closed()) {
		s->stop = true;
		return -1;
	}
	return 0;
}

void sonde_session_stop(struct sonde_session *s, int status)
{
	s->stop = true;
	s->status = status;
}

static int epoll_add(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int timer_fd(uint64_t ns, bool periodic)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (periodic)
		its.it_interval = its.it_value;
	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup_loop(struct sonde_session *s)
{
	const struct sonde_args *args = s->cfg->args;
	struct bpf_map *events = bpf_object__find_map_by_name(s->cfg->obj, "events");
	struct stat st;
	sigset_t mask;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0 || epoll_add(s->epfd, s->sigfd, EPOLLIN))
		return -errno;
	if (events && s->cfg->on_event) {
		s->rb = ring_buffer__new(bpf_map__fd(events), on_ringbuf, s, NULL);
		if (!s->rb || epoll_add(s->epfd, ring_buffer__epoll_fd(s->rb), EPOLLIN))
			return -errno;
		/* The programs that send with sonde_event_submit() have its
		 * clock (bpf/sonde_events.bpf.h); the stack tools' copies wake
		 * us by fill level and are read at their ticks instead. */
		s->rb_timed = btf__find_by_name_kind(bpf_object__btf(s->cfg->obj),
						     "sonde_events_woken_ns", BTF_KIND_VAR) > 0;
	}
	if (args->interval_ns && s->cfg->on_interval) {
		s->interval_fd = timer_fd(args->interval_ns, true);
		if (s->interval_fd < 0 || epoll_add(s->epfd, s->interval_fd, EPOLLIN))
			return -errno;
	}
	if (s->cfg->tick_ns && s->cfg->on_tick) {
		s->tick_fd = timer_fd(s->cfg->tick_ns, true);
		if (s->tick_fd < 0 || epoll_add(s->epfd, s->tick_fd, EPOLLIN))
			return -errno;
	}
	if (args->duration_ns) {
		s->deadline_fd = timer_fd(args->duration_ns, false);
		if (s->deadline_fd < 0 || epoll_add(s->epfd, s->deadline_fd, EPOLLIN))
			return -errno;
	}
	/* A pipe whose reader left reports EPOLLERR on our end: notice at
	 * once rather than at the next write. */
	if (!fstat(STDOUT_FILENO, &st) && S_ISFIFO(st.st_mode))
		epoll_add(s->epfd, STDOUT_FILENO, 0);
	/* With -p, end when every target has exited. */
	if (args->n_pids) {
		s->pidfds = calloc(args->n_pids, sizeof(int));
		if (!s->pidfds)
			return -ENOMEM;
		for (size_t i = 0; i < args->n_pids; i++) {
			s->pidfds[i] = syscall(SYS_pidfd_open, args->pids[i], 0);
			if (s->pidfds[i] >= 0 && !epoll_add(s->epfd, s->pidfds[i], EPOLLIN))
				s->live_targets++;
			else if (errno == ESRCH)
				sonde_err("process %d exited", (int)args->pids[i]);
		}
		/* Gone before we could watch them: nothing left to trace. */
		if (!s->live_targets)
			s->stop = true;
	}
	return 0;
}

static void drain(int fd)
{
	char buf[128];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Reads every event waiting in the ring buffer, announced or not (those
 * submitted without a wakeup), with stdout flushed once for the lot. A
 * tool's callback that fails makes the run's status an error. */
static void read_events(struct sonde_session *s)
{
	int n;

	if (!s->rb)
		return;
	sonde_out_hold();
	n = ring_buffer__consume(s->rb);
	if (n < 0 && !s->stop)
		s->status = SONDE_EXIT_RUNTIME;
	s->events_read = n > 0;
	sonde_out_release();
}

/* How long the loop may wait for something to happen. Events sent less
 * than SONDE_EVENT_WAKE_NS after a wakeup come without one: having read
 * some, read again that much later (until a read finds none; after
 * that, the next event finds the last wakeup long enough ago and wakes
 * us). A second's wait covers the only gap: an event whose program was
 * held up (a vCPU preempted) between deciding and sending. */
static int wait_ms(const struct sonde_session *s)
{
	if (!s->rb_timed)
		return -1;
	if (s->events_read)
		return (int)(SONDE_EVENT_WAKE_NS / 1000000) + 1;
	return 1000;
}

static void handle_fd(struct sonde_session *s, int fd, uint32_t events)
{
	const struct sonde_args *args = s->cfg->args;

	if (fd == s->sigfd) {
		struct signalfd_siginfo si = {0};

		if (read(fd, &si, sizeof(si)) == sizeof(si))
			sonde_info(1, "%s: stopping", strsignal(si.ssi_signo));
		/* The terminal echoed "^C" without a newline: end that line, so
		 * what follows (a summary, the shell's prompt) starts clean. */
		if (si.ssi_signo == SIGINT && isatty(STDERR_FILENO))
			fputs("\n", stderr);
		s->stop = true;
	} else if (fd == s->deadline_fd) {
		drain(fd);
		s->stop = true;
	} else if (fd == s->interval_fd) {
		drain(fd);
		/* Events not yet announced belong to this interval. */
		read_events(s);
		if (s->cfg->on_interval(s->cfg->ctx) < 0)
			s->stop = true;
	} else if (fd == s->tick_fd) {
		drain(fd);
		/* Read each tick too: what user space learns from events sent
		 * without a wakeup (a thread's stack end, from copied stacks)
		 * reaches the BPF side soon, not at the end. */
		read_events(s);
		if (s->cfg->on_tick(s->cfg->ctx) < 0)
			s->stop = true;
	} else if (fd == STDOUT_FILENO) {
		if (events & (EPOLLERR | EPOLLHUP))
			s->stop = true;
	} else if (s->rb && fd == ring_buffer__epoll_fd(s->rb)) {
		read_events(s);
	} else {
		for (size_t i = 0; i < args->n_pids; i++) {
			if (s->pidfds[i] != fd)
				continue;
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
			sonde_err("process %d exited", (int)args->pids[i]);
			if (--s->live_targets == 0)
				s->stop = true;
		}
	}
}

static int loop(struct sonde_session *s)
{
	struct epoll_event evs[16];

	while (!s->stop && !sonde_out_closed()) {
		int n = epoll_wait(s->epfd, evs, 16, wait_ms(s));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sonde_err("epoll_wait: %s", strerror(errno));
			return SONDE_EXIT_RUNTIME;
		}
		if (n == 0)
			read_events(s);
		/* Events before signals: what arrived before Ctrl-C is shown. */
		for (int i = 0; i < n; i++)
			if (s->rb && evs[i].data.fd == ring_buffer__epoll_fd(s->rb))
				handle_fd(s, evs[i].data.fd, evs[i].events);
		for (int i = 0; i < n && !sonde_out_closed(); i++)
			if (!s->rb || evs[i].data.fd != ring_buffer__epoll_fd(s->rb))
				handle_fd(s, evs[i].data.fd, evs[i].events);
	}
	return s->status;
}

static void teardown_loop(struct sonde_session *s)
{
	int *fds[] = {&s->epfd, &s->sigfd, &s->interval_fd, &s->deadline_fd, &s->tick_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	for (size_t i = 0; s->pidfds && i < s->cfg->args->n_pids; i++)
		if (s->pidfds[i] >= 0)
			close(s->pidfds[i]);
	free(s->pidfds);
	ring_buffer__free(s->rb);
}

/* ---- the whole session ---- */

/* -v: what the kernel offers of what the tool asked about, each feature
 * once; -vv: everything (sonde doctor's list). Probing what no probe of
 * the tool uses would cost its start-up a millisecond or two. */
static void say_features(struct sonde_session *s)
{
	_Static_assert(SONDE_FEAT_COUNT <= 32, "features_said has a bit per feature");
	for (int f = 0; f < SONDE_FEAT_COUNT && sonde_verbosity() >= 1; f++) {
		if (s->features_said & (1u << f) ||
		    (!sonde_feature_probed(f) && sonde_verbosity() < 2))
			continue;
		s->features_said |= 1u << f;
		sonde_info(1, "kernel: %s %s%s%s", sonde_feature_name(f),
			   sonde_feature_has(f) ? "yes" : "no",
			   sonde_feature_has(f) ? "" : ": ", sonde_feature_reason(f));
	}
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int v = sonde_verbosity();

	/* libbpf's own warnings repeat what we report in one line; they are
	 * there for -v (verifier logs) and -vv/-vvv (everything). */
	if ((level == LIBBPF_WARN && v >= 1) || (level == LIBBPF_INFO && v >= 2) ||
	    (level == LIBBPF_DEBUG && v >= 3))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int load(struct sonde_session *s)
{
	int made, err;

	/* While a thread writes the object's CO-RE BTF (lib/core_btf.c):
	 * most of what libbpf would create before it reads that BTF. */
	made = sonde_maps_create_early(s->cfg->obj);
	sonde_info(2, "%d maps made ahead of the load", made);
	if (sonde_core_btf_wait())
		sonde_err("cannot write the kernel types for CO-RE relocations");
	err = bpf_object__load(s->cfg->obj);
	sonde_heap_prefault_for_btf_end();
	if (!err)
		return 0;
	if (err == -EPERM || err == -EACCES) {
		sonde_err("the kernel refused to load the BPF programs (%s); needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN",
			  strerror(-err));
		return SONDE_EXIT_PRIVILEGE;
	}
	sonde_err("cannot load the BPF programs: %s%s", strerror(-err),
		  sonde_verbosity() ? "" : " (run with -v for the verifier's log)");
	return SONDE_EXIT_RUNTIME;
}

int sonde_session_run(const struct sonde_session_config *cfg)
{
	struct sonde_session s = {.cfg = cfg, .epfd = -1, .sigfd = -1,
				  .interval_fd = -1, .deadline_fd = -1, .tick_fd = -1};
	int rc;

	if (cfg->n_probes > sizeof(s.chosen) / sizeof(s.chosen[0]) || !tool_stats_valid(cfg))
		return SONDE_EXIT_RUNTIME;
	signal(SIGPIPE, SIG_IGN);
	libbpf_set_print(libbpf_log);
	rc = sonde_caps_check();
	if (rc)
		return rc;
	if (cfg->args->plan)
		return sonde_session_plan(cfg);
	rc = choose(&s);
	if (!rc && needs_kernel_btf(&s))
		sonde_heap_prefault_for_btf();
	say_features(&s);
	/* Before set_autoload: a tp_btf target makes libbpf load the kernel's
	 * BTF, which libbpf 1.1 frees only in bpf_object__load(), so a usage
	 * error after it would leak it. */
	if (!rc)
		rc = sonde_target_configure(cfg->obj, cfg->args);
	if (!rc)
		rc = set_autoload(&s);
	if (!rc && cfg->before_load)
		rc = cfg->before_load(cfg->ctx) ? SONDE_EXIT_RUNTIME : 0;
	if (!rc)
		rc = load(&s);
	s.loaded = !rc;
	if (!rc && sonde_target_fill(cfg->obj, cfg->args)) {
		sonde_err("cannot fill the PID filter: %s", strerror(errno));
		rc = SONDE_EXIT_RUNTIME;
	}
	if (!rc && setup_loop(&s)) {
		sonde_err("cannot set up the event loop: %s", strerror(errno));
		rc = SONDE_EXIT_RUNTIME;
	}
	if (!rc)
		rc = attach_all(&s);
	/* The perf events' features are asked about as they are opened. */
	say_features(&s);
	if (!rc) {
		sonde_caps_drop(cfg->keep_caps);
		sonde_info(1, "attached %zu probe%s; tracing", s.n_links, s.n_links == 1 ? "" : "s");
		if (sonde_verbosity() == 0 && isatty(STDERR_FILENO))
			fprintf(stderr, "Tracing %s... Hit Ctrl-C to end.\n", cfg->what);
		if (cfg->header && cfg->args->format == SONDE_FMT_TABLE)
			sonde_table_header(cfg->header);
		if (cfg->on_ready && cfg->on_ready(cfg->ctx) < 0)
			s.stop = true;
		rc = loop(&s);
	}
	detach_all(&s);
	/* What the kernel produced before detach still counts. */
	if (!sonde_out_closed())
		read_events(&s);
	if (rc == 0 && cfg->on_end && !sonde_out_closed() && cfg->on_end(cfg->ctx) < 0)
		rc = SONDE_EXIT_RUNTIME;
	if (s.loaded) {
		bool lost = report_losses(&s);

		lost |= report_tool_stats(&s);
		if (lost && cfg->args->strict && rc == 0)
			rc = SONDE_EXIT_RUNTIME;
	}
	teardown_loop(&s);
	return rc;
}

/* Detaching a tool's BPF links at exit.
 *
 * Most links go at once. A perf-event link on a classic tracepoint (or a
 * kprobe) does not: closing its event unregisters the probe and
 * waits out an RCU grace period, under a mutex the kernel holds across
 * every such event, so the waits add up: sonde-fsslower's 32 syscall
 * tracepoints took 2.5 s one after another and 1.1 s from eight threads.
 * Nothing of the tool's output depends on that wait, so a child process
 * takes it over and the tool exits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sonde/detach.h"

/* Values newer than some distributions' <linux/bpf.h>. */
#define LINK_TYPE_PERF_EVENT 7
#define LINK_TYPE_KPROBE_MULTI 8
/* enum bpf_perf_event_type (Linux 6.6) */
#define PERF_LINK_KPROBE 3
#define PERF_LINK_KRETPROBE 4
#define PERF_LINK_TRACEPOINT 5
/* struct bpf_link_info since Linux 6.6: type, id, prog_id, then a union
 * whose perf_event member starts with the kind of event. */
#define PERF_LINK_KIND_OFFSET 16

#define DETACH_THREADS 8
#define MAX_HELD_FDS 1024

bool sonde_link_detach_is_slow(const struct bpf_link *link)
{
	union {
		struct bpf_link_info info;
		__u64 raw[32];
	} buf;
	__u32 len = sizeof(buf), kind;

	memset(&buf, 0, sizeof(buf));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &buf.info, &len))
		return false;
	switch (buf.info.type) {
	case LINK_TYPE_PERF_EVENT:
		/* Only what the kernel says is a tracepoint or a kprobe. Not
		 * uprobes: with their detach left to the child, chanlat
		 * following a new program sometimes missed operations (the
		 * cause is not known yet). Nor a kernel before 6.6, which
		 * says no kind: its tools detach as before. */
		memcpy(&kind, (const char *)&buf + PERF_LINK_KIND_OFFSET, sizeof(kind));
		return kind == PERF_LINK_TRACEPOINT || kind == PERF_LINK_KPROBE ||
		       kind == PERF_LINK_KRETPROBE;
	case LINK_TYPE_KPROBE_MULTI:
		return true;
	default:
		return false;
	}
}

/* A share of an array that one thread works through. */
struct slice {
	char *items;
	size_t n, item_size;
	void (*fn)(void *item);
};

static void *work_slice(void *arg)
{
	struct slice *slice = arg;

	for (size_t i = 0; i < slice->n; i++)
		slice->fn(slice->items + i * slice->item_size);
	return NULL;
}

/* Calls fn on each of n items from up to DETACH_THREADS threads at once,
 * so that what of their waits the kernel lets overlap does. The first
 * share is the caller's; so is any a thread could not take. */
static void in_parallel(void *items, size_t n, size_t item_size, void (*fn)(void *item))
{
	struct slice slices[DETACH_THREADS];
	pthread_t threads[DETACH_THREADS];
	bool started[DETACH_THREADS] = {false};
	size_t n_threads = n < DETACH_THREADS ? n : DETACH_THREADS;
	size_t per = n_threads ? (n + n_threads - 1) / n_threads : 0;

	for (size_t t = 0, first = 0; t < n_threads; t++, first += per) {
		slices[t] = (struct slice){(char *)items + first * item_size,
					   first >= n ? 0 : n - first < per ? n - first : per, item_size, fn};
		if (t > 0 && slices[t].n)
			started[t] = !pthread_create(&threads[t], NULL, work_slice, &slices[t]);
	}
	for (size_t t = 0; t < n_threads; t++)
		if (!started[t])
			work_slice(&slices[t]);
	for (size_t t = 0; t < n_threads; t++)
		if (started[t])
			pthread_join(threads[t], NULL);
}

static void destroy_link(void *item)
{
	bpf_link__destroy(*(struct bpf_link **)item);
}

static void close_fd(void *item)
{
	close(*(int *)item);
}

/* ---- the detaching child ---- */

/* Whether fd is a BPF link or a perf event: what keeps programs attached. */
static bool holds_attachment(int fd)
{
	char path[64], target[64];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, target, sizeof(target) - 1);
	if (len < 0)
		return false;
	target[len] = '\0';
	return !strcmp(target, "anon_inode:bpf_link") || !strcmp(target, "anon_inode:[perf_event]");
}

/* Keeps only the fds that hold attachments (and the two pipe ends), so
 * that nothing else of the tool's (its output pipe, a terminal, a
 * harness's pipes) outlives the tool. Returns how many it kept in held,
 * or -1 when it cannot tell (no /proc) and has closed nothing. */
static ssize_t keep_only_attachments(int *held, int ready_fd, int go_fd)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *ent;
	ssize_t n = 0;

	if (!dir)
		return -1;
	while ((ent = readdir(dir))) {
		int fd = atoi(ent->d_name);

		if (ent->d_name[0] == '.' || fd == dirfd(dir) || fd == ready_fd || fd == go_fd)
			continue;
		if (n < MAX_HELD_FDS && holds_attachment(fd))
			held[n++] = fd;
		else
			close(fd);
	}
	closedir(dir);
	return n;
}

static _Noreturn void run_detacher(int ready_fd, int go_fd)
{
	static int held[MAX_HELD_FDS];
	sigset_t all;
	ssize_t n;
	char c;

	/* Out of the tool's process group and deaf to its signals: a
	 * Ctrl-C or a hang-up meant for the tool must not end this early
	 * (if one did, the kernel would still detach on exit). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setsid();
	prctl(PR_SET_NAME, "sonde-detach");
	/* Holding the tool's output open would keep a reader of it (jq)
	 * waiting for the detach: without /proc, the tool detaches itself. */
	n = keep_only_attachments(held, ready_fd, go_fd);
	if (n < 0 || write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	/* The tool closes its own copies first, so that ours are the last
	 * and the slow release happens here. */
	while (read(go_fd, &c, 1) > 0)
		;
	close(go_fd);
	in_parallel(held, (size_t)n, sizeof(*held), close_fd);
	_exit(0);
}

/* Starts the detaching child and waits until it holds the attachments
 * and nothing else. Returns its pid, or 0 if there is none. */
static pid_t start_detacher(int *go_write)
{
	int ready[2], go[2];
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC))
		return 0;
	if (pipe2(go, O_CLOEXEC)) {
		close(ready[0]);
		close(ready[1]);
		return 0;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		run_detacher(ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		/* It died before holding anything: all is still ours. */
		waitpid(pid, NULL, 0);
		pid = 0;
	}
	close(ready[0]);
	if (pid <= 0) {
		close(go[1]);
		return 0;
	}
	*go_write = go[1];
	return pid;
}

pid_t sonde_detach_links(struct bpf_link **links, size_t n, bool background)
{
	bool any_slow = false;
	int go_write = -1;
	pid_t pid = 0;

	for (size_t i = 0; background && !any_slow && i < n; i++)
		any_slow = sonde_link_detach_is_slow(links[i]);
	if (any_slow)
		pid = start_detacher(&go_write);
	if (!pid) {
		in_parallel(links, n, sizeof(*links), destroy_link);
		return 0;
	}
	/* The child holds every attachment: closing ours only drops a
	 * reference each. */
	for (size_t i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	close(go_write);
	return pid;
}

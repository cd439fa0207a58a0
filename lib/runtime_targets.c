/* Finding and following the processes and files a runtime tool traces:
 * see sonde/runtime_targets.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/cli.h>
#include <sonde/grow.h>
#include <sonde/log.h>
#include <sonde/proc_open.h>
#include <sonde/runtime_targets.h>

#define MAX_FILES 256
/* Files found to hold no runtime; the oldest is forgotten. */
#define MAX_NON_RUNTIMES 1024

/* A file's version: a program rewritten in place keeps its inode. */
struct file_id {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
};

/* A process found running a file at start, for on_process once attached. */
struct found_process {
	pid_t pid;
	size_t file;
};

struct sonde_rt_targets {
	const struct sonde_rt_kind *kind;
	struct sonde_session *session;	/* once attached */
	bool follow;
	struct sonde_rt_file files[MAX_FILES];
	size_t n_files;
	struct file_id non_runtimes[MAX_NON_RUNTIMES];
	size_t n_non_runtimes;	/* ever recorded: the ring's next slot, modulo */
	struct found_process *found;
	size_t n_found, found_cap;
};

struct sonde_rt_targets *sonde_rt_targets_new(const struct sonde_rt_kind *kind)
{
	struct sonde_rt_targets *t = calloc(1, sizeof(*t));

	if (t)
		t->kind = kind;
	return t;
}

void sonde_rt_targets_free(struct sonde_rt_targets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_files; i++)
		free(t->files[i].data);
	free(t->found);
	free(t);
}

bool sonde_rt_targets_follow(const struct sonde_rt_targets *t)
{
	return t->follow;
}

void sonde_rt_targets_set_follow(struct sonde_rt_targets *t, bool follow)
{
	t->follow = follow;
}

size_t sonde_rt_targets_count(const struct sonde_rt_targets *t)
{
	return t->n_files;
}

const struct sonde_rt_file *sonde_rt_targets_file(const struct sonde_rt_targets *t, size_t i)
{
	return i < t->n_files ? &t->files[i] : NULL;
}

static bool same_version(const struct file_id *a, const struct sonde_rt_file *f)
{
	return a->dev == f->dev && a->ino == f->ino && a->mtime.tv_sec == f->mtime.tv_sec &&
	       a->mtime.tv_nsec == f->mtime.tv_nsec;
}

static bool non_runtime(const struct sonde_rt_targets *t, const struct sonde_rt_file *f)
{
	size_t n = t->n_non_runtimes < MAX_NON_RUNTIMES ? t->n_non_runtimes : MAX_NON_RUNTIMES;

	for (size_t i = 0; i < n; i++)
		if (same_version(&t->non_runtimes[i], f))
			return true;
	return false;
}

/* The file already taken, for this pid or for every process; -1 if none. */
static ssize_t known(const struct sonde_rt_targets *t, const struct sonde_rt_file *f)
{
	for (size_t i = 0; i < t->n_files; i++)
		if (t->files[i].dev == f->dev && t->files[i].ino == f->ino &&
		    t->files[i].pid == f->pid)
			return (ssize_t)i;
	return -1;
}

/* Considers one file of a process (pid -1: of every process running it).
 * Returns the index of the runtime file taken, or -1. A file under
 * /proc/PID/root is opened inside that root (sonde/proc_open.h); probes
 * are attached by path, which the kernel resolves following links, so a
 * path that leads elsewhere (a link out of the root) is not used. */
static ssize_t consider(struct sonde_rt_targets *t, const char *path, pid_t pid, bool *unusable)
{
	struct sonde_rt_file f = {.pid = pid};
	enum sonde_rt_class c;
	struct stat st;
	ssize_t i;
	int fd = sonde_open_proc_path(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !sonde_same_file(fd, path)) {
		sonde_info(1, "%s: not the file the process sees, skipped", path);
		close(fd);
		return -1;
	}
	f.dev = st.st_dev;
	f.ino = st.st_ino;
	f.mtime = st.st_mtim;
	i = known(t, &f);
	if (i >= 0 || non_runtime(t, &f)) {
		close(fd);
		return i;
	}
	snprintf(f.path, sizeof(f.path), "%s", path);
	f.data = calloc(1, t->kind->data_size ? t->kind->data_size : 1);
	if (!f.data) {
		sonde_err("%s: %m", path);
		close(fd);
		return -1;
	}
	c = t->kind->classify(fd, f.path, f.data, t->kind->ctx);
	close(fd);
	if (c == SONDE_RT_UNUSABLE)
		*unusable = true;
	if (c != SONDE_RT_RUNTIME) {
		free(f.data);
		t->non_runtimes[t->n_non_runtimes++ % MAX_NON_RUNTIMES] =
			(struct file_id){f.dev, f.ino, f.mtime};
		return -1;
	}
	if (t->n_files == MAX_FILES) {
		free(f.data);
		sonde_err("more than %d runtime files: %s is not traced", MAX_FILES, path);
		return -1;
	}
	t->files[t->n_files] = f;
	return (ssize_t)t->n_files++;
}

/* Mapped files that may hold a runtime (libjvm.so, libpython), seen
 * through /proc/PID/root so that a container's files are found from the
 * host. Returns the first runtime file taken, or -1. */
static ssize_t scan_maps(struct sonde_rt_targets *t, pid_t pid, pid_t attach_pid, bool *unusable)
{
	char path[64], line[PATH_MAX + 128], file[PATH_MAX + 64];
	ssize_t found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '/');
		ssize_t i;

		if (!name)
			continue;
		name[strcspn(name, "\n")] = 0;
		if (!t->kind->mapped_candidate(strrchr(name, '/') + 1))
			continue;
		snprintf(file, sizeof(file), "/proc/%d/root%s", (int)pid, name);
		i = consider(t, file, attach_pid, unusable);
		if (found < 0)
			found = i;
	}
	fclose(f);
	return found;
}

/* attach_pid: the pid the probes are for, or -1 (every process running
 * the same files). Returns a runtime file of the process, or -1. */
static ssize_t find_in_process(struct sonde_rt_targets *t, pid_t pid, pid_t attach_pid,
			       bool *unusable)
{
	char exe[64];
	ssize_t found, mapped = -1;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	found = consider(t, exe, attach_pid, unusable);
	if (t->kind->mapped_candidate &&
	    (found < 0 || (t->kind->self_contained &&
			   !t->kind->self_contained(t->files[found].data))))
		mapped = scan_maps(t, pid, attach_pid, unusable);
	return found >= 0 ? found : mapped;
}

static void remember_process(struct sonde_rt_targets *t, pid_t pid, size_t file)
{
	if (!t->kind->on_process)
		return;
	if (SONDE_GROW(t->found, t->found_cap, t->n_found + 1, 64)) {
		sonde_err("process %d: %m", (int)pid);
		return;
	}
	t->found[t->n_found++] = (struct found_process){pid, file};
}

/* The processes already running a file probed for all (--binary). */
static void find_processes_running(struct sonde_rt_targets *t, size_t file)
{
	const struct sonde_rt_file *f = &t->files[file];
	struct dirent *de;
	DIR *d;

	if (!t->kind->on_process || !(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		char exe[300];
		struct stat st;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(exe, sizeof(exe), "/proc/%s/exe", de->d_name);
		if (!stat(exe, &st) && st.st_dev == f->dev && st.st_ino == f->ino)
			remember_process(t, atoi(de->d_name), file);
	}
	closedir(d);
}

static int find_binary(struct sonde_rt_targets *t, const char *binary)
{
	bool unusable = false;
	ssize_t i = consider(t, binary, -1, &unusable);

	if (i >= 0) {
		find_processes_running(t, (size_t)i);
		return 0;
	}
	if (!unusable)
		sonde_err("%s %s", binary, t->kind->file_what);
	return SONDE_EXIT_UNSUPPORTED;
}

static int find_pids(struct sonde_rt_targets *t, const pid_t *pids, size_t n_pids)
{
	for (size_t i = 0; i < n_pids; i++) {
		bool unusable = false;
		ssize_t file = find_in_process(t, pids[i], pids[i], &unusable);
		char comm[16];

		if (file >= 0) {
			remember_process(t, pids[i], (size_t)file);
			continue;
		}
		if (!unusable) {
			sonde_comm_of(pids[i], comm);
			sonde_err("PID %d (%s) runs no %s", (int)pids[i], comm, t->kind->process_what);
		}
		return SONDE_EXIT_UNSUPPORTED;
	}
	return 0;
}

/* Every runtime running now, each file once for all the processes that
 * run it. */
static int find_all(struct sonde_rt_targets *t)
{
	bool unusable = false;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d) {
		sonde_err("cannot read /proc: %m");
		return SONDE_EXIT_RUNTIME;
	}
	while ((de = readdir(d))) {
		pid_t pid;
		ssize_t file;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid == getpid())
			continue;
		file = find_in_process(t, pid, -1, &unusable);
		if (file >= 0)
			remember_process(t, pid, (size_t)file);
	}
	closedir(d);
	t->follow = true;
	if (!t->n_files)
		sonde_info(1, "no %s running yet: waiting for programs to start",
			   t->kind->process_what);
	return 0;
}

int sonde_rt_targets_find(struct sonde_rt_targets *t, const char *binary, const pid_t *pids,
			  size_t n_pids)
{
	if (binary)
		return find_binary(t, binary);
	if (n_pids)
		return find_pids(t, pids, n_pids);
	return find_all(t);
}

/* System-wide, a process found at start may be gone by the time its file
 * is probed: that is no failure of the tool (it failed to attach, said
 * so, and the others go on); a missing privilege still is. */
static int attach_file(struct sonde_rt_targets *t, struct sonde_session *s,
		       const struct sonde_rt_file *f)
{
	int rc;

	if (t->follow && access(f->path, F_OK)) {
		sonde_info(1, "%s: gone before it could be probed", f->path);
		return 0;
	}
	rc = t->kind->attach(s, f, t->kind->ctx);
	return t->follow && rc != SONDE_EXIT_PRIVILEGE ? 0 : rc;
}

int sonde_rt_targets_attach(struct sonde_rt_targets *t, struct sonde_session *s)
{
	int rc = 0;

	t->session = s;
	for (size_t i = 0; i < t->n_files && !rc; i++)
		rc = attach_file(t, s, &t->files[i]);
	for (size_t i = 0; i < t->n_found && !rc; i++) {
		pid_t pid = t->found[i].pid;

		if (kill(pid, 0) && errno == ESRCH)
			continue;	/* gone meanwhile */
		t->kind->on_process(pid, &t->files[t->found[i].file], t->kind->ctx);
	}
	free(t->found);
	t->found = NULL;
	t->n_found = t->found_cap = 0;
	return rc;
}

/* The runtime of a just-started program may pass its first milliseconds
 * untraced: the program already runs when the exec is reported. */
void sonde_rt_targets_program_started(struct sonde_rt_targets *t, pid_t pid)
{
	size_t before = t->n_files;
	bool unusable = false;
	char lib[PATH_MAX];

	if (find_in_process(t, pid, -1, &unusable) < 0 && t->kind->will_load &&
	    t->kind->will_load(pid, lib, sizeof(lib)))
		consider(t, lib, -1, &unusable);
	for (size_t i = before; i < t->n_files; i++) {
		if (t->kind->attach(t->session, &t->files[i], t->kind->ctx))
			continue;
		if (t->kind->on_process)
			t->kind->on_process(pid, &t->files[i], t->kind->ctx);
	}
}

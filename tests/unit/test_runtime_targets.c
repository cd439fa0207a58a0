/* lib/runtime_targets with a made-up runtime kind: "a runtime" is any
 * file whose name the test chooses, so the three targets can be checked
 * without root or BPF: --binary (and the processes already running it),
 * -p (this very process), refusals with their messages' exit status, and
 * that a file found to be no runtime is not classified again.
 *
 *   test_runtime_targets (no arguments: it uses itself and /bin/true) */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sonde/log.h>
#include <sonde/runtime_targets.h>

#include "check.h"

struct fake {
	ino_t runtime_ino;	/* the file that is "a runtime" */
	int classified, attached, processes;
	pid_t last_process;
};

static enum sonde_rt_class classify(int fd, const char *path, void *data, void *ctx)
{
	struct fake *f = ctx;
	struct stat st;

	(void)path;
	f->classified++;
	if (fstat(fd, &st))
		return SONDE_RT_NOT_RUNTIME;
	*(ino_t *)data = st.st_ino;
	return st.st_ino == f->runtime_ino ? SONDE_RT_RUNTIME : SONDE_RT_NOT_RUNTIME;
}

static int attach(struct sonde_session *s, const struct sonde_rt_file *file, void *ctx)
{
	struct fake *f = ctx;

	(void)s;
	CHECK(*(ino_t *)file->data == file->ino);
	f->attached++;
	return 0;
}

static void on_process(pid_t pid, const struct sonde_rt_file *file, void *ctx)
{
	struct fake *f = ctx;

	(void)file;
	f->processes++;
	f->last_process = pid;
}

static struct sonde_rt_kind kind_for(struct fake *f)
{
	return (struct sonde_rt_kind){
		.classify = classify,
		.data_size = sizeof(ino_t),
		.attach = attach,
		.on_process = on_process,
		.process_what = "fake runtime",
		.file_what = "is no fake runtime",
		.ctx = f,
	};
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static void binary_target(void)
{
	struct fake f = {.runtime_ino = inode_of("/proc/self/exe")};
	struct sonde_rt_kind kind = kind_for(&f);
	struct sonde_rt_targets *t = sonde_rt_targets_new(&kind);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	CHECK(n > 0);
	self[n > 0 ? n : 0] = 0;
	CHECK(sonde_rt_targets_find(t, self, NULL, 0) == 0);
	CHECK(!sonde_rt_targets_follow(t));
	CHECK_U64(sonde_rt_targets_count(t), 1);
	CHECK(sonde_rt_targets_file(t, 0)->pid == -1);
	CHECK(sonde_rt_targets_file(t, 1) == NULL);
	/* Attaching probes it, then names the processes already running it:
	 * this one among them. */
	CHECK(sonde_rt_targets_attach(t, NULL) == 0);
	CHECK(f.attached == 1 && f.processes >= 1);
	sonde_rt_targets_free(t);
}

static void pid_target(void)
{
	struct fake f = {.runtime_ino = inode_of("/proc/self/exe")};
	struct sonde_rt_kind kind = kind_for(&f);
	struct sonde_rt_targets *t = sonde_rt_targets_new(&kind);
	pid_t self = getpid();

	CHECK(sonde_rt_targets_find(t, NULL, &self, 1) == 0);
	CHECK_U64(sonde_rt_targets_count(t), 1);
	CHECK(sonde_rt_targets_file(t, 0)->pid == self);
	CHECK(sonde_rt_targets_attach(t, NULL) == 0);
	CHECK(f.attached == 1 && f.processes == 1 && f.last_process == self);
	sonde_rt_targets_free(t);
}

static void refusals_and_cache(void)
{
	struct fake f = {.runtime_ino = 0};
	struct sonde_rt_kind kind = kind_for(&f);
	struct sonde_rt_targets *t = sonde_rt_targets_new(&kind);
	pid_t self = getpid();

	CHECK(sonde_rt_targets_find(t, "/bin/true", NULL, 0) == SONDE_EXIT_UNSUPPORTED);
	CHECK(f.classified == 1);
	/* Known to be no runtime: not opened and parsed again. */
	CHECK(sonde_rt_targets_find(t, "/bin/true", NULL, 0) == SONDE_EXIT_UNSUPPORTED);
	CHECK(f.classified == 1);
	CHECK(sonde_rt_targets_find(t, NULL, &self, 1) == SONDE_EXIT_UNSUPPORTED);
	CHECK_U64(sonde_rt_targets_count(t), 0);
	sonde_rt_targets_free(t);
}

static void system_wide(void)
{
	struct fake f = {.runtime_ino = inode_of("/proc/self/exe")};
	struct sonde_rt_kind kind = kind_for(&f);
	struct sonde_rt_targets *t = sonde_rt_targets_new(&kind);

	/* Every process but this one is looked at; this test binary runs in
	 * no other, so nothing is found, and programs started later are to be
	 * followed. */
	CHECK(sonde_rt_targets_find(t, NULL, NULL, 0) == 0);
	CHECK(sonde_rt_targets_follow(t));
	CHECK_U64(sonde_rt_targets_count(t), 0);
	/* This process "starts a program": its runtime is probed for all. */
	sonde_rt_targets_program_started(t, getpid());
	CHECK_U64(sonde_rt_targets_count(t), 1);
	CHECK(sonde_rt_targets_file(t, 0)->pid == -1);
	CHECK(f.attached == 1 && f.processes == 1 && f.last_process == getpid());
	/* Once probed for all, another start of it changes nothing. */
	sonde_rt_targets_program_started(t, getpid());
	CHECK(f.attached == 1 && f.processes == 1);
	sonde_rt_targets_free(t);
}

int main(void)
{
	RUN(binary_target);
	RUN(pid_target);
	RUN(refusals_and_cache);
	RUN(system_wide);
	return CHECK_DONE();
}

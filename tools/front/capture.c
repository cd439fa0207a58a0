#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

struct buffer {
	char *data;
	size_t len;
};

/* Appends what is readable; returns false at end of file or on error. */
static bool drain(int fd, struct buffer *b)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	char *grown;

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return false;
	b->data = grown;
	memcpy(b->data + b->len, chunk, n);
	b->len += n;
	b->data[b->len] = 0;
	return true;
}

static char *take(struct buffer *b)
{
	return b->data ? b->data : strdup("");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int run_capture(const char *path, char *const argv[], int timeout_ms, char **out, char **err)
{
	long long deadline = now_ms() + timeout_ms;
	struct buffer bufs[2] = {0};
	int fds[2][2], status, stop_signal = SIGINT;
	bool timed_out = false;
	struct pollfd pfd[2];
	pid_t pid;

	*out = *err = NULL;
	if (pipe2(fds[0], O_CLOEXEC))
		return -1;
	if (pipe2(fds[1], O_CLOEXEC)) {
		close(fds[0][0]);
		close(fds[0][1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		signal(SIGINT, SIG_DFL);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fds[0][1], STDOUT_FILENO) < 0 ||
		    dup2(fds[1][1], STDERR_FILENO) < 0)
			_exit(127);
		execv(path, argv);
		_exit(127);
	}
	close(fds[0][1]);
	close(fds[1][1]);
	for (int i = 0; i < 2; i++)
		pfd[i] = (struct pollfd){.fd = pid > 0 ? fds[i][0] : -1, .events = POLLIN};
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		long long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			/* Interrupt it, and kill it if that is not enough; a
			 * child of its own may still hold the pipes after that. */
			if (stop_signal == 0)
				break;
			kill(pid, stop_signal);
			timed_out = true;
			stop_signal = stop_signal == SIGINT ? SIGKILL : 0;
			deadline = now_ms() + 5000;
			continue;
		}
		n = poll(pfd, 2, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents && !drain(pfd[i].fd, &bufs[i]))
				pfd[i].fd = -1;
	}
	close(fds[0][0]);
	close(fds[1][0]);
	*out = take(&bufs[0]);
	*err = take(&bufs[1]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (timed_out)
		return RUN_TIMED_OUT;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}

char *tool_summary(const struct tool_entry *tool)
{
	char *argv[] = {(char *)tool->path, "--summary", NULL};
	char *out, *err;
	int rc = run_capture(tool->path, argv, TOOL_ANSWER_TIMEOUT_MS, &out, &err);

	free(err);
	if (rc != 0 || !out || !*out) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = 0;
	return out;
}

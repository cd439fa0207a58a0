#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"

static __attribute__((noreturn)) void fail(const char *what, const char *path)
{
	fprintf(stderr, "fixture: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

struct fixture_file fixture_read(const char *path)
{
	struct fixture_file f = {0};
	FILE *in = fopen(path, "rb");
	long size;

	if (!in || fseek(in, 0, SEEK_END) || (size = ftell(in)) < 0)
		fail("cannot read", path);
	rewind(in);
	f.size = (size_t)size;
	f.data = malloc(f.size + 1);
	if (!f.data || fread(f.data, 1, f.size, in) != f.size)
		fail("cannot read", path);
	f.data[f.size] = 0;
	fclose(in);
	return f;
}

bool fixture_copy(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[65536];
	ssize_t len;
	bool ok = in >= 0 && out >= 0;

	while (ok && (len = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, len) == len;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok;
}

char **fixture_go_workload(int argc, char **argv, int n_extra, const char *extra_usage,
			   struct fixture_go_workload *w)
{
	if (argc != 4 + n_extra) {
		fprintf(stderr, "usage: %s BINARY STRIPPED PIE %s\n", argv[0], extra_usage);
		exit(2);
	}
	w->binary = argv[1];
	w->stripped = argv[2];
	w->pie = argv[3];
	return argv + 4;
}

char *fixture_tree_new(const char *name)
{
	char *tree;

	if (asprintf(&tree, "/tmp/sonde-%s-XXXXXX", name) < 0)
		fail("out of memory for", name);
	if (!mkdtemp(tree))
		fail("cannot make", tree);
	return tree;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		fail("cannot make", path);
}

void fixture_mkdirs(const char *tree, const char *rel)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", tree, rel);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		fail("cannot make", rel);
	}
	/* Each directory between the tree and the last one, then that one. */
	for (char *p = path + strlen(tree) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		make_dir(path);
		*p = '/';
	}
	make_dir(path);
}

void fixture_write(const char *tree, const char *rel, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f))
		fail("cannot write", path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void fixture_tree_remove(char *tree)
{
	nftw(tree, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tree);
}

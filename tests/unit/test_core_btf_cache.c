/* lib/core_btf_cache.c in a scratch directory (SONDE_CACHE_DIR): a file
 * is named by the boot and the object, written whole, read back only when
 * it is this user's, nobody else can write it or its directory, and it
 * parses as BTF; a bad one is removed, files of other boots and all but
 * the newest 64 of this one go when a new one is written, and an empty
 * SONDE_CACHE_DIR turns it all off. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sonde/core_btf_cache.h>

#include "check.h"

static char dir[] = "/tmp/sonde-core-btf-cache-XXXXXX";

/* A BTF of two types, raw: what a subset looks like to the cache. */
static void *small_btf(__u32 *size)
{
	struct btf *btf = btf__new_empty();
	const void *raw;
	void *copy = NULL;

	if (!btf)
		return NULL;
	btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	btf__add_ptr(btf, 1);
	raw = btf__raw_data(btf, size);
	if (raw && (copy = malloc(*size)))
		memcpy(copy, raw, *size);
	btf__free(btf);
	return copy;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void named_by_boot_and_object(void)
{
	char a[4096], b[4096], again[4096];
	const char *name;

	CHECK(sonde_core_btf_cache_path(1, a, sizeof(a)));
	CHECK(sonde_core_btf_cache_path(2, b, sizeof(b)));
	CHECK(sonde_core_btf_cache_path(1, again, sizeof(again)));
	CHECK_STR(again, a);
	CHECK(strcmp(a, b));
	CHECK(!strncmp(a, dir, strlen(dir)));
	name = strrchr(a, '/') + 1;
	/* core-btf-<32 hex digits of the boot id>-<16 of the key>.btf */
	CHECK_MSG(strlen(name) == strlen("core-btf-") + 32 + 1 + 16 + strlen(".btf"), "%s", name);
	CHECK(!strncmp(name, "core-btf-", 9));
	CHECK(!sonde_core_btf_cache_path(1, a, 20));	/* does not fit */
}

static void kept_and_read_back(void)
{
	char path[4096];
	unsigned n = 0;
	__u32 size = 0;
	void *raw = small_btf(&size);
	struct stat st;

	CHECK(raw);
	CHECK(sonde_core_btf_cache_path(3, path, sizeof(path)));
	CHECK(!sonde_core_btf_cache_usable(path, &n));
	sonde_core_btf_cache_store(path, raw, size);
	CHECK(!stat(path, &st) && st.st_size == size && (st.st_mode & 0777) == 0600);
	CHECK(sonde_core_btf_cache_usable(path, &n));
	CHECK_U64(n, 2);
	free(raw);
}

static void bad_files_are_not_used(void)
{
	char path[4096];
	unsigned n;
	__u32 size = 0;
	void *raw = small_btf(&size);

	CHECK(sonde_core_btf_cache_path(4, path, sizeof(path)));
	/* Not BTF: removed, to be written again. */
	write_file(path, "not a BTF at all, but long enough", 0600);
	CHECK(!sonde_core_btf_cache_usable(path, &n));
	CHECK(access(path, F_OK));
	/* A BTF that others could have written. */
	sonde_core_btf_cache_store(path, raw, size);
	chmod(path, 0622);
	CHECK(!sonde_core_btf_cache_usable(path, &n));
	/* A good file in a directory others can write to. */
	sonde_core_btf_cache_store(path, raw, size);
	CHECK(sonde_core_btf_cache_usable(path, &n));
	chmod(dir, 0777);
	CHECK(!sonde_core_btf_cache_usable(path, &n));
	chmod(dir, 0700);
	CHECK(sonde_core_btf_cache_usable(path, &n));
	free(raw);
}

static void other_boots_removed(void)
{
	char path[4096], old[4096], other[4096];
	__u32 size = 0;
	void *raw = small_btf(&size);

	CHECK(sonde_core_btf_cache_path(5, path, sizeof(path)));
	snprintf(old, sizeof(old), "%s/core-btf-%032d-%016d.btf", dir, 0, 5);
	snprintf(other, sizeof(other), "%s/unrelated", dir);
	write_file(old, "an earlier boot's", 0600);
	write_file(other, "not the cache's", 0600);
	sonde_core_btf_cache_store(path, raw, size);
	CHECK(!access(path, F_OK));
	CHECK(access(old, F_OK));
	CHECK(!access(other, F_OK));
	unlink(other);
	free(raw);
}

/* Of this boot's files, the newest 64 stay: the one just written, and
 * not the oldest of those before. */
static void only_the_newest_kept(void)
{
	char path[4096], name[4096];
	const char *boot;
	__u32 size = 0;
	void *raw = small_btf(&size);
	char sub[256];
	int left = 0;

	/* A directory of its own: no files of the tests before. */
	snprintf(sub, sizeof(sub), "%s/newest", dir);
	CHECK(!mkdir(sub, 0700));
	setenv("SONDE_CACHE_DIR", sub, 1);
	CHECK(sonde_core_btf_cache_path(6, path, sizeof(path)));
	boot = strrchr(path, '/') + 1 + strlen("core-btf-");
	for (int i = 0; i < 70; i++) {
		/* Older the lower i: i seconds after the epoch. */
		struct timespec when[2] = {{.tv_sec = i}, {.tv_sec = i}};

		snprintf(name, sizeof(name), "%s/core-btf-%.32s-%016d.btf", sub, boot, 1000 + i);
		write_file(name, "kept before", 0600);
		CHECK(!utimensat(AT_FDCWD, name, when, 0));
	}
	sonde_core_btf_cache_store(path, raw, size);
	CHECK(!access(path, F_OK));
	for (int i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), "%s/core-btf-%.32s-%016d.btf", sub, boot, 1000 + i);
		if (!access(name, F_OK))
			left++;
		else
			CHECK_MSG(i < 7, "file %d of 70 removed, not one of the oldest", i);
	}
	CHECK_U64(left, 63);
	setenv("SONDE_CACHE_DIR", dir, 1);
	free(raw);
}

static void turned_off(void)
{
	char path[4096];

	setenv("SONDE_CACHE_DIR", "", 1);
	CHECK(!sonde_core_btf_cache_path(1, path, sizeof(path)));
	setenv("SONDE_CACHE_DIR", dir, 1);
}

static void hash_mixes_every_byte(void)
{
	uint64_t start = 0xcbf29ce484222325ull;

	CHECK(sonde_core_btf_hash(start, "ab", 2) != sonde_core_btf_hash(start, "ba", 2));
	CHECK(sonde_core_btf_hash(start, "ab", 2) != sonde_core_btf_hash(start, "ab", 1));
	CHECK(sonde_core_btf_hash(start, "", 0) == start);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("SONDE_CACHE_DIR", dir, 1);
	RUN(named_by_boot_and_object);
	RUN(kept_and_read_back);
	RUN(bad_files_are_not_used);
	RUN(other_boots_removed);
	RUN(only_the_newest_kept);
	RUN(turned_off);
	RUN(hash_mixes_every_byte);
	/* Everything in it is the cache's by now. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(!system(cmd));
	return CHECK_DONE();
}

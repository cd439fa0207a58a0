#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front.h"

#define PREFIX "sonde-"

/* Tool names are lower-case words: this skips build by-products such as
 * "sonde-tcpconnect.p" and editor backups. */
static bool valid_name(const char *name)
{
	return *name && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(name);
}

static int add(struct tool_set *set, const char *dir, const char *file)
{
	struct tool_entry *grown;
	char path[PATH_MAX];
	struct stat st;

	if (strncmp(file, PREFIX, strlen(PREFIX)) || !valid_name(file + strlen(PREFIX)) ||
	    strlen(file + strlen(PREFIX)) >= sizeof(set->tools->name))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return 0;
	if (stat(path, &st) || !S_ISREG(st.st_mode) || access(path, X_OK))
		return 0;
	if (tools_find(set, file + strlen(PREFIX)))
		return 0;
	grown = realloc(set->tools, (set->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	set->tools = grown;
	snprintf(grown[set->n].name, sizeof(grown->name), "%s", file + strlen(PREFIX));
	snprintf(grown[set->n].path, sizeof(grown->path), "%s", path);
	set->n++;
	return 0;
}

static int scan(struct tool_set *set, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (e = readdir(d)))
		rc = add(set, dir, e->d_name);
	closedir(d);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct tool_entry *)a)->name, ((const struct tool_entry *)b)->name);
}

int tools_discover(struct tool_set *set)
{
	char self[PATH_MAX], *slash, *path, *dir, *save = NULL;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = 0;

	set->tools = NULL;
	set->n = 0;
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			rc = scan(set, self);
		}
	}
	path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
	if (!path)
		return -ENOMEM;
	for (dir = strtok_r(path, ":", &save); !rc && dir; dir = strtok_r(NULL, ":", &save))
		rc = scan(set, *dir ? dir : ".");
	free(path);
	if (set->n)
		qsort(set->tools, set->n, sizeof(*set->tools), by_name);
	return rc;
}

void tools_free(struct tool_set *set)
{
	free(set->tools);
	set->tools = NULL;
	set->n = 0;
}

const struct tool_entry *tools_find(const struct tool_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->tools[i].name, name))
			return &set->tools[i];
	return NULL;
}

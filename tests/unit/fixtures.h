/* Setting up what the unit tests read: whole files, the Go workload's
 * builds named on the command line, and scratch directory trees (a fake
 * /proc, a container's root). Failing to set up is not a failed check:
 * these print why and exit(1). */
#ifndef SONDE_TEST_FIXTURES_H
#define SONDE_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fixture_file {
	uint8_t *data;	/* malloc'd; a NUL follows the last byte */
	size_t size;
};

struct fixture_file fixture_read(const char *path);
bool fixture_copy(const char *from, const char *to);

/* tests/workloads/gosym built three ways, as meson passes them. */
struct fixture_go_workload {
	const char *binary;	/* with symbols and DWARF */
	const char *stripped;	/* -s -w */
	const char *pie;	/* stripped, position-independent */
};

/* Takes "BINARY STRIPPED PIE" and then the n_extra arguments extra_usage
 * names; returns those extra ones. */
char **fixture_go_workload(int argc, char **argv, int n_extra, const char *extra_usage,
			   struct fixture_go_workload *w);

/* A new directory /tmp/sonde-NAME-XXXXXX; its path is malloc'd. */
char *fixture_tree_new(const char *name);
/* TREE/REL, and the directories above it. */
void fixture_mkdirs(const char *tree, const char *rel);
/* TREE/REL holding text; its directory must exist. */
void fixture_write(const char *tree, const char *rel, const char *text);
/* The tree and all below it; frees the path. */
void fixture_tree_remove(char *tree);

#endif

/* A minimal unit-test harness: each test file is one executable whose
 * TEST functions main() runs through RUN(); a failed CHECK prints where
 * and why, the file exits non-zero if any failed. */
#ifndef SONDE_CHECK_H
#define SONDE_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { \
	check_count++; \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

/* CHECK with a printf-style account of what went wrong. */
#define CHECK_MSG(cond, ...) do { \
	check_count++; \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

#define CHECK_STR(actual, expected) do { \
	const char *a_ = (actual), *e_ = (expected); \
	check_count++; \
	if (!a_ || strcmp(a_, e_)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
			#actual, a_ ? a_ : "(null)", e_); \
	} \
} while (0)

#define CHECK_U64(actual, expected) do { \
	uint64_t a_ = (actual), e_ = (expected); \
	check_count++; \
	if (a_ != e_) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n", __FILE__, \
			__LINE__, #actual, a_, e_); \
	} \
} while (0)

#define RUN(test) do { \
	int before_ = check_failures; \
	test(); \
	printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #test); \
} while (0)

#define CHECK_DONE() (printf("%d checks, %d failed\n", check_count, check_failures), \
		      check_failures ? 1 : 0)

/* A fixed-seed xorshift64 generator for tests that feed random bytes to a
 * parser: the same "random" input on every run, so a failure reproduces.
 * Each file keeps its own state (seed it non-zero). */
static inline uint64_t check_rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

#endif

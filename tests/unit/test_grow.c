#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <sonde/grow.h>

#include "check.h"

struct item {
	uint64_t a, b;
};

static void grows_from_empty_to_initial(void)
{
	struct item *v = NULL;
	size_t cap = 0;

	CHECK(SONDE_GROW(v, cap, 1, 8) == 0);
	CHECK(v != NULL);
	CHECK_U64(cap, 8);
	v[7] = (struct item){7, 7};	/* the whole capacity is usable (ASan) */
	free(v);
}

static void doubles_and_keeps_items(void)
{
	struct item *v = NULL;
	size_t cap = 0, n = 0;

	for (; n < 100; n++) {
		CHECK(SONDE_GROW(v, cap, n + 1, 4) == 0);
		v[n] = (struct item){n, 2 * n};
	}
	CHECK_U64(cap, 128);	/* 4, 8, 16, 32, 64, 128 */
	for (size_t i = 0; i < n; i++)
		CHECK(v[i].a == i && v[i].b == 2 * i);
	free(v);
}

static void room_enough_changes_nothing(void)
{
	struct item *v = NULL, *before;
	size_t cap = 0, none = 0;

	CHECK(SONDE_GROW(v, cap, none, 4) == 0);
	CHECK(v == NULL);
	CHECK_U64(cap, 0);
	CHECK(SONDE_GROW(v, cap, 3, 4) == 0);
	before = v;
	CHECK(SONDE_GROW(v, cap, 4, 4) == 0);
	CHECK(v == before);
	CHECK_U64(cap, 4);
	free(v);
}

static void need_beyond_double_keeps_doubling(void)
{
	char *v = NULL;
	size_t cap = 0;

	CHECK(SONDE_GROW(v, cap, 100, 16) == 0);
	CHECK_U64(cap, 128);
	CHECK(SONDE_GROW(v, cap, 1000, 16) == 0);
	CHECK_U64(cap, 1024);
	v[1023] = 1;
	free(v);
}

/* Through the function: an item size known only at run time. */
static void runtime_item_size(void)
{
	size_t cap = 0, key_size = 12;
	unsigned char *v = sonde_grow(NULL, &cap, 5, key_size, 2);

	CHECK(v != NULL);
	CHECK_U64(cap, 8);
	v[cap * key_size - 1] = 1;
	free(v);
}

static void initial_zero_counts_as_one(void)
{
	int *v = NULL;
	size_t cap = 0;

	CHECK(SONDE_GROW(v, cap, 3, 0) == 0);
	CHECK_U64(cap, 4);
	free(v);
}

/* Refusals happen before any allocation, so a small real array with a
 * claimed capacity stands in for a huge one; it must come back as it was. */
static void overflow_refused_array_untouched(void)
{
	struct item *v = malloc(4 * sizeof(*v)), *before = v;
	size_t cap;

	v[0] = (struct item){1, 2};

	/* Doubling the count itself would wrap. */
	cap = SIZE_MAX / 2 + 1;
	errno = 0;
	CHECK(SONDE_GROW(v, cap, cap + 1, 4) == -ENOMEM);
	CHECK(errno == ENOMEM);
	CHECK(v == before);
	CHECK_U64(cap, SIZE_MAX / 2 + 1);

	/* The count fits, the bytes (count * 16) do not. */
	cap = 4;
	errno = 0;
	CHECK(SONDE_GROW(v, cap, SIZE_MAX / sizeof(*v) + 1, 4) == -ENOMEM);
	CHECK(errno == ENOMEM);
	CHECK(v == before);
	CHECK_U64(cap, 4);

	CHECK(v[0].a == 1 && v[0].b == 2);
	free(v);
}

int main(void)
{
	RUN(grows_from_empty_to_initial);
	RUN(doubles_and_keeps_items);
	RUN(room_enough_changes_nothing);
	RUN(need_beyond_double_keeps_doubling);
	RUN(runtime_item_size);
	RUN(initial_zero_counts_as_one);
	RUN(overflow_refused_array_untouched);
	return CHECK_DONE();
}

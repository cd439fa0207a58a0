/* Copied stacks waiting, per thread, for their block's end. */
#include <stdlib.h>

#include <sonde/stack_pending.h>

#include "check.h"

static void waits_until_taken_once(void)
{
	struct sonde_stack_pending *p = sonde_stack_pending_new();
	const uint64_t ips[] = {0x1000, 0x2000, 0x3000}, *got;
	size_t n;

	CHECK(!sonde_stack_pending_take(p, 10, 11, &got, &n));
	CHECK(!sonde_stack_pending_put(p, 10, 11, ips, 3));
	/* Another process's thread of that id (reused) does not get it. */
	CHECK(!sonde_stack_pending_take(p, 99, 11, &got, &n));
	CHECK(sonde_stack_pending_take(p, 10, 11, &got, &n));
	CHECK_U64(n, 3);
	CHECK_U64(got[2], 0x3000);
	/* One end per copy. */
	CHECK(!sonde_stack_pending_take(p, 10, 11, &got, &n));
	sonde_stack_pending_free(p);
}

static void a_new_copy_replaces_one_that_did_not_count(void)
{
	struct sonde_stack_pending *p = sonde_stack_pending_new();
	const uint64_t first[] = {1, 2, 3, 4, 5}, second[] = {7}, *got;
	size_t n;

	CHECK(!sonde_stack_pending_put(p, 10, 11, first, 5));
	CHECK(!sonde_stack_pending_put(p, 10, 11, second, 1));
	CHECK(sonde_stack_pending_take(p, 10, 11, &got, &n));
	CHECK_U64(n, 1);
	CHECK_U64(got[0], 7);
	/* An empty stack (nothing unwound) is a stack too. */
	CHECK(!sonde_stack_pending_put(p, 10, 11, NULL, 0));
	CHECK(sonde_stack_pending_take(p, 10, 11, &got, &n));
	CHECK_U64(n, 0);
	sonde_stack_pending_free(p);
}

/* Many threads at once: each keeps its own, through the table's growth. */
static void many_threads(void)
{
	struct sonde_stack_pending *p = sonde_stack_pending_new();
	const uint64_t *got;
	uint64_t ips[8];
	size_t n;
	int wrong = 0;

	for (uint32_t tid = 1; tid <= 20000; tid++) {
		for (size_t i = 0; i < 8; i++)
			ips[i] = (uint64_t)tid << 8 | i;
		wrong += sonde_stack_pending_put(p, tid / 4 + 1, tid, ips, 1 + tid % 8) != 0;
	}
	for (uint32_t tid = 20000; tid >= 1; tid--) {
		if (!sonde_stack_pending_take(p, tid / 4 + 1, tid, &got, &n) || n != 1 + tid % 8 ||
		    got[n - 1] != ((uint64_t)tid << 8 | (n - 1)))
			wrong++;
	}
	CHECK_U64(wrong, 0);
	sonde_stack_pending_free(p);
}

int main(void)
{
	RUN(waits_until_taken_once);
	RUN(a_new_copy_replaces_one_that_did_not_count);
	RUN(many_threads);
	return CHECK_DONE();
}

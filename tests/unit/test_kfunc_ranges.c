#include <stdio.h>
#include <stdlib.h>

#include <sonde/kfunc_ranges.h>

#include "check.h"

static const char *const names[] = {"out_of_memory", "try_charge_memcg", "absent_func"};

static struct sonde_kfunc_ranges *from_text(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct sonde_kfunc_ranges *r = sonde_kfunc_ranges_read(f, names, 3);

	fclose(f);
	return r;
}

static void ranges_end_at_next_symbol(void)
{
	/* Out of address order on purpose: kallsyms lists modules last. */
	struct sonde_kfunc_ranges *r = from_text(
		"ffffffff81597ce0 T out_of_memory\n"
		"ffffffff815981f0 T pagefault_out_of_memory\n"
		"ffffffff8121240a t out_of_memory.cold\n"
		"ffffffff81212482 t pagefault_out_of_memory.cold\n"
		"ffffffff8168f910 t try_charge_memcg\n"
		"ffffffff8168fa00 d some_data\n"
		"ffffffff8168fb00 T out_of_memory_helper\n"
		"ffffffffc0001000 t mod_func\t[mod]\n");

	CHECK(r != NULL);
	CHECK_U64(sonde_kfunc_ranges_count(r), 3);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff81597ce0) == 0);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff815981ef) == 0);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff815981f0) == -1);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff81212410) == 0);	/* .cold part */
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff81212482) == -1);
	/* Data symbols still end a function; prefixes are other functions. */
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff8168f9ff) == 1);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff8168fa00) == -1);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff8168fb10) == -1);
	CHECK(sonde_kfunc_ranges_find(r, 0x1000) == -1);
	sonde_kfunc_ranges_free(r);
}

static void hidden_addresses_give_nothing(void)
{
	/* kallsyms read without CAP_SYSLOG shows zeros. */
	struct sonde_kfunc_ranges *r = from_text(
		"0000000000000000 T out_of_memory\n"
		"0000000000000000 t try_charge_memcg\n");

	CHECK(r != NULL);
	CHECK_U64(sonde_kfunc_ranges_count(r), 0);
	CHECK(sonde_kfunc_ranges_find(r, 0) == -1);
	sonde_kfunc_ranges_free(r);
}

static void malformed_lines_skipped(void)
{
	struct sonde_kfunc_ranges *r = from_text(
		"garbage\n"
		"ffffffff81000000\n"
		"ffffffff81000000 T\n"
		"ffffffff81000010 TT out_of_memory\n"
		"ffffffff81000020 T try_charge_memcg\n"
		"ffffffff81000030 T next\n");

	CHECK_U64(sonde_kfunc_ranges_count(r), 1);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff81000025) == 1);
	CHECK(sonde_kfunc_ranges_find(r, 0xffffffff81000015) == -1);
	sonde_kfunc_ranges_free(r);
	CHECK(sonde_kfunc_ranges_find(NULL, 1) == -1);
	CHECK_U64(sonde_kfunc_ranges_count(NULL), 0);
}

int main(void)
{
	RUN(ranges_end_at_next_symbol);
	RUN(hidden_addresses_give_nothing);
	RUN(malformed_lines_skipped);
	return CHECK_DONE();
}

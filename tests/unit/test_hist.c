#include <stdlib.h>

#include <sonde/out.h>

#include "check.h"

static void slots(void)
{
	CHECK_U64(sonde_log2_slot(0), 0);
	CHECK_U64(sonde_log2_slot(1), 0);
	CHECK_U64(sonde_log2_slot(2), 1);
	CHECK_U64(sonde_log2_slot(3), 1);
	CHECK_U64(sonde_log2_slot(4), 2);
	CHECK_U64(sonde_log2_slot(1023), 9);
	CHECK_U64(sonde_log2_slot(1024), 10);
	CHECK_U64(sonde_log2_slot(UINT64_MAX), 63);
}

static void printed(void)
{
	uint64_t s[SONDE_HIST_SLOTS] = {0};
	FILE *f = tmpfile();
	char buf[2048] = "";
	size_t n;

	s[2] = 10;
	s[4] = 5;
	sonde_hist_print(f, s, SONDE_HIST_SLOTS, "usecs");
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	CHECK(strstr(buf, "usecs : count") != NULL);
	CHECK(strstr(buf, "4 -> 7 : 10         |****************************************|") != NULL);
	CHECK(strstr(buf, "8 -> 15 : 0          |") != NULL);
	CHECK(strstr(buf, "16 -> 31 : 5          |********************                    |") != NULL);
	CHECK(strstr(buf, "2 -> 3") == NULL);	/* empty leading buckets hidden */
	CHECK(strstr(buf, "32 -> 63") == NULL);	/* and trailing ones */
	fclose(f);
}

static void json(void)
{
	uint64_t s[SONDE_HIST_SLOTS] = {0};
	struct sonde_json j = {0};

	s[0] = 1;
	s[3] = 2;
	sonde_json_begin(&j);
	sonde_hist_json(&j, "hist", s, SONDE_HIST_SLOTS);
	j.buf[j.len] = 0;
	CHECK_STR(j.buf, "{\"hist\":[{\"low\":0,\"high\":1,\"count\":1},{\"low\":8,\"high\":15,\"count\":2}]");
	sonde_json_free(&j);
}

int main(void)
{
	RUN(slots);
	RUN(printed);
	RUN(json);
	return CHECK_DONE();
}

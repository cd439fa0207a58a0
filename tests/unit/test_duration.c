#include <sonde/duration.h>

#include "check.h"

static uint64_t dur(const char *s)
{
	uint64_t ns = 12345;

	return sonde_parse_duration(s, &ns) ? UINT64_MAX : ns;
}

static void units(void)
{
	CHECK_U64(dur("10"), 10000000000ull);
	CHECK_U64(dur("10s"), 10000000000ull);
	CHECK_U64(dur("500ms"), 500000000ull);
	CHECK_U64(dur("250us"), 250000ull);
	CHECK_U64(dur("7ns"), 7ull);
	CHECK_U64(dur("2m"), 120000000000ull);
	CHECK_U64(dur("1h"), 3600000000000ull);
	CHECK_U64(dur("1.5s"), 1500000000ull);
	CHECK_U64(dur("0"), 0);
}

static void rejects(void)
{
	const char *bad[] = {"", "s", "-1", "+1", " 1", "1 ", "1x", "1sec", "0x10", "inf", "nan",
			     "1e3", "99999999999999999999h", "1..2", "ms"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ns;

		check_count++;
		if (!sonde_parse_duration(bad[i], &ns)) {
			check_failures++;
			fprintf(stderr, "accepted bad duration '%s'\n", bad[i]);
		}
	}
	CHECK(sonde_parse_duration(NULL, &(uint64_t){0}) != 0);
}

static void integers(void)
{
	uint64_t v;

	CHECK(sonde_parse_u64("42", 1, 100, &v) == 0 && v == 42);
	CHECK(sonde_parse_u64("0", 1, 100, &v) != 0);
	CHECK(sonde_parse_u64("101", 1, 100, &v) != 0);
	CHECK(sonde_parse_u64("-1", 0, 100, &v) != 0);
	CHECK(sonde_parse_u64("4x", 0, 100, &v) != 0);
	CHECK(sonde_parse_u64("", 0, 100, &v) != 0);
	CHECK(sonde_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v) != 0);
}

int main(void)
{
	RUN(units);
	RUN(rejects);
	RUN(integers);
	return CHECK_DONE();
}

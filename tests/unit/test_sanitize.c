#include <sonde/out.h>

#include "check.h"

static const char *san(const char *s, size_t len, size_t size)
{
	static char buf[256];

	sonde_sanitize(s, len, buf, size);
	return buf;
}

#define SAN(lit) san(lit, sizeof(lit) - 1, 256)

static void neutralises(void)
{
	CHECK_STR(SAN("python3"), "python3");
	CHECK_STR(SAN("a\nb"), "a\\x0ab");
	CHECK_STR(SAN("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
	CHECK_STR(SAN("\x7f"), "\\x7f");
	CHECK_STR(SAN("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
	CHECK_STR(SAN("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(SAN("\xff\xfe"), "\\xff\\xfe");
	CHECK_STR(SAN("stop\0here"), "stop");
}

static void truncates_safely(void)
{
	/* Never a partial escape or a partial UTF-8 sequence at the end. */
	CHECK_STR(san("abcdef", 6, 4), "abc");
	CHECK_STR(san("a\x01", 2, 5), "a");
	CHECK_STR(san("a\xc3\xa9", 3, 3), "a");
}

static void table_rows(void)
{
	static const struct sonde_column cols[] = {{"PID", 5, false}, {"COMM", 6, true}, {"LAT", 4, false}};
	struct sonde_table t;
	FILE *f = tmpfile();
	char line[128];
	const char *row[] = {"42", "evil\n", "1.5"};

	sonde_table_init(&t, cols, 3, f);
	CHECK(sonde_table_row(&t, row) == 0);
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK_STR(line, "  PID COMM    LAT\n");
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK_STR(line, "   42 evil\\x0a  1.5\n");
	fclose(f);
}

int main(void)
{
	RUN(neutralises);
	RUN(truncates_safely);
	RUN(table_rows);
	return CHECK_DONE();
}

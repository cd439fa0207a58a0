#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <sonde/out.h>

#include "check.h"

static char *escaped(const char *s, size_t len)
{
	static struct sonde_json j;

	j.len = 0;
	sonde_json_escape(&j, s, len);
	j.buf[j.len] = 0;
	return j.buf;
}

#define ESC(lit) escaped(lit, sizeof(lit) - 1)

static void escapes(void)
{
	CHECK_STR(ESC("plain"), "\"plain\"");
	CHECK_STR(ESC("a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(ESC("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
	CHECK_STR(ESC("\x1b[31mred"), "\"\\u001b[31mred\"");
	CHECK_STR(ESC("nul\0in"), "\"nul\\u0000in\"");
	CHECK_STR(ESC("\x7f"), "\"\\u007f\"");
}

static void utf8(void)
{
	CHECK_STR(ESC("caf\xc3\xa9"), "\"caf\xc3\xa9\"");			/* é kept */
	CHECK_STR(ESC("\xe2\x82\xac"), "\"\xe2\x82\xac\"");			/* € kept */
	CHECK_STR(ESC("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");		/* emoji kept */
	CHECK_STR(ESC("bad\xff"), "\"bad\\ufffd\"");				/* invalid byte */
	CHECK_STR(ESC("\xc3"), "\"\\ufffd\"");					/* truncated */
	CHECK_STR(ESC("\xc0\xaf"), "\"\\ufffd\\ufffd\"");			/* overlong */
	CHECK_STR(ESC("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");		/* surrogate */
	CHECK_STR(ESC("\xc2\x9b"), "\"\\u009b\"");				/* C1 CSI */
}

static void objects(void)
{
	struct sonde_json j = {0};
	FILE *f = tmpfile();
	char line[512] = "";

	sonde_json_begin(&j);
	sonde_json_u64(&j, "pid", 42);
	sonde_json_i64(&j, "delta", -3);
	sonde_json_str(&j, "comm", "a\"b");
	sonde_json_null(&j, "latency_ns");
	sonde_json_str(&j, "none", NULL);
	sonde_json_bool(&j, "ok", true);
	sonde_json_array_begin(&j, "answers");
	sonde_json_str(&j, NULL, "1.2.3.4");
	sonde_json_str(&j, NULL, "::1");
	sonde_json_array_end(&j);
	sonde_json_object_begin(&j, "nested");
	sonde_json_u64(&j, "x", 1);
	sonde_json_object_end(&j);
	sonde_json_array_begin(&j, "empty");
	sonde_json_array_end(&j);
	CHECK(sonde_json_emit(&j, f) == 0);
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK_STR(line, "{\"pid\":42,\"delta\":-3,\"comm\":\"a\\\"b\",\"latency_ns\":null,"
			"\"none\":null,\"ok\":true,\"answers\":[\"1.2.3.4\",\"::1\"],"
			"\"nested\":{\"x\":1},\"empty\":[]}\n");
	/* The buffer is reused line after line. */
	long pos = ftell(f);

	fseek(f, pos, SEEK_SET);
	sonde_json_begin(&j);
	sonde_json_u64(&j, "n", 2);
	CHECK(sonde_json_emit(&j, f) == 0);
	fseek(f, pos, SEEK_SET);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK_STR(line, "{\"n\":2}\n");
	sonde_json_free(&j);
	fclose(f);
}

/* Doubles print in their shortest exact form; non-finite ones as null. */
static void doubles(void)
{
	struct sonde_json j = {0};

	sonde_json_begin(&j);
	sonde_json_double(&j, "a", 0.33);
	sonde_json_double(&j, "b", 1.5);
	sonde_json_double(&j, "c", 0.1 + 0.2);
	sonde_json_double(&j, "d", 1e300 * 1e300);
	sonde_json_double(&j, "e", 12);
	j.buf[j.len] = 0;
	CHECK_STR(j.buf, "{\"a\":0.33,\"b\":1.5,\"c\":0.30000000000000004,\"d\":null,\"e\":12");
	sonde_json_free(&j);
}

static void integers(void)
{
	struct sonde_json j = {0};

	sonde_json_begin(&j);
	sonde_json_u64(&j, "zero", 0);
	sonde_json_u64(&j, "max", UINT64_MAX);
	sonde_json_i64(&j, "min", INT64_MIN);
	sonde_json_i64(&j, "neg", -7);
	sonde_json_i64(&j, "pos", 1234567890);
	j.buf[j.len] = 0;
	CHECK_STR(j.buf, "{\"zero\":0,\"max\":18446744073709551615,"
			 "\"min\":-9223372036854775808,\"neg\":-7,\"pos\":1234567890");
	sonde_json_free(&j);
}

/* Held, lines wait in the stream's buffer; released, they are written. */
static void held_flushes(void)
{
	struct sonde_json j = {0};
	char buf[64];
	int fds[2];
	FILE *w;

	CHECK(pipe(fds) == 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	w = fdopen(fds[1], "w");
	sonde_out_hold();
	for (int i = 0; i < 2; i++) {
		sonde_json_begin(&j);
		sonde_json_u64(&j, "n", i);
		CHECK(sonde_json_emit(&j, w) == 0);
	}
	CHECK(read(fds[0], buf, sizeof(buf)) < 0);
	CHECK(sonde_out_release() == 0);
	CHECK(read(fds[0], buf, sizeof(buf)) == 16);
	CHECK(memcmp(buf, "{\"n\":0}\n{\"n\":1}\n", 16) == 0);
	/* Not held: each line at once. */
	sonde_json_begin(&j);
	sonde_json_u64(&j, "n", 2);
	CHECK(sonde_json_emit(&j, w) == 0);
	CHECK(read(fds[0], buf, sizeof(buf)) == 8);
	sonde_json_free(&j);
	fclose(w);
	close(fds[0]);
}

int main(void)
{
	RUN(escapes);
	RUN(utf8);
	RUN(objects);
	RUN(doubles);
	RUN(integers);
	RUN(held_flushes);
	return CHECK_DONE();
}

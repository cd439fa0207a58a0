/* Strings a target controls (comm, file names, DNS names) are escaped for
 * JSON and neutralised for tables. Beyond not crashing, the outputs must
 * hold their promises: JSON strings carry no raw control bytes and are
 * valid UTF-8; table cells carry no byte a terminal would act on. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sonde/out.h>

static bool valid_utf8_no_controls(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 ? 4 : 0;

		if (!len || i + len > n || c < 0x20 || c == 0x7f)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		if (len == 2 && c == 0xc2 && s[i + 1] < 0xa0)
			return false;	/* C1 control */
		i += len;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sonde_json j = {0};
	char cell[256];

	sonde_json_escape(&j, (const char *)data, size);
	if (!j.oom) {
		if (j.len < 2 || j.buf[0] != '"' || j.buf[j.len - 1] != '"')
			abort();
		if (!valid_utf8_no_controls((unsigned char *)j.buf, j.len))
			abort();
	}
	sonde_json_free(&j);

	sonde_sanitize((const char *)data, size, cell, sizeof(cell));
	if (strlen(cell) >= sizeof(cell) ||
	    !valid_utf8_no_controls((unsigned char *)cell, strlen(cell)))
		abort();
	return 0;
}

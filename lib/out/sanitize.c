#include <stdio.h>
#include <string.h>

#include "sonde/out.h"

void sonde_sanitize(const char *str, size_t len, char *buf, size_t size)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;

	for (size_t i = 0; i < len && s[i]; i++) {
		unsigned char c = s[i];
		size_t n = 1;
		bool ok;

		if (c < 0x80) {
			ok = c >= 0x20 && c != 0x7f;
		} else {
			/* Accept well-formed multi-byte sequences that are not C1
			 * controls; reject the rest byte by byte. */
			n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			    c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			ok = n && i + n <= len;
			for (size_t k = 1; ok && k < n; k++)
				ok = (s[i + k] & 0xc0) == 0x80;
			if (ok && c == 0xc2 && s[i + 1] < 0xa0)
				ok = false;
			if (!ok)
				n = 1;
		}
		if (ok) {
			if (o + n >= size)
				break;
			memcpy(buf + o, s + i, n);
			o += n;
			i += n - 1;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	buf[o] = 0;
}

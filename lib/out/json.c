#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonde/grow.h"
#include "sonde/out.h"

static void reserve(struct sonde_json *j, size_t more)
{
	if (!j->oom && SONDE_GROW(j->buf, j->cap, j->len + more + 1, 512))
		j->oom = true;
}

static void put(struct sonde_json *j, const char *s, size_t n)
{
	reserve(j, n);
	if (j->oom)
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void putc_(struct sonde_json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void sonde_json_escape(struct sonde_json *j, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	char esc[8];

	putc_(j, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;

		/* Most strings are plain printable ASCII: copy such runs whole. */
		for (n = 0; i + n < len && s[i + n] >= 0x20 && s[i + n] < 0x7f &&
			    s[i + n] != '"' && s[i + n] != '\\'; n++)
			;
		if (n) {
			put(j, (const char *)s + i, n);
			i += n;
			continue;
		}
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			static const char short_esc[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};

			if (c < sizeof(short_esc) && short_esc[c]) {
				esc[0] = '\\';
				esc[1] = short_esc[c];
				put(j, esc, 2);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(j, esc, 6);
			}
			i++;
		} else if ((n = utf8_len(s + i, len - i)) > 0) {
			/* C1 controls (U+0080..U+009F) are valid UTF-8 but act on
			 * terminals that print the JSON: escape them too. */
			if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
				snprintf(esc, sizeof(esc), "\\u%04x", s[i + 1]);
				put(j, esc, 6);
			} else {
				put(j, (const char *)s + i, n);
			}
			i += n;
		} else {
			put(j, "\\ufffd", 6);
			i++;
		}
	}
	putc_(j, '"');
}

static void key(struct sonde_json *j, const char *k)
{
	if (j->comma)
		putc_(j, ',');
	j->comma = true;
	if (k) {
		sonde_json_escape(j, k, strlen(k));
		putc_(j, ':');
	}
}

void sonde_json_begin(struct sonde_json *j)
{
	j->len = 0;
	j->comma = false;
	j->oom = false;
	putc_(j, '{');
}

void sonde_json_strn(struct sonde_json *j, const char *k, const char *v, size_t len)
{
	key(j, k);
	sonde_json_escape(j, v, len);
}

void sonde_json_str(struct sonde_json *j, const char *k, const char *v)
{
	if (!v) {
		sonde_json_null(j, k);
		return;
	}
	sonde_json_strn(j, k, v, strlen(v));
}

/* Decimal digits of v, written backwards from the end of num[24]; returns
 * where they start. (snprintf took a third of an event's formatting.) */
static char *decimal(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void sonde_json_u64(struct sonde_json *j, const char *k, uint64_t v)
{
	char num[24], *end = num + sizeof(num), *start = decimal(end, v);

	key(j, k);
	put(j, start, end - start);
}

void sonde_json_i64(struct sonde_json *j, const char *k, int64_t v)
{
	char num[24], *end = num + sizeof(num);
	/* The magnitude as unsigned: -INT64_MIN does not fit an int64_t. */
	char *start = decimal(end, v < 0 ? -(uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--start = '-';
	key(j, k);
	put(j, start, end - start);
}

void sonde_json_double(struct sonde_json *j, const char *k, double v)
{
	char num[40];

	if (!isfinite(v)) {
		sonde_json_null(j, k);
		return;
	}
	key(j, k);
	/* The shortest form that reads back as the same double: 0.33, not
	 * 0.33000000000000002. */
	for (int digits = 15;; digits++) {
		int len = snprintf(num, sizeof(num), "%.*g", digits, v);

		if (digits == 17 || strtod(num, NULL) == v) {
			put(j, num, len);
			return;
		}
	}
}

void sonde_json_bool(struct sonde_json *j, const char *k, bool v)
{
	key(j, k);
	put(j, v ? "true" : "false", v ? 4 : 5);
}

void sonde_json_null(struct sonde_json *j, const char *k)
{
	key(j, k);
	put(j, "null", 4);
}

void sonde_json_array_begin(struct sonde_json *j, const char *k)
{
	key(j, k);
	putc_(j, '[');
	j->comma = false;
}

void sonde_json_array_end(struct sonde_json *j)
{
	putc_(j, ']');
	j->comma = true;
}

void sonde_json_object_begin(struct sonde_json *j, const char *k)
{
	key(j, k);
	putc_(j, '{');
	j->comma = false;
}

void sonde_json_object_end(struct sonde_json *j)
{
	putc_(j, '}');
	j->comma = true;
}

int sonde_json_emit(struct sonde_json *j, FILE *out)
{
	putc_(j, '}');
	putc_(j, '\n');
	if (sonde_out_closed())
		return -1;
	if (j->oom) {
		/* Better one line short than a truncated, unparsable one. */
		j->oom = false;
		return 0;
	}
	fwrite(j->buf, 1, j->len, out);
	return sonde_out_flush(out);
}

void sonde_json_free(struct sonde_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

/* Durations come from the command line; any byte string must be either
 * rejected or parsed to a value that the grammar allows. */
#include <stdlib.h>
#include <string.h>

#include <sonde/duration.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size + 1);
	uint64_t ns, v;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (sonde_parse_duration(text, &ns) == 0 && (!text[0] || strchr("0123456789.", text[0]) == NULL))
		abort();
	if (sonde_parse_u64(text, 0, UINT64_MAX, &v) == 0 && strspn(text, "0123456789") != strlen(text))
		abort();
	free(text);
	return 0;
}

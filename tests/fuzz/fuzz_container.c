/* /proc/PID/cgroup text and cgroup paths come from the target's side. */
#include <stdlib.h>
#include <string.h>

#include <sonde/container.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char id[SONDE_CONTAINER_ID_LEN + 1];
	char *path;

	if (sonde_container_id_from_cgroup_file((const char *)data, size, id) &&
	    strspn(id, "0123456789abcdef") != SONDE_CONTAINER_ID_LEN)
		abort();
	path = malloc(size + 1);
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = 0;
	if (sonde_container_id_from_path(path, id) && strlen(id) != SONDE_CONTAINER_ID_LEN)
		abort();
	free(path);
	return 0;
}

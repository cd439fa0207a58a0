/* Sleeps COUNT times for NS nanoseconds with clock_nanosleep(CLOCK_MONOTONIC,
 * relative), then prints {"pid":..,"request_ns":..,"count":..}: a workload
 * whose every traced call has a known, distinctive duration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long long ns, count;
	struct timespec ts;

	if (argc != 3 || (ns = atoll(argv[1])) <= 0 || (count = atoll(argv[2])) <= 0) {
		fprintf(stderr, "usage: nanosleeper NS COUNT\n");
		return 2;
	}
	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	for (long long i = 0; i < count; i++) {
		int err = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);

		if (err) {
			fprintf(stderr, "clock_nanosleep: %s\n", strerror(err));
			return 1;
		}
	}
	printf("{\"pid\":%d,\"request_ns\":%lld,\"count\":%lld}\n", (int)getpid(), ns, count);
	return 0;
}

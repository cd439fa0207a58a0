/* Resolves names with libc's getaddrinfo(), the way most programs do, and
 * prints one address per line: a workload whose DNS queries come from
 * glibc's stub resolver (its nameserver from /etc/resolv.conf).
 *
 *   resolve NAME [inet|inet6|any]
 * Exit status 0 when resolved, 2 when the name does not exist, 1 else. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res, *ai;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: resolve NAME [inet|inet6|any]\n");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[2], "inet"))
		hints.ai_family = AF_INET;
	else if (argc == 3 && !strcmp(argv[2], "inet6"))
		hints.ai_family = AF_INET6;
	rc = getaddrinfo(argv[1], NULL, &hints, &res);
	if (rc) {
		fprintf(stderr, "resolve: %s: %s\n", argv[1], gai_strerror(rc));
		return rc == EAI_NONAME ? 2 : 1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *addr = ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		printf("%s\n", inet_ntop(ai->ai_family, addr, buf, sizeof(buf)));
	}
	freeaddrinfo(res);
	return 0;
}

/* Makes three TCP connects with known outcomes, all on loopback and without
 * help from outside: to its own IPv4 listener and its own IPv6 listener
 * (established) and to a port nobody listens on (refused). Prints one JSON
 * line per connect: pid, af, daddr, dport, sport (local port, 0 when the
 * connect failed) and outcome. Needs no interpreter, so it runs in the
 * minimal guests of tests/kernels as well as on the host. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct target {
	int family;
	const char *addr;
	int listen;		/* 1: we listen there; 0: the port is closed */
};

static socklen_t make_addr(int family, const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, addr, &in->sin_addr);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &in6->sin6_addr);
	return sizeof(*in6);
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A bound socket on an ephemeral port; listening or not. */
static int bound(int family, const char *addr, int listening)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(family, addr, 0, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || (listening && listen(fd, 8))) {
		perror("listener");
		return -1;
	}
	return fd;
}

int main(void)
{
	const struct target targets[] = {
		{AF_INET, "127.0.0.1", 1},
		{AF_INET6, "::1", 1},
		{AF_INET, "127.0.0.1", 0},
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const struct target *t = &targets[i];
		struct sockaddr_storage ss;
		int server = bound(t->family, t->addr, t->listen);
		int port, fd, established, err;
		socklen_t len;

		if (server < 0)
			return 1;
		port = local_port(server);
		/* The closed port: bound a moment ago, released before connecting. */
		if (!t->listen)
			close(server);
		len = make_addr(t->family, t->addr, port, &ss);
		fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		established = fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0;
		err = established ? 0 : errno;
		if (err && err != ECONNREFUSED) {
			perror("connect");
			rc = 1;
		}
		printf("{\"pid\":%d,\"af\":\"%s\",\"daddr\":\"%s\",\"dport\":%d,\"sport\":%d,\"outcome\":\"%s\"}\n",
		       (int)getpid(), t->family == AF_INET ? "ipv4" : "ipv6", t->addr, port,
		       established ? local_port(fd) : 0,
		       !err ? "established" : err == ECONNREFUSED ? "refused" : "failed");
		close(fd);
		if (t->listen)
			close(server);
	}
	return rc;
}

/*
 * vigil-hbrecord: stand in for the supervisor's heartbeat socket and write
 * when each datagram arrived (CLOCK_MONOTONIC, usec, one per line), for a
 * given count or until SIGTERM. Point a real vigil-worker's --supervisor at
 * PATH to record its heartbeat arrivals; tests/bench/vigil-phi-replay reads
 * the result.
 *   vigil-hbrecord --socket PATH [--count N] > trace
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = NULL;
	unsigned long count = 0;
	char buf[4097];
	int ch;

	while ((ch = getopt_long(argc, argv, "s:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: vigil-hbrecord --socket PATH [--count N]\n");
			return 2;
		}
	}
	if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: vigil-hbrecord --socket PATH [--count N]\n");
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		fprintf(stderr, "vigil-hbrecord: cannot bind %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct sigaction act = {.sa_handler = on_term};
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	for (unsigned long n = 0; !stop && (count == 0 || n < count);) {
		ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
		uint64_t t = now_usec();
		if (len < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vigil-hbrecord: recv: %s\n", strerror(errno));
			break;
		}
		buf[len] = '\0';
		if (strstr(buf, "HEARTBEAT=1") == NULL)
			continue;
		printf("%" PRIu64 "\n", t);
		fflush(stdout);
		n++;
	}
	close(fd);
	unlink(path);
	return 0;
}

/*
 * unix-pidfd-cost: what a pidfd with every datagram (SO_PASSPIDFD, Linux
 * 6.5) costs a receiver that closes it at once, as supervisor/listener.c
 * does for every worker it does not hold. In a tight loop on one CPU, with
 * nothing else in the way: send 8 datagrams to a bound AF_UNIX SOCK_DGRAM
 * socket, receive them with one recvmmsg (credentials and arrival stamps on,
 * as the supervisor asks), close the pidfds if any; 200 000 datagrams a
 * round, the options alternating round by round, 10 rounds each. Prints the
 * fastest round of each, in ns per datagram (send and receive together), and
 * the difference. Built with the tests (BUILD_DIR/tests/unix-pidfd-cost), not
 * run by them; or by hand:
 *
 *   cc -O2 -o /tmp/unix-pidfd-cost tests/bench/unix-pidfd-cost.c tests/bench/bench.c
 *   taskset -c 1 /tmp/unix-pidfd-cost
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define BATCH 8
#define PER_ROUND 200000
#define ROUNDS 10

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* One round: PER_ROUND datagrams through a fresh socket; ns per datagram. */
static double
round_ns(const char *path, int pidfds)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int one = 1, rx, tx;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx == -1 || tx == -1 || bind(rx, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1 ||
	    setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1 ||
	    (pidfds && setsockopt(rx, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof(one)) == -1) ||
	    connect(tx, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("unix-pidfd-cost: socket setup");
		exit(1);
	}
	static const char hb[] = "HEARTBEAT=1\nWORKER=w-12345\nSEQ=42\n";
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char bufs[BATCH][128];
	union {
		char buf[BENCH_CMSG_SPACE];
		struct cmsghdr align;
	} cmsg[BATCH];

	uint64_t t0 = now_ns();
	for (int done = 0; done < PER_ROUND; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if (send(tx, hb, sizeof(hb) - 1, 0) == -1) {
				perror("unix-pidfd-cost: send");
				exit(1);
			}
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1,
							  .msg_control = cmsg[i].buf,
							  .msg_controllen = sizeof(cmsg[i].buf)};
		}
		int n = recvmmsg(rx, msgs, BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n != BATCH) {
			fprintf(stderr, "unix-pidfd-cost: recvmmsg gave %d: %s\n", n, strerror(errno));
			exit(1);
		}
		for (int i = 0; pidfds && i < n; i++)
			bench_close_pidfds(&msgs[i].msg_hdr);
	}
	double ns = (double)(now_ns() - t0) / PER_ROUND;
	close(rx);
	close(tx);
	unlink(path);
	return ns;
}

int
main(void)
{
	char path[64];
	double best[2] = {1e18, 1e18};

	snprintf(path, sizeof(path), "/tmp/unix-pidfd-cost.%d", (int)getpid());
	for (int r = 0; r < 2 * ROUNDS; r++) {
		double ns = round_ns(path, r % 2);
		if (ns < best[r % 2])
			best[r % 2] = ns;
	}
	printf("unix-pidfd-cost: %d x %d datagrams in batches of %d, fastest round: "
	       "%.0f ns/datagram without pidfds, %.0f with (SO_PASSPIDFD, each closed): "
	       "+%.0f ns\n",
	       ROUNDS, PER_ROUND, BATCH, best[0], best[1], best[1] - best[0]);
	return 0;
}

/*
 * bench.c: what the benchmark programs share (bench.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>
#include <unistd.h>

#include "bench.h"

volatile sig_atomic_t bench_stop;

void
bench_close_pidfds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_PIDFD) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			if (fd >= 0)
				close(fd);
		}
	}
}

/* SIGTERM, SIGINT: end the run. */
static void
bench_signal(int sig)
{
	bench_stop = 1;
}

void
bench_stop_signals(sigset_t *waitmask)
{
	struct sigaction sa = {.sa_handler = bench_signal};
	sigset_t stopsigs;

	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigprocmask(SIG_BLOCK, &stopsigs, waitmask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

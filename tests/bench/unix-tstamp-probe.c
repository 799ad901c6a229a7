/*
 * unix-tstamp-probe: what this kernel stamps on an AF_UNIX datagram, for
 * supervisor/listener.c, which takes a heartbeat's time from that stamp.
 * For each way of asking for a software receive stamp, it sends one datagram
 * to a bound SOCK_DGRAM socket, waits 200 ms, receives it, and prints the
 * stamp against the send and the receive times: if it is within a
 * millisecond of the send, the kernel stamps as the datagram is queued
 * (the time we want); if 200 ms after, as it is read. Last, the case of a
 * datagram queued before the option was set (socket activation). Not built
 * by CMake; by hand:
 *
 *   cc -O2 -o /tmp/unix-tstamp-probe tests/bench/unix-tstamp-probe.c && /tmp/unix-tstamp-probe
 *
 * Linux 6.18 (2026-12): SO_TIMESTAMP and SO_TIMESTAMPNS give the send time,
 * SO_TIMESTAMPING (RX_SOFTWARE|SOFTWARE) gives no stamp at all, and a
 * datagram queued before SO_TIMESTAMPNS was set is stamped when read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/net_tstamp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROBE_WAIT_USEC 200000

static double
probe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The stamp in a received message's control data (seconds), or 0 if none. */
static double
probe_stamp(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_TIMESTAMP) {
			struct timeval tv;
			memcpy(&tv, CMSG_DATA(c), sizeof(tv));
			return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
		}
		if (c->cmsg_type == SCM_TIMESTAMPNS || c->cmsg_type == SCM_TIMESTAMPING) {
			struct timespec ts; /* SCM_TIMESTAMPING: the first of three is software */
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		}
	}
	return 0;
}

/* Send, wait, receive with option opt=val set before (or, if late, after) the send. */
static void
probe(const char *label, int opt, int val, int late)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int r = socket(AF_UNIX, SOCK_DGRAM, 0), s = socket(AF_UNIX, SOCK_DGRAM, 0);
	char buf[16];
	union {
		char b[256];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			    .msg_controllen = sizeof(cbuf.b)};

	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/unix-tstamp-probe.%d", (int)getpid());
	unlink(a.sun_path);
	if (r == -1 || s == -1 || bind(r, (struct sockaddr *)&a, sizeof(a)) == -1) {
		fprintf(stderr, "unix-tstamp-probe: cannot bind %s: %s\n", a.sun_path,
			strerror(errno));
		exit(1);
	}
	if (!late && setsockopt(r, SOL_SOCKET, opt, &val, sizeof(val)) == -1)
		printf("%-44s setsockopt: %s\n", label, strerror(errno));
	double sent = probe_now();
	sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
	if (late)
		setsockopt(r, SOL_SOCKET, opt, &val, sizeof(val));
	usleep(PROBE_WAIT_USEC);
	double before = probe_now();
	if (recvmsg(r, &mh, 0) == -1) {
		fprintf(stderr, "unix-tstamp-probe: recvmsg: %s\n", strerror(errno));
		exit(1);
	}
	double stamp = probe_stamp(&mh);
	if (stamp == 0)
		printf("%-44s no stamp\n", label);
	else
		printf("%-44s stamp - send %+9.3f ms, stamp - receive %+9.3f ms: %s\n", label,
		       (stamp - sent) * 1e3, (stamp - before) * 1e3,
		       stamp - sent < 0.001 ? "the send (queueing) time" : "the receive time");
	close(r);
	close(s);
	unlink(a.sun_path);
}

int
main(void)
{
	probe("SO_TIMESTAMP", SO_TIMESTAMP, 1, 0);
	probe("SO_TIMESTAMPNS", SO_TIMESTAMPNS, 1, 0);
	probe("SO_TIMESTAMPING RX_SOFTWARE|SOFTWARE", SO_TIMESTAMPING,
	      SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE, 0);
	probe("SO_TIMESTAMPNS set after the send", SO_TIMESTAMPNS, 1, 1);
	return 0;
}

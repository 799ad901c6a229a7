/*
 * vigil-raw: the baseline a supervisor's cost per heartbeat is compared
 * with. It receives datagrams the way vigil-supervisor does at the kernel
 * boundary (an AF_UNIX SOCK_DGRAM socket with SO_PASSCRED, recvmmsg in
 * batches of 64 with a credentials buffer per message) but does nothing with
 * them beyond reading one byte each: no libevent, no decoding, no state. With
 * --timestamp it also asks for each datagram's arrival stamp (SO_TIMESTAMPNS,
 * as the supervisor does; room for it in the control buffers), to price what
 * the kernel charges for it. It waits in a plain poll(), runs until SIGTERM,
 * SIGINT or --duration, then prints one line: datagrams, bytes, its own CPU
 * time and context switches (getrusage), and the CPU nanoseconds per
 * datagram.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "bench.h"
#include "duration.h"
#include "sock.h"
#include "wire.h"

#define RAW_BATCH 64 /* datagrams per recvmmsg, as in supervisor/listener.c */

/* The receive buffers, shaped like the supervisor's (one byte over the largest datagram). */
struct raw_batch {
	struct mmsghdr msgs[RAW_BATCH];
	struct iovec iov[RAW_BATCH];
	struct sockaddr_un addrs[RAW_BATCH];
	union {
		char buf[BENCH_CMSG_SPACE];
		struct cmsghdr align;
	} cmsg[RAW_BATCH];
	char bufs[RAW_BATCH][VIGIL_WIRE_MAX + 1];
};

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigil-raw --socket PATH [--duration DUR] [--timestamp] [--pidfd]\n"
		    "Receive datagrams on PATH with recvmmsg and nothing else, until SIGTERM,\n"
		    "SIGINT or DUR has passed; print datagrams, bytes and CPU per datagram.\n"
		    "--timestamp: with each datagram's arrival stamp (SO_TIMESTAMPNS).\n"
		    "--pidfd: with each sender's pidfd (SO_PASSPIDFD), closed at once, as the\n"
		    "supervisor does for a worker it does not hold.\n");
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "vigil-raw: invalid %s '%s'\n", what, arg);
	usage(stderr);
	return 2;
}


/* Receive until the socket is empty; add to *count and *bytes, first bytes to *sum. */
static int
raw_drain(int fd, struct raw_batch *b, uint64_t *count, uint64_t *bytes, unsigned *sum,
	  int pidfds)
{
	for (;;) {
		for (int i = 0; i < RAW_BATCH; i++) {
			struct msghdr *mh = &b->msgs[i].msg_hdr;
			mh->msg_name = &b->addrs[i];
			mh->msg_namelen = sizeof(b->addrs[i]);
			mh->msg_iov = &b->iov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = b->cmsg[i].buf;
			mh->msg_controllen = sizeof(b->cmsg[i].buf);
			mh->msg_flags = 0;
		}
		int n = recvmmsg(fd, b->msgs, RAW_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		for (int i = 0; i < n; i++) {
			*bytes += b->msgs[i].msg_len;
			if (b->msgs[i].msg_len > 0)
				*sum += (unsigned char)b->bufs[i][0];
			if (pidfds)
				bench_close_pidfds(&b->msgs[i].msg_hdr);
		}
		*count += (uint64_t)n;
		if (n < RAW_BATCH)
			return 0;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"duration", required_argument, NULL, 'd'},
	    {"timestamp", no_argument, NULL, 't'},
	    {"pidfd", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *why;
	uint64_t duration = 0;
	int ch, one = 1, stamps = 0, pidfds = 0;

	while ((ch = getopt_long(argc, argv, "s:d:tph", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'd':
			if (vigil_duration_parse(optarg, &duration, &why) == -1 || duration == 0)
				return usage_error("--duration", optarg);
			break;
		case 't':
			stamps = 1;
			break;
		case 'p':
			pidfds = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL)
		return usage_error("--socket", "(missing)");

	struct raw_batch *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		fprintf(stderr, "vigil-raw: out of memory\n");
		return 1;
	}
	for (int i = 0; i < RAW_BATCH; i++) {
		b->iov[i].iov_base = b->bufs[i];
		b->iov[i].iov_len = sizeof(b->bufs[i]);
	}
	struct vigil_sock s;
	char err[VIGIL_ERRLEN];
	if (vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigil-raw: %s\n", err);
		return 1;
	}
	if (setsockopt(s.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		fprintf(stderr, "vigil-raw: cannot enable SO_PASSCRED on %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	if (pidfds && setsockopt(s.fd, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof(one)) == -1) {
		fprintf(stderr, "vigil-raw: cannot enable SO_PASSPIDFD on %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	if (stamps && setsockopt(s.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1) {
		fprintf(stderr, "vigil-raw: cannot enable SO_TIMESTAMPNS on %s: %s\n", path,
			strerror(errno));
		return 1;
	}

	/* The stop signals stay blocked except inside ppoll. */
	sigset_t waitmask;
	bench_stop_signals(&waitmask);

	uint64_t start = vigil_now_usec(), count = 0, bytes = 0;
	unsigned sum = 0;
	struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
	while (!bench_stop) {
		struct timespec ts, *tsp = NULL;
		if (duration != 0) {
			uint64_t now = vigil_now_usec();
			if (now - start >= duration)
				break;
			uint64_t left = duration - (now - start);
			ts.tv_sec = (time_t)(left / VIGIL_USEC_PER_SEC);
			ts.tv_nsec = (long)(left % VIGIL_USEC_PER_SEC) * 1000;
			tsp = &ts;
		}
		int r = ppoll(&pfd, 1, tsp, &waitmask);
		if (r == -1 && errno != EINTR) {
			perror("vigil-raw: poll");
			return 1;
		}
		if (r > 0 && raw_drain(s.fd, b, &count, &bytes, &sum, pidfds) == -1) {
			fprintf(stderr, "vigil-raw: receive on %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	/* Our CPU time (user + system) and context switches (each wait that slept is one). */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
		       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
	double secs = (double)(vigil_now_usec() - start) / 1e6;
	printf("vigil-raw: %" PRIu64 " datagrams %" PRIu64 " bytes in %.2fs; cpu %.6fs; %.0f "
	       "ns/datagram; %ld context switches; checksum %u\n",
	       count, bytes, secs, (double)cpu / 1e9,
	       count > 0 ? (double)cpu / (double)count : 0.0, ru.ru_nvcsw + ru.ru_nivcsw, sum);
	vigil_sock_close(&s);
	free(b);
	return 0;
}

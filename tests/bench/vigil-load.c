/*
 * vigil-load: a load generator for vigil-supervisor. N simulated workers
 * send heartbeats over M sockets, at a total rate or flat out, or the same
 * sockets send garbage (malformed datagrams) to test floods. Sends never
 * block; datagrams the kernel refuses (EAGAIN: the supervisor's queue is
 * full) are counted. With --once instead, each worker sends exactly one
 * heartbeat and a send waits while the queue is full, so that every name
 * gets registered. With --prime, the same first, then "vigil-load: primed"
 * on stdout, and the load starts at SIGUSR1: the load then comes from the
 * pid the supervisor already knows every name by, so that it measures
 * heartbeats, not a restart of every worker. Prints one summary line.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "duration.h"
#include "sock.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigil-load --supervisor PATH [--workers N] [--sockets M]\n"
		    "                  [--rate PER_SEC | --flood] [--duration DUR] [--garbage]\n"
		    "                  [--prefix NAME] [--once | --prime] [--claim LINE]\n"
		    "Send heartbeats (or, with --garbage, malformed datagrams) to a supervisor.\n"
		    "--once: one heartbeat per worker, then stop (paced by --rate unless\n"
		    "--flood); sends wait for room in the supervisor's queue instead of being\n"
		    "refused.\n"
		    "--prime: as --once (flat out), print 'vigil-load: primed', wait for\n"
		    "SIGUSR1, then send the load from the same pid.\n"
		    "--claim LINE: add LINE to every heartbeat (e.g. WATCHDOG_USEC=1: each name\n"
		    "claims the shortest timeout).\n"
		    "Defaults: 100 workers, 4 sockets, 1000 datagrams/s, 5s, prefix 'load'.\n");
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "vigil-load: invalid %s '%s'\n", what, arg);
	usage(stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"supervisor", required_argument, NULL, 'S'}, {"workers", required_argument, NULL, 'n'},
	    {"sockets", required_argument, NULL, 'm'},    {"rate", required_argument, NULL, 'r'},
	    {"flood", no_argument, NULL, 'f'},            {"duration", required_argument, NULL, 'd'},
	    {"garbage", no_argument, NULL, 'g'},          {"prefix", required_argument, NULL, 'p'},
	    {"once", no_argument, NULL, 'o'},             {"help", no_argument, NULL, 'h'},
	    {"prime", no_argument, NULL, 'P'},           {"claim", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	const char *sup = NULL, *prefix = "load", *why, *claim = "";
	unsigned long workers = 100, nsocks = 4, rate = 1000;
	uint64_t duration = 5 * VIGIL_USEC_PER_SEC;
	int flood = 0, garbage = 0, once = 0, prime = 0, ch;
	char *end;

	while ((ch = getopt_long(argc, argv, "S:n:m:r:fd:gp:oPc:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			sup = optarg;
			break;
		case 'n':
			workers = strtoul(optarg, &end, 10);
			if (*end != '\0' || workers == 0 || workers > 10000000)
				return usage_error("--workers", optarg);
			break;
		case 'm':
			nsocks = strtoul(optarg, &end, 10);
			if (*end != '\0' || nsocks == 0 || nsocks > 1024)
				return usage_error("--sockets", optarg);
			break;
		case 'r':
			rate = strtoul(optarg, &end, 10);
			if (*end != '\0' || rate == 0)
				return usage_error("--rate", optarg);
			break;
		case 'f':
			flood = 1;
			break;
		case 'd':
			if (vigil_duration_parse(optarg, &duration, &why) == -1)
				return usage_error("--duration", optarg);
			break;
		case 'g':
			garbage = 1;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'P':
			prime = 1;
			break;
		case 'c':
			if (strchr(optarg, '\n') != NULL || strlen(optarg) > 200)
				return usage_error("--claim", optarg);
			claim = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (sup == NULL)
		return usage_error("--supervisor", "(missing)");
	if (once && garbage)
		return usage_error("--once with", "--garbage");
	if (prime && (once || garbage))
		return usage_error("--prime with", once ? "--once" : "--garbage");

	struct sockaddr_un sun;
	socklen_t len;
	char err[VIGIL_ERRLEN];
	if (vigil_sock_addr(sup, &sun, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigil-load: %s\n", err);
		return 2;
	}
	int *fds = calloc(nsocks, sizeof(*fds));
	uint64_t *seq = calloc(workers, sizeof(*seq));
	if (fds == NULL || seq == NULL)
		return 1;
	for (unsigned long i = 0; i < nsocks; i++) {
		if ((fds[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
			perror("vigil-load: socket");
			return 1;
		}
		/* A blocking AF_UNIX datagram send waits while the receiver's queue is full. */
		if (once && fcntl(fds[i], F_SETFL, 0) == -1) {
			perror("vigil-load: fcntl");
			return 1;
		}
	}

	char buf[512];
	if (prime) {
		/* Blocked before the line is printed: a SIGUSR1 right after it is not lost. */
		sigset_t go;
		int sig;
		sigemptyset(&go);
		sigaddset(&go, SIGUSR1);
		sigprocmask(SIG_BLOCK, &go, NULL);
		for (unsigned long i = 0; i < nsocks; i++) {
			if (fcntl(fds[i], F_SETFL, 0) == -1) {
				perror("vigil-load: fcntl");
				return 1;
			}
		}
		for (unsigned long w = 0; w < workers; w++) {
			int blen = snprintf(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=%s-%lu\nSEQ=%" PRIu64
					    "\n%s", prefix, w, ++seq[w], claim);
			if (sendto(fds[w % nsocks], buf, (size_t)blen, MSG_NOSIGNAL,
				   (struct sockaddr *)&sun, len) != blen) {
				perror("vigil-load: priming");
				return 1;
			}
		}
		for (unsigned long i = 0; i < nsocks; i++) {
			if (fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1) {
				perror("vigil-load: fcntl");
				return 1;
			}
		}
		printf("vigil-load: primed %lu workers\n", workers);
		fflush(stdout);
		sigwait(&go, &sig);
	}

	uint64_t start = vigil_now_usec(), sent = 0, refused = 0, failed = 0, n = 0;
	uint64_t rng = start | 1;
	for (;;) {
		uint64_t now = vigil_now_usec();
		if (once ? n == workers : now - start >= duration)
			break;
		if (!flood) {
			/* Pace: the n-th datagram is due at start + n / rate. */
			uint64_t due = start + n * VIGIL_USEC_PER_SEC / rate;
			if (due > now) {
				struct timespec ts = {0, (long)((due - now) * 1000)};
				nanosleep(&ts, NULL);
			}
		}
		unsigned long w = (unsigned long)(n % workers);
		int blen;
		if (garbage) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			/* Malformed in a few ways: no '=', a bad key, a bad number, raw bytes. */
			switch (rng % 4) {
			case 0:
				blen = snprintf(buf, sizeof(buf), "garbage %" PRIu64, n);
				break;
			case 1:
				blen = snprintf(buf, sizeof(buf), "heartbeat=1\nWORKER=%s-%lu", prefix, w);
				break;
			case 2:
				blen = snprintf(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=%s-%lu\nSEQ=x", prefix, w);
				break;
			default:
				blen = (int)(rng % 200) + 1;
				for (int i = 0; i < blen; i++)
					buf[i] = (char)(rng >> (i % 56));
				break;
			}
		} else {
			blen = snprintf(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=%s-%lu\nSEQ=%" PRIu64 "\n%s",
					prefix, w, ++seq[w], claim);
		}
		if (sendto(fds[n % nsocks], buf, (size_t)blen, MSG_NOSIGNAL, (struct sockaddr *)&sun,
			   len) == blen)
			sent++;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			refused++;
		else
			failed++;
		n++;
	}
	double secs = (double)(vigil_now_usec() - start) / 1e6;
	printf("vigil-load: %s %" PRIu64 " datagrams in %.2fs (%.0f/s) from %lu workers over %lu "
	       "sockets; %" PRIu64 " refused (queue full), %" PRIu64 " failed\n",
	       garbage ? "garbage" : "heartbeats", sent, secs, (double)sent / secs, workers, nsocks,
	       refused, failed);
	for (unsigned long i = 0; i < nsocks; i++)
		close(fds[i]);
	free(fds);
	free(seq);
	return failed > 0 ? 1 : 0;
}

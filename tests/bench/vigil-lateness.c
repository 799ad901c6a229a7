/*
 * vigil-lateness: how late vigil-supervisor's timeouts fire, as a worker
 * sees it. K simulated workers, each on its own bound socket (in a fresh
 * directory under $TMPDIR, removed at exit), send one heartbeat each and
 * wait for the supervisor's TIMEOUT; lateness is the TIMEOUT's arrival
 * minus the heartbeat's send time minus the timeout, on CLOCK_MONOTONIC, so
 * it includes the supervisor's delay in reading the heartbeat. A negative
 * lateness is an early fire. Each worker heartbeats again as soon as its
 * TIMEOUT arrives (which recovers it and starts a new period), until S
 * samples are in. The workers start spread evenly over one timeout, so that
 * their timers do not all fire together. Prints one summary line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "duration.h"
#include "sock.h"
#include "wire.h"

#define LATE_EVENTS 64              /* epoll events per wait */
#define LATE_SILENCE_MIN 5000000ULL /* give up after this long without a TIMEOUT (usec)... */
#define LATE_SILENCE_PERIODS 10     /* ...or this many timeouts, whichever is longer */

/* One simulated worker. */
struct late_worker {
	struct vigil_sock sock;
	char name[VIGIL_NAME_MAX + 1];
	uint64_t seq;     /* of the last heartbeat sent; 0 before the first */
	uint64_t sent_at; /* when it was sent (vigil_now_usec) */
};

/* The run: its workers, the supervisor's address, what was measured. */
struct late_run {
	struct late_worker *w;
	unsigned long nworkers;
	struct sockaddr_un sup;
	socklen_t suplen;
	uint64_t timeout;
	int64_t *samples; /* lateness, usec */
	unsigned long nsamples, want;
	unsigned long stale; /* TIMEOUTs about an older heartbeat than the last one sent */
	unsigned long lost;  /* periods whose first TIMEOUT never came (MISSED > 1 seen first) */
};

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigil-lateness --supervisor PATH --timeout DUR [--workers K]\n"
		    "                      [--samples S] [--prefix NAME]\n"
		    "Measure how late the supervisor's TIMEOUTs arrive (DUR must be its\n"
		    "--timeout). Defaults: 10 workers, 1000 samples, prefix 'late'.\n");
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "vigil-lateness: invalid %s '%s'\n", what, arg);
	usage(stderr);
	return 2;
}

/* Send worker i's next heartbeat, noting when; -1 (with errno) if the supervisor is gone. */
static int
late_heartbeat(struct late_run *r, unsigned long i)
{
	struct late_worker *w = &r->w[i];
	char buf[160];
	int len = snprintf(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=%s\nSEQ=%" PRIu64 "\n", w->name,
			   w->seq + 1);

	w->seq++;
	w->sent_at = vigil_now_usec();
	/* The socket blocks on send: a full supervisor queue delays a heartbeat, never drops it. */
	if (sendto(w->sock.fd, buf, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&r->sup,
		   r->suplen) != len)
		return -1;
	return 0;
}

/* Read what worker i's socket holds; take a sample from a TIMEOUT about its last heartbeat. */
static int
late_receive(struct late_run *r, unsigned long i, uint64_t now)
{
	struct late_worker *w = &r->w[i];
	char buf[VIGIL_WIRE_MAX + 1];
	struct vigil_wire_error err;
	struct vigil_msg m;
	ssize_t n;

	while ((n = recv(w->sock.fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (vigil_wire_decode(buf, (size_t)n, &m, &err) == -1 ||
		    vigil_wire_kind(&m) != VIGIL_MSG_TIMEOUT || strcmp(m.worker, w->name) != 0 ||
		    !(m.fields & VIGIL_F_LAST_SEQ) || !(m.fields & VIGIL_F_MISSED)) {
			fprintf(stderr, "vigil-lateness: unexpected datagram for %s: %.*s\n",
				w->name, (int)n, buf);
			return -1;
		}
		if (m.last_seq != w->seq) {
			r->stale++; /* our newer heartbeat crossed it */
			continue;
		}
		if (m.missed == 1 && r->nsamples < r->want)
			r->samples[r->nsamples++] =
			    (int64_t)now - (int64_t)w->sent_at - (int64_t)r->timeout;
		else if (m.missed > 1)
			r->lost++;
		if (late_heartbeat(r, i) == -1) {
			fprintf(stderr, "vigil-lateness: heartbeat for %s: %s\n", w->name,
				strerror(errno));
			return -1;
		}
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		fprintf(stderr, "vigil-lateness: receive for %s: %s\n", w->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Bind the workers' sockets in dir and watch them with epfd. */
static int
late_bind(struct late_run *r, const char *dir, const char *prefix, int epfd)
{
	char path[sizeof(r->sup.sun_path)], err[VIGIL_ERRLEN];

	for (unsigned long i = 0; i < r->nworkers; i++) {
		struct late_worker *w = &r->w[i];
		snprintf(w->name, sizeof(w->name), "%s-%lu", prefix, i);
		if (snprintf(path, sizeof(path), "%s/%lu.sock", dir, i) >= (int)sizeof(path)) {
			fprintf(stderr, "vigil-lateness: socket paths in %s are too long\n", dir);
			return -1;
		}
		if (vigil_sock_bind(&w->sock, path, SOCK_DGRAM, 0600, err, sizeof(err)) == -1) {
			fprintf(stderr, "vigil-lateness: %s\n", err);
			return -1;
		}
		int fl = fcntl(w->sock.fd, F_GETFL);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
		if (fl == -1 || fcntl(w->sock.fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
		    epoll_ctl(epfd, EPOLL_CTL_ADD, w->sock.fd, &ev) == -1) {
			fprintf(stderr, "vigil-lateness: cannot set up %s: %s\n", path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Start the workers on their stagger and answer TIMEOUTs until enough
 * samples are in. -1 on a signal, a dead supervisor, or a long silence.
 */
static int
late_loop(struct late_run *r, int epfd, const sigset_t *waitmask)
{
	struct epoll_event evs[LATE_EVENTS];
	uint64_t start = vigil_now_usec(), heard = start;
	uint64_t silence = LATE_SILENCE_PERIODS * r->timeout;
	unsigned long started = 0;

	if (silence < LATE_SILENCE_MIN)
		silence = LATE_SILENCE_MIN;
	while (r->nsamples < r->want) {
		uint64_t now = vigil_now_usec(), due;
		/* Worker i's first heartbeat is due at start + i * timeout / K. */
		while (started < r->nworkers &&
		       (due = start + started * r->timeout / r->nworkers) <= now) {
			if (late_heartbeat(r, started) == -1) {
				fprintf(stderr, "vigil-lateness: heartbeat to %s: %s\n",
					r->sup.sun_path, strerror(errno));
				return -1;
			}
			started++;
		}
		if (now - heard >= silence) {
			fprintf(stderr, "vigil-lateness: no TIMEOUT from the supervisor in %.1fs\n",
				(double)silence / 1e6);
			return -1;
		}
		uint64_t until = heard + silence;
		if (started < r->nworkers && due < until)
			until = due;
		uint64_t left = until > now ? until - now : 0;
		struct timespec ts = {(time_t)(left / VIGIL_USEC_PER_SEC),
				      (long)(left % VIGIL_USEC_PER_SEC) * 1000};
		int n = epoll_pwait2(epfd, evs, LATE_EVENTS, &ts, waitmask);
		if (bench_stop)
			return -1;
		if (n == -1 && errno != EINTR) {
			perror("vigil-lateness: epoll_pwait2");
			return -1;
		}
		/* One clock read per wakeup: the earliest we know all of these had arrived. */
		now = vigil_now_usec();
		if (n > 0)
			heard = now;
		for (int e = 0; e < n; e++) {
			if (late_receive(r, (unsigned long)evs[e].data.u64, now) == -1)
				return -1;
		}
	}
	return 0;
}

static int
late_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank p-th percentile of n sorted samples, in milliseconds. */
static double
late_pct(const int64_t *s, unsigned long n, unsigned p)
{
	unsigned long rank = (n * p + 99) / 100;

	return (double)s[rank > 0 ? rank - 1 : 0] / 1000.0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"supervisor", required_argument, NULL, 'S'}, {"timeout", required_argument, NULL, 't'},
	    {"workers", required_argument, NULL, 'n'},    {"samples", required_argument, NULL, 's'},
	    {"prefix", required_argument, NULL, 'p'},     {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct late_run r = {.nworkers = 10, .want = 1000};
	const char *sup = NULL, *prefix = "late", *why;
	char *end, err[VIGIL_ERRLEN];
	int ch;

	while ((ch = getopt_long(argc, argv, "S:t:n:s:p:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			sup = optarg;
			break;
		case 't':
			if (vigil_duration_parse(optarg, &r.timeout, &why) == -1 || r.timeout == 0)
				return usage_error("--timeout", optarg);
			break;
		case 'n':
			r.nworkers = strtoul(optarg, &end, 10);
			if (*end != '\0' || r.nworkers == 0 || r.nworkers > 100000)
				return usage_error("--workers", optarg);
			break;
		case 's':
			r.want = strtoul(optarg, &end, 10);
			if (*end != '\0' || r.want == 0 || r.want > 100000000)
				return usage_error("--samples", optarg);
			break;
		case 'p':
			prefix = optarg;
			if (strlen(prefix) > VIGIL_NAME_MAX - 8 ||
			    !vigil_wire_name_valid(prefix, strlen(prefix)))
				return usage_error("--prefix", optarg);
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
	if (r.timeout == 0)
		return usage_error("--timeout", "(missing)");
	if (vigil_sock_addr(sup, &r.sup, &r.suplen, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigil-lateness: %s\n", err);
		return 2;
	}

	/* SIGINT and SIGTERM end the run (cleaning up) and are only taken inside the wait. */
	sigset_t waitmask;
	bench_stop_signals(&waitmask);

	const char *tmp = getenv("TMPDIR");
	char dir[sizeof(r.sup.sun_path)];
	snprintf(dir, sizeof(dir), "%s/vigil-lateness.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "vigil-lateness: cannot create a directory in %s: %s\n",
			tmp != NULL ? tmp : "/tmp", strerror(errno));
		return 1;
	}
	r.w = calloc(r.nworkers, sizeof(*r.w));
	r.samples = calloc(r.want, sizeof(*r.samples));
	for (unsigned long i = 0; r.w != NULL && i < r.nworkers; i++)
		r.w[i].sock.fd = -1; /* so that cleanup closes only what was opened */
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int rc = 1;
	if (r.w == NULL || r.samples == NULL || epfd == -1)
		fprintf(stderr, "vigil-lateness: cannot allocate for %lu workers\n", r.nworkers);
	else if (late_bind(&r, dir, prefix, epfd) == 0) {
		uint64_t start = vigil_now_usec();
		if (late_loop(&r, epfd, &waitmask) == 0) {
			double secs = (double)(vigil_now_usec() - start) / 1e6;
			unsigned long early = 0;
			char tbuf[32];
			qsort(r.samples, r.nsamples, sizeof(*r.samples), late_cmp);
			for (unsigned long i = 0; i < r.nsamples && r.samples[i] < 0; i++)
				early++;
			vigil_duration_format(r.timeout, tbuf, sizeof(tbuf));
			printf("vigil-lateness: timeout %s, %lu workers, %lu samples in %.2fs: "
			       "min %.3f p50 %.3f p99 %.3f max %.3f ms, early %lu, stale %lu, "
			       "lost %lu\n",
			       tbuf, r.nworkers, r.nsamples, secs, late_pct(r.samples, r.nsamples, 0),
			       late_pct(r.samples, r.nsamples, 50), late_pct(r.samples, r.nsamples, 99),
			       late_pct(r.samples, r.nsamples, 100), early, r.stale, r.lost);
			rc = 0;
		}
	}
	for (unsigned long i = 0; r.w != NULL && i < r.nworkers; i++)
		vigil_sock_close(&r.w[i].sock);
	if (epfd != -1)
		close(epfd);
	rmdir(dir);
	free(r.w);
	free(r.samples);
	return rc;
}

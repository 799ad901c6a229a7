/*
 * sd-watchdog-probe: the service side of a benchmark of systemd's own
 * service watchdog (PID 1 as the heartbeat receiver), for comparison with
 * vigil. Speaks sd_notify by hand (no libsystemd): one AF_UNIX SOCK_DGRAM
 * socket, the address from $NOTIFY_SOCKET, a leading '@' for an abstract
 * socket. Runs as the main process of a Type=notify unit with WatchdogSec=.
 *
 *   --flood [--rate R] [--duration D] [--nonblock] [--cpu-of PID] [--out FILE]
 *	READY=1, then WATCHDOG=1 at R datagrams/s (0 or no --rate: flat out)
 *	for D. Sends block (a full receive queue slows the sender down to the
 *	rate PID 1 absorbs), with a 1s send timeout; with --nonblock they do
 *	not, and a datagram the kernel refuses (EAGAIN) is counted as refused.
 *	With --cpu-of, reads /proc/PID/schedstat (inside the unit's PID
 *	namespace, 1 is its systemd) just before the first ping and again after
 *	the last one plus a settle of 200ms, so the CPU of draining the queue
 *	is counted too. Prints (to stdout, or --out FILE) one line:
 *	  sent=N refused=N errors=N elapsed_us=T self_cpu_us=C self_vcsw=N
 *	  [cpu_ns=C window_us=W]
 *	self_*: this process's CPU and voluntary context switches while sending.
 *   --lateness [--watchdog DUR] [--out FILE]
 *	READY=1, then one WATCHDOG=1, then waits for the watchdog signal
 *	(SIGABRT, systemd's default, or SIGUSR2 / SIGUSR1 / SIGTERM if the unit
 *	says WatchdogSignal=) and prints the lateness, signal time minus the
 *	time the ping was sent minus the watchdog period, in microseconds:
 *	  lateness_us=L signal=NAME watchdog_us=W
 *	The period is --watchdog, else $WATCHDOG_USEC (set by systemd).
 *	Times are CLOCK_MONOTONIC, the clock systemd arms the watchdog on.
 * Exit: 0 done, 1 runtime failure (no $NOTIFY_SOCKET, send failed, no
 * signal within 10 periods + 10s), 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define USEC_PER_SEC 1000000ULL
#define NSEC_PER_USEC 1000ULL

static void
usage(FILE *fp)
{
	fprintf(fp,
	        "Usage: sd-watchdog-probe --flood [--rate PER_SEC] [--duration DUR] [--nonblock]\n"
	        "                         [--cpu-of PID] [--out FILE]\n"
	        "       sd-watchdog-probe --lateness [--watchdog DUR] [--out FILE]\n"
	        "Run as a Type=notify systemd service with WatchdogSec=. --flood sends READY=1\n"
	        "then WATCHDOG=1 at a rate (0: flat out, the default) for DUR (default 5s),\n"
	        "blocking on a full queue unless --nonblock, and with --cpu-of reports the CPU\n"
	        "that process (1: systemd, in the unit's PID namespace) spent meanwhile;\n"
	        "--lateness sends one WATCHDOG=1 and reports how late the watchdog signal\n"
	        "came, in microseconds. DUR is a number with a unit: us, ms, s (e.g. 100ms).\n");
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "sd-watchdog-probe: invalid %s '%s'\n", what, arg);
	usage(stderr);
	return 2;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* "100ms", "1s", "250us", "5" (seconds) -> microseconds; -1 if malformed. */
static int
parse_duration(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= USEC_PER_SEC;
	else if (strcmp(end, "ms") == 0)
		v *= 1000;
	else if (strcmp(end, "us") != 0)
		return -1;
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

/* A socket and the address of $NOTIFY_SOCKET, as sd_notify(3) finds it. */
static int
notify_open(struct sockaddr_un *sa, socklen_t *salen)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;
	struct timeval tv = {.tv_sec = 1};
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@')) {
		fprintf(stderr, "sd-watchdog-probe: $NOTIFY_SOCKET is unset or not a path\n");
		return -1;
	}
	len = strlen(path);
	if (len > sizeof(sa->sun_path)) {
		fprintf(stderr, "sd-watchdog-probe: $NOTIFY_SOCKET is too long\n");
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		perror("sd-watchdog-probe: socket");
		return -1;
	}
	/* A send that blocks for 1s means PID 1 has stopped reading: count it. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* 0, or -1 with errno (EAGAIN: with MSG_DONTWAIT, PID 1's queue is full). */
static int
notify_send(int fd, const struct sockaddr_un *sa, socklen_t salen, const char *msg, int flags)
{
	ssize_t n;

	do
		n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | flags, (const struct sockaddr *)sa,
		           salen);
	while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

/* sum_exec_runtime of PID in ns (first field of /proc/PID/schedstat). */
static int
read_cpu_ns(long pid, uint64_t *ns)
{
	char path[64];
	FILE *fp;
	unsigned long long v;
	int ok;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	ok = fscanf(fp, "%llu", &v) == 1;
	fclose(fp);
	if (!ok)
		return -1;
	*ns = v;
	return 0;
}

static void
sleep_until_us(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / USEC_PER_SEC),
	                      .tv_nsec = (long)(t % USEC_PER_SEC * NSEC_PER_USEC)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t
self_cpu_us(long *vcsw)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*vcsw = ru.ru_nvcsw;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int
flood(FILE *out, unsigned long rate, uint64_t duration, long cpu_pid, int nonblock)
{
	struct sockaddr_un sa;
	socklen_t salen;
	uint64_t sent = 0, refused = 0, errors = 0, tries = 0, start, end, t, cpu0 = 0, cpu1 = 0;
	uint64_t self0, self1;
	long vcsw0, vcsw1;
	int fd = notify_open(&sa, &salen), flags = nonblock ? MSG_DONTWAIT : 0;

	if (fd == -1)
		return 1;
	if (notify_send(fd, &sa, salen, "READY=1", 0) == -1) {
		perror("sd-watchdog-probe: send READY=1");
		return 1;
	}
	/* Let PID 1 finish the start job before the window opens. */
	sleep_until_us(now_us() + 200000);
	if (cpu_pid > 0 && read_cpu_ns(cpu_pid, &cpu0) == -1) {
		fprintf(stderr, "sd-watchdog-probe: cannot read /proc/%ld/schedstat\n", cpu_pid);
		return 1;
	}
	self0 = self_cpu_us(&vcsw0);
	start = now_us();
	end = start + duration;
	for (t = start; t < end; t = now_us()) {
		uint64_t due = rate == 0 ? tries + 64 : (t - start) * rate / USEC_PER_SEC + 1;

		for (; tries < due; tries++) {
			if (notify_send(fd, &sa, salen, "WATCHDOG=1", flags) == 0)
				sent++;
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				refused++; /* nonblocking: the queue is full */
			else
				errors++; /* e.g. a blocking send timed out */
		}
		if (rate != 0) /* until the next datagram is due */
			sleep_until_us(start + tries * USEC_PER_SEC / rate);
	}
	t = now_us();
	self1 = self_cpu_us(&vcsw1);
	fprintf(out,
	        "sent=%" PRIu64 " refused=%" PRIu64 " errors=%" PRIu64 " elapsed_us=%" PRIu64
	        " self_cpu_us=%" PRIu64 " self_vcsw=%ld",
	        sent, refused, errors, t - start, self1 - self0, vcsw1 - vcsw0);
	if (cpu_pid > 0) {
		sleep_until_us(now_us() + 200000); /* PID 1 drains its queue */
		if (read_cpu_ns(cpu_pid, &cpu1) == -1) {
			fprintf(stderr, "sd-watchdog-probe: cannot read /proc/%ld/schedstat\n",
			        cpu_pid);
			return 1;
		}
		fprintf(out, " cpu_ns=%" PRIu64 " window_us=%" PRIu64, cpu1 - cpu0,
		        now_us() - start);
	}
	fprintf(out, "\n");
	close(fd);
	return 0;
}

static const char *
signame(int sig)
{
	switch (sig) {
	case SIGABRT:
		return "ABRT";
	case SIGUSR2:
		return "USR2";
	case SIGUSR1:
		return "USR1";
	case SIGTERM:
		return "TERM";
	}
	return "?";
}

static int
lateness(FILE *out, uint64_t watchdog)
{
	static const int sigs[] = {SIGABRT, SIGUSR2, SIGUSR1, SIGTERM};
	struct sockaddr_un sa;
	socklen_t salen;
	sigset_t set;
	siginfo_t info;
	struct timespec wait;
	uint64_t ping, got, limit;
	size_t i;
	int fd, sig;

	if (watchdog == 0) {
		const char *env = getenv("WATCHDOG_USEC");
		char *end;

		if (env == NULL || (watchdog = strtoull(env, &end, 10)) == 0 || *end != '\0') {
			fprintf(stderr, "sd-watchdog-probe: no --watchdog and no $WATCHDOG_USEC\n");
			return 1;
		}
	}
	/* Blocked and taken with sigtimedwait: no handler, no async-signal rules. */
	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = notify_open(&sa, &salen);
	if (fd == -1)
		return 1;
	if (notify_send(fd, &sa, salen, "READY=1", 0) == -1 ||
	    notify_send(fd, &sa, salen, "WATCHDOG=1", 0) == -1) {
		perror("sd-watchdog-probe: send");
		return 1;
	}
	ping = now_us();
	limit = 10 * watchdog + 10 * USEC_PER_SEC;
	wait.tv_sec = (time_t)(limit / USEC_PER_SEC);
	wait.tv_nsec = (long)(limit % USEC_PER_SEC * NSEC_PER_USEC);
	do
		sig = sigtimedwait(&set, &info, &wait);
	while (sig == -1 && errno == EINTR);
	got = now_us();
	if (sig == -1) {
		fprintf(stderr, "sd-watchdog-probe: no watchdog signal within %" PRIu64 "us\n",
		        limit);
		return 1;
	}
	fprintf(out, "lateness_us=%" PRId64 " signal=%s watchdog_us=%" PRIu64 "\n",
	        (int64_t)(got - ping) - (int64_t)watchdog, signame(sig), watchdog);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"flood", no_argument, NULL, 'f'},          {"lateness", no_argument, NULL, 'l'},
	    {"nonblock", no_argument, NULL, 'n'},       {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'}, {"cpu-of", required_argument, NULL, 'c'},
	    {"watchdog", required_argument, NULL, 'w'}, {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *outpath = NULL;
	unsigned long rate = 0;
	uint64_t duration = 5 * USEC_PER_SEC, watchdog = 0;
	long cpu_pid = 0;
	int mode = 0, nonblock = 0, ch, rc;
	char *end;
	FILE *out = stdout;

	while ((ch = getopt_long(argc, argv, "flnr:d:c:w:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
		case 'l':
			if (mode != 0 && mode != ch) {
				fprintf(stderr, "sd-watchdog-probe: --flood and --lateness exclude "
				                "each other\n");
				usage(stderr);
				return 2;
			}
			mode = ch;
			break;
		case 'n':
			nonblock = 1;
			break;
		case 'r':
			errno = 0;
			rate = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || rate > 100000000)
				return usage_error("--rate", optarg);
			break;
		case 'd':
			if (parse_duration(optarg, &duration) == -1)
				return usage_error("--duration", optarg);
			break;
		case 'c':
			errno = 0;
			cpu_pid = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || cpu_pid <= 0)
				return usage_error("--cpu-of", optarg);
			break;
		case 'w':
			if (parse_duration(optarg, &watchdog) == -1)
				return usage_error("--watchdog", optarg);
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sd-watchdog-probe: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (mode == 0) {
		fprintf(stderr, "sd-watchdog-probe: give --flood or --lateness\n");
		usage(stderr);
		return 2;
	}
	if (outpath != NULL && (out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "sd-watchdog-probe: cannot open %s: %s\n", outpath,
		        strerror(errno));
		return 1;
	}
	rc = mode == 'f' ? flood(out, rate, duration, cpu_pid, nonblock) : lateness(out, watchdog);
	if (fclose(out) != 0 && rc == 0) {
		perror("sd-watchdog-probe: write");
		rc = 1;
	}
	return rc;
}

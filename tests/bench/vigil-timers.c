/*
 * vigil-timers: what one heartbeat's timer re-arm costs in libevent, on the
 * min-heap and through a common timeout, with N pending timers. Each round
 * re-adds a randomly chosen pending timer for the same full timeout, as the
 * supervisor does when that worker's heartbeat arrives (refreshing the
 * loop's cached time first, as it does); it prints ns per re-add for both,
 * clock read included, and their ratio. The figure behind
 * supervisor/ctimeout.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "duration.h"

static void
nothing_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* ns per re-add of one of n timers, rounds times, through tv (heap) or a common timeout. */
static double
measure(unsigned long n, unsigned long rounds, int common)
{
	struct event_base *base = event_base_new();
	struct event **ev = calloc(n, sizeof(*ev));
	struct timeval tv = {600, 0};
	const struct timeval *use = &tv;
	uint64_t rng = 88172645463325252ULL;

	if (base == NULL || ev == NULL)
		return -1;
	if (common && (use = event_base_init_common_timeout(base, &tv)) == NULL)
		return -1;
	for (unsigned long i = 0; i < n; i++) {
		if ((ev[i] = evtimer_new(base, nothing_cb, NULL)) == NULL)
			return -1;
		event_add(ev[i], use);
	}
	uint64_t t0 = vigil_now_usec();
	for (unsigned long k = 0; k < rounds; k++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* Time moves between heartbeats: each deadline lands after the others. */
		event_base_update_cache_time(base);
		event_add(ev[rng % n], use);
	}
	double ns = (double)(vigil_now_usec() - t0) * 1000.0 / (double)rounds;
	for (unsigned long i = 0; i < n; i++)
		event_free(ev[i]);
	free(ev);
	event_base_free(base);
	return ns;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigil-timers [--timers N] [--rounds R]\n"
		    "Time libevent timer re-arms with N pending timers (default 100000),\n"
		    "R re-adds each way (default 2000000): min-heap, common timeout, ratio.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"timers", required_argument, NULL, 'n'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long n = 100000, rounds = 2000000, *target;
	char *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "n:r:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
		case 'r':
			target = ch == 'n' ? &n : &rounds;
			*target = strtoul(optarg, &end, 10);
			if (*end != '\0' || *target == 0 || *target > 100000000) {
				fprintf(stderr, "vigil-timers: invalid --%s '%s'\n",
					ch == 'n' ? "timers" : "rounds", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigil-timers: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	double heap = measure(n, rounds, 0), common = measure(n, rounds, 1);
	if (heap <= 0 || common <= 0) {
		fprintf(stderr, "vigil-timers: out of memory for %lu timers\n", n);
		return 1;
	}
	printf("vigil-timers: %lu timers, %lu re-adds: heap %.0f ns, common timeout %.0f ns, "
	       "heap/common %.2f\n",
	       n, rounds, heap, common, heap / common);
	return 0;
}

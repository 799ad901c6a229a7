/*
 * vigil-phi-replay: replay heartbeat arrival traces (usec, one per line, as
 * tests/bench/vigil-hbrecord writes them) through the supervisor's own
 * state machine (state.c) and detector (phi.c), against fixed timeouts and
 * phi thresholds, with timers that fire exactly on time. For each trace
 * and detector it prints, as a Markdown table row:
 *   - false timeouts: silences declared dead while the worker was in fact
 *     still heartbeating (every one a "timed out" line and TIMEOUT), and
 *     the TIMEOUT datagrams they sent (MISSED 1, 2, ... of each silence);
 *   - detection: the trace's end is the worker's death; the time from its
 *     last heartbeat to the supervisor's declaration;
 *   - the timeout in force at the end, and what the detector's bookkeeping
 *     (phi_observe, phi_timeout, state_apply) costs per heartbeat.
 *   vigil-phi-replay [--fixed DUR]... [--phi T]... [--min-stddev DUR]
 *                    [--pause DUR] [--interval DUR] TRACE...
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "phi.h"
#include "state.h"

#define MAX_DETECTORS 16
#define SUPERVISOR_TIMEOUT_MIN 1000ULL /* as in supervisor.h, which needs libevent's world */
#define REPEAT 20                       /* replays per figure of cost */

struct detector {
	uint64_t fixed;  /* usec; 0: phi */
	double threshold;
};

struct result {
	unsigned false_silences;
	unsigned false_timeouts; /* TIMEOUT datagrams, MISSED 1, 2, ... */
	uint64_t detection;      /* usec from the last heartbeat to the declaration */
	uint64_t timeout_end;
};

static uint64_t *
read_trace(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	uint64_t *t = NULL, v;
	size_t cap = 0;

	*n = 0;
	if (fp == NULL)
		return NULL;
	while (fscanf(fp, "%" SCNu64, &v) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			uint64_t *nt = realloc(t, cap * sizeof(*t));
			if (nt == NULL)
				break;
			t = nt;
		}
		t[(*n)++] = v;
	}
	fclose(fp);
	return t;
}

/* Fire w's timer exactly at its deadline until it is disarmed or past until (exclusive). */
static void
run_timers(struct worker_core *c, int *armed, uint64_t until, struct result *r, int counting)
{
	while (*armed && c->due < until) {
		struct state_event ev = {.type = STATE_EV_TIMER, .now = c->due};
		unsigned act = state_apply(c, &ev);
		if ((act & STATE_ACT_TIMEOUT) && counting) {
			r->false_timeouts++;
			if (c->missed == 1)
				r->false_silences++;
		}
		if (!(act & STATE_ACT_ARM))
			*armed = 0;
	}
}

/* One replay of trace t (n arrivals) through detector d, as monitor.c drives it. */
static void
replay(const uint64_t *t, size_t n, const struct detector *d, const struct phi_params *pp,
       uint64_t interval, struct result *r)
{
	struct phi_params p = *pp;
	struct phi_hist h = {0};
	struct worker_core c = {0};
	int armed = 0;

	memset(r, 0, sizeof(*r));
	p.threshold = d->threshold;
	for (size_t i = 0; i < n; i++) {
		run_timers(&c, &armed, t[i], r, 1);
		c.interval = interval;
		if (d->fixed != 0) {
			c.timeout = d->fixed;
		} else {
			phi_observe(&h, &c, 1, t[i]);
			c.timeout = phi_timeout(&h, c.interval, &p);
			if (c.timeout == 0)
				c.timeout = 3 * interval; /* the supervisor's fallback */
			if (c.timeout < SUPERVISOR_TIMEOUT_MIN)
				c.timeout = SUPERVISOR_TIMEOUT_MIN;
		}
		struct state_event ev = {.type = STATE_EV_HEARTBEAT, .now = t[i], .pid = 1};
		armed = (state_apply(&c, &ev) & STATE_ACT_ARM) != 0;
	}
	r->timeout_end = c.timeout;
	/* The end of the trace is the worker's death: when is it declared? */
	while (armed && c.state != WORKER_DEAD) {
		struct state_event ev = {.type = STATE_EV_TIMER, .now = c.due};
		armed = (state_apply(&c, &ev) & STATE_ACT_ARM) != 0;
		r->detection = ev.now - t[n - 1];
	}
}

/* "8" or "8.5" for a threshold, "300ms" for a fixed timeout. */
static void
describe(const struct detector *d, const struct phi_params *p, char *buf, size_t cap)
{
	char sd[32], pause[32];

	if (d->fixed != 0) {
		char dur[32];
		vigil_duration_format(d->fixed, dur, sizeof(dur));
		snprintf(buf, cap, "fixed %s", dur);
		return;
	}
	vigil_duration_format(p->min_sd, sd, sizeof(sd));
	vigil_duration_format(p->pause, pause, sizeof(pause));
	if (p->pause != 0)
		snprintf(buf, cap, "phi:%g (min sd %s, pause %s)", d->threshold, sd, pause);
	else
		snprintf(buf, cap, "phi:%g (min sd %s)", d->threshold, sd);
}

/* The trace's own figures: its intervals' mean, deviation and maximum, in ms. */
static void
trace_stats(const uint64_t *t, size_t n, double *mean, double *sd, double *max)
{
	double s = 0, ss = 0, m;

	*max = 0;
	for (size_t i = 1; i < n; i++) {
		double d = (double)(t[i] - t[i - 1]);
		s += d;
		if (d > *max)
			*max = d;
	}
	m = s / (double)(n - 1);
	for (size_t i = 1; i < n; i++) {
		double d = (double)(t[i] - t[i - 1]) - m;
		ss += d * d;
	}
	*mean = m / 1000;
	*sd = sqrt(ss / (double)(n - 1)) / 1000;
	*max /= 1000;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: vigil-phi-replay [--fixed DUR]... [--phi T]... [--min-stddev DUR]\n"
		    "                        [--pause DUR] [--interval DUR] TRACE...\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"fixed", required_argument, NULL, 'f'},
	    {"phi", required_argument, NULL, 'p'},
	    {"min-stddev", required_argument, NULL, 's'},
	    {"pause", required_argument, NULL, 'a'},
	    {"interval", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct detector det[MAX_DETECTORS];
	struct phi_params p = {.min_sd = PHI_MIN_STDDEV_DEFAULT};
	uint64_t interval = 100000;
	const char *why;
	size_t nd = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "f:p:s:a:i:h", longopts, NULL)) != -1) {
		uint64_t *dst = NULL;
		const char *what = NULL;
		switch (ch) {
		case 'f':
		case 'p':
			if (nd == MAX_DETECTORS) {
				fprintf(stderr, "vigil-phi-replay: at most %d detectors\n", MAX_DETECTORS);
				return 2;
			}
			memset(&det[nd], 0, sizeof(det[nd]));
			if (ch == 'p') {
				det[nd].threshold = strtod(optarg, NULL);
				if (!(det[nd].threshold >= PHI_THRESHOLD_MIN &&
				      det[nd].threshold <= PHI_THRESHOLD_MAX)) {
					fprintf(stderr, "vigil-phi-replay: bad --phi '%s'\n", optarg);
					return 2;
				}
				nd++;
				break;
			}
			dst = &det[nd++].fixed;
			what = "--fixed";
			break;
		case 's':
			dst = &p.min_sd;
			what = "--min-stddev";
			break;
		case 'a':
			dst = &p.pause;
			what = "--pause";
			break;
		case 'i':
			dst = &interval;
			what = "--interval";
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (dst != NULL && (vigil_duration_parse(optarg, dst, &why) == -1 || *dst == 0)) {
			fprintf(stderr, "vigil-phi-replay: bad %s '%s': %s\n", what, optarg,
				why ? why : "zero");
			return 2;
		}
	}
	if (optind == argc || nd == 0) {
		usage(stderr);
		return 2;
	}
	printf("| trace | heartbeats | interval mean / sd / max (ms) | detector | false timeouts "
	       "(TIMEOUTs sent) | detection (ms) | timeout at the end (ms) | ns per heartbeat |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (int a = optind; a < argc; a++) {
		size_t n;
		uint64_t *t = read_trace(argv[a], &n);
		double mean, sd, max;
		const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];

		if (t == NULL || n < 2) {
			fprintf(stderr, "vigil-phi-replay: cannot read %s, or fewer than 2 arrivals\n",
				argv[a]);
			free(t);
			return 1;
		}
		trace_stats(t, n, &mean, &sd, &max);
		for (size_t i = 0; i < nd; i++) {
			struct result r;
			char name[128];
			uint64_t t0 = vigil_now_usec();
			for (int k = 0; k < REPEAT; k++)
				replay(t, n, &det[i], &p, interval, &r);
			double ns = (double)(vigil_now_usec() - t0) * 1000.0 / REPEAT / (double)n;
			describe(&det[i], &p, name, sizeof(name));
			printf("| %s | %zu | %.1f / %.1f / %.1f | %s | %u (%u) | %.1f | %.1f | %.0f |\n",
			       base, n, mean, sd, max, name, r.false_silences, r.false_timeouts,
			       (double)r.detection / 1000, (double)r.timeout_end / 1000, ns);
		}
		free(t);
	}
	return 0;
}

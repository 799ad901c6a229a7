/*
 * test_phi.c: the phi-accrual detector (supervisor/phi.c): its values
 * against numbers computed by hand, the closed-form timeout against phi
 * itself, the history's ring and arithmetic, the bootstrap, which silences
 * count as samples, and what the history costs a worker.
 */
#include <malloc.h>
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "phi.h"
#include "registry.h"
#include "state.h"

#define MS 1000ULL

static const struct phi_params p8 = {.threshold = 8, .min_sd = 20 * MS, .pause = 0};

/* Every one of n samples is v. */
static void
fill(struct phi_hist *h, unsigned n, uint64_t v)
{
	for (unsigned i = 0; i < n; i++)
		phi_record(h, v);
}

/*
 * Mean 1000 ms, deviation 100 ms (min_sd below it). With y = (t - mean) / sd,
 * g = y * (1.5976 + 0.070566 * y^2) and e = exp(-g), Akka's phi is
 * -log10(e / (1 + e)) = log10(1 + exp(g)):
 *   t = 1000 ms: y = 0, g = 0, phi = log10(2)                      = 0.30103
 *   t = 1100 ms: y = 1, g = 1.5976 + 0.070566 = 1.668166,
 *                e^g = 5.30243, phi = log10(6.30243)                = 0.79951
 *   t = 1200 ms: y = 2, g = 2 * (1.5976 + 0.282264) = 3.759728,
 *                e^g = 42.93675, phi = log10(43.93675)              = 1.64283
 *   t =  800 ms: y = -2, g = -3.759728, e = 42.93675,
 *                phi = -log10(1 - 1/43.93675) = -log10(0.977240)    = 0.0099988
 *   t = 1500 ms: y = 5, g = 5 * (1.5976 + 1.76415) = 16.80875,
 *                e^g = 1.99502e7, phi = log10(1.99502e7 + 1)        = 7.29995
 */
Test(phi, values_match_akkas_formula_by_hand)
{
	const struct phi_params p = {.threshold = 8, .min_sd = 1 * MS};
	struct {
		double t_ms, phi;
	} want[] = {{1000, 0.30103}, {1100, 0.79951}, {1200, 1.64283}, {800, 0.0099988},
		    {1500, 7.29995}};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		double got = phi_of(1000 * MS, 100 * MS, want[i].t_ms * MS, &p);
		cr_expect(fabs(got - want[i].phi) < 5e-5, "phi at %.0f ms: %.6f, want %.6f",
			  want[i].t_ms, got, want[i].phi);
	}
	/* Through a history: samples 900 and 1100 ms have mean 1000 ms, deviation 100 ms. */
	struct phi_hist h = {0};
	fill(&h, 4, 900 * MS);
	fill(&h, 4, 1100 * MS);
	cr_expect(fabs(phi_value(&h, 1200 * MS, &p) - 1.64283) < 5e-5, "phi_value %.6f",
		  phi_value(&h, 1200 * MS, &p));
}

/* Akka's two branches, literally: ours must agree wherever they are finite. */
Test(phi, equals_the_literal_two_branch_formula)
{
	const struct phi_params p = {.threshold = 8, .min_sd = 1};

	for (double y = -6; y <= 6; y += 0.01) {
		double e = exp(-y * (1.5976 + 0.070566 * y * y));
		double akka = y > 0 ? -log10(e / (1 + e)) : -log10(1 - 1 / (1 + e));
		double got = phi_of(500 * MS, 50 * MS, 500 * MS + y * 50 * MS, &p);
		cr_assert(fabs(got - akka) <= 1e-9 * (1 + akka), "y %.2f: %.12f, Akka %.12f", y,
			  got, akka);
	}
	/* Far out, where Akka's e underflows to 0 and its phi to infinity, ours stays finite. */
	double far = phi_of(100 * MS, 1 * MS, 10000 * MS, &p);
	cr_expect(isfinite(far) && far > 1e6, "phi far out: %g", far);
}

Test(phi, increases_with_the_silence)
{
	const struct phi_params p = {.threshold = 8, .min_sd = 1 * MS};
	double prev = -1;

	for (uint64_t t = 0; t <= 2000 * MS; t += 100) {
		double v = phi_of(1000 * MS, 100 * MS, (double)t, &p);
		/* Strictly while it still has digits to move (phi < 16 here, double precision). */
		if (v < 16)
			cr_assert_gt(v, prev, "phi(%llu) %.12f <= phi before %.12f", (unsigned long long)t, v,
				     prev);
		else
			cr_assert_geq(v, prev);
		prev = v;
	}
}

/* The least integer t in [lo, hi] with phi_of(t) >= T, by bisection: independent of the cubic. */
static uint64_t
bisect(double mean, double sd, const struct phi_params *p, uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (phi_of(mean, sd, (double)mid, p) >= p->threshold)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Threshold 8, mean 1000 ms, deviation 100 ms: L = ln(10^8 - 1) = 18.420681;
 * 0.070566 y^3 + 1.5976 y = L at y = 5.2259866 (at y = 5.2: 9.9229 + 8.3075 =
 * 18.2304; 5.25: 10.2107 + 8.3874 = 18.5981), so t = 1000 + 522.59866 ms.
 */
Test(phi, timeout_by_hand)
{
	const struct phi_params p = {.threshold = 8, .min_sd = 1 * MS};
	uint64_t t = phi_timeout_of(1000 * MS, 100 * MS, &p);

	cr_expect_eq(t, 1522599, "timeout %llu us, want 1522599", (unsigned long long)t);
}

/* phi >= T exactly from the timeout on, over thresholds, means, deviations and pauses. */
Test(phi, timeout_is_the_inverse_of_phi)
{
	const double means[] = {1 * MS, 10 * MS, 100 * MS, 1234567, 10000 * MS, 3600000 * MS};
	const double sds[] = {0, 1, 500, 20 * MS, 333333, 5000 * MS};
	const uint64_t pauses[] = {0, 250 * MS, 7777777};
	unsigned cases = 0;

	for (double T = 1; T <= 16; T += 0.25) {
		for (size_t i = 0; i < sizeof(means) / sizeof(means[0]); i++) {
			for (size_t j = 0; j < sizeof(sds) / sizeof(sds[0]); j++) {
				for (size_t k = 0; k < sizeof(pauses) / sizeof(pauses[0]); k++) {
					struct phi_params p = {T, 1 * MS, pauses[k]};
					uint64_t t = phi_timeout_of(means[i], sds[j], &p);
					uint64_t want = bisect(means[i], sds[j], &p, 0, (uint64_t)1 << 50);
					cr_assert_eq(t, want,
						     "T %.2f mean %.0f sd %.0f pause %llu: %llu, "
						     "bisection %llu",
						     T, means[i], sds[j], (unsigned long long)pauses[k],
						     (unsigned long long)t, (unsigned long long)want);
					cr_assert_geq(phi_of(means[i], sds[j], (double)t, &p), T);
					cr_assert_lt(phi_of(means[i], sds[j], (double)t - 1, &p), T);
					cases++;
				}
			}
		}
	}
	cr_expect_eq(cases, 61 * 6 * 6 * 3);
}

/* A perfectly steady worker has no deviation: min_sd stands in for it. */
Test(phi, min_stddev_floors_the_deviation)
{
	struct phi_hist h = {0};

	fill(&h, 20, 100 * MS);
	double mean, sd;
	phi_stats(&h, &mean, &sd);
	cr_expect_eq(mean, 100 * MS);
	cr_expect_eq(sd, 0);
	/* 100 ms + 5.2259866 * 20 ms = 204.519733 ms */
	cr_expect_eq(phi_timeout(&h, 100 * MS, &p8), 204520);
	/* 100 ms + 5.2259866 * 5 ms = 126.129933 ms */
	struct phi_params p5 = p8;
	p5.min_sd = 5 * MS;
	cr_expect_eq(phi_timeout(&h, 100 * MS, &p5), 126130);
	/* At the mean, phi is log10(2) whatever the floor. */
	cr_expect(fabs(phi_value(&h, 100 * MS, &p5) - log10(2)) < 1e-12);
	/* Above the floor, the samples' own deviation counts: 80/120 ms, sd 20 ms exactly. */
	struct phi_hist j = {0};
	fill(&j, 10, 80 * MS);
	fill(&j, 10, 120 * MS);
	cr_expect_eq(phi_timeout(&j, 100 * MS, &p5), 204520);
}

/* The acceptable pause shifts the whole curve: the timeout grows by exactly the pause. */
Test(phi, pause_adds_to_the_timeout)
{
	struct phi_hist h = {0};
	struct phi_params pp = p8;

	fill(&h, 10, 90 * MS);
	fill(&h, 10, 130 * MS);
	uint64_t base = phi_timeout(&h, 0, &p8);
	pp.pause = 300 * MS;
	uint64_t paused = phi_timeout(&h, 0, &pp);
	cr_expect(paused >= base + 300 * MS - 1 && paused <= base + 300 * MS + 1,
		  "timeout %llu with a 300 ms pause, %llu without", (unsigned long long)paused,
		  (unsigned long long)base);
	/* phi at the mean plus the pause is log10(2). */
	cr_expect(fabs(phi_value(&h, 410 * MS, &pp) - log10(2)) < 1e-12);
}

/* Once full, each sample replaces the oldest; the running sum stays exact. */
Test(phi, ring_wraps_around)
{
	struct phi_hist h = {0};
	double mean, sd;

	fill(&h, PHI_SAMPLES, 100 * MS);
	cr_expect_eq(h.n, PHI_SAMPLES);
	fill(&h, PHI_SAMPLES, 200 * MS);
	cr_expect_eq(h.n, PHI_SAMPLES);
	cr_expect_eq(h.sum, PHI_SAMPLES * 200 * MS, "the 100 ms samples are all gone");
	phi_stats(&h, &mean, &sd);
	cr_expect_eq(mean, 200 * MS);
	cr_expect_eq(sd, 0);
	/* Half replaced by 300 ms: mean 250 ms, deviation 50 ms. */
	fill(&h, PHI_SAMPLES / 2, 300 * MS);
	phi_stats(&h, &mean, &sd);
	cr_expect_eq(mean, 250 * MS);
	cr_expect(fabs(sd - 50 * MS) < 1e-6, "sd %f", sd);
	/* And many more laps, with odd values: the sum is what the ring holds. */
	for (unsigned i = 0; i < 1000; i++)
		phi_record(&h, 1000 + i * 7919);
	uint64_t sum = 0;
	for (unsigned i = 0; i < PHI_SAMPLES; i++)
		sum += h.iv[i];
	cr_expect_eq(h.sum, sum);
	cr_expect_eq(h.head, (PHI_SAMPLES / 2 + 1000) % PHI_SAMPLES);
}

/*
 * Large intervals with a tiny spread: one hour +/- 1 us. A sum of squares
 * (1.3e19 each) would lose the spread entirely; two passes keep it exact.
 */
Test(phi, deviation_survives_large_intervals)
{
	struct phi_hist h = {0};
	double mean, sd;

	for (unsigned i = 0; i < PHI_SAMPLES; i++)
		phi_record(&h, 3600000000ULL + (i % 2 ? 2 : 0));
	phi_stats(&h, &mean, &sd);
	cr_expect_eq(mean, 3600000001.0);
	cr_expect_eq(sd, 1.0);
	/* Beyond 32 bits a sample is held at UINT32_MAX (71 min), not wrapped. */
	phi_reset(&h);
	phi_record(&h, 24 * 3600 * 1000000ULL);
	cr_expect_eq(h.iv[0], UINT32_MAX);
}

/*
 * Before PHI_MIN_SAMPLES, Akka's first-heartbeat estimate: mean the
 * worker's interval, deviation a quarter of it. 100 ms: sd 25 ms (above the
 * 20 ms floor): 100 + 5.2259866 * 25 = 230.649666 ms. Without an interval,
 * no estimate: 0.
 */
Test(phi, bootstrap_from_the_workers_interval)
{
	struct phi_hist h = {0};

	cr_expect_eq(phi_timeout(&h, 100 * MS, &p8), 230650);
	cr_expect_eq(phi_timeout(&h, 0, &p8), 0);
	fill(&h, PHI_MIN_SAMPLES - 1, 50 * MS);
	cr_expect_eq(phi_timeout(&h, 100 * MS, &p8), 230650, "still the estimate");
	cr_expect_eq(phi_timeout(&h, 0, &p8), 0);
	phi_record(&h, 50 * MS);
	/* Now its own: 50 ms, sd 0 -> floor 20 ms: 50 + 104.519733 ms. */
	cr_expect_eq(phi_timeout(&h, 100 * MS, &p8), 154520);
	cr_expect_eq(phi_timeout(&h, 0, &p8), 154520);
}

/* A worker alive since last_hb, pid 7, interval 100 ms, timeout 300 ms. */
static struct worker_core
alive_core(void)
{
	struct worker_core c = {.state = WORKER_ALIVE, .pid = 7, .heartbeats = 5,
				.last_hb = 1000 * MS, .timeout = 300 * MS, .interval = 100 * MS};
	return c;
}

Test(phi, which_silences_are_samples)
{
	struct phi_hist h = {0};
	struct worker_core c = alive_core();

	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 0, "the first observation only learns the interval");
	cr_expect_eq(h.interval, 100 * MS);
	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 1);
	cr_expect_eq(h.iv[0], 100 * MS);
	phi_observe(&h, &c, 0, 1250 * MS); /* pid unknown: still a sample */
	cr_expect_eq(h.n, 2);

	phi_observe(&h, &c, 7, 1300 * MS);
	cr_expect_eq(h.n, 2, "an interval of a whole timeout is a silence, not a sample");
	phi_observe(&h, &c, 7, 1000 * MS);
	cr_expect_eq(h.n, 2, "no time passed: nothing to learn");
	c.state = WORKER_DEAD;
	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 2, "a dead worker's recovery is not a sample");
	c.state = WORKER_STOPPED;
	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 2, "nor a stopped one's");

	c.state = WORKER_ALIVE;
	phi_observe(&h, &c, 8, 1100 * MS);
	cr_expect_eq(h.n, 0, "another process starts the history again");
	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 1);
	c.interval = 1000 * MS;
	phi_observe(&h, &c, 7, 1100 * MS);
	cr_expect_eq(h.n, 0, "a new INTERVAL_MS starts it again");
	cr_expect_eq(h.interval, 1000 * MS);
}

/*
 * Through the state machine, as the supervisor drives it: a worker
 * heartbeating every 100 ms learns a timeout of 204.52 ms (floor 20 ms) and
 * is declared dead exactly that long after its last heartbeat.
 */
Test(phi, steady_worker_is_declared_dead_at_its_phi_timeout)
{
	struct phi_hist h = {0};
	struct worker_core c = {.interval = 100 * MS, .timeout = 300 * MS};
	uint64_t now = 5000 * MS;

	for (int i = 0; i < 30; i++, now += 100 * MS) {
		struct state_event ev = {.type = STATE_EV_HEARTBEAT, .now = now, .pid = 7};
		phi_observe(&h, &c, 7, now);
		c.timeout = phi_timeout(&h, c.interval, &p8);
		unsigned act = state_apply(&c, &ev);
		cr_assert(act & STATE_ACT_ARM);
	}
	uint64_t last = now - 100 * MS;
	cr_expect_eq(c.timeout, 204520);
	cr_expect_eq(c.due, last + 204520);
	struct state_event early = {.type = STATE_EV_TIMER, .now = c.due - 1};
	cr_expect_eq(state_apply(&c, &early), STATE_ACT_ARM, "not a microsecond early");
	struct state_event timer = {.type = STATE_EV_TIMER, .now = c.due};
	cr_expect(state_apply(&c, &timer) & STATE_ACT_TIMEOUT);
	cr_expect_eq(c.state, WORKER_DEAD);
}

/*
 * What phi costs a worker: one more block, PHI_SAMPLES 32-bit intervals and
 * a few words, counted by registry_footprint; without it nothing changes.
 */
Test(phi, history_is_counted_in_the_footprint)
{
	struct registry r;

	cr_assert_eq(registry_init(&r, 1000000), 0);
	struct worker *w = registry_add(&r, "w", 1);
	cr_assert_not_null(w);
	size_t without = registry_footprint(&r, w);
	w->phi = calloc(1, sizeof(*w->phi));
	cr_assert_not_null(w->phi);
	size_t with = registry_footprint(&r, w);
	cr_expect_eq(with - without, malloc_usable_size(w->phi) + sizeof(size_t));
	cr_expect_leq(with - without, PHI_SAMPLES * 4 + 32, "the history costs %zu bytes",
		      with - without);
	registry_free(&r); /* frees w->phi too (LeakSanitizer would say otherwise) */
}

/*
 * phi.c: the phi-accrual failure detector. See phi.h.
 *
 * Akka approximates the normal CDF with a logistic function: for
 * y = (t - mean) / sd and e = exp(-y * (1.5976 + 0.070566 * y^2)),
 * phi = -log10(e / (1 + e)) when t > mean, else -log10(1 - 1 / (1 + e)).
 * Both branches are the one function log10(1 + exp(g)) with
 * g = y * (1.5976 + 0.070566 * y^2), which is increasing in t; we compute
 * it in a form that neither overflows nor loses digits at any y. Solving
 * phi = T for y is then the depressed cubic 0.070566 y^3 + 1.5976 y - L = 0,
 * L = ln(10^T - 1), which has exactly one real root (its slope is positive
 * everywhere), given by Cardano's formula.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "phi.h"

#define PHI_A 1.5976
#define PHI_B 0.070566

void
phi_reset(struct phi_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void
phi_record(struct phi_hist *h, uint64_t interval_usec)
{
	uint32_t v = interval_usec > UINT32_MAX ? UINT32_MAX : (uint32_t)interval_usec;

	if (h->n == PHI_SAMPLES)
		h->sum -= h->iv[h->head];
	else
		h->n++;
	h->iv[h->head] = v;
	h->sum += v;
	h->head = (uint8_t)((h->head + 1) % PHI_SAMPLES);
}

/* Two passes over at most PHI_SAMPLES values: no cancellation of large squares. */
void
phi_stats(const struct phi_hist *h, double *mean, double *sd)
{
	double m, ss = 0;

	*mean = *sd = 0;
	if (h->n == 0)
		return;
	m = (double)h->sum / h->n;
	for (unsigned i = 0; i < h->n; i++) {
		double d = (double)h->iv[i] - m;
		ss += d * d;
	}
	*mean = m;
	*sd = sqrt(ss / h->n);
}

/* The deviation the detector uses: at least p->min_sd, and never zero. */
static double
phi_sd(double sd, const struct phi_params *p)
{
	if (sd < (double)p->min_sd)
		sd = (double)p->min_sd;
	return sd < 1.0 ? 1.0 : sd;
}

double
phi_of(double mean, double sd, double elapsed_usec, const struct phi_params *p)
{
	double y = (elapsed_usec - (mean + (double)p->pause)) / phi_sd(sd, p);
	double g = y * (PHI_A + PHI_B * y * y);

	/* log10(1 + exp(g)), for g of either sign without overflow. */
	if (g > 0)
		return (g + log1p(exp(-g))) / M_LN10;
	return log1p(exp(g)) / M_LN10;
}

double
phi_value(const struct phi_hist *h, uint64_t elapsed_usec, const struct phi_params *p)
{
	double mean, sd;

	phi_stats(h, &mean, &sd);
	return phi_of(mean, sd, (double)elapsed_usec, p);
}

/* The one real root y of PHI_B y^3 + PHI_A y - l = 0. */
static double
phi_root(double l)
{
	/* y^3 + P y + Q = 0 with P = A/B > 0, Q = -l/B: y = u - P / (3u). */
	double P = PHI_A / PHI_B, Q = -l / PHI_B;
	double u = cbrt(-Q / 2 + sqrt(Q * Q / 4 + P * P * P / 27));
	double y = u - P / (3 * u);

	/* One Newton step polishes the last bits Cardano's formula loses. */
	return y - (PHI_B * y * y * y + PHI_A * y - l) / (3 * PHI_B * y * y + PHI_A);
}

uint64_t
phi_timeout_of(double mean, double sd, const struct phi_params *p)
{
	/* phi >= T  <=>  g >= ln(10^T - 1), written to keep its digits at any T. */
	double l = p->threshold * M_LN10 + log1p(-pow(10, -p->threshold));
	double t = mean + (double)p->pause + phi_root(l) * phi_sd(sd, p);

	if (t <= 0)
		return 0;
	if (t >= 0x1p62)
		return (uint64_t)1 << 62; /* beyond any timeout the caller allows */
	uint64_t u = (uint64_t)ceil(t);
	/*
	 * The closed form is exact up to rounding: settle the last microsecond
	 * against phi_of itself, so that the timeout and phi never disagree.
	 */
	for (int i = 0; i < 4 && phi_of(mean, sd, (double)u, p) < p->threshold; i++)
		u++;
	for (int i = 0; i < 4 && u > 0 && phi_of(mean, sd, (double)(u - 1), p) >= p->threshold; i++)
		u--;
	return u;
}

uint64_t
phi_timeout(const struct phi_hist *h, uint64_t interval, const struct phi_params *p)
{
	double mean, sd;

	if (h->n >= PHI_MIN_SAMPLES) {
		phi_stats(h, &mean, &sd);
		return phi_timeout_of(mean, sd, p);
	}
	if (interval == 0)
		return 0;
	return phi_timeout_of((double)interval, (double)interval / 4, p);
}

void
phi_observe(struct phi_hist *h, const struct worker_core *c, uint64_t pid, uint64_t now)
{
	if (c->interval != h->interval || (pid != 0 && c->pid != 0 && pid != c->pid)) {
		/* Another rhythm, or another process: what we learnt no longer holds. */
		phi_reset(h);
		h->interval = c->interval;
		return;
	}
	if (c->state != WORKER_ALIVE || now <= c->last_hb || now - c->last_hb >= c->timeout)
		return;
	phi_record(h, now - c->last_hb);
}

/*
 * phi.h: the phi-accrual failure detector (Hayashibara et al. 2004, as in
 * Akka's PhiAccrualFailureDetector) behind --timeout phi:THRESHOLD. It owns
 * one worker's history of heartbeat inter-arrival times and turns it into
 * a timeout: the silence at which phi reaches the threshold. Pure: no
 * clock, no I/O, no allocation; the caller passes every time in.
 */
#ifndef VIGIL_PHI_H
#define VIGIL_PHI_H

#include <stdint.h>

#include "state.h"

#define PHI_SAMPLES 64    /* intervals kept per worker: 6.4 s of history at 100 ms */
#define PHI_MIN_SAMPLES 8 /* fewer: the first-heartbeat estimate (phi_timeout) */
#define PHI_THRESHOLD_MIN 1.0
#define PHI_THRESHOLD_MAX 16.0
#define PHI_MIN_STDDEV_DEFAULT 20000ULL /* --phi-min-stddev: see docs/PERFORMANCE.md */

/* The detector's settings: --timeout phi:THRESHOLD, --phi-min-stddev, --phi-pause. */
struct phi_params {
	double threshold; /* 0: phi is off */
	uint64_t min_sd;  /* usec: the standard deviation never counts as less */
	uint64_t pause;   /* usec: acceptable pause, added to the mean */
};

/* One worker's last PHI_SAMPLES intervals, in usec, in a ring. */
struct phi_hist {
	uint64_t sum;               /* of the n samples held: exact */
	uint64_t interval;          /* the INTERVAL_MS (usec) the history was gathered under */
	uint32_t iv[PHI_SAMPLES];   /* usec, at most UINT32_MAX (71 min) */
	uint8_t head;               /* the next slot to write */
	uint8_t n;                  /* samples held */
};

/* Forget every sample. */
void phi_reset(struct phi_hist *h);

/* Add an inter-arrival interval, dropping the oldest once full. */
void phi_record(struct phi_hist *h, uint64_t interval_usec);

/* Mean and standard deviation of the samples held, in usec (0 and 0 if none). */
void phi_stats(const struct phi_hist *h, double *mean, double *sd);

/*
 * phi after elapsed usec of silence, for a normal distribution of mean
 * (plus p->pause) and standard deviation sd (at least p->min_sd), with
 * Akka's logistic approximation of its CDF.
 */
double phi_of(double mean, double sd, double elapsed_usec, const struct phi_params *p);

/* phi of h's samples after elapsed usec of silence. */
double phi_value(const struct phi_hist *h, uint64_t elapsed_usec, const struct phi_params *p);

/*
 * The least silence, in whole usec, at which phi_of(mean, sd, .) reaches
 * p->threshold: phi is increasing in the silence, so "phi >= threshold"
 * is exactly "silence >= this". Solved in closed form.
 */
uint64_t phi_timeout_of(double mean, double sd, const struct phi_params *p);

/*
 * The timeout h gives: phi_timeout_of its samples' mean and deviation once
 * it holds PHI_MIN_SAMPLES; before that, Akka's first-heartbeat estimate
 * from the worker's own interval (mean interval, deviation interval / 4) if
 * it said one, else 0: no estimate, the caller's fixed timeout applies.
 */
uint64_t phi_timeout(const struct phi_hist *h, uint64_t interval, const struct phi_params *p);

/*
 * A heartbeat from pid (0: unknown) arrives at now for the worker c, before
 * the state machine applies it: record the silence it ends if that is a
 * sample of the worker's rhythm. It is one if the worker was alive and not
 * yet overdue (so neither a death nor our own pause skews the history, as
 * in Akka); a new pid or a new INTERVAL_MS starts the history again.
 */
void phi_observe(struct phi_hist *h, const struct worker_core *c, uint64_t pid, uint64_t now);

#endif

/*
 * counters.h: the supervisor's own counters, as status and the metrics
 * show them. Plain numbers: whoever owns the event counts it.
 */
#ifndef VIGIL_COUNTERS_H
#define VIGIL_COUNTERS_H

#include <stdint.h>

#include "wire.h"

struct supervisor_counters {
	uint64_t datagrams;                  /* received on the heartbeat socket */
	uint64_t invalid[VIGIL_WIRE_NERR];   /* dropped, by reason */
	uint64_t ignored_lines;              /* lines ignored in datagrams otherwise taken */
	uint64_t rejected_full;              /* new names refused: --max-workers reached */
	uint64_t timeouts_sent;              /* TIMEOUT datagrams delivered */
	uint64_t timeouts_undelivered;       /* TIMEOUT datagrams the worker could not take */
	uint64_t graces;                     /* expiries forgiven: the supervisor was paused */
	uint64_t stalls;                     /* times a timer ran STATE_PAUSE_USEC late or more */
	uint64_t timer_late_max;             /* usec: the most any timer ran after its deadline */
	uint64_t senders_refused;            /* new names from senders not on the allow-list */
	uint64_t impersonations;             /* messages for a name from another uid than its owner */
	uint64_t signals_sent;               /* --on-timeout signals delivered */
	uint64_t signals_refused;            /* not sent: the pid is no longer the worker's, or gone */
	uint64_t exits_unwatched;            /* --detect-exit: workers not watched, no descriptor left */
	uint64_t helper_pings;               /* from another live process of a name's service (claim.h) */
	uint64_t conflict_beats;             /* from a rival claimant: counted for no name (claim.h) */
	uint64_t seq_resets;                 /* SEQ= lower than the last from the same process */
};

#endif

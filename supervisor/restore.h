/*
 * restore.h: the live registry into a snapshot (snapshot.h) and back. A
 * restored worker is judged fairly: an alive one gets a whole timeout
 * from the moment the new supervisor is ready (its heartbeats that waited
 * in the socket are read before any timer: they run at a lower priority);
 * a dead, exited, failed or missing one stays so and goes on being
 * reported; a stopped one stays stopped; counters go on. A pid is kept
 * vouched for (signalled by a policy) only if the process is proven the
 * same: the start time and owner uid recorded with it. Where the bytes
 * live is store.h's business.
 */
#ifndef VIGIL_RESTORE_H
#define VIGIL_RESTORE_H

#include <stddef.h>
#include <stdint.h>

struct supervisor;
struct snapshot_buf;

/* sv's registry, kept events and counters into b, as snapshot number generation; -1: no memory. */
int restore_capture(struct supervisor *sv, uint64_t generation, struct snapshot_buf *b);

/*
 * Take over the len bytes of a snapshot, at time now (monotonic usec):
 * refused whole (-1 with err) if snapshot_decode refuses it or it was
 * written for another heartbeat socket; otherwise the number of workers
 * restored, and *generation the snapshot's.
 */
long restore_apply(struct supervisor *sv, const void *buf, size_t len, uint64_t now,
		   uint64_t *generation, char *err, size_t errlen);

#endif

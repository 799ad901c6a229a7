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

/*
 * sv's registry, kept events and counters into b, as snapshot number
 * generation, in slices so that no snapshot holds the loop (at 100 000
 * workers a whole one is 50-100 ms of work): restore_capture_begin writes the
 * supervisor's record and the events; each restore_capture_more the
 * workers of the next buckets of the registry, for about budget usec of
 * work, from *bucket on, and returns 1 once the last bucket is done (then
 * snapshot_finish(b)), 0 to be called again at a later turn. Holding a
 * bucket number, never a pointer, it is safe across removals; a worker
 * added meanwhile to a bucket already passed waits for the next snapshot,
 * which its "registered" event asks for. Each record is one worker as it
 * was at one instant; the snapshot as a whole spans the slices.
 */
void restore_capture_begin(struct supervisor *sv, uint64_t generation, struct snapshot_buf *b);
int restore_capture_more(struct supervisor *sv, struct snapshot_buf *b, size_t *bucket,
			 uint64_t budget);

/*
 * Take over the len bytes of a snapshot into sv's registry, empty at the
 * start, at time now (monotonic usec); every worker is judged from the
 * moment the last one is in, the supervisor then being ready:
 * refused whole (-1 with err) if snapshot_decode refuses it or it was
 * written for another heartbeat socket; otherwise the number of workers
 * restored, and *generation the snapshot's.
 */
long restore_apply(struct supervisor *sv, const void *buf, size_t len, uint64_t now,
		   uint64_t *generation, char *err, size_t errlen);

#endif

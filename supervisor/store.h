/*
 * store.h: where the registry's snapshot (restore.h, snapshot.h) lives
 * between one supervisor and the next, and when it is written.
 *   - Under systemd ($NOTIFY_SOCKET) without --state-file: a sealed memfd
 *     in the service's file descriptor store (FDSTORE=1, FDNAME=
 *     vigil-registry-0 or -1; FileDescriptorStoreMax= in the unit), handed
 *     back at the next start with the heartbeat socket (LISTEN_FDNAMES).
 *   - Otherwise a file: --state-file, by default supervisor.state beside
 *     the heartbeat socket; --state-file none keeps nothing.
 * Written at state changes (every event, events.h) within a second, when
 * only counters moved (heartbeats) at most every second and never more
 * than 1% of the time, and on a clean stop; never per heartbeat. Nothing
 * moving, no timer runs (an idle supervisor is never woken for it), and
 * heartbeats after such a quiet spell are kept with the next event. While the
 * loop runs a snapshot is captured in slices of STORE_SLICE_USEC, one a
 * turn at the control plane's priority (restore.h), then written; a file's
 * fsync and rename happen in a thread of their own, off the loop. A crash
 * at any instant leaves the old snapshot or the new one, never a torn one
 * (store.c says how).
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stddef.h>
#include <stdint.h>

struct supervisor;
struct settings;
struct store;

#define STORE_FDNAME "vigil-registry" /* FDNAME= prefix of our stored descriptors */
#define STORE_FILE_DEFAULT "supervisor.state"

/* The store the settings ask for (set->state_file, $NOTIFY_SOCKET); NULL if no memory. */
struct store *store_new(const struct settings *set);

/* A descriptor systemd handed back, named name: 1 if it is ours (then owned by st), else 0. */
int store_adopt_fd(struct store *st, const char *name, int fd);

/*
 * Restore sv's registry from the newest snapshot kept, at the start,
 * before the first heartbeat is read; logs what it did or why it refused
 * the snapshot (then the registry stays empty). Returns the workers restored.
 */
long store_load(struct store *st, struct supervisor *sv);

/* From now on, write sv's snapshot when it changes (sv->base's timer, events' subscriber). */
int store_start(struct store *st, struct supervisor *sv, char *err, size_t errlen);

/*
 * Something the snapshot keeps changed without an event (a worker's start
 * time confirmed at a later heartbeat, claim.h): written within a tick, as
 * after an event. Cheap; st may be NULL (nothing kept).
 */
void store_touch(struct store *st);

/* Write it now (a clean stop); -1 if it could not be (logged). */
int store_save(struct store *st);

void store_free(struct store *st);

#endif

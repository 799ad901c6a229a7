/*
 * snapshot.h: the registry as bytes and back, so that a restarted
 * supervisor forgets nothing (store.h keeps the bytes). Pure: no file, no
 * clock, no socket; the encoder reads the registry, the decoder hands
 * records to callbacks and is fuzzed (tests/fuzz/fuzz_snapshot.c).
 *
 * The format (docs/PROTOCOL.md, "The registry snapshot"):
 *   header, 32 bytes: "VIGILSNP", u16 major, u16 minor, u32 header size (32),
 *     u64 body size, u32 CRC-32C of the body, u32 CRC-32C of the 28 bytes
 *     before it; little-endian.
 *   body: records, each a varint tag, a u32 size and that many bytes; the
 *     supervisor's record comes first, then one per worker and per kept event.
 *   a record's fields: a varint tag, a varint size, that many bytes: numbers
 *     as varints (LEB128), text and addresses as bytes.
 * Unknown record and field tags are skipped, so a newer minor version (a new
 * field) still loads here and an older snapshot loads in a newer supervisor,
 * its missing fields zero. Another major version is refused. To add a
 * field: a member of struct snapshot_worker, a tag (SNAP_W_*, never reused),
 * a row in snapshot.c's number table (or a case for bytes), and a line in
 * snapshot_worker_of and snapshot_worker_apply.
 */
#ifndef VIGIL_SNAPSHOT_H
#define VIGIL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "events.h"
#include "phi.h"
#include "registry.h"

#define SNAPSHOT_MAJOR 1
#define SNAPSHOT_MINOR 1
#define SNAPSHOT_HEADER 32
#define SNAPSHOT_BOOT_ID_MAX 40 /* /proc/sys/kernel/random/boot_id: 36 characters */

/* The supervisor's own record: whose snapshot, when, and its counters. */
struct snapshot_head {
	const char *socket; /* the heartbeat socket's name (sv->socket_name) */
	size_t socket_len;
	char boot_id[SNAPSHOT_BOOT_ID_MAX + 1]; /* monotonic times mean something only in this boot */
	uint64_t written_mono;                  /* usec, CLOCK_MONOTONIC */
	uint64_t written_wall;                  /* usec since the epoch */
	uint64_t generation;                    /* one more at every snapshot written */
	struct supervisor_counters counters;
	uint64_t event_totals[SV_EVENT_NTYPES]; /* events.h's totals, by name in the bytes */
};

/* One worker as the bytes hold it; text and addresses point into the bytes (or the worker). */
struct snapshot_worker {
	const char *name; /* valid worker name */
	size_t name_len;
	const unsigned char *addr; /* a struct sockaddr_un's bytes; NULL: none */
	size_t addr_len;
	const char *status; /* STATUS= text; NULL: none */
	size_t status_len;
	uint64_t owner, pid, pid_vouched, start_time;
	uint64_t state; /* SNAP_STATE_* (a stable code, not enum worker_state) */
	uint64_t failed, graced, last_seq, missed, timeouts, heartbeats, restarts;
	uint64_t last_hb, timeout, interval, due; /* monotonic usec */
	uint64_t watchdog_usec;                   /* the timeout it asked for; 0: none */
	uint64_t incidents_start, incidents_n;    /* --intensity's window */
	uint32_t intervals[REGISTRY_INTERVALS];   /* oldest first */
	size_t nintervals;
	int has_phi; /* --timeout phi:T history */
	uint64_t phi_interval;
	uint32_t phi_iv[PHI_SAMPLES]; /* oldest first */
	size_t phi_n;
};

/*
 * A snapshot being written: grows as records are added, and may be drained
 * between records (written out a piece at a time, the buffer reused).
 */
struct snapshot_buf {
	unsigned char *data;
	size_t len, cap;
	size_t record;    /* where the open record's size goes */
	int failed;       /* out of memory: snapshot_finish or snapshot_header says so */
	uint64_t drained; /* bytes handed out by snapshot_drain, the header's room first */
	uint32_t crc;     /* of the body's bytes drained */
};

/* Start a snapshot with the supervisor's record. */
void snapshot_begin(struct snapshot_buf *b, const struct snapshot_head *h);

/* Add a worker (not a NEW one: snapshot_worker_of says whether it is worth keeping). */
void snapshot_add_worker(struct snapshot_buf *b, const struct snapshot_worker *w);

/* Add a kept event (the history `vigilctl status NAME` shows). */
void snapshot_add_event(struct snapshot_buf *b, const struct sv_event *ev);

/* Fill in the header of a snapshot kept whole in b; 0, or -1 if memory ran out on the way. */
int snapshot_finish(struct snapshot_buf *b);

/*
 * Hand out the bytes added since the last drain (*p, *n: valid until the
 * next add) and empty the buffer, keeping its room: the first drain starts
 * with SNAPSHOT_HEADER bytes of room for the header, to be written over
 * at offset 0 once snapshot_header has made it.
 */
void snapshot_drain(struct snapshot_buf *b, const unsigned char **p, size_t *n);

/* The header of everything drained (drain the rest first); -1 if memory ran out on the way. */
int snapshot_header(const struct snapshot_buf *b, unsigned char hdr[SNAPSHOT_HEADER]);

void snapshot_buf_free(struct snapshot_buf *b);

/*
 * What to do with a snapshot once it is checked: accept may still refuse
 * it (-1 with err: another socket's), before any record is handed over;
 * then each event and each worker in the order written. Any may be NULL.
 */
struct snapshot_sink {
	int (*accept)(const struct snapshot_head *h, void *arg, char *err, size_t errlen);
	void (*worker)(const struct snapshot_worker *w, void *arg);
	void (*event)(const struct sv_event *ev, void *arg);
	void *arg;
};

/*
 * Decode len bytes: the header, the checksums, every record and field
 * checked (names, states, sizes) before the first callback runs, so that a
 * snapshot is taken whole or not at all. Fills *head (its socket points
 * into buf). Returns how many workers it holds, or -1 with err saying what
 * was wrong ("checksum mismatch", "version 2.0, this supervisor reads 1.x").
 */
long snapshot_decode(const void *buf, size_t len, struct snapshot_head *head,
		     const struct snapshot_sink *sink, char *err, size_t errlen);

/* w as the bytes will hold it; 0 if it is not worth keeping (never heartbeated). */
int snapshot_worker_of(const struct worker *w, struct snapshot_worker *out);

/*
 * Give the fresh worker w (registry_add, named sw->name) what sw holds:
 * its core, owner, pid and guard, address, status, history, intensity
 * window. Times are copied as they are; the caller judges them. -1 (errno
 * ENOMEM) if the address or the status could not be kept.
 */
int snapshot_worker_apply(const struct snapshot_worker *sw, struct worker *w);

/* The CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t snapshot_crc32c(uint32_t crc, const void *buf, size_t len);

#endif

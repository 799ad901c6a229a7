/*
 * store.c: the snapshot's home and its schedule. See store.h.
 *
 * Why a crash at any instant leaves the old snapshot or the new one:
 *   - A file is never written in place. The new snapshot goes to PATH.tmp
 *     (truncated first: a leftover of an earlier crash is overwritten), a
 *     slice at a time as it is captured and its header last, is fsync'ed
 *     (in a thread, off the loop: store_sync) and only then renamed over
 *     PATH: rename(2) replaces the
 *     name atomically, so PATH is always a whole snapshot, the old one
 *     until the rename, the new one after; the directory is fsync'ed so
 *     that the rename itself survives a power cut (on a disk; /run is a
 *     tmpfs). A torn PATH.tmp is never read.
 *   - A memfd given to systemd is never written again: each snapshot is a
 *     new memfd, written whole (its header last), then sealed (no write,
 *     grow or shrink) and
 *     only then stored, under the name the previous one does not use
 *     (vigil-registry-0 and -1 alternate with the generation); the older
 *     name is removed (FDSTOREREMOVE=1) only after. Crashing before the
 *     store leaves the old one alone; between the store and the removal
 *     both are kept and handed back, and the load takes the newest that
 *     decodes. Whichever it reads, the checksum (snapshot.h) would still
 *     catch a torn or damaged one, refused with a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "duration.h"
#include "restore.h"
#include "sdnotify.h"
#include "snapshot.h"
#include "store.h"
#include "supervisor.h"

#define STORE_TICK_USEC 1000000        /* state changes are written within this */
#define STORE_SLICE_USEC 500           /* a capture's work per loop turn (render.h's slice) */
#define STORE_SYNC_POLL_USEC 10000     /* how often the loop looks whether the fsync is done */
#define STORE_DUTY 100                 /* counters alone: at most 1/STORE_DUTY of the time */
#define STORE_MAX_BYTES (1ULL << 30)   /* a snapshot larger than this is not read */
#define STORE_MAX_FDS 4                /* FileDescriptorStoreMax= in the unit */

enum store_mode { STORE_NONE, STORE_FILE, STORE_FDSTORE };

struct store {
	enum store_mode mode;
	char path[SETTINGS_PATH_MAX + sizeof(STORE_FILE_DEFAULT)]; /* STORE_FILE */
	char where[SETTINGS_PATH_MAX + 64];
	int fds[STORE_MAX_FDS]; /* STORE_FDSTORE: handed back at start, read once */
	size_t nfds;
	struct supervisor *sv;
	struct event *tick;
	struct event *slice;    /* the next slice of a capture in progress */
	struct snapshot_buf buf; /* the capture in progress, if capturing */
	size_t bucket;          /* where it goes on */
	int capturing;
	int fd;                 /* where it is written: PATH.tmp or a memfd; -1 */
	char tmp[SETTINGS_PATH_MAX + sizeof(STORE_FILE_DEFAULT) + 8]; /* PATH.tmp */
	unsigned slices;        /* turns the last snapshot took */
	uint64_t longest_cpu;   /* usec of CPU in its longest slice */
	uint64_t generation;    /* of the last snapshot written or read */
	int dirty;              /* an event happened since the last write */
	uint64_t datagrams;     /* sv->counters.datagrams at the last write */
	uint64_t written;       /* monotonic usec of the last write */
	uint64_t cost;          /* usec of work the last snapshot took, its slices together */
	uint64_t longest;       /* usec: its longest slice (wall clock: the loop held that long) */
	uint64_t look_at;       /* monotonic usec the pending look is due, if the tick is pending */
	pthread_t syncer;       /* store_sync_main, while syncing */
	int syncing;
	atomic_int synced;      /* set by the syncer when it is done */
	int sync_rc;            /* its result, and why it failed */
	char sync_err[SETTINGS_PATH_MAX * 2 + 64];
	struct log_ratelimit rl;
};

static void store_end(struct store *st, const char *err);

struct store *
store_new(const struct settings *set)
{
	struct store *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->rl.interval_usec = 60 * 1000000ULL; /* a failing write: said once a minute */
	st->fd = -1;
	if (strcmp(set->state_file, "none") == 0) {
		st->mode = STORE_NONE;
		snprintf(st->where, sizeof(st->where), "nowhere (--state-file none)");
	} else if (set->state_file[0] == '\0' && getenv("NOTIFY_SOCKET") != NULL) {
		st->mode = STORE_FDSTORE;
		snprintf(st->where, sizeof(st->where), "systemd's file descriptor store");
	} else {
		st->mode = STORE_FILE;
		if (set->state_file[0] != '\0') {
			snprintf(st->path, sizeof(st->path), "%s", set->state_file);
		} else {
			char dir[SETTINGS_PATH_MAX];
			snprintf(dir, sizeof(dir), "%s", set->socket_path);
			snprintf(st->path, sizeof(st->path), "%s/%s", dirname(dir), STORE_FILE_DEFAULT);
		}
		snprintf(st->where, sizeof(st->where), "%s", st->path);
	}
	return st;
}

int
store_adopt_fd(struct store *st, const char *name, int fd)
{
	if (strncmp(name, STORE_FDNAME, strlen(STORE_FDNAME)) != 0)
		return 0;
	if (st->nfds < STORE_MAX_FDS)
		st->fds[st->nfds++] = fd;
	else
		close(fd);
	return 1;
}

/* All of fd from offset 0 into a new buffer; -1 with err. */
static int
store_read_fd(int fd, const char *what, unsigned char **buf, size_t *len, char *err,
	      size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", what);
		return -1;
	}
	if ((uint64_t)st.st_size > STORE_MAX_BYTES) {
		snprintf(err, errlen, "%s is too large (%jd bytes)", what, (intmax_t)st.st_size);
		return -1;
	}
	*len = (size_t)st.st_size;
	if ((*buf = malloc(*len + 1)) == NULL) {
		snprintf(err, errlen, "no memory to read %s", what);
		return -1;
	}
	size_t got = 0;
	while (got < *len) {
		ssize_t n = pread(fd, *buf + got, *len - got, (off_t)got);
		if (n <= 0) {
			snprintf(err, errlen, "cannot read %s: %s", what,
				 n == 0 ? "shorter than its size" : strerror(errno));
			free(*buf);
			*buf = NULL;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/*
 * The newest snapshot kept that decodes, into *buf (to free): 1, 0 if none
 * is kept, -1 with err if one is kept but none can be read or decoded.
 */
static int
store_read(struct store *st, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
	*buf = NULL;
	if (st->mode == STORE_FILE) {
		int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1) {
			if (errno == ENOENT)
				return 0;
			snprintf(err, errlen, "cannot open %s: %s", st->path, strerror(errno));
			return -1;
		}
		int rc = store_read_fd(fd, st->path, buf, len, err, errlen);
		close(fd);
		return rc == -1 ? -1 : 1;
	}
	/* The fd store: between a store and a removal both are kept (see above). */
	uint64_t best = 0;
	int found = 0;
	for (size_t i = 0; i < st->nfds; i++) {
		unsigned char *b;
		size_t n;
		struct snapshot_head h;
		char why[256];
		if (store_read_fd(st->fds[i], "the stored descriptor", &b, &n, why, sizeof(why)) ==
			-1 ||
		    snapshot_decode(b, n, &h, NULL, why, sizeof(why)) == -1) {
			if (!found)
				snprintf(err, errlen, "%s", why);
			free(b);
			continue;
		}
		if (!found || h.generation > best) {
			free(*buf);
			*buf = b;
			*len = n;
			best = h.generation;
			found = 1;
		} else {
			free(b);
		}
	}
	for (size_t i = 0; i < st->nfds; i++)
		close(st->fds[i]); /* systemd keeps its own copies until we remove them */
	st->nfds = 0;
	st->generation = best; /* even if refused later: the next ones are numbered above it */
	if (found)
		return 1;
	return err[0] != '\0' ? -1 : 0;
}

long
store_load(struct store *st, struct supervisor *sv)
{
	unsigned char *buf;
	size_t len;
	char err[512] = "";
	uint64_t now = vigil_now_usec();

	st->sv = sv;
	if (st->mode == STORE_NONE)
		return 0;
	int rc = store_read(st, &buf, &len, err, sizeof(err));
	if (rc == 0) {
		log_info("no registry snapshot in %s: starting with an empty registry", st->where);
		return 0;
	}
	long n = rc == -1 ? -1 : restore_apply(sv, buf, len, now, &st->generation, err, sizeof(err));
	free(buf);
	if (n == -1) {
		log_warnx("registry snapshot in %s refused: %s; starting with an empty registry",
			  st->where, err);
		return 0;
	}
	log_info("restored %ld worker%s from %s (snapshot %" PRIu64 ", %zu bytes) in %.1f ms", n,
		 n == 1 ? "" : "s", st->where, st->generation, len,
		 (double)(vigil_now_usec() - now) / 1e3);
	return n;
}

/* All of len bytes to fd; -1 with errno. */
static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Where the snapshot being made goes: PATH.tmp (truncated), or a new memfd; -1 with err. */
static int
store_open_target(struct store *st, char *err, size_t errlen)
{
	if (st->mode == STORE_FILE) {
		snprintf(st->tmp, sizeof(st->tmp), "%s.tmp", st->path);
		st->fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (st->fd == -1)
			snprintf(err, errlen, "cannot create %s: %s", st->tmp, strerror(errno));
	} else {
		st->fd = memfd_create(STORE_FDNAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (st->fd == -1)
			snprintf(err, errlen, "memfd_create: %s", strerror(errno));
	}
	return st->fd == -1 ? -1 : 0;
}

/* What the capture added since the last time, written out; -1 with err. */
static int
store_flush(struct store *st, char *err, size_t errlen)
{
	const unsigned char *p;
	size_t n;

	snapshot_drain(&st->buf, &p, &n);
	if (st->buf.failed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (write_all(st->fd, p, n) == -1) {
		snprintf(err, errlen, "cannot write %s: %s",
			 st->mode == STORE_FILE ? st->tmp : "the memfd", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The file: fsync'ed, renamed over PATH, and the directory fsync'ed. An
 * fsync waits for the disk (15-20 ms for 5 MB on this VM's, far more when
 * others write), so while the loop runs it happens in a thread of its own
 * (store_sync_main), never holding the loop; the loop looks for its end.
 * Touches only st->fd, st->tmp, st->path and what it returns.
 */
static int
store_sync(struct store *st, char *err, size_t errlen)
{
	char dir[sizeof(st->path)];

	if (fsync(st->fd) == -1 || rename(st->tmp, st->path) == -1) {
		snprintf(err, errlen, "cannot replace %s: %s", st->path, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", st->path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void *
store_sync_main(void *arg)
{
	struct store *st = arg;

	st->sync_rc = store_sync(st, st->sync_err, sizeof(st->sync_err));
	atomic_store(&st->synced, 1);
	return NULL;
}

/* Start store_sync in its thread, with every signal blocked (they are the loop's); -1 with err. */
static int
store_sync_start(struct store *st, char *err, size_t errlen)
{
	sigset_t all, old;

	atomic_store(&st->synced, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&st->syncer, NULL, store_sync_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread to sync %s: %s", st->tmp, strerror(rc));
		return -1;
	}
	st->syncing = 1;
	return 0;
}

/* The sync thread is done (or is waited for): the snapshot is kept, or dropped and said why. */
static void
store_sync_finish(struct store *st)
{
	pthread_join(st->syncer, NULL);
	st->syncing = 0;
	store_end(st, st->sync_rc == -1 ? st->sync_err : NULL);
}

/*
 * The snapshot is all written but its header: write that at offset 0, then
 * (a memfd) make it the one kept: sealed, stored, and the older one
 * removed (see the top of this file); a file is made the one kept by
 * store_sync. -1 with err.
 */
static int
store_commit(struct store *st, char *err, size_t errlen)
{
	unsigned char hdr[SNAPSHOT_HEADER];
	char msg[128], why[VIGIL_ERRLEN];
	uint64_t generation = st->generation + 1;

	if (snapshot_header(&st->buf, hdr) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (pwrite(st->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		snprintf(err, errlen, "cannot write the header: %s", strerror(errno));
		return -1;
	}
	if (st->mode == STORE_FILE)
		return 0; /* then store_sync, off the loop (store_step) */
	if (fcntl(st->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) ==
	    -1) {
		snprintf(err, errlen, "cannot seal the memfd: %s", strerror(errno));
		return -1;
	}
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s-%" PRIu64, STORE_FDNAME, generation % 2);
	int rc = vigil_sd_notify_fd(msg, st->fd, why, sizeof(why));
	if (rc != 1) {
		snprintf(err, errlen, "%s", rc == 0 ? "NOTIFY_SOCKET is gone" : why);
		return -1;
	}
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s-%" PRIu64, STORE_FDNAME,
		 (generation + 1) % 2);
	if (vigil_sd_notify(msg, why, sizeof(why)) == -1)
		log_ratelimited(&st->rl, vigil_now_usec(), LOG_LEVEL_WARN,
				"cannot remove the previous registry snapshot from the fd store: %s",
				why);
	return 0;
}

/*
 * Look again in usec (unless a look is due sooner already). There is no
 * timer of ours while nothing changes: an idle supervisor stays asleep.
 */
static void
store_arm(struct store *st, uint64_t usec)
{
	struct timeval tv = {.tv_sec = (time_t)(usec / 1000000),
			     .tv_usec = (suseconds_t)(usec % 1000000)};
	uint64_t when = vigil_now_usec() + usec;

	if (st->tick == NULL ||
	    (event_pending(st->tick, EV_TIMEOUT, NULL) && st->look_at <= when))
		return;
	/* Sooner than the look planned (an event after a costly snapshot): moved up. */
	st->look_at = when;
	event_add(st->tick, &tv);
}

/* The capture in progress ends: kept (err NULL) or dropped with err logged. */
static void
store_end(struct store *st, const char *err)
{
	uint64_t now = vigil_now_usec();

	if (st->fd != -1)
		close(st->fd);
	st->fd = -1;
	st->capturing = 0;
	st->written = now;
	if (err != NULL) {
		if (st->mode == STORE_FILE)
			unlink(st->tmp);
		st->dirty = 1; /* tried again at the next tick */
		log_ratelimited(&st->rl, now, LOG_LEVEL_WARN,
				"cannot keep the registry snapshot in %s: %s", st->where, err);
	} else {
		st->generation++;
		log_debug("registry snapshot %" PRIu64 ": %zu workers, %" PRIu64 " bytes, %.2f ms "
			  "of work in %u slices, the longest %.2f ms (%.2f ms of CPU)",
			  st->generation, st->sv->registry.count, st->buf.drained,
			  (double)st->cost / 1e3, st->slices, (double)st->longest / 1e3,
			  (double)st->longest_cpu / 1e3);
	}
	snapshot_buf_free(&st->buf);
	/*
	 * What happened meanwhile is written within a tick; heartbeats alone are
	 * looked at again once the work just done is at most 1/STORE_DUTY of the time.
	 */
	store_arm(st, st->dirty || STORE_DUTY * st->cost < STORE_TICK_USEC ? STORE_TICK_USEC
									    : STORE_DUTY * st->cost);
}

/* Start a capture: what happens from here on makes the next snapshot. */
static int
store_begin(struct store *st)
{
	char err[1024];

	st->dirty = 0;
	st->datagrams = st->sv->counters.datagrams;
	st->cost = st->longest = st->longest_cpu = 0;
	st->slices = 0;
	if (store_open_target(st, err, sizeof(err)) == -1) {
		st->buf.data = NULL;
		store_end(st, err);
		return -1;
	}
	restore_capture_begin(st->sv, st->generation + 1, &st->buf);
	st->bucket = 0;
	st->capturing = 1;
	return 0;
}

/*
 * One slice of about budget usec: 1 when the snapshot is kept, dropped or
 * handed to the syncer (a file, unless inline: at the stop), 0 for more.
 */
static int
store_step(struct store *st, uint64_t budget, int inline_sync)
{
	char err[1024];
	uint64_t t0 = vigil_now_usec(), c0 = vigil_thread_cpu_usec();
	int done = restore_capture_more(st->sv, &st->buf, &st->bucket, budget);

	int rc = store_flush(st, err, sizeof(err));
	if (rc == 0 && done)
		rc = store_commit(st, err, sizeof(err));
	uint64_t took = vigil_now_usec() - t0, cpu = vigil_thread_cpu_usec() - c0;
	st->cost += took;
	st->slices++;
	if (took > st->longest) {
		st->longest = took;
		st->longest_cpu = cpu;
	}
	if (rc == 0 && done && st->mode == STORE_FILE) {
		if (inline_sync)
			rc = store_sync(st, err, sizeof(err));
		else if ((rc = store_sync_start(st, err, sizeof(err))) == 0) {
			store_arm(st, STORE_SYNC_POLL_USEC); /* the tick looks for its end */
			return 1;
		}
	}
	if (rc == -1 || done) {
		store_end(st, rc == -1 ? err : NULL);
		return 1;
	}
	return 0;
}

/* A capture in progress is dropped (a clean stop writes a whole one instead). */
static void
store_abandon(struct store *st)
{
	if (st->syncing)
		store_sync_finish(st); /* its snapshot is whole: kept */
	if (!st->capturing)
		return;
	if (st->fd != -1)
		close(st->fd);
	st->fd = -1;
	if (st->mode == STORE_FILE)
		unlink(st->tmp);
	snapshot_buf_free(&st->buf);
	st->capturing = 0;
	st->dirty = 1;
}

int
store_save(struct store *st)
{
	if (st->mode == STORE_NONE || st->sv == NULL)
		return 0;
	store_abandon(st);
	if (store_begin(st) == -1)
		return -1;
	store_step(st, UINT64_MAX / 2, 1); /* the loop is over: all at once */
	return st->dirty ? -1 : 0;
}

/* The next slice of the capture in progress, a loop turn of its own. */
static void
store_slice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (!store_step(st, STORE_SLICE_USEC, 0))
		event_active(st->slice, EV_TIMEOUT, 1);
}

/* A look: write if something happened or counters moved (store_end chose when to look). */
static void
store_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (st->syncing) {
		if (atomic_load(&st->synced))
			store_sync_finish(st);
		else
			store_arm(st, STORE_SYNC_POLL_USEC);
		return;
	}
	if (st->capturing)
		return; /* its end looks again */
	if (!st->dirty && st->sv->counters.datagrams == st->datagrams)
		return; /* nothing moved: no more looks until an event */
	if (store_begin(st) == 0)
		event_active(st->slice, EV_TIMEOUT, 1);
}

/* Every event is a state change worth keeping. */
static void
store_event_cb(const struct sv_event *ev, void *arg)
{
	struct store *st = arg;

	(void)ev;
	st->dirty = 1;
	store_arm(st, STORE_TICK_USEC);
}

void
store_touch(struct store *st)
{
	if (st == NULL || st->tick == NULL)
		return;
	st->dirty = 1;
	store_arm(st, STORE_TICK_USEC);
}

int
store_start(struct store *st, struct supervisor *sv, char *err, size_t errlen)
{
	st->sv = sv;
	if (st->mode == STORE_NONE)
		return 0;
	sv->store_touch = store_touch;
	st->dirty = 1; /* the first tick writes what was restored, under this supervisor */
	/* Below the heartbeats and the timers: a write waits for them, never they for it. */
	if ((st->tick = event_new(sv->base, -1, 0, store_tick_cb, st)) == NULL ||
	    event_priority_set(st->tick, SV_PRIO_CONTROL) == -1 ||
	    (st->slice = event_new(sv->base, -1, 0, store_slice_cb, st)) == NULL ||
	    event_priority_set(st->slice, SV_PRIO_CONTROL) == -1 ||
	    events_subscribe(&sv->events, store_event_cb, st) == -1) {
		snprintf(err, errlen, "cannot schedule the registry snapshots");
		return -1;
	}
	store_arm(st, STORE_TICK_USEC);
	return 0;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	store_abandon(st);
	if (st->slice != NULL)
		event_free(st->slice);
	if (st->tick != NULL) {
		event_free(st->tick);
		events_unsubscribe(&st->sv->events, store_event_cb, st);
		st->sv->store_touch = NULL;
	}
	for (size_t i = 0; i < st->nfds; i++)
		close(st->fds[i]);
	free(st);
}

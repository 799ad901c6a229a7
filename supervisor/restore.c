/*
 * restore.c: the registry into a snapshot and back. See restore.h.
 */
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "config.h"
#include "duration.h"
#include "identity.h"
#include "monitor.h"
#include "notify.h"
#include "restore.h"
#include "snapshot.h"
#include "supervisor.h"

/* This boot's id: monotonic times and pids of another boot mean nothing here. */
static const char *
restore_boot_id(void)
{
	static char id[SNAPSHOT_BOOT_ID_MAX + 1];

	if (id[0] == '\0') {
		int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd == -1 ? -1 : read(fd, id, SNAPSHOT_BOOT_ID_MAX);
		if (fd != -1)
			close(fd);
		id[n > 0 ? (size_t)n : 0] = '\0';
		id[strcspn(id, "\n")] = '\0';
	}
	return id;
}

void
restore_capture_begin(struct supervisor *sv, uint64_t generation, struct snapshot_buf *b)
{
	struct snapshot_head h = {.socket = sv->socket_name,
				  .socket_len = strlen(sv->socket_name),
				  .written_mono = vigil_now_usec(),
				  .generation = generation,
				  .counters = sv->counters};
	const struct events *e = &sv->events;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	h.written_wall = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	snprintf(h.boot_id, sizeof(h.boot_id), "%s", restore_boot_id());
	memcpy(h.event_totals, e->total, sizeof(h.event_totals));
	snapshot_begin(b, &h);
	/* The history first, oldest first, so that the restored events come after it. */
	for (size_t i = 0; i < e->count; i++)
		snapshot_add_event(b, &e->ring[(e->next + EVENTS_KEEP - e->count + i) % EVENTS_KEEP]);
}

int
restore_capture_more(struct supervisor *sv, struct snapshot_buf *b, size_t *bucket,
		     uint64_t budget)
{
	const struct registry *r = &sv->registry;
	uint64_t end = vigil_now_usec() + budget;

	while (*bucket < r->nbuckets) {
		for (const struct worker *w = r->buckets[*bucket]; w != NULL; w = w->next) {
			struct snapshot_worker sw;
			if (snapshot_worker_of(w, &sw))
				snapshot_add_worker(b, &sw);
		}
		/* The clock every 64 buckets: about 50 workers at most between two reads. */
		if (++*bucket % 64 == 0 && vigil_now_usec() >= end)
			break;
	}
	return *bucket >= r->nbuckets;
}


struct restore_ctx {
	struct supervisor *sv;
	uint64_t now;
	int same_boot;
	size_t restored, skipped;
	struct log_ratelimit rl; /* pids not proven */
};

/* A snapshot of another socket describes other workers: refused. */
static int
restore_accept(const struct snapshot_head *h, void *arg, char *err, size_t errlen)
{
	struct restore_ctx *x = arg;
	const char *mine = x->sv->socket_name;

	if (h->socket_len != strlen(mine) || memcmp(h->socket, mine, h->socket_len) != 0) {
		snprintf(err, errlen, "it was written for the heartbeat socket %.*s, not %s",
			 (int)h->socket_len, h->socket, mine);
		return -1;
	}
	/*
	 * The boot id may be out of reach (ProcSubset=pid hides /proc/sys): then
	 * a snapshot written "later" than our clock's now is another boot's.
	 * The fd store and /run never outlive a boot anyway.
	 */
	if (h->boot_id[0] != '\0' && restore_boot_id()[0] != '\0')
		x->same_boot = strcmp(h->boot_id, restore_boot_id()) == 0;
	else
		x->same_boot = h->written_mono <= x->now;
	return 0;
}

static void
restore_event(const struct sv_event *ev, void *arg)
{
	struct restore_ctx *x = arg;

	events_add(&x->sv->events, ev);
}

/*
 * Keep w's pid vouched for only if it is still the process recorded: the
 * same boot, the same start time (so not a reused pid), and its real and
 * effective uid the worker's (as claim_signal checks: /proc/PID's owner is
 * root for a process that is not dumpable, one that dropped privileges).
 * Otherwise it is shown but never signalled, and the next heartbeat, with
 * the kernel's credentials, vouches for a pid again.
 */
static void
restore_prove_pid(struct restore_ctx *x, struct worker *w)
{
	uint64_t ruid, euid;

	if (w->core.pid == 0 || !w->pid_vouched)
		return;
	if (x->same_boot && w->start_time != 0 && w->start_time != CLAIM_GONE &&
	    identity_start_time(w->core.pid) == w->start_time &&
	    identity_uids(w->core.pid, &ruid, &euid) == 0 && ruid == w->owner && euid == w->owner)
		return;
	/* Without a start time, or known gone already, no policy would signal it: nothing to say. */
	if (w->start_time != 0 && w->start_time != CLAIM_GONE)
		log_ratelimited(&x->rl, x->now, LOG_LEVEL_INFO,
				"restore: worker %s: pid %" PRIu64 " not proven the process recorded "
				"(start time, real and effective uid): not signalled until a "
				"heartbeat vouches for a pid again",
				w->name, w->core.pid);
	w->pid_vouched = 0;
	w->start_time = 0;
}

/*
 * A snapshot of another boot: its monotonic times mean nothing here, so w
 * is judged from now. A silent worker's reports stay on a grid of
 * timeouts (state.c counts them from last_hb), the next one a timeout on.
 */
static void
restore_rebase(struct restore_ctx *x, struct worker *w)
{
	struct worker_core *c = &w->core;
	uint64_t back = c->missed * monitor_timeout_for(x->sv, w);

	c->last_hb = back < x->now ? x->now - back : 0;
	c->due = 0;
	w->incidents.start = 0;
	w->incidents.n = 0;
}

static void
restore_worker(const struct snapshot_worker *sw, void *arg)
{
	struct restore_ctx *x = arg;
	struct supervisor *sv = x->sv;
	struct worker *w;

	if (registry_find(&sv->registry, sw->name, sw->name_len) != NULL ||
	    (w = monitor_adopt(sv, sw->name, sw->name_len, x->now)) == NULL) {
		x->skipped++;
		return;
	}
	/* A missing worker the configuration no longer expects was only ever the file's idea. */
	if (snapshot_worker_apply(sw, w) == -1 ||
	    (w->core.state == WORKER_MISSING && (w->conf == NULL || !w->conf->expected))) {
		registry_remove(&sv->registry, w);
		x->skipped++;
		return;
	}
	if (!x->same_boot)
		restore_rebase(x, w);
	restore_prove_pid(x, w);
	w->core.timeout = monitor_timeout_for(sv, w);
	x->restored++;
}

/*
 * When w is next judged, by its state (see restore.h), the supervisor
 * being ready at now (every worker restored: a large snapshot takes a
 * while); returns whether its timer runs.
 */
static int
restore_judge(struct supervisor *sv, struct worker *w, uint64_t now)
{
	struct worker_core *c = &w->core;

	switch (c->state) {
	case WORKER_ALIVE:
		/* last_hb + timeout, but never less than a timeout from now. */
		c->missed = 0;
		c->graced = 0;
		c->due = (c->last_hb > now ? c->last_hb : now) + c->timeout;
		return 1;
	case WORKER_DEAD:
	case WORKER_EXITED:
		/* Its next report where it was due, or a timeout from now if that passed. */
		if (c->due <= now)
			c->due = now + c->timeout;
		return 1;
	case WORKER_MISSING:
		if (c->due == 0)
			c->due = now + sv->set->startup_grace;
		return c->due > now; /* else reported already */
	default:
		return 0; /* stopped */
	}
}

long
restore_apply(struct supervisor *sv, const void *buf, size_t len, uint64_t now,
	      uint64_t *generation, char *err, size_t errlen)
{
	struct restore_ctx x = {.sv = sv, .now = now, .rl = {.burst = 10}};
	struct snapshot_sink sink = {restore_accept, restore_worker, restore_event, &x};
	struct snapshot_head h;

	if (snapshot_decode(buf, len, &h, &sink, err, errlen) == -1)
		return -1;
	/* Ready: every worker is judged from now, and told (a "restored" event each). */
	uint64_t ready = vigil_now_usec();
	const struct registry *r = &sv->registry;
	for (size_t i = 0; i < r->nbuckets; i++)
		for (struct worker *w = r->buckets[i]; w != NULL; w = w->next)
			monitor_restored(sv, w, restore_judge(sv, w, ready), ready);
	notify_status(sv); /* one STATUS= for them all, not one a worker */
	/* The counters go on; the totals by event too, this start's restored events included. */
	sv->counters = h.counters;
	memcpy(sv->events.total, h.event_totals, sizeof(sv->events.total));
	sv->events.total[SV_EVENT_RESTORED] += x.restored;
	*generation = h.generation;
	if (x.skipped > 0)
		log_warnx("restore: %zu worker%s of the snapshot not restored (a duplicate, no "
			  "longer expected, or no room: --max-workers)",
			  x.skipped, x.skipped == 1 ? "" : "s");
	if (!x.same_boot)
		log_info("restore: the snapshot is from another boot: every worker is judged from now");
	return (long)x.restored;
}

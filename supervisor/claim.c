/*
 * claim.c: one live process behind each name. See claim.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "fdbudget.h"
#include "identity.h"
#include "supervisor.h"

/* Linux 6.5; Debian 12's headers (6.1) do not have it. */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

#define CLAIM_PRIORITY 1 /* as the workers' timers: below the heartbeat socket */

static event_callback_fn claim_exit_cb, claim_rival_cb;

void
claim_set_callbacks(event_callback_fn exit_cb, event_callback_fn rival_cb)
{
	claim_exit_cb = exit_cb;
	claim_rival_cb = rival_cb;
}

int
claim_pass_pidfds(int fd, int on)
{
	return setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof(on));
}

/* A monotonic time as CLOCK_BOOTTIME, the clock of /proc/PID/stat's start times. */
static uint64_t
claim_boottime(uint64_t mono)
{
	struct timespec b, m;

	clock_gettime(CLOCK_BOOTTIME, &b);
	clock_gettime(CLOCK_MONOTONIC, &m);
	int64_t off = ((int64_t)b.tv_sec - (int64_t)m.tv_sec) * 1000000 +
		      ((int64_t)b.tv_nsec - (int64_t)m.tv_nsec) / 1000;
	return (uint64_t)((int64_t)mono + off);
}

/* Whether the process of a pidfd has ended (the pidfd is readable). */
static int
claim_pidfd_ended(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

/* Whether w's process still runs: its pidfd not readable, else its start time the same. */
static int
claim_alive(const struct worker *w)
{
	int fd = registry_pidfd(w);

	if (fd != -1)
		return !claim_pidfd_ended(fd);
	return w->start_time != CLAIM_GONE && identity_alive(w->core.pid, w->start_time);
}

enum claim_verdict
claim_judge(struct supervisor *sv, const struct worker *w, uint64_t pid, int unit)
{
	(void)sv;
	(void)pid;
	/* Stopped (it said so), exited, never seen: nothing holds the name. */
	if (w->core.state != WORKER_ALIVE && w->core.state != WORKER_DEAD &&
	    w->core.state != WORKER_UNWATCHED)
		return CLAIM_HOLDER;
	if (!claim_alive(w))
		return CLAIM_HOLDER;
	return unit ? CLAIM_HELPER : CLAIM_RIVAL;
}

static void claim_join_1(struct supervisor *sv, struct worker *w, uint64_t arrival,
			 uint64_t sender, int sender_pidfd, int want);

void
claim_join(struct supervisor *sv, struct worker *w, uint64_t arrival, uint64_t sender,
	   int sender_pidfd, int want)
{
	uint64_t before = w->start_time;

	claim_join_1(sv, w, arrival, sender, sender_pidfd, want);
	/*
	 * Confirmed at a later heartbeat, with no event: the snapshot must keep
	 * it, or after a restart the pid could never be proven (restore.c) and a
	 * policy would no longer signal it. Only on that change, never per heartbeat.
	 */
	if (before == 0 && w->start_time != 0 && sv->store_touch != NULL)
		sv->store_touch(sv->store);
}

static void
claim_join_1(struct supervisor *sv, struct worker *w, uint64_t arrival, uint64_t sender,
	     int sender_pidfd, int want)
{
	static long ticks;
	struct identity_stat st;

	if (ticks == 0)
		ticks = sysconf(_SC_CLK_TCK);
	w->start_time = 0;
	if (sv->pidfds && sender == w->core.pid && sender_pidfd >= 0 &&
	    claim_pidfd_ended(sender_pidfd)) {
		/* The kernel's word: the sender has ended, whatever now has its pid. */
		w->start_time = CLAIM_GONE;
		return;
	}
	if (identity_stat(w->core.pid, &st) == -1 || st.state == 'Z' || st.state == 'X')
		return; /* gone already (or hidden): nothing to act on */
	switch (identity_started_vs(st.start_time, ticks, claim_boottime(arrival))) {
	case 1:
		/* Its pid was given to another process before we read the datagram. */
		w->start_time = CLAIM_GONE;
		log_debug("worker %s: pid %" PRIu64 " now names a process that started after "
			  "the datagram arrived: the sender is gone, its pid reused",
			  w->name, w->core.pid);
		return;
	case 0:
		/*
		 * Started within a clock tick of the datagram's arrival: the sender
		 * (a worker that heartbeats as it starts) or a process that took its
		 * pid at once. Not taken yet: its next datagram, a tick later, tells
		 * (claim_join again); the kernel's pidfd needs no such wait.
		 */
		break;
	default:
		w->start_time = st.start_time;
		break;
	}
	if (want && (w->start_time != 0 || (sv->pidfds && sender == w->core.pid)))
		claim_keep(sv, w, sender, sender_pidfd);
}

int
claim_keep(struct supervisor *sv, struct worker *w, uint64_t sender, int sender_pidfd)
{
	uint64_t pid = w->core.pid;
	int fd;

	int kernels = sv->pidfds && sender == pid && sender_pidfd >= 0;

	if (registry_pidfd(w) != -1)
		return 0;
	if (w->start_time == CLAIM_GONE) {
		errno = ESRCH;
		return -1;
	}
	if (w->start_time == 0 && !kernels) {
		errno = EAGAIN; /* not told apart from a successor yet (claim_join) */
		return -1;
	}
	if (fdbudget_acquire() == -1) {
		errno = ENOSPC; /* the budget is spent (EMFILE would be the kernel's own limit) */
		return -1;
	}
	if (kernels) {
		/* The kernel's word: the very process that sent the datagram. */
		fd = fcntl(sender_pidfd, F_DUPFD_CLOEXEC, 3);
	} else {
		/* Opened by pid, then kept only if the pid still names the process we saw. */
		fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (fd != -1 && !identity_alive(pid, w->start_time)) {
			close(fd);
			fd = -1;
			errno = ESRCH;
		}
	}
	if (fd == -1) {
		int e = errno;
		fdbudget_release();
		errno = e;
		return -1;
	}
	if (w->claim == NULL && (w->claim = calloc(1, sizeof(*w->claim))) == NULL)
		goto fail;
	w->claim->exit_ev = event_new(sv->base, fd, EV_READ, claim_exit_cb, w);
	if (w->claim->exit_ev == NULL ||
	    event_priority_set(w->claim->exit_ev, CLAIM_PRIORITY) == -1) {
		if (w->claim->exit_ev != NULL)
			event_free(w->claim->exit_ev);
		w->claim->exit_ev = NULL;
		if (w->claim->rival_timer == NULL) {
			free(w->claim);
			w->claim = NULL;
		}
		goto fail;
	}
	return 0;
fail:
	close(fd);
	fdbudget_release();
	errno = ENOMEM;
	return -1;
}

int
claim_rival_heartbeat(struct supervisor *sv, struct worker *w, uint64_t pid, uint64_t now)
{
	struct worker_claim *cl = w->claim;
	int fresh = cl == NULL || cl->rival_timer == NULL || cl->rival_pid != pid;

	if (cl == NULL && (cl = w->claim = calloc(1, sizeof(*cl))) == NULL)
		return -1;
	if (cl->rival_timer == NULL) {
		cl->rival_timer = event_new(sv->base, -1, 0, claim_rival_cb, w);
		if (cl->rival_timer == NULL ||
		    event_priority_set(cl->rival_timer, CLAIM_PRIORITY) == -1) {
			if (cl->rival_timer != NULL)
				event_free(cl->rival_timer);
			cl->rival_timer = NULL;
			if (cl->exit_ev == NULL) {
				free(cl);
				w->claim = NULL;
			}
			return -1;
		}
	}
	if (fresh) {
		cl->rival_pid = pid;
		cl->rival_start = identity_start_time(pid);
		cl->rival_beats = 0;
	}
	cl->rival_last_hb = now;
	cl->rival_beats++;
	uint64_t t = w->core.timeout;
	struct timeval tv = {.tv_sec = (time_t)(t / 1000000), .tv_usec = (suseconds_t)(t % 1000000)};
	event_add(cl->rival_timer, &tv);
	return fresh;
}

int
claim_signal(struct supervisor *sv, const struct worker *w, int sig, const char **how, char *why,
	     size_t cap)
{
	uint64_t pid = w->core.pid, ruid, euid;
	int fd = registry_pidfd(w);

	(void)sv;
	why[0] = '\0';
	if (w->start_time == CLAIM_GONE) {
		snprintf(why, cap, "the process that sent its heartbeats has ended (its pidfd said "
				   "so, or its pid was taken by a process that started after the "
				   "datagram arrived)");
		return -1;
	}
	if (fd == -1 && w->start_time == 0) {
		snprintf(why, cap, "the process that sent its heartbeats is gone, or not yet told "
				   "apart from one that took its pid (hidden from us, or started within "
				   "a clock tick of its datagram)");
		return -1;
	}
	/* Read the owner, then make sure the pid still named our process while we read. */
	int got = identity_uids(pid, &ruid, &euid);
	int same = fd != -1 ? syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0
			    : identity_alive(pid, w->start_time);
	if (!same || got == -1) {
		if (fd == -1 && identity_start_time(pid) != 0 && got == 0)
			snprintf(why, cap, "the pid now belongs to another process");
		else
			snprintf(why, cap, "the process is gone (or hidden from us)");
		return -1;
	}
	if (ruid != (uint64_t)w->owner || euid != (uint64_t)w->owner) {
		snprintf(why, cap,
			 "it runs as uid %" PRIu64 " (effective %" PRIu64 "), not as the name's "
			 "uid %u",
			 ruid, euid, (unsigned)w->owner);
		return -1;
	}
	int rc;
	if (fd != -1) {
		rc = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		*how = "through its pidfd";
	} else {
		rc = kill((pid_t)pid, sig);
		*how = "its start time checked";
	}
	if (rc == -1)
		snprintf(why, cap, "%s", strerror(errno));
	return rc;
}

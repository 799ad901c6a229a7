/*
 * listener.c: the heartbeat socket. See listener.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "claim.h"
#include "duration.h"
#include "listener.h"
#include "monitor.h"
#include "supervisor.h"

#define LISTENER_MAX_BATCHES 8 /* per callback, so timers and control get their turn */
#define LISTENER_MAX_FDS 8     /* descriptors taken per datagram; the kernel drops the rest */
#define LISTENER_STEP_USEC 1000 /* the wall clock moved against ours beyond slewing: a step */

/* Linux 6.5 (SO_PASSPIDFD): Debian 12's headers (6.1) do not have it. */
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* One received datagram, decoded, waiting for its turn in the batch. */
struct listener_item {
	struct vigil_msg m;
	struct vigil_wire_error err;
	struct monitor_sender from;
	uint64_t now;  /* when it arrived (monotonic usec) */
	int valid;     /* m holds it; else err says why not */
	int has_fds;   /* descriptors came with it: closed at its turn */
};

struct listener {
	struct supervisor *sv;
	struct event *ev;
	int filled; /* messages the last recvmmsg wrote lengths into, to reset */
	int passing; /* the kernel passes senders' pidfds (SO_PASSPIDFD is on) */
	uint64_t last_read; /* monotonic usec of the previous batch: no arrival goes before it */
	int64_t offset;     /* CLOCK_REALTIME - CLOCK_MONOTONIC then (usec): to see steps */
	struct mmsghdr msgs[LISTENER_BATCH];
	struct iovec iov[LISTENER_BATCH];
	struct sockaddr_un addrs[LISTENER_BATCH];
	/* In the kernel's order: the arrival stamp, the credentials, the pidfd, any descriptors. */
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int)) + CMSG_SPACE(LISTENER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cmsg[LISTENER_BATCH];
	struct listener_item items[LISTENER_BATCH];
	/* One byte more than the largest valid datagram, to see oversized ones. */
	char bufs[LISTENER_BATCH][VIGIL_WIRE_MAX + 1];
};

/* CLOCK_REALTIME in usec: the clock of the kernel's stamps. */
static uint64_t
listener_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A batch's clocks, read once just after it was received. */
struct listener_clock {
	uint64_t mono;     /* CLOCK_MONOTONIC usec: our time */
	uint64_t real;     /* CLOCK_REALTIME usec: the kernel's stamps' time */
	uint64_t earliest; /* the previous batch's mono: nothing arrives before it */
	int stepped;       /* the wall clock stepped since the previous batch: stamps are unsure */
};

/*
 * When a datagram arrived, in our monotonic usec, from the CLOCK_REALTIME
 * stamp the kernel put on it as it was queued (stamp_us, 0 if none came):
 * the batch's read time less the stamp's age, held between the previous
 * batch and this one, so that a step of the wall clock can never place a
 * heartbeat in the future nor before what was already handled; and the read
 * time itself when the wall clock stepped since the previous batch (the
 * stamps may be from either side of the step).
 */
static uint64_t
listener_arrival(const struct listener_clock *ck, uint64_t stamp_us)
{
	if (stamp_us == 0 || stamp_us >= ck->real || ck->stepped)
		return ck->mono;
	uint64_t age = ck->real - stamp_us;
	return age < ck->mono - ck->earliest ? ck->mono - age : ck->earliest;
}

/*
 * Walk a datagram's control messages: its arrival stamp (usec of
 * CLOCK_REALTIME, 0 if none) into *stamp_us, the credentials the kernel
 * vouched for into from; returns whether descriptors came with it.
 */
static int
listener_control(struct msghdr *mh, struct monitor_sender *from, uint64_t *stamp_us)
{
	int fds = 0;

	*stamp_us = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			if (ts.tv_sec > 0)
				*stamp_us = (uint64_t)ts.tv_sec * 1000000 +
					    (uint64_t)ts.tv_nsec / 1000;
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			from->has_creds = 1;
			from->pid = uc.pid > 0 ? (uint64_t)uc.pid : 0;
			from->uid = uc.uid;
			from->gid = uc.gid;
		} else if (c->cmsg_type == SCM_PIDFD && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			/* Negative: the kernel could not make one (the sender was reaped). */
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			from->pidfd = fd >= 0 ? fd : -1;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			fds = 1;
		}
	}
	return fds;
}

/*
 * Close every descriptor that came with a datagram. sd_notify senders pass
 * them with BARRIER=1 (and wait for us to close it, as systemd does) or
 * FDSTORE=1 (which we do not keep); none may leak, whatever the message.
 */
static void
listener_close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

/* Take in one received datagram: when it came, from whom, decoded (or why not). */
static void
listener_decode(struct listener_item *it, struct mmsghdr *mm, const struct listener_clock *ck)
{
	struct msghdr *mh = &mm->msg_hdr;
	size_t len = mm->msg_len;
	uint64_t stamp_us;

	it->from = (struct monitor_sender){.addr = mh->msg_name, .addrlen = mh->msg_namelen,
					   .pidfd = -1};
	it->has_fds = listener_control(mh, &it->from, &stamp_us);
	it->now = listener_arrival(ck, stamp_us);
	if (mh->msg_flags & MSG_TRUNC)
		len = VIGIL_WIRE_MAX + 1;
	it->valid = vigil_wire_decode(mh->msg_iov->iov_base, len, &it->m, &it->err) == 0;
}

/*
 * Handle a batch of n datagrams, in the order they came. Decoded first,
 * all of them, so that the workers they name are fetched from memory
 * together (registry_prefetch): with many workers each lookup would
 * otherwise wait for its own cache misses, one after the other.
 */
static void
listener_batch(struct listener *l, int n, const struct listener_clock *ck)
{
	struct supervisor *sv = l->sv;

	for (int i = 0; i < n; i++)
		listener_decode(&l->items[i], &l->msgs[i], ck);
	for (int i = 0; i < n; i++) {
		const struct vigil_msg *m = &l->items[i].m;
		if (l->items[i].valid && (m->fields & VIGIL_F_WORKER))
			registry_prefetch(&sv->registry, m->worker, m->worker_len);
	}
	for (int i = 0; i < n; i++) {
		struct listener_item *it = &l->items[i];
		sv->counters.datagrams++;
		if (it->has_fds)
			listener_close_fds(&l->msgs[i].msg_hdr);
		if (it->valid)
			monitor_message(sv, &it->m, &it->from, it->now, ck->mono);
		else
			monitor_invalid(sv, &it->err, it->now);
		/* A worker that must be held by its pidfd took a copy (claim.h); no other stays. */
		if (it->from.pidfd != -1)
			close(it->from.pidfd);
	}
}

/* The heartbeat socket is readable: drain it, a bounded number of batches. */
static void
listener_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	for (int batch = 0; batch < LISTENER_MAX_BATCHES; batch++) {
		/* The kernel rewrote these lengths in what it filled; the rest is as set up. */
		for (int i = 0; i < l->filled; i++) {
			struct msghdr *mh = &l->msgs[i].msg_hdr;
			mh->msg_namelen = sizeof(l->addrs[i]);
			mh->msg_controllen = sizeof(l->cmsg[i].buf);
			mh->msg_flags = 0;
		}
		int n = recvmmsg(fd, l->msgs, LISTENER_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		l->filled = n > 0 ? n : LISTENER_BATCH;
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("receive on %s", l->sv->socket_name);
			return;
		}
		/*
		 * One read of each clock per batch: each datagram's own time is its
		 * kernel stamp's age subtracted from this. Then refresh libevent's
		 * cached time, which event_add() arms from: taken after ours, it
		 * makes every deadline land at or just after ours, never before
		 * (which would cost a second wakeup to wait out the rest).
		 */
		struct listener_clock ck = {.mono = vigil_now_usec(), .earliest = l->last_read};
		ck.real = listener_realtime();
		if (ck.earliest > ck.mono)
			ck.earliest = ck.mono;
		/* NTP slews at most 500 ppm: a larger move of the wall clock is a step. */
		int64_t offset = (int64_t)(ck.real - ck.mono), moved = offset - l->offset;
		ck.stepped = (moved < 0 ? -moved : moved) >
			     (int64_t)(LISTENER_STEP_USEC + (ck.mono - ck.earliest) / 1000);
		l->offset = offset;
		l->last_read = ck.mono;
		event_base_update_cache_time(l->sv->base);
		listener_batch(l, n, &ck);
		if (n < LISTENER_BATCH)
			return;
	}
}

void
listener_update_pidfds(struct listener *l)
{
	struct supervisor *sv = l->sv;
	int want = sv->pidfds && monitor_wants_pidfds(sv);

	if (want == l->passing)
		return;
	if (claim_pass_pidfds(sv->hb_sock.fd, want) == -1) {
		log_warn("cannot turn %s SO_PASSPIDFD on %s", want ? "on" : "off", sv->socket_name);
		return;
	}
	l->passing = want;
	log_info("senders' pidfds with datagrams: %s", want ? "on (a policy signals, or --detect-exit)"
							  : "off (no policy signals)");
}

/* monitor_io: read what the socket holds now. */
static void
listener_io_drain(void *ctx)
{
	struct listener *l = ctx;

	listener_read_cb(l->sv->hb_sock.fd, EV_READ, l);
}

/* monitor_io: send a datagram from the heartbeat socket, never blocking. */
static int
listener_io_send(void *ctx, const struct sockaddr_un *to, socklen_t tolen, const char *buf,
		 size_t len)
{
	struct listener *l = ctx;
	ssize_t n = sendto(l->sv->hb_sock.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, tolen);
	return n == -1 ? -1 : 0;
}

struct listener *
listener_start(struct supervisor *sv, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	int one = 1;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->sv = sv;
	for (int i = 0; i < LISTENER_BATCH; i++) {
		struct msghdr *mh = &l->msgs[i].msg_hdr;
		l->iov[i].iov_base = l->bufs[i];
		l->iov[i].iov_len = sizeof(l->bufs[i]);
		mh->msg_name = &l->addrs[i];
		mh->msg_iov = &l->iov[i];
		mh->msg_iovlen = 1;
		mh->msg_control = l->cmsg[i].buf;
	}
	l->filled = LISTENER_BATCH;
	if (setsockopt(sv->hb_sock.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "cannot enable SO_PASSCRED on %s: %s", sv->socket_name,
			 strerror(errno));
		free(l);
		return NULL;
	}
	/*
	 * A heartbeat's time is when it arrived, not when we read it: after a
	 * stall of ours, one that waited in the queue must not look fresh. On
	 * AF_UNIX datagram sockets the kernel stamps each datagram as the sender
	 * queues it (unix_dgram_sendmsg, when the receiver has SO_TIMESTAMP or
	 * SO_TIMESTAMPNS on; measured on Linux 6.18: a datagram read 200 ms after
	 * it was sent carries its send time). SO_TIMESTAMPING's RX_SOFTWARE
	 * gives nothing here: AF_UNIX has no receive path that stamps. Datagrams
	 * queued before this call are stamped when read, and old kernels may do
	 * the same: either way no worse than the read time.
	 */
	if (setsockopt(sv->hb_sock.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "cannot enable SO_TIMESTAMPNS on %s: %s", sv->socket_name,
			 strerror(errno));
		free(l);
		return NULL;
	}
	/*
	 * The sender's identity for signals and exit watches: a pidfd the
	 * kernel passes with each datagram (SCM_PIDFD, Linux 6.5), which names
	 * the process that sent it even once its pid is reused; else start
	 * times against arrival times (claim.h).
	 */
	sv->pidfds = sv->set->identity != IDENTITY_START_TIME &&
		     claim_pass_pidfds(sv->hb_sock.fd, 1) == 0;
	if (sv->set->identity == IDENTITY_PIDFD && !sv->pidfds) {
		snprintf(err, errlen, "--identity pidfd: the kernel gives no pidfds with datagrams "
				      "(SO_PASSPIDFD needs Linux 6.5): %s", strerror(errno));
		free(l);
		return NULL;
	}
	l->passing = sv->pidfds;
	listener_update_pidfds(l);
	l->last_read = vigil_now_usec();
	l->offset = (int64_t)(listener_realtime() - l->last_read);
	l->ev = event_new(sv->base, sv->hb_sock.fd, EV_READ | EV_PERSIST, listener_read_cb, l);
	/* Above the timers: queued heartbeats are read before deadlines are judged. */
	if (l->ev == NULL || event_priority_set(l->ev, SV_PRIO_DATA) == -1 || event_add(l->ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch %s", sv->socket_name);
		listener_free(l);
		return NULL;
	}
	struct monitor_io io = {.send = listener_io_send, .drain = listener_io_drain, .ctx = l};
	monitor_set_io(sv, &io);
	return l;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->sv->io.ctx == l)
		memset(&l->sv->io, 0, sizeof(l->sv->io));
	if (l->ev != NULL)
		event_free(l->ev);
	free(l);
}

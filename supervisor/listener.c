/*
 * listener.c: the heartbeat socket. See listener.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "duration.h"
#include "listener.h"
#include "monitor.h"
#include "supervisor.h"

#define LISTENER_BATCH 64     /* datagrams per recvmmsg */
#define LISTENER_MAX_BATCHES 8 /* per callback, so timers and control get their turn */
#define LISTENER_MAX_FDS 8     /* descriptors taken per datagram; the kernel drops the rest */

struct listener {
	struct supervisor *sv;
	struct event *ev;
	struct mmsghdr msgs[LISTENER_BATCH];
	struct iovec iov[LISTENER_BATCH];
	struct sockaddr_un addrs[LISTENER_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(LISTENER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cmsg[LISTENER_BATCH];
	/* One byte more than the largest valid datagram, to see oversized ones. */
	char bufs[LISTENER_BATCH][VIGIL_WIRE_MAX + 1];
};

/* Fill from with the credentials the kernel vouched for, if any came. */
static void
listener_creds(struct msghdr *mh, struct monitor_sender *from)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			from->has_creds = 1;
			from->pid = uc.pid > 0 ? (uint64_t)uc.pid : 0;
			from->uid = uc.uid;
			from->gid = uc.gid;
			return;
		}
	}
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

/* Decode one received datagram and pass it on, or count it as invalid. */
static void
listener_dispatch(struct listener *l, struct mmsghdr *mm, uint64_t now)
{
	struct supervisor *sv = l->sv;
	struct msghdr *mh = &mm->msg_hdr;
	struct vigil_wire_error err;
	struct vigil_msg m;
	size_t len = mm->msg_len;

	sv->counters.datagrams++;
	listener_close_fds(mh);
	if (mh->msg_flags & MSG_TRUNC)
		len = VIGIL_WIRE_MAX + 1;
	if (vigil_wire_decode(mh->msg_iov->iov_base, len, &m, &err) == -1) {
		monitor_invalid(sv, &err, now);
		return;
	}
	struct monitor_sender from = {
	    .addr = mh->msg_name,
	    .addrlen = mh->msg_namelen,
	};
	listener_creds(mh, &from);
	monitor_message(sv, &m, &from, now);
}

/* The heartbeat socket is readable: drain it, a bounded number of batches. */
static void
listener_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	for (int batch = 0; batch < LISTENER_MAX_BATCHES; batch++) {
		for (int i = 0; i < LISTENER_BATCH; i++) {
			struct msghdr *mh = &l->msgs[i].msg_hdr;
			mh->msg_name = &l->addrs[i];
			mh->msg_namelen = sizeof(l->addrs[i]);
			mh->msg_iov = &l->iov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = l->cmsg[i].buf;
			mh->msg_controllen = sizeof(l->cmsg[i].buf);
			mh->msg_flags = 0;
		}
		int n = recvmmsg(fd, l->msgs, LISTENER_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("receive on %s", l->sv->socket_name);
			return;
		}
		/*
		 * One clock read per batch: all of it arrived by now. Then refresh
		 * libevent's cached time, which event_add() arms from: taken after
		 * ours, it makes every deadline land at or just after ours, never
		 * before (which would cost a second wakeup to wait out the rest).
		 */
		uint64_t now = vigil_now_usec();
		event_base_update_cache_time(l->sv->base);
		for (int i = 0; i < n; i++)
			listener_dispatch(l, &l->msgs[i], now);
		if (n < LISTENER_BATCH)
			return;
	}
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
		l->iov[i].iov_base = l->bufs[i];
		l->iov[i].iov_len = sizeof(l->bufs[i]);
	}
	if (setsockopt(sv->hb_sock.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "cannot enable SO_PASSCRED on %s: %s", sv->socket_name,
			 strerror(errno));
		free(l);
		return NULL;
	}
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

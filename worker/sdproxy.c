/*
 * sdproxy.c: the program's NOTIFY_SOCKET, relayed to the supervisor and
 * passed on to systemd. See sdproxy.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "sdproxy.h"
#include "vigil.h"
#include "wire.h"
#include "worker.h"

#define SDPROXY_MAX_FDS 253 /* systemd's own limit for one message (SCM_MAX_FD) */
#define SDPROXY_BATCH 16    /* datagrams read per wakeup */

struct sdproxy {
	struct worker_ctx *w;
	int fd;                 /* our NOTIFY_SOCKET, the program's */
	int up;                 /* a socket to send on to systemd's, -1 without one */
	struct sockaddr_un up_addr;
	socklen_t up_len;
	struct event *ev;
	char env[sizeof("NOTIFY_SOCKET=@") + sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct log_ratelimit rl;
};

/* An address from a NOTIFY_SOCKET value: a path, or "@name" for an abstract one. */
static int
sdproxy_addr(const char *s, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(s);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((s[0] != '/' && s[0] != '@') || n < 2 || n >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, s, n);
	if (s[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (s[0] == '/'));
	return 0;
}

/*
 * Pass the datagram on to systemd with its descriptors, less its MAINPID=
 * lines (we stay the main process). Failures cost a line, never a stop.
 */
static void
sdproxy_forward(struct sdproxy *p, const char *buf, size_t len, const int *fds, size_t nfds)
{
	char out[VIGIL_WIRE_MAX + 1];
	size_t o = 0;

	if (p->up == -1)
		return;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t n = (nl != NULL ? (size_t)(nl - (buf + i)) + 1 : len - i);
		if (!(n >= 8 && memcmp(buf + i, "MAINPID=", 8) == 0)) {
			memcpy(out + o, buf + i, n);
			o += n;
		}
		i += n;
	}
	if (o == 0 && nfds == 0)
		return;
	struct iovec iov = {.iov_base = out, .iov_len = o};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(SDPROXY_MAX_FDS * sizeof(int))];
	} cm;
	struct msghdr mh = {.msg_name = &p->up_addr, .msg_namelen = p->up_len,
			    .msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(p->up, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_ratelimited(&p->rl, vigil_now_usec(), LOG_LEVEL_WARN,
				"cannot pass %s's message on to the service manager: %s",
				p->w->exec_argv[0], strerror(errno));
}

/*
 * Tell the supervisor one KEY=VALUE line of the program's, for our name,
 * without a heartbeat (STATUS=, WATCHDOG_USEC=, WATCHDOG=trigger): systemd
 * does not count them as pings either.
 */
static void
sdproxy_tell(struct sdproxy *p, const char *line, size_t n)
{
	char out[VIGIL_WIRE_MAX + 1];
	int len = snprintf(out, sizeof(out), "%.*s\nWORKER=%s\n", (int)n, line, p->w->name);
	int fd = vigil_client_fd(p->w->client);

	if (len < 0 || (size_t)len >= sizeof(out) || fd == -1)
		return;
	/* Not connected yet (before our first heartbeat): that heartbeat carries it. */
	if (send(fd, out, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 && errno != ENOTCONN)
		log_ratelimited(&p->rl, vigil_now_usec(), LOG_LEVEL_WARN,
				"cannot tell the supervisor %.*s: %s", (int)(n < 32 ? n : 32), line,
				strerror(errno));
}

/* STATUS= for our heartbeats: UTF-8 without control characters, as libvigil takes it. */
static void
sdproxy_status(struct sdproxy *p, const char *s, size_t len)
{
	char text[128];
	size_t o = 0;

	for (size_t i = 0, k; i < len && o < sizeof(text) - 1; i += k) {
		k = vigil_wire_utf8_len(s + i, len - i);
		if (k == 0 || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
			text[o++] = '?';
			k = k == 0 ? 1 : k;
		} else if (o + k < sizeof(text)) {
			memcpy(text + o, s + i, k);
			o += k;
		} else {
			break;
		}
	}
	text[o] = '\0';
	vigil_client_set_status(p->w->client, text);
}

/* What the supervisor hears of one of the program's messages. */
static void
sdproxy_relay(struct sdproxy *p, const char *buf, size_t len)
{
	struct worker_ctx *w = p->w;
	struct vigil_msg m;
	struct vigil_wire_error e;
	char why[160], line[64];

	if (vigil_wire_decode(buf, len, &m, &e) == -1) {
		vigil_wire_describe(&e, why, sizeof(why));
		log_ratelimited(&p->rl, vigil_now_usec(), LOG_LEVEL_WARN,
				"not relayed to the supervisor, a message from %s: %s",
				w->exec_argv[0], why);
		return;
	}
	if (m.fields & VIGIL_F_STATUS) {
		sdproxy_status(p, m.status, m.status_len);
		/* Said at once: systemctl status and vigilctl status agree. */
		sdproxy_tell(p, m.status - strlen("STATUS="), strlen("STATUS=") + m.status_len);
	}
	if (m.fields & VIGIL_F_WATCHDOG_USEC) {
		/* Its own timeout, as systemd honours it; 0 turns the watchdog off. */
		vigil_client_set_timeout(w->client, m.watchdog_usec);
		int n = snprintf(line, sizeof(line), "WATCHDOG_USEC=%" PRIu64, m.watchdog_usec);
		sdproxy_tell(p, line, (size_t)n);
	}
	switch (vigil_wire_kind(&m)) {
	case VIGIL_MSG_STOPPING:
		w->program_stopping = 1;
		heartbeat_send_stopping(w);
		break;
	case VIGIL_MSG_TRIGGER:
		sdproxy_tell(p, "WATCHDOG=trigger", 16);
		break;
	case VIGIL_MSG_HEARTBEAT:
		/* The program's ping is our heartbeat (relay), or it heartbeats by itself. */
		if (w->relay) {
			w->relay_beat = 1;
			heartbeat_send_now(w);
			w->relay_beat = 0;
		}
		break;
	default:
		break;
	}
}

/* Only our own uid and root: the program, its helpers, systemd-notify run by it. */
static int
sdproxy_trusted(const struct msghdr *mh, int *fds, size_t *nfds)
{
	int ok = 0;

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof(u));
			ok = u.uid == getuid() || u.uid == 0;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n && *nfds < SDPROXY_MAX_FDS; i++)
				memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	return ok;
}

static void
sdproxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sdproxy *p = arg;
	char buf[VIGIL_WIRE_MAX + 1];
	int fds[SDPROXY_MAX_FDS];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(SDPROXY_MAX_FDS * sizeof(int))];
	} cm;

	(void)what;
	for (int i = 0; i < SDPROXY_BATCH; i++) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				    .msg_controllen = sizeof(cm.buf)};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1)
			break;
		size_t nfds;
		int ok = sdproxy_trusted(&mh, fds, &nfds);
		if (!ok)
			log_ratelimited(&p->rl, vigil_now_usec(), LOG_LEVEL_WARN,
					"dropped a message on %s's NOTIFY_SOCKET from another user",
					p->w->exec_argv[0]);
		else if (mh.msg_flags & MSG_TRUNC)
			log_ratelimited(&p->rl, vigil_now_usec(), LOG_LEVEL_WARN,
					"dropped a message from %s: larger than %d bytes",
					p->w->exec_argv[0], VIGIL_WIRE_MAX);
		else {
			sdproxy_forward(p, buf, (size_t)n, fds, nfds);
			sdproxy_relay(p, buf, (size_t)n);
		}
		/* Ours are copies: systemd got its own (BARRIER=1 waits for every copy to close). */
		for (size_t k = 0; k < nfds; k++)
			close(fds[k]);
	}
}

struct sdproxy *
sdproxy_start(struct worker_ctx *w, char *err, size_t errlen)
{
	struct sdproxy *p = calloc(1, sizeof(*p));
	struct sockaddr_un sun;
	socklen_t len;
	int one = 1;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->w = w;
	p->up = -1;
	/*
	 * Abstract, and named by the kernel (autobind: a name no other socket
	 * has): nothing to create in a read-only /run (ProtectSystem=strict),
	 * nothing to remove, no clash with another worker's.
	 */
	sa_family_t family = AF_UNIX;
	len = sizeof(sun);
	p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd == -1 || bind(p->fd, (struct sockaddr *)&family, sizeof(family)) == -1 ||
	    getsockname(p->fd, (struct sockaddr *)&sun, &len) == -1 ||
	    setsockopt(p->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "cannot bind a NOTIFY_SOCKET for %s: %s", w->exec_argv[0],
			 strerror(errno));
		sdproxy_free(p);
		return NULL;
	}
	/* "\0" and five hex digits: "@" and the same, as sd_notify(3) reads it. */
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	snprintf(p->env, sizeof(p->env), "NOTIFY_SOCKET=@%.*s", (int)(n > 0 ? n - 1 : 0),
		 sun.sun_path + 1);
	const char *up = getenv("NOTIFY_SOCKET");
	if (up != NULL && sdproxy_addr(up, &p->up_addr, &p->up_len) == 0)
		p->up = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if ((p->ev = event_new(w->base, p->fd, EV_READ | EV_PERSIST, sdproxy_read_cb, p)) == NULL ||
	    event_add(p->ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch %s's NOTIFY_SOCKET", w->exec_argv[0]);
		sdproxy_free(p);
		return NULL;
	}
	return p;
}

const char *
sdproxy_env(const struct sdproxy *p)
{
	return p->env;
}

void
sdproxy_free(struct sdproxy *p)
{
	if (p == NULL)
		return;
	if (p->ev != NULL) {
		/* What the program said last (STOPPING=1 on its way out) still counts. */
		sdproxy_read_cb(p->fd, EV_READ, p);
		event_free(p->ev);
	}
	if (p->fd != -1)
		close(p->fd);
	if (p->up != -1)
		close(p->up);
	free(p);
}

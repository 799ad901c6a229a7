/*
 * test_client.c: libvigil through its public header only, against a fake
 * supervisor (a datagram socket this test binds and reads), each test in its
 * own temporary directory. Both ways of use: no loop, and attached to a
 * libevent base.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "proc.h"
#include "vigil.h"
#include "wire.h"

static char dir[64];
static char sup_path[100];
static char wrk_path[100];
static int sup_fd = -1;

/* What the callbacks saw. */
struct seen {
	int timeouts, unreachable, reachable, dropped;
	struct vigil_event last;
	char reason[200];
	int healthy;       /* what the health callback answers */
	int health_calls;
	int detach_on_timeout;
	uint64_t seq_at_timeout; /* the client's SEQ when the TIMEOUT was reported */
	struct event_base *base;
};

static void
setup(void)
{
	vt_tmpdir(dir, sizeof(dir));
	snprintf(sup_path, sizeof(sup_path), "%s/sup.sock", dir);
	snprintf(wrk_path, sizeof(wrk_path), "%s/workers/w1.sock", dir);
	sup_fd = -1;
}

static void
teardown(void)
{
	if (sup_fd != -1)
		close(sup_fd);
	vt_rmdir(dir);
}

TestSuite(client, .init = setup, .fini = teardown);

/* The fake supervisor: a bound datagram socket at sup_path. */
static void
fake_supervisor(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sup_path);
	sup_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_neq(sup_fd, -1);
	cr_assert_eq(bind(sup_fd, (struct sockaddr *)&sun, sizeof(sun)), 0, "bind %s: %s", sup_path,
		     strerror(errno));
	struct timeval tv = {.tv_sec = 2};
	setsockopt(sup_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Receive one datagram at the fake supervisor (2 s at most), decoded; its source in *from. */
static void
sup_recv(struct vigil_msg *m, char *buf, size_t cap, struct sockaddr_un *from, socklen_t *fromlen)
{
	struct vigil_wire_error werr;
	ssize_t n = recvfrom(sup_fd, buf, cap, 0, (struct sockaddr *)from, fromlen);

	cr_assert_gt(n, 0, "no datagram reached the supervisor: %s", strerror(errno));
	cr_assert_eq(vigil_wire_decode(buf, (size_t)n, m, &werr), 0, "undecodable: %.*s", (int)n,
		     buf);
}

/* Whether a datagram waits at the fake supervisor (without taking it). */
static int
sup_pending(void)
{
	char b[1];
	return recv(sup_fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) >= 0;
}

static void
sup_send(const struct sockaddr_un *to, socklen_t tolen, const char *text)
{
	cr_assert_eq(sendto(sup_fd, text, strlen(text), 0, (const struct sockaddr *)to, tolen),
		     (ssize_t)strlen(text), "sendto: %s", strerror(errno));
}

static void
on_event(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	struct seen *s = arg;

	s->last = *ev;
	switch (ev->type) {
	case VIGIL_EVENT_TIMEOUT:
		s->timeouts++;
		s->seq_at_timeout = vigil_client_seq(c);
		if (s->detach_on_timeout)
			vigil_client_detach(c);
		if (s->base != NULL)
			event_base_loopbreak(s->base);
		break;
	case VIGIL_EVENT_UNREACHABLE:
		s->unreachable++;
		break;
	case VIGIL_EVENT_REACHABLE:
		s->reachable++;
		break;
	case VIGIL_EVENT_DROPPED:
		s->dropped++;
		snprintf(s->reason, sizeof(s->reason), "%s", ev->reason);
		break;
	}
	s->last.reason = NULL; /* not valid after the callback */
}

static int
on_health(struct vigil_client *c, void *arg)
{
	struct seen *s = arg;

	s->health_calls++;
	return s->healthy;
}

static struct vigil_client *
new_client(struct seen *s)
{
	struct vigil_client *c = vigil_client_new("w1");

	cr_assert_not_null(c);
	cr_assert_eq(vigil_client_set_supervisor(c, sup_path), 0, "%s", vigil_client_error(c));
	cr_assert_eq(vigil_client_set_socket(c, wrk_path), 0, "%s", vigil_client_error(c));
	vigil_client_set_event_cb(c, on_event, s);
	return c;
}

Test(client, bad_settings_are_refused_with_einval)
{
	errno = 0;
	cr_expect_null(vigil_client_new("bad name"));
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(vigil_client_new(""));
	cr_expect_null(vigil_client_new(NULL));
	char longname[80];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	cr_expect_null(vigil_client_new(longname));

	struct vigil_client *c = vigil_client_new("ok-1");
	cr_assert_not_null(c);
	cr_expect_eq(vigil_client_set_interval(c, 999), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect(strstr(vigil_client_error(c), "interval") != NULL, "%s", vigil_client_error(c));
	cr_expect_eq(vigil_client_set_interval(c, 25ULL * 3600 * 1000000), -1);
	cr_expect_eq(vigil_client_set_interval(c, 1000), 0);
	cr_expect_eq(vigil_client_set_jitter(c, 51), -1);
	cr_expect_eq(vigil_client_set_jitter(c, 50), 0);
	cr_expect_eq(vigil_client_set_supervisor(c, ""), -1);
	char longpath[200];
	memset(longpath, 'p', 150);
	longpath[150] = '\0';
	cr_expect_eq(vigil_client_set_socket(c, longpath), -1);
	cr_expect(strstr(vigil_client_error(c), "too long") != NULL, "%s", vigil_client_error(c));
	cr_expect_eq(vigil_client_set_status(c, "tab\there"), -1);
	cr_expect_eq(vigil_client_set_status(c, "bad \xc3("), -1, "not UTF-8");
	cr_expect_eq(vigil_client_set_status(c, "C1 \xc2\x9b"), 0, "valid UTF-8 (the supervisor shows '?')");
	cr_expect_eq(vigil_client_set_status(c, "caf\xc3\xa9 " "\xe2\x98\x95"), 0, "UTF-8 text");
	cr_expect_eq(vigil_client_set_status(c, "fine text"), 0);
	cr_expect_eq(vigil_client_set_timeout(c, 169ULL * 3600 * 1000000), -1, "over 168h");
	cr_expect_eq(vigil_client_fd(c), -1, "not open yet");
	cr_expect_eq(vigil_client_heartbeat(c), -1, "a heartbeat before open");
	cr_expect_eq(errno, ENOTCONN);
	vigil_client_free(c);
	vigil_client_free(NULL);
	cr_expect_str_not_empty(vigil_version());
}

Test(client, a_heartbeat_carries_name_seq_interval_pid_and_status)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];

	fake_supervisor();
	cr_assert_eq(vigil_client_set_interval(c, 250000), 0);
	cr_assert_eq(vigil_client_open(c), 0, "%s", vigil_client_error(c));
	cr_expect_eq(vigil_client_set_interval(c, 300000), -1, "settings after open");
	cr_expect_eq(errno, EBUSY);
	struct stat st;
	cr_assert_eq(stat(wrk_path, &st), 0, "the socket (and its directory) was created");
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0660);

	cr_assert_eq(vigil_client_set_status(c, "warming up"), 0);
	cr_assert_eq(vigil_client_heartbeat(c), 0, "%s", vigil_client_error(c));
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(vigil_wire_kind(&m), VIGIL_MSG_HEARTBEAT);
	cr_expect_str_eq(m.worker, "w1");
	cr_expect_eq(m.seq, 1);
	cr_expect_eq(m.interval_ms, 250);
	cr_expect_eq(m.pid, (uint64_t)getpid());
	cr_assert(m.fields & VIGIL_F_STATUS);
	cr_expect_eq(m.status_len, strlen("warming up"));
	cr_expect(memcmp(m.status, "warming up", m.status_len) == 0);
	cr_expect_str_eq(from.sun_path, wrk_path, "sent from the worker's own socket");

	cr_expect_not(m.fields & VIGIL_F_WATCHDOG_USEC, "no timeout asked for");

	vigil_client_set_status(c, NULL);
	cr_assert_eq(vigil_client_set_timeout(c, 3000000), 0, "a timeout, at any time");
	cr_assert_eq(vigil_client_heartbeat(c), 0);
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(m.seq, 2);
	cr_expect_not(m.fields & VIGIL_F_STATUS, "status cleared");
	cr_expect(m.fields & VIGIL_F_WATCHDOG_USEC, "the timeout goes with the heartbeat");
	cr_expect_eq(m.watchdog_usec, 3000000);
	cr_expect_eq(vigil_client_seq(c), 2);

	cr_assert_eq(vigil_client_stopping(c), 0);
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(vigil_wire_kind(&m), VIGIL_MSG_STOPPING);
	cr_expect_eq(m.seq, 2, "STOPPING carries the last SEQ");

	vigil_client_free(c);
	cr_expect_eq(stat(wrk_path, &st), -1, "the socket file is removed with the client");
}

Test(client, timeouts_are_delivered_and_everything_else_dropped)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];

	fake_supervisor();
	cr_assert_eq(vigil_client_open(c), 0, "%s", vigil_client_error(c));
	cr_assert_eq(vigil_client_heartbeat(c), 0);
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);

	cr_expect_eq(vigil_client_dispatch(c), 0, "nothing waiting");
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=3\nSILENT_MS=1500\nLAST_SEQ=1\n");
	cr_expect_eq(vigil_client_dispatch(c), 1);
	cr_expect_eq(s.timeouts, 1);
	cr_expect_eq(s.last.missed, 3);
	cr_expect_eq(s.last.silent_ms, 1500);
	cr_expect_eq(s.last.last_seq, 1);

	/* Not for us, not a TIMEOUT, not decodable: each dropped with its reason. */
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w2\nMISSED=1\n");
	cr_expect_eq(vigil_client_dispatch(c), 0);
	cr_expect_eq(s.dropped, 1);
	cr_expect(strstr(s.reason, "without our name") != NULL, "%s", s.reason);
	sup_send(&from, fromlen, "HEARTBEAT=1\nWORKER=w1\n");
	cr_expect_eq(vigil_client_dispatch(c), 0);
	cr_expect(strstr(s.reason, "not a TIMEOUT") != NULL, "%s", s.reason);
	sup_send(&from, fromlen, "garbage");
	cr_expect_eq(vigil_client_dispatch(c), 0);
	cr_expect_eq(s.dropped, 3);

	/* Connected to the supervisor, the socket takes nothing from anyone else: EPERM. */
	int other = socket(AF_UNIX, SOCK_DGRAM, 0);
	const char *t = "TIMEOUT=1\nWORKER=w1\nMISSED=9\n";
	cr_expect_eq(sendto(other, t, strlen(t), 0, (struct sockaddr *)&from, fromlen), -1);
	cr_expect_eq(errno, EPERM, "%s", strerror(errno));
	close(other);
	vigil_client_free(c);
}

Test(client, an_absent_supervisor_is_reported_once_then_its_return)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);

	cr_assert_eq(vigil_client_open(c), 0, "%s", vigil_client_error(c));
	cr_expect_eq(vigil_client_heartbeat(c), -1);
	cr_expect(errno == ENOENT || errno == ECONNREFUSED, "errno %d", errno);
	cr_expect(strstr(vigil_client_error(c), sup_path) != NULL, "names the path: %s",
		  vigil_client_error(c));
	cr_expect_eq(vigil_client_heartbeat(c), -1);
	cr_expect_eq(s.unreachable, 1, "reported once per outage, not per heartbeat");

	/* Not connected, anyone can send to us: a TIMEOUT not from the supervisor is dropped. */
	int other = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un to = {.sun_family = AF_UNIX};
	const char *t = "TIMEOUT=1\nWORKER=w1\nMISSED=9\n";
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", wrk_path);
	cr_assert_eq(sendto(other, t, strlen(t), 0, (struct sockaddr *)&to, sizeof(to)),
		     (ssize_t)strlen(t), "%s", strerror(errno));
	close(other);
	cr_expect_eq(vigil_client_dispatch(c), 0);
	cr_expect_eq(s.timeouts, 0, "the forged TIMEOUT was not reported");
	cr_expect_eq(s.dropped, 1);
	cr_expect(strstr(s.reason, "not from the supervisor") != NULL, "%s", s.reason);

	fake_supervisor();
	cr_expect_eq(vigil_client_heartbeat(c), 0, "%s", vigil_client_error(c));
	cr_expect_eq(s.reachable, 1);
	cr_expect_eq(s.last.undelivered, 2);
	cr_expect(sup_pending());
	vigil_client_free(c);
}

Test(client, the_health_callback_holds_heartbeats_back)
{
	struct seen s = {.healthy = 0};
	struct vigil_client *c = new_client(&s);

	fake_supervisor();
	vigil_client_set_health_cb(c, on_health, &s);
	cr_assert_eq(vigil_client_open(c), 0);
	cr_expect_eq(vigil_client_heartbeat(c), 1, "held back");
	cr_expect_eq(s.health_calls, 1);
	cr_expect_not(sup_pending(), "nothing was sent");
	cr_expect_eq(vigil_client_seq(c), 0);
	s.healthy = 1;
	cr_expect_eq(vigil_client_heartbeat(c), 0);
	cr_expect(sup_pending());
	cr_expect_eq(vigil_client_seq(c), 1);
	vigil_client_free(c);
}

Test(client, an_anonymous_socket_still_gets_its_timeouts)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];

	fake_supervisor();
	cr_assert_eq(vigil_client_set_socket(c, ""), 0);
	cr_assert_eq(vigil_client_open(c), 0, "%s", vigil_client_error(c));
	cr_assert_eq(vigil_client_heartbeat(c), 0);
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(from.sun_path[0], '\0', "an abstract address");
	cr_expect_gt(fromlen, sizeof(sa_family_t) + 1, "with a name the kernel chose");
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=1\n");
	cr_expect_eq(vigil_client_dispatch(c), 1);
	vigil_client_free(c);
}

/* Attached: a heartbeat at once, then every interval; a TIMEOUT is reported and answered. */
Test(client, attached_it_heartbeats_and_answers_a_timeout)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct event_base *base = event_base_new();
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];

	cr_assert_not_null(base);
	s.base = base;
	fake_supervisor();
	cr_assert_eq(vigil_client_set_interval(c, 50000), 0);
	cr_assert_eq(vigil_client_attach(c, base), 0, "%s", vigil_client_error(c));
	cr_expect_eq(vigil_client_attach(c, base), -1, "attached twice");
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(m.seq, 1, "the first heartbeat goes at once");

	/* Three periods of the loop: heartbeats 2, 3 and 4 arrive about 50 ms apart. */
	struct timeval run = {.tv_usec = 170000};
	uint64_t t0 = vt_now_ms();
	event_base_loopexit(base, &run);
	event_base_dispatch(base);
	cr_expect_geq(vt_now_ms() - t0, 160);
	for (uint64_t want = 2; want <= 4; want++) {
		sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
		cr_expect_eq(m.seq, want);
	}

	/*
	 * A TIMEOUT: the callback runs and breaks the loop, which stops once the
	 * read is handled: the one heartbeat sent since is the answer.
	 */
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=1\nSILENT_MS=150\n");
	event_base_dispatch(base);
	cr_expect_eq(s.timeouts, 1);
	cr_expect_eq(vigil_client_seq(c), s.seq_at_timeout + 1, "answered with a heartbeat");
	uint64_t seq = 0;
	while (sup_pending()) {
		sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
		seq = m.seq;
	}
	cr_expect_eq(seq, s.seq_at_timeout + 1, "the answer reached the supervisor");

	/* Detached from within the callback: reported, not answered, no more heartbeats. */
	s.detach_on_timeout = 1;
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=2\n");
	event_base_dispatch(base);
	cr_expect_eq(s.timeouts, 2);
	seq = vigil_client_seq(c);
	cr_expect_eq(seq, s.seq_at_timeout, "not answered");
	while (sup_pending())
		sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	event_base_loopexit(base, &run);
	event_base_dispatch(base);
	cr_expect_eq(vigil_client_seq(c), seq, "nothing sent after the detach");
	cr_expect_not(sup_pending());

	vigil_client_free(c);
	event_base_free(base);
}

/* The callback frees its client: freed once the callback returns, never used after. */
static void
free_on_event(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	int *seen = arg;

	(*seen)++;
	vigil_client_free(c);
}

Test(client, a_callback_may_free_its_client)
{
	struct vigil_client *c = vigil_client_new("w1");
	struct event_base *base = event_base_new();
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];
	int seen = 0;

	fake_supervisor();
	cr_assert_eq(vigil_client_set_supervisor(c, sup_path), 0);
	cr_assert_eq(vigil_client_set_socket(c, wrk_path), 0);
	cr_assert_eq(vigil_client_set_interval(c, 1000000), 0);
	vigil_client_set_event_cb(c, free_on_event, &seen);
	cr_assert_eq(vigil_client_attach(c, base), 0);
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=1\n");
	struct timeval run = {.tv_usec = 200000};
	event_base_loopexit(base, &run);
	event_base_dispatch(base);
	cr_expect_eq(seen, 1, "the TIMEOUT reached the callback, and nothing after the free");
	struct stat st;
	cr_expect_eq(stat(wrk_path, &st), -1, "the freed client's socket file is gone");
	event_base_free(base); /* ASan (the asan pass) would report a use after free */
}

/*
 * A supervisor that reads nothing: its queue fills, heartbeats wait for
 * room, the next one replaces the waiting one and reports it lost
 * (UNREACHABLE), and a callback that detaches right then is safe.
 */
static void
detach_on_unreachable(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->type != VIGIL_EVENT_UNREACHABLE)
		return;
	s->unreachable++;
	s->last.error = ev->error;
	vigil_client_detach(c);
	event_base_loopbreak(s->base);
}

Test(client, losing_a_waiting_heartbeat_is_reported_and_a_detach_then_is_safe)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = vigil_client_new("w1");
	struct event_base *base = event_base_new();

	s.base = base;
	fake_supervisor();
	cr_assert_eq(vigil_client_set_supervisor(c, sup_path), 0);
	cr_assert_eq(vigil_client_set_socket(c, wrk_path), 0);
	cr_assert_eq(vigil_client_set_interval(c, 1000), 0); /* 1 ms: the queue fills fast */
	vigil_client_set_event_cb(c, detach_on_unreachable, &s);
	cr_assert_eq(vigil_client_attach(c, base), 0);
	struct timeval limit = {.tv_sec = 5};
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	cr_expect_eq(s.unreachable, 1, "a heartbeat lost for want of room is reported");
	cr_expect_eq(s.last.error, EAGAIN);
	uint64_t seq = vigil_client_seq(c);
	struct timeval more = {.tv_usec = 50000};
	event_base_loopexit(base, &more);
	event_base_dispatch(base);
	cr_expect_eq(vigil_client_seq(c), seq, "detached: no more heartbeats");
	vigil_client_free(c);
	event_base_free(base);
}

/* Attached too, a heartbeat that cannot go anywhere is -1 with errno; a closed client's is ENOTCONN. */
Test(client, errors_are_returned_attached_too)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct event_base *base = event_base_new();

	cr_expect_eq(vigil_client_heartbeat(c), -1);
	cr_expect_eq(errno, ENOTCONN);
	cr_expect_eq(vigil_client_seq(c), 0, "a heartbeat that never went takes no SEQ");
	cr_assert_eq(vigil_client_attach(c, base), 0, "no supervisor yet is not an error");
	cr_expect_eq(s.unreachable, 1);
	errno = 0;
	cr_expect_eq(vigil_client_heartbeat(c), -1);
	cr_expect(errno == ENOENT || errno == ECONNREFUSED, "errno %d", errno);
	cr_expect_eq(vigil_client_stopping(c), -1);
	vigil_client_free(c);
	event_base_free(base);
}

/* Connected, a TIMEOUT is the supervisor's whatever path spelling led to it (a symlink). */
Test(client, a_symlinked_supervisor_path_still_gets_timeouts)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = vigil_client_new("w1");
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1], link[128];

	fake_supervisor();
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(dir, link), 0);
	snprintf(link, sizeof(link), "%s/link/sup.sock", dir);
	cr_assert_eq(vigil_client_set_supervisor(c, link), 0);
	cr_assert_eq(vigil_client_set_socket(c, wrk_path), 0);
	vigil_client_set_event_cb(c, on_event, &s);
	cr_assert_eq(vigil_client_open(c), 0);
	cr_assert_eq(vigil_client_heartbeat(c), 0, "%s", vigil_client_error(c));
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	sup_send(&from, fromlen, "TIMEOUT=1\nWORKER=w1\nMISSED=1\n");
	cr_expect_eq(vigil_client_dispatch(c), 1, "dropped: %s", s.reason);
	vigil_client_free(c);
}

/*
 * Under load, STOPPING=1 waits for room like a heartbeat; freeing the client
 * right after it (the usual way out) gives it one last try, so that a
 * supervisor that read meanwhile still gets it.
 */
Test(client, a_waiting_stopping_gets_a_last_try_at_free)
{
	struct seen s = {.healthy = 1};
	struct vigil_client *c = new_client(&s);
	struct event_base *base = event_base_new();
	struct vigil_msg m;
	struct sockaddr_un from;
	socklen_t fromlen = sizeof(from);
	char buf[VIGIL_WIRE_MAX + 1];

	fake_supervisor();
	cr_assert_eq(vigil_client_set_interval(c, 3600000000ULL), 0); /* no periodic ones */
	cr_assert_eq(vigil_client_attach(c, base), 0);
	/* Fill the supervisor's queue with explicit heartbeats until one has to wait. */
	for (int i = 0; i < 10000 && s.unreachable == 0; i++)
		cr_assert_eq(vigil_client_heartbeat(c), 0, "%s", vigil_client_error(c));
	cr_assert_eq(s.unreachable, 1, "the queue never filled");
	cr_assert_eq(vigil_client_stopping(c), 0, "queued, waiting for room");
	/* The supervisor reads everything; the client's loop does not turn before the free. */
	uint64_t last_kind = 0;
	while (sup_pending()) {
		sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
		last_kind = vigil_wire_kind(&m);
	}
	cr_expect_neq(last_kind, VIGIL_MSG_STOPPING, "not sent yet");
	vigil_client_free(c);
	cr_assert(sup_pending(), "nothing came at free");
	sup_recv(&m, buf, sizeof(buf), &from, &fromlen);
	cr_expect_eq(vigil_wire_kind(&m), VIGIL_MSG_STOPPING);
	event_base_free(base);
}

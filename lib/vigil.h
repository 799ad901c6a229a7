/*
 * vigil.h: libvigil, the client side of vigil's heartbeat protocol
 * (docs/PROTOCOL.md), for programs that want more than sd_notify's
 * WATCHDOG=1: a heartbeat with a sequence number and its period, and a
 * callback when the supervisor declares the program late (TIMEOUT).
 *
 * Two ways to use it:
 *
 *  - On a libevent base: vigil_client_attach() opens the client and drives
 *    it from the base: a heartbeat at once and then every interval (with
 *    optional jitter), TIMEOUTs read and reported to the event callback and
 *    answered with an immediate heartbeat. Nothing ever blocks: a full
 *    supervisor queue makes the heartbeat wait for room.
 *
 *  - With no loop at all: vigil_client_open(), then vigil_client_heartbeat()
 *    from your own loop or thread every period; poll vigil_client_fd() for
 *    input and call vigil_client_dispatch() when it is readable.
 *
 * Every function that can fail returns -1 (or NULL) with errno set, and
 * vigil_client_error() then holds a line that names what failed and why
 * ("cannot bind /run/vigil/workers/web.sock: Permission denied"). A client
 * is not thread-safe: use it from one thread at a time.
 *
 * Callbacks may call any function of this header on their client,
 * vigil_client_detach() and vigil_client_free() included (a client freed
 * inside a callback goes once the callback has returned). A struct
 * vigil_event and the text it points to are valid during the callback
 * only; new event types may come in later versions: ignore unknown ones.
 *
 * Build with: cc prog.c $(pkg-config --cflags --libs vigil)
 * (add libevent_core to pkg-config's modules for vigil_client_attach)
 */
#ifndef VIGIL_CLIENT_H
#define VIGIL_CLIENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_SUPERVISOR_DEFAULT "/run/vigil/supervisor.sock"
#define VIGIL_SOCKET_DIR_DEFAULT "/run/vigil/workers"

struct vigil_client;
struct event_base; /* libevent's; only vigil_client_attach() needs it */

enum vigil_event_type {
	/* The supervisor declared us late: missed, silent_ms and last_seq are set. */
	VIGIL_EVENT_TIMEOUT = 1,
	/* A heartbeat could not be delivered (once per outage): error is the errno. */
	VIGIL_EVENT_UNREACHABLE,
	/* Delivered again after an outage: undelivered heartbeats were lost meanwhile. */
	VIGIL_EVENT_REACHABLE,
	/* A datagram on our socket was dropped (not a TIMEOUT for us, from our supervisor). */
	VIGIL_EVENT_DROPPED,
};

struct vigil_event {
	enum vigil_event_type type;
	uint64_t missed;      /* TIMEOUT: periods missed in this silence */
	uint64_t silent_ms;   /* TIMEOUT: the silence the supervisor saw */
	uint64_t last_seq;    /* TIMEOUT: the last heartbeat it received */
	uint64_t undelivered; /* REACHABLE: heartbeats lost during the outage */
	int error;            /* UNREACHABLE: errno of the failed send */
	const char *reason;   /* DROPPED: why, one line; UNREACHABLE: the message */
};

typedef void (*vigil_event_cb)(struct vigil_client *c, const struct vigil_event *ev, void *arg);

/* Called before every heartbeat; return 0 to hold it back (unhealthy, stalled). */
typedef int (*vigil_health_cb)(struct vigil_client *c, void *arg);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *vigil_version(void);

/*
 * A new client for the worker called name ([A-Za-z0-9._@:-], 1 to 64
 * bytes). Defaults: supervisor VIGIL_SUPERVISOR_DEFAULT, socket
 * VIGIL_SOCKET_DIR_DEFAULT/NAME.sock, interval 1 s, no jitter. NULL with
 * errno EINVAL (bad name) or ENOMEM.
 */
struct vigil_client *vigil_client_new(const char *name);

/* Settings, before open or attach; -1 with errno EINVAL (or EBUSY once open). */
int vigil_client_set_supervisor(struct vigil_client *c, const char *path);
/* Our socket, where TIMEOUTs arrive. "" binds an anonymous (abstract, autobound) address. */
int vigil_client_set_socket(struct vigil_client *c, const char *path);
int vigil_client_set_interval(struct vigil_client *c, uint64_t usec); /* 1 ms to 24 h */
int vigil_client_set_jitter(struct vigil_client *c, unsigned percent); /* 0 to 50 */
void vigil_client_set_event_cb(struct vigil_client *c, vigil_event_cb cb, void *arg);
void vigil_client_set_health_cb(struct vigil_client *c, vigil_health_cb cb, void *arg);

/*
 * Bind our socket (creating its directory, replacing a stale socket file
 * nobody listens on, refusing a live one) and aim it at the supervisor.
 * No heartbeat is sent. -1 with errno and vigil_client_error().
 */
int vigil_client_open(struct vigil_client *c);

/*
 * Open if not yet open, then run on base: a heartbeat now and every
 * interval, TIMEOUTs reported and answered. -1 with errno.
 */
int vigil_client_attach(struct vigil_client *c, struct event_base *base);

/* Stop using the base (timers and reads); the client stays open. */
void vigil_client_detach(struct vigil_client *c);

/* The socket to poll for input (TIMEOUTs) when there is no loop; -1 if not open. */
int vigil_client_fd(const struct vigil_client *c);

/*
 * Send a heartbeat now, unless the health callback holds it back. 0 sent
 * (attached: or waiting for room in the supervisor's queue), 1 held back,
 * -1 with errno (EAGAIN, without a loop: the supervisor's queue is full;
 * ENOENT, ECONNREFUSED: no supervisor at the path; ENOTCONN: not open;
 * ...). Attached, the next periodic heartbeat comes a full interval after
 * this one, and a supervisor that cannot be reached is retried then.
 */
int vigil_client_heartbeat(struct vigil_client *c);

/*
 * Read every datagram waiting on our socket, calling the event callback
 * for each TIMEOUT (and each dropped one). Returns how many TIMEOUTs were
 * read, or -1 with errno. Attached clients do this by themselves.
 */
int vigil_client_dispatch(struct vigil_client *c);

/*
 * The timeout the supervisor should give us, sent with every heartbeat as
 * WATCHDOG_USEC= (it wins over the supervisor's --timeout); 0 asks it to
 * stop timing us (state unwatched) until a later heartbeat sets one. At
 * most 168 h; may change at any time. -1 with errno EINVAL. (Since 0.2.)
 */
int vigil_client_set_timeout(struct vigil_client *c, uint64_t usec);

/*
 * STATUS= text (UTF-8 without control characters, up to 127 bytes) sent
 * with the next heartbeat; NULL clears.
 */
int vigil_client_set_status(struct vigil_client *c, const char *text);

/* Say STOPPING=1: we exit cleanly, do not time us out. 0, or -1 with errno. */
int vigil_client_stopping(struct vigil_client *c);

/* The SEQ of the last heartbeat sent (0: none yet). */
uint64_t vigil_client_seq(const struct vigil_client *c);

/* The last failure, one line; "" if none. */
const char *vigil_client_error(const struct vigil_client *c);

/* Detach, close and unlink our socket (if it is still ours), free c. NULL is fine. */
void vigil_client_free(struct vigil_client *c);

#ifdef __cplusplus
}
#endif

#endif

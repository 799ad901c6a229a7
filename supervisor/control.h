/*
 * control.h: the control socket. A SOCK_STREAM Unix socket speaking one
 * command per line, one JSON object per reply line, so that vigilctl and a
 * human with `socat - UNIX-CONNECT:PATH` use the same protocol
 * (docs/PROTOCOL.md, "Control socket").
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <stddef.h>

#include "command.h"

struct supervisor;

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_LINE COMMAND_MAX_LINE
#define CONTROL_MAX_INPUT 16384 /* unread input per client; reading pauses above it */
#define CONTROL_IDLE_SEC 60     /* a client silent this long is closed */
#define CONTROL_WRITE_SEC 10    /* a client not reading its reply this long is closed */
#define CONTROL_OUTPUT_MAX 65536 /* unsent output above which a document waits (render.h) */
#define CONTROL_OUTPUT_LOW 16384 /* ... and below which it goes on */
#define CONTROL_ACCEPT_PAUSE_USEC 100000 /* out of descriptors: stop accepting this long */
#define CONTROL_EVENTS_QUEUE 262144 /* unread event lines per subscriber; beyond, dropped */
#define CONTROL_MAX_SUBSCRIBERS 8   /* "events" clients at once (never idle-closed) */
#define CONTROL_HISTORY_TIMEOUTS 8  /* status NAME: its last timeouts */
#define CONTROL_HISTORY_EVENTS 16   /* status NAME: its last events of any kind */

/* What "reload" runs (reload.c's reload_apply, installed by main.c): 0 or -1, and msg. */
typedef int (*control_reload_fn)(struct supervisor *sv, char *msg, size_t msglen);

/*
 * Start accepting on sv->ctl_sock.fd, and stream sv's events to the
 * clients that ask for them; NULL with err on failure.
 */
struct control *control_start(struct supervisor *sv, control_reload_fn reload, char *err,
			       size_t errlen);

/* Close every client and stop accepting. */
void control_free(struct control *c);

#endif

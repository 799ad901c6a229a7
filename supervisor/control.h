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

struct evbuffer;
struct supervisor;
struct sv_event;

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_LINE COMMAND_MAX_LINE
#define CONTROL_MAX_INPUT 16384 /* unread input per client; reading pauses above it */
#define CONTROL_IDLE_SEC 60     /* a client silent this long is closed */
#define CONTROL_WRITE_SEC 10    /* a client not reading its reply this long is closed */
#define CONTROL_ACCEPT_PAUSE_USEC 100000 /* out of descriptors: stop accepting this long */
#define CONTROL_EVENTS_QUEUE 262144 /* unread event lines per subscriber; beyond, dropped */
#define CONTROL_MAX_SUBSCRIBERS 8   /* "events" clients at once (never idle-closed) */
#define CONTROL_HISTORY_TIMEOUTS 8  /* status NAME: its last timeouts */
#define CONTROL_HISTORY_EVENTS 16   /* status NAME: its last events of any kind */

/* Start accepting on sv->ctl_sock.fd; NULL with err on failure. */
struct control *control_start(struct supervisor *sv, char *err, size_t errlen);

/* Close every client and stop accepting. */
void control_free(struct control *c);

/*
 * Append the status document (the reply to "status", one line) to out;
 * -1 if memory ran out, out then unchanged. Also served by http.c.
 */
int control_write_status(struct supervisor *sv, struct evbuffer *out);

/* Stream ev to every "events" subscriber (ctl may be NULL: not started yet). */
void control_event(struct control *ctl, const struct sv_event *ev);

#endif

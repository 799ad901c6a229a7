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
#define CONTROL_ACCEPT_PAUSE_USEC 100000 /* out of descriptors: stop accepting this long */

/* Start accepting on sv->ctl_sock.fd; NULL with err on failure. */
struct control *control_start(struct supervisor *sv, char *err, size_t errlen);

/* Close every client and stop accepting. */
void control_free(struct control *c);

#endif

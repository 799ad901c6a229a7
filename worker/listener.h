/*
 * listener.h: the worker's receiving side. Reads TIMEOUT datagrams from the
 * supervisor on the worker's own socket, logs them and answers (an
 * immediate heartbeat) or exits, per --on-timeout.
 */
#ifndef VIGIL_WORKER_LISTENER_H
#define VIGIL_WORKER_LISTENER_H

#include <stddef.h>

struct worker_ctx;

struct listener *listener_start(struct worker_ctx *w, char *err, size_t errlen);
void listener_free(struct listener *l);

#endif

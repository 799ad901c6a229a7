/*
 * listener.h: the heartbeat socket. Drains datagrams in batches (recvmmsg)
 * with the sender's credentials, decodes them and hands each valid message
 * to the monitor; installs the monitor's struct monitor_io, through which
 * the monitor sends its TIMEOUT datagrams from the same socket (so workers
 * see them come from the supervisor's address) and drains it on a reload.
 */
#ifndef VIGIL_LISTENER_H
#define VIGIL_LISTENER_H

#include <stddef.h>

struct supervisor;

/*
 * Datagrams per recvmmsg. With senders' pidfds on, each holds a descriptor
 * until it is handled: the descriptor budget keeps that many in reserve.
 */
#define LISTENER_BATCH 64

/* Start reading sv->hb_sock.fd and install sv's monitor_io; NULL with err on failure. */
struct listener *listener_start(struct supervisor *sv, char *err, size_t errlen);

/*
 * Ask the kernel for the senders' pidfds (SCM_PIDFD) only while some worker
 * may have to be held by one (monitor_wants_pidfds); at start and after a
 * reload. Nothing without pidfds (--identity start-time, an older kernel).
 */
void listener_update_pidfds(struct listener *l);

void listener_free(struct listener *l);

#endif

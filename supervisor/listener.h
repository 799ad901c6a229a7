/*
 * listener.h: the heartbeat socket. Drains datagrams in batches (recvmmsg)
 * with the sender's credentials, decodes them and hands each valid message
 * to the monitor; also sends the monitor's TIMEOUT datagrams from the same
 * socket, so workers see them come from the supervisor's address.
 */
#ifndef VIGIL_LISTENER_H
#define VIGIL_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct supervisor;

/* Start reading sv->hb_sock.fd; NULL with err on failure. */
struct listener *listener_start(struct supervisor *sv, char *err, size_t errlen);

void listener_free(struct listener *l);

/* Read and hand over what the socket holds now (at most one wakeup's worth). */
void listener_drain(struct supervisor *sv);

/* Send one datagram without blocking; -1 with errno (EAGAIN: the peer's queue is full). */
int listener_send(struct supervisor *sv, const struct sockaddr_un *to, socklen_t tolen,
		  const char *buf, size_t len);

#endif

/*
 * monitor.h: turns decoded messages and timer expiries into state
 * transitions (state.c) and carries out the resulting actions: the log
 * lines, the TIMEOUT datagram, the timer.
 */
#ifndef VIGIL_MONITOR_H
#define VIGIL_MONITOR_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "wire.h"

struct supervisor;

/* Who sent a datagram: the kernel's word (SCM_CREDENTIALS) and its address. */
struct monitor_sender {
	int has_creds; /* SCM_CREDENTIALS came with it (always, with SO_PASSCRED) */
	uint64_t pid;  /* 0 if no credentials came with the datagram */
	uint64_t uid;
	uint64_t gid;
	const struct sockaddr_un *addr;
	socklen_t addrlen;
};

/* Handle one decoded message received at time now. */
void monitor_message(struct supervisor *sv, const struct vigil_msg *m,
		     const struct monitor_sender *from, uint64_t now);

struct worker;

/* Drop w (not alive) and its history from the registry, as a "forgotten" event. */
void monitor_forget(struct supervisor *sv, struct worker *w);

/*
 * A worker called name is expected (its [worker NAME] section): add it,
 * missing, to be reported if it has not heartbeated within
 * sv->startup_grace of now. NULL if it cannot be added (logged).
 */
struct worker *monitor_expect(struct supervisor *sv, const char *name, uint64_t now);

/*
 * w's settings changed (a reload: w->conf, or the global ones): its timeout
 * again, and if it changed, its deadline from its last heartbeat (as
 * WATCHDOG_USEC= does).
 */
void monitor_reconfigure(struct supervisor *sv, struct worker *w, uint64_t now);

/* At shutdown: log (debug) where each worker stood, for whoever takes over. */
void monitor_shutdown(struct supervisor *sv);

/* Count and log (rate-limited) a datagram that was dropped for reason. */
void monitor_invalid(struct supervisor *sv, const struct vigil_wire_error *err, uint64_t now);

#endif

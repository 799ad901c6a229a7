/*
 * monitor.h: turns decoded messages and timer expiries into state
 * transitions (state.c) and carries out the resulting actions in order:
 * the events and log lines (report.h), the TIMEOUT datagram and the policy
 * (escalate.h), the timer. It reaches the heartbeat socket only through the
 * struct monitor_io the socket's adapter installs (listener.c; a fake one
 * in tests), and knows nothing of the control socket or HTTP.
 */
#ifndef VIGIL_MONITOR_H
#define VIGIL_MONITOR_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "wire.h"

struct supervisor;
struct worker;

struct monitor_io; /* supervisor.h: what the monitor needs of the heartbeat socket */

/* Install io (copied); until then TIMEOUTs are counted undelivered and nothing drains. */
void monitor_set_io(struct supervisor *sv, const struct monitor_io *io);

/*
 * Read the heartbeats queued now, before a decision that must not judge
 * anyone on stale news (a reload's new timeouts): the one way back into
 * heartbeat processing from outside the loop's own dispatch.
 */
void monitor_drain(struct supervisor *sv);

/* Who sent a datagram: the kernel's word (SCM_CREDENTIALS, SCM_PIDFD) and its address. */
struct monitor_sender {
	int has_creds; /* SCM_CREDENTIALS came with it (always, with SO_PASSCRED) */
	uint64_t pid;  /* 0 if no credentials came with the datagram */
	uint64_t uid;
	uint64_t gid;
	const struct sockaddr_un *addr;
	socklen_t addrlen;
	int pidfd; /* the sender's pidfd (SCM_PIDFD), -1 if none; the caller closes it after */
};

/*
 * Handle one decoded message that arrived at time now and was read at time
 * read (monotonic usec; read >= now: it may have waited in the socket).
 */
void monitor_message(struct supervisor *sv, const struct vigil_msg *m,
		     const struct monitor_sender *from, uint64_t now, uint64_t read);

/*
 * w's timer ran at now: judge it (a timeout, or the remainder of an early
 * timer). What the timer's callback does; public for tests.
 */
void monitor_expire(struct supervisor *sv, struct worker *w, uint64_t now);

/* Drop w (not alive) and its history from the registry, as a "forgotten" event. */
void monitor_forget(struct supervisor *sv, struct worker *w);

/*
 * A worker called name is expected (its [worker NAME] section): add it,
 * missing, to be reported if it has not heartbeated within
 * sv->set->startup_grace of now. NULL if it cannot be added (logged).
 */
struct worker *monitor_expect(struct supervisor *sv, const char *name, uint64_t now);

/*
 * w's settings changed (a reload: w->conf, or the global ones): its timeout
 * again, and if it changed, its deadline from its last heartbeat (as
 * WATCHDOG_USEC= does).
 */
void monitor_reconfigure(struct supervisor *sv, struct worker *w, uint64_t now);

/*
 * The timeout w gets now: the one it asked for (WATCHDOG_USEC=), its
 * [worker NAME] section's, phi's, --timeout's, or a multiple of its interval.
 */
uint64_t monitor_timeout_for(const struct supervisor *sv, const struct worker *w);

/*
 * Taking a worker over from a snapshot (restore.h): monitor_adopt adds
 * name (len bytes) as a new worker (NULL if it cannot be added, logged);
 * once the caller has filled it in, monitor_restored tells it (a
 * "restored" event), arms its timer at core.due if arm, and counts it by
 * state without a STATUS= (the caller says notify_status once, after
 * all). A pid still vouched for (alive, unwatched or dead) is held again
 * by a pidfd where a policy may signal it, and watched for its exit with
 * --detect-exit: found gone, it has exited at once.
 */
struct worker *monitor_adopt(struct supervisor *sv, const char *name, size_t len, uint64_t now);
void monitor_restored(struct supervisor *sv, struct worker *w, int arm, uint64_t now);

/*
 * Whether any worker may have to be held by its pidfd: --detect-exit, or a
 * policy (global or a [worker NAME] section's) that signals. The heartbeat
 * socket asks the kernel for senders' pidfds only then (claim.h).
 */
int monitor_wants_pidfds(const struct supervisor *sv);

/* At shutdown: log (debug) where each worker stood, for whoever takes over. */
void monitor_shutdown(struct supervisor *sv);

/* Count and log (rate-limited) a datagram that was dropped for reason. */
void monitor_invalid(struct supervisor *sv, const struct vigil_wire_error *err, uint64_t now);

#endif

/*
 * claim.h: one live process behind each name, and the pid a policy acts on.
 *
 * A worker's pid changes (a restart) only once the process behind it is
 * gone. Another live process that heartbeats for the name meanwhile is:
 *  - for a name the supervisor gave a service unit (an sd_notify sender
 *    without WORKER=, identity.h), a helper of that service (systemd-notify
 *    run by its shell): its pings count for the name, its pid is never the
 *    one kept or signalled (that is the unit's main process);
 *  - for a name given with WORKER=, a rival claimant: a conflict, reported
 *    once, whose heartbeats keep nothing alive; its own silence is reported
 *    too (claim_rival_heartbeat arms a timer for it), so that the death of
 *    either process shows while the other heartbeats.
 *
 * The process is held, where a policy may signal it or --detect-exit watches
 * it, by a pidfd (struct worker_claim): in pidfd mode the one the kernel
 * passed with the datagram (SCM_PIDFD), which names the sender whatever
 * became of its pid since; in start-time mode one opened by pid and kept
 * only if the process's start time is the one it had when the datagram
 * arrived, and a pid whose process started after its datagram arrived is
 * never taken as the sender's (claim_join). A signal goes only through that
 * pidfd (or, without one, after the start time is checked again), and only
 * to a process whose real and effective uid are the name's (claim_signal).
 */
#ifndef VIGIL_CLAIM_H
#define VIGIL_CLAIM_H

#include <stdint.h>

#include <event2/event.h>

struct supervisor;
struct worker;

/*
 * worker.start_time when its process is known gone: its pidfd said so, or
 * its pid named a process that started after the datagram arrived (reused
 * before we read it). Nothing to act on until another process takes the name.
 */
#define CLAIM_GONE UINT64_MAX

/*
 * Have the kernel pass the sender's pidfd with every datagram on socket fd
 * (SO_PASSPIDFD), or stop; -1 with errno if it cannot (before Linux 6.5).
 * Each costs the receiver about 1.5 us (docs/PERFORMANCE.md): on only while
 * some worker must be held by one (monitor_wants_pidfds).
 */
int claim_pass_pidfds(int fd, int on);

/* What a message from another pid than the worker's is. */
enum claim_verdict {
	CLAIM_HOLDER, /* the name's process (or its successor, the old one gone): a restart */
	CLAIM_HELPER, /* a helper of the same service: counts for the name, pid unchanged */
	CLAIM_RIVAL,  /* a second live process for a WORKER= name: a conflict */
};

/*
 * Judge a message from pid for w (pid is not w's). unit: the name came from
 * the sender's service unit (no WORKER=).
 */
enum claim_verdict claim_judge(struct supervisor *sv, const struct worker *w, uint64_t pid,
			       int unit);

/*
 * pid, vouched for by the kernel, has just become w's process, by a
 * datagram that arrived at arrival (monotonic usec), sent by sender
 * (sender_pidfd: the kernel's pidfd for the sender, or -1). Records its
 * start time (CLAIM_GONE if the kernel's pidfd shows the sender ended, or
 * the process at pid started after arrival; 0, to be tried again
 * with its next datagram, if within the same clock tick) and, if want, keeps
 * a pidfd for it (the budget allowing). Called again while the start time is 0.
 */
void claim_join(struct supervisor *sv, struct worker *w, uint64_t arrival, uint64_t sender,
		int sender_pidfd, int want);

/*
 * Keep a pidfd for w's process if none is kept yet (a policy that signals
 * came with a reload, or the budget was spent at its join): from the
 * sender's (if sender is w's pid) or opened and checked. 0 if one is kept,
 * else -1 with errno: ENOSPC the descriptor budget is spent (fdbudget.h),
 * ESRCH the process is gone; EAGAIN (not confirmed yet, claim_join), EMFILE
 * (the descriptors a batch of datagrams holds for a moment) or ENOMEM worth
 * another try later.
 */
int claim_keep(struct supervisor *sv, struct worker *w, uint64_t sender, int sender_pidfd);

/* The callbacks of the events claim.c makes: a kept pidfd readable, a rival's silence. */
void claim_set_callbacks(event_callback_fn exit_cb, event_callback_fn rival_cb);

/*
 * A heartbeat from pid, a rival of w's process, at now: note it and (re)arm
 * its silence timer for w's timeout. Returns 1 if the conflict is new
 * (to report), 0 if known, -1 if it cannot be tracked (out of memory).
 */
int claim_rival_heartbeat(struct supervisor *sv, struct worker *w, uint64_t pid, uint64_t now);

/*
 * Send sig to w's process, the one the kernel vouched for, only while it is
 * that process and owned by the name's uid. 0 and *how (through its pidfd,
 * or its start time checked), or -1 with errno set or why (cap bytes) saying
 * why not.
 */
int claim_signal(struct supervisor *sv, const struct worker *w, int sig, const char **how,
		 char *why, size_t cap);

#endif

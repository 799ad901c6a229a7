/*
 * escalate.c: the policy's actions for a worker. See escalate.h.
 *
 * Runs only for a missed period, a restart or an exit, never for a
 * heartbeat that changes nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "claim.h"
#include "config.h"
#include "duration.h"
#include "escalate.h"
#include "hooks.h"
#include "report.h"
#include "supervisor.h"

/* Send TIMEOUT to the worker's address, counting (and rate-limit logging) failures. */
static void
escalate_send_timeout(struct supervisor *sv, struct worker *w, uint64_t now)
{
	struct vigil_msg m = {0};
	char buf[VIGIL_WIRE_MAX];
	char addr[sizeof(w->addr->sun_path) * 4 + 1];

	if (w->addr == NULL)
		return;
	m.fields = VIGIL_F_TIMEOUT | VIGIL_F_WORKER | VIGIL_F_MISSED | VIGIL_F_SILENT_MS |
		   VIGIL_F_LAST_SEQ;
	memcpy(m.worker, w->name, sizeof(m.worker));
	m.missed = w->core.missed;
	m.silent_ms = (now - w->core.last_hb) / 1000;
	m.last_seq = w->core.last_seq;
	int len = vigil_wire_encode(&m, buf, sizeof(buf));
	if (len < 0)
		fatalx("cannot encode TIMEOUT for %s", w->name); /* our own fields: a bug */
	if (sv->io.send == NULL)
		errno = ENOTCONN;
	else if (sv->io.send(sv->io.ctx, w->addr, w->addrlen, buf, (size_t)len) == 0) {
		sv->counters.timeouts_sent++;
		return;
	}
	sv->counters.timeouts_undelivered++;
	/* The address may be abstract (leading NUL) or come from anyone: escape it. */
	size_t alen = w->addrlen - offsetof(struct sockaddr_un, sun_path);
	if (w->addr->sun_path[0] != '\0')
		alen = strnlen(w->addr->sun_path, alen);
	log_escape(w->addr->sun_path, alen, addr, sizeof(addr));
	int gone = errno == ENOENT || errno == ECONNREFUSED || errno == ENOTSOCK;
	log_ratelimited(&sv->rl_undelivered, now, LOG_LEVEL_WARN,
			"cannot deliver TIMEOUT to worker %s at %s: %s%s", w->name, addr,
			strerror(errno),
			errno == EAGAIN ? " (its queue is full: the worker is not reading)"
			: gone	       ? " (no more TIMEOUTs to it until it heartbeats from an address)"
				       : "");
	/*
	 * Nobody listens there any more: forget the address, so that the next
	 * periods (a spray of names with tiny timeouts) cost nothing; the next
	 * heartbeat brings it back.
	 */
	if (gone)
		registry_set_addr(w, NULL, 0);
}

/* Count and log (rate-limited) a signal the policy asked for but that was not sent. */
static void
escalate_signal_refused(struct supervisor *sv, const struct worker *w, int sig, uint64_t now,
			const char *why)
{
	sv->counters.signals_refused++;
	log_ratelimited(&sv->rl_timeouts, now, LOG_LEVEL_WARN,
			"worker %s: did not send SIG%s to pid %" PRIu64 ": %s", w->name,
			policy_signal_name(sig), w->core.pid, why);
}

/*
 * --on-timeout signal:SIG@N: signal the process the kernel vouched for,
 * never a pid that now belongs to another process nor one of another uid
 * (claim_signal).
 */
static void
escalate_signal(struct supervisor *sv, struct worker *w, int sig, uint64_t now)
{
	const struct worker_core *c = &w->core;
	const char *how = "";
	char why[200];

	if (c->pid == 0 || !w->pid_vouched) {
		escalate_signal_refused(sv, w, sig, now,
					c->pid == 0 ? "its pid is unknown"
						    : "its pid is only claimed (PID=), not vouched for");
		return;
	}
	if (claim_signal(sv, w, sig, &how, why, sizeof(why)) == -1) {
		escalate_signal_refused(sv, w, sig, now, why);
		return;
	}
	sv->counters.signals_sent++;
	report_event(sv, SV_EVENT_SIGNAL, w, now, sig, &sv->rl_timeouts, LOG_LEVEL_WARN,
		     "worker %s: sent SIG%s to pid %" PRIu64 " (missed %" PRIu64
		     ", --on-timeout, %s)",
		     w->name, policy_signal_name(sig), c->pid, c->missed, how);
}

/* --on-timeout exec:PATH@N: run the hook about w, never waiting for it. */
static void
escalate_hook(struct supervisor *sv, const struct worker *w, const char *path, uint64_t now)
{
	struct hook_event ev = {
	    .worker = w->name,
	    .event = "timeout",
	    .pid = w->pid_vouched ? w->core.pid : 0,
	    .missed = w->core.missed,
	    .silent_ms = (now - w->core.last_hb) / 1000,
	};

	if (hooks_run(sv->hooks, path, &ev) == -1)
		log_ratelimited(&sv->rl_timeouts, now, LOG_LEVEL_WARN,
				"worker %s: cannot run hook %s: %s", w->name, path,
				errno == EAGAIN ? "too many hooks running" : strerror(errno));
}

/* w's --on-timeout: its [worker NAME] section's, else the global one. */
const struct policy *
escalate_policy(const struct supervisor *sv, const struct worker *w)
{
	return w->conf != NULL && (w->conf->given & CONFIG_W_POLICY) ? w->conf->policy
								      : &sv->set->policy;
}

/* w's --intensity: its [worker NAME] section's, else the global one. */
static const struct intensity *
escalate_intensity(const struct supervisor *sv, const struct worker *w)
{
	return w->conf != NULL && (w->conf->given & CONFIG_W_INTENSITY) ? &w->conf->intensity
									 : &sv->set->intensity;
}

/*
 * Step 3 of monitor_apply: count an incident against --intensity; a worker
 * over it is failed, and said so once.
 */
void
escalate_incident(struct supervisor *sv, struct worker *w, uint64_t now)
{
	const struct intensity *in = escalate_intensity(sv, w);
	int over = policy_incident(in, &w->incidents, now);
	char d[32];

	if (over == w->core.failed)
		return;
	w->core.failed = over;
	vigil_duration_format(in->window, d, sizeof(d));
	if (over)
		report_event(sv, SV_EVENT_FAILED, w, now, 0, NULL, LOG_LEVEL_WARN,
			     "worker %s failed: more than %" PRIu64 " silences, restarts or exits "
			     "within %s (--intensity); no more signals or hooks for it until a "
			     "window passes",
			     w->name, in->max, d);
	else
		report_event(sv, SV_EVENT_UNFAILED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s is no longer failed: a new %s window (--intensity)",
			     w->name, d);
}

/*
 * Step 4 of monitor_apply: a missed period: log it, tell the worker, and
 * take the policy's step.
 */
void
escalate_timeout(struct supervisor *sv, struct worker *w, uint64_t now)
{
	const struct worker_core *c = &w->core;

	report_timeout(sv, w, now);
	escalate_send_timeout(sv, w, now);
	/* A failed worker (over its --intensity) is escalated no further. */
	const struct policy_step *step = policy_step_at(escalate_policy(sv, w), c->missed);
	if (step == NULL || c->failed)
		return;
	if (step->sig != 0)
		escalate_signal(sv, w, step->sig, now);
	else
		escalate_hook(sv, w, step->path, now);
}

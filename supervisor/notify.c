/*
 * notify.c: READY, STATUS, WATCHDOG and STOPPING for systemd. See notify.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "duration.h"
#include "notify.h"
#include "sdnotify.h"
#include "supervisor.h"

/* "STATUS=4 workers: 3 alive, 1 dead" (states with no worker left out). */
static void
notify_summary(const struct supervisor *sv, char *buf, size_t cap)
{
	static const struct {
		enum worker_state state;
		const char *name;
	} order[] = {{WORKER_ALIVE, "alive"},
		     {WORKER_DEAD, "dead"},
		     {WORKER_EXITED, "exited"},
		     {WORKER_STOPPED, "stopped"},
		     {WORKER_MISSING, "missing"},
		     {WORKER_UNWATCHED, "unwatched"}};
	const char *sep = ": ";
	size_t n;

	snprintf(buf, cap, "STATUS=%zu worker%s", sv->registry.count,
		 sv->registry.count == 1 ? "" : "s");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		size_t c = sv->by_state[order[i].state];
		if (c == 0)
			continue;
		n = strlen(buf);
		snprintf(buf + n, cap - n, "%s%zu %s", sep, c, order[i].name);
		sep = ", ";
	}
}

static void
notify_send(struct supervisor *sv, const char *text)
{
	char err[VIGIL_ERRLEN];

	if (vigil_sd_notify(text, err, sizeof(err)) == -1)
		log_ratelimited(&sv->rl_notify, vigil_now_usec(), LOG_LEVEL_WARN, "%s", err);
}

/* Half a watchdog period passed: tell systemd the loop still turns. */
static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_send(arg, "WATCHDOG=1");
}

int
notify_start(struct supervisor *sv, char *err, size_t errlen)
{
	char msg[256];
	uint64_t wd = vigil_sd_watchdog_usec();

	if (wd != 0) {
		uint64_t half = wd / 2;
		struct timeval tv = {.tv_sec = (time_t)(half / 1000000),
				     .tv_usec = (suseconds_t)(half % 1000000)};
		char d[32];

		sv->watchdog = event_new(sv->base, -1, EV_PERSIST, notify_watchdog_cb, sv);
		if (sv->watchdog == NULL || event_add(sv->watchdog, &tv) == -1) {
			snprintf(err, errlen, "cannot start the watchdog timer");
			return -1;
		}
		vigil_duration_format(half, d, sizeof(d));
		log_info("pinging the service manager's watchdog every %s", d);
	}
	notify_summary(sv, msg, sizeof(msg));
	strncat(msg, "\nREADY=1", sizeof(msg) - strlen(msg) - 1);
	if (vigil_sd_notify(msg, err, errlen) == -1)
		return -1;
	return 0;
}

void
notify_status(struct supervisor *sv)
{
	char msg[256];

	notify_summary(sv, msg, sizeof(msg));
	notify_send(sv, msg);
}

void
notify_stop(struct supervisor *sv)
{
	if (sv->watchdog != NULL) {
		event_free(sv->watchdog);
		sv->watchdog = NULL;
	}
	notify_send(sv, "STOPPING=1\nSTATUS=shutting down");
}

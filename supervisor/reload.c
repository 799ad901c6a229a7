/*
 * reload.c: the configuration in force, at start and on reload. See reload.h.
 *
 * A reload keeps every worker's state, counters and timer. A worker whose
 * timeout changes is re-armed from its last heartbeat (STATE_EV_RETIME), after
 * the heartbeat socket is drained: a worker that heartbeats on time may have
 * its latest heartbeats still queued while we read the file, and a shorter
 * timeout judged against an older one would convict it falsely. That drain
 * (monitor_drain) is the only place where heartbeat processing is entered
 * from outside the loop's own dispatch of the socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "configure.h"
#include "duration.h"
#include "listener.h"
#include "monitor.h"
#include "options.h"
#include "reload.h"
#include "supervisor.h"

void
reload_start(struct supervisor *sv, struct config *c)
{
	sv->conf = c;
	sv->set = &c->set;
}

void
reload_expect(struct supervisor *sv)
{
	uint64_t now = vigil_now_usec();
	const struct config *c = sv->conf;

	for (size_t i = 0; i < c->nworkers; i++) {
		if (c->workers[i].expected &&
		    registry_find(&sv->registry, c->workers[i].name, strlen(c->workers[i].name)) ==
			NULL)
			monitor_expect(sv, c->workers[i].name, now);
	}
}

/*
 * What cannot change at runtime keeps its old value in the new config, and
 * is logged; returns how many such settings the file changed.
 */
static size_t
reload_keep(const struct config *old, struct config *nc)
{
	size_t n = 0;

	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		if (!(o->flags & OPTION_RESTART) || o->size == 0)
			continue;
		char *was = (char *)&old->set + o->offset, *now = (char *)&nc->set + o->offset;
		if (memcmp(was, now, o->size) == 0)
			continue;
		log_warnx("reload: '%s' changed, which needs a restart: keeping the old value",
			  o->name);
		memcpy(now, was, o->size);
		n++;
	}
	nc->set.metrics_addr = old->set.metrics_addr; /* metrics, parsed: kept with it */
	/* Phi keeps a history per worker, allocated at registration: on or off for good. */
	if ((old->set.phi.threshold == 0) != (nc->set.phi.threshold == 0)) {
		log_warnx("reload: 'timeout' changed %s phi:T, which needs a restart: keeping the "
			  "old value",
			  old->set.phi.threshold == 0 ? "to" : "from");
		nc->set.timeout = old->set.timeout;
		nc->set.phi = old->set.phi;
		n++;
	}
	return n;
}

int
reload_apply(struct supervisor *sv, char *msg, size_t msglen)
{
	const char *path = sv->cli->config_path;
	struct config *old = sv->conf, *nc;
	struct worker **list = NULL;
	size_t added = 0, dropped = 0, restart;

	if (configure_build(sv->cli, &nc) != 0) {
		if (nc == NULL) {
			snprintf(msg, msglen, "reload failed: out of memory; nothing changed");
		} else {
			for (size_t i = 0; i < nc->nerrors; i++)
				log_warnx("reload: %s", nc->errors[i].text);
			snprintf(msg, msglen, "reload failed: %zu error%s in %s, nothing changed: %s",
				 nc->nerrors, nc->nerrors == 1 ? "" : "s", path,
				 nc->nerrors > 0 ? nc->errors[0].text : "?");
		}
		log_warnx("%s", msg);
		config_free(nc);
		return -1;
	}
	/* max-workers needs a restart: expected workers must fit the one in force. */
	if (nc->nexpected > sv->set->max_workers) {
		snprintf(msg, msglen, "reload failed: %zu workers expected, more than the "
				      "max-workers in force (%zu; changing it needs a restart); "
				      "nothing changed", nc->nexpected, sv->set->max_workers);
		log_warnx("%s", msg);
		config_free(nc);
		return -1;
	}
	/*
	 * Heartbeats already queued count under the old settings (see above);
	 * new names among them are in the list below, so none keeps a pointer
	 * into the old config.
	 */
	monitor_drain(sv);
	if (sv->registry.count > 0 &&
	    (list = calloc(sv->registry.count, sizeof(*list))) == NULL) {
		snprintf(msg, msglen, "reload failed: out of memory; nothing changed");
		log_warnx("%s", msg);
		config_free(nc);
		return -1;
	}
	restart = reload_keep(old, nc);
	uint64_t now = vigil_now_usec();
	size_t n = list != NULL ? registry_collect(&sv->registry, list, sv->registry.count) : 0;

	reload_start(sv, nc);
	if (nc->set.log_level != log_get_level())
		log_init("vigil-supervisor", nc->set.log_level);
	for (size_t i = 0; i < n; i++) {
		struct worker *w = list[i];
		const struct config_worker *cw = config_worker(nc, w->name);
		w->conf = cw;
		/* Never seen and no longer expected: it was only ever the file's idea. */
		if (w->core.state == WORKER_MISSING && (cw == NULL || !cw->expected)) {
			w->conf = NULL;
			monitor_forget(sv, w);
			list[i] = NULL;
			dropped++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i] != NULL)
			monitor_reconfigure(sv, list[i], now);
	}
	for (size_t i = 0; i < nc->nworkers; i++) {
		const struct config_worker *cw = &nc->workers[i];
		if (cw->expected && registry_find(&sv->registry, cw->name, strlen(cw->name)) == NULL &&
		    monitor_expect(sv, cw->name, now) != NULL)
			added++;
	}
	free(list);
	config_free(old);
	if (sv->listener != NULL)
		listener_update_pidfds(sv->listener);

	int len = snprintf(msg, msglen, "reloaded %s: %zu worker section%s, %zu expected",
			   nc->loaded ? path : "(no file)", nc->nworkers,
			   nc->nworkers == 1 ? "" : "s", nc->nexpected);
	if (len > 0 && (size_t)len < msglen && (added > 0 || dropped > 0))
		len += snprintf(msg + len, msglen - (size_t)len, " (%zu added, %zu dropped)", added,
				dropped);
	if (len > 0 && (size_t)len < msglen && restart > 0)
		snprintf(msg + len, msglen - (size_t)len, "; %zu setting%s need%s a restart", restart,
			 restart == 1 ? "" : "s", restart == 1 ? "s" : "");
	log_info("%s", msg);
	log_debug("reload: %zu workers reconfigured in %.1f ms (the loop was held that long)", n,
		  (double)(vigil_now_usec() - now) / 1e3);
	return 0;
}

void
reload_free(struct supervisor *sv)
{
	config_free(sv->conf);
	sv->conf = NULL;
	sv->set = NULL;
}

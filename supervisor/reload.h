/*
 * reload.h: the configuration in force. At start, the file (--config, see
 * config.h) then the command line over it (configure.h), whose settings
 * the supervisor reads (sv->set); on SIGHUP or the control socket's
 * "reload", the same again into a fresh config that replaces the old one
 * (settings and all) only if it has no error at all.
 * Settings that cannot change at runtime (sockets, max-workers, ...) keep
 * their old value, logged as needing a restart.
 */
#ifndef VIGIL_RELOAD_H
#define VIGIL_RELOAD_H

#include <stddef.h>

struct config;
struct options_cli;
struct supervisor;

/* Take c (no errors) as sv's configuration, and its settings as the ones in force. */
void reload_start(struct supervisor *sv, struct config *c);

/* Add the expected workers (missing until they heartbeat): once the loop can run. */
void reload_expect(struct supervisor *sv);

/*
 * Read the configuration again and apply it, all or nothing; every error is
 * logged. 0 if it was applied, -1 if not (nothing changed); msg is a one-line
 * summary either way. Called on SIGHUP and by the control socket's "reload".
 */
int reload_apply(struct supervisor *sv, char *msg, size_t msglen);

/* Free the configuration at exit. */
void reload_free(struct supervisor *sv);

#endif

/*
 * keys.h: the key layout in etcd, the contract between vigil-fleet's
 * publisher and its view (docs/FLEET.md). Pure.
 *
 *   /vigil/v1/hosts/<host>            the host's one lease; JSON about the host
 *   /vigil/v1/workers/<host>/<name>   not leased; the worker's last known state
 *
 * Host and worker names are worker-name characters ([A-Za-z0-9._@:-], 1 to
 * 64 bytes), so that neither can hold a '/'.
 */
#ifndef VIGIL_FLEET_KEYS_H
#define VIGIL_FLEET_KEYS_H

#include <stddef.h>

#include "wire.h"

#define KEYS_ROOT "/vigil/v1/"
#define KEYS_HOSTS KEYS_ROOT "hosts/"
#define KEYS_WORKERS KEYS_ROOT "workers/"
#define KEYS_MAX 160 /* longest key: the prefixes and two names */

enum keys_kind { KEYS_OTHER, KEYS_HOST, KEYS_WORKER };

/* A valid host name? (the worker-name alphabet, 1 to 64 bytes) */
int keys_host_valid(const char *host);

void keys_host(const char *host, char *out, size_t cap);
void keys_worker(const char *host, const char *name, char *out, size_t cap);
/* The prefix of one host's worker keys ("/vigil/v1/workers/<host>/"). */
void keys_host_workers(const char *host, char *out, size_t cap);

/*
 * What key is: a host key (host filled), a worker key (host and name
 * filled), or anything else (a key this version does not know: ignored).
 * host and name have room for VIGIL_NAME_MAX + 1 bytes.
 */
enum keys_kind keys_parse(const char *key, char *host, char *name);

#endif

/*
 * keys.c: the key layout. See keys.h.
 */
#include <stdio.h>
#include <string.h>

#include "keys.h"

int
keys_host_valid(const char *host)
{
	return vigil_wire_name_valid(host, strlen(host));
}

void
keys_host(const char *host, char *out, size_t cap)
{
	snprintf(out, cap, KEYS_HOSTS "%s", host);
}

void
keys_worker(const char *host, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, KEYS_WORKERS "%s/%s", host, name);
}

void
keys_host_workers(const char *host, char *out, size_t cap)
{
	snprintf(out, cap, KEYS_WORKERS "%s/", host);
}

/* Copy a name of len bytes into out if it is valid; 0 or -1. */
static int
keys_name(const char *s, size_t len, char *out)
{
	if (!vigil_wire_name_valid(s, len))
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

enum keys_kind
keys_parse(const char *key, char *host, char *name)
{
	const char *p, *slash;

	if (strncmp(key, KEYS_HOSTS, strlen(KEYS_HOSTS)) == 0) {
		p = key + strlen(KEYS_HOSTS);
		return keys_name(p, strlen(p), host) == 0 ? KEYS_HOST : KEYS_OTHER;
	}
	if (strncmp(key, KEYS_WORKERS, strlen(KEYS_WORKERS)) != 0)
		return KEYS_OTHER;
	p = key + strlen(KEYS_WORKERS);
	if ((slash = strchr(p, '/')) == NULL || keys_name(p, (size_t)(slash - p), host) == -1 ||
	    keys_name(slash + 1, strlen(slash + 1), name) == -1)
		return KEYS_OTHER;
	return KEYS_WORKER;
}

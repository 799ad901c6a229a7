/*
 * netaddr.h: where the HTTP endpoint listens (--metrics ADDR:PORT), parsed
 * from text into an address to bind and its text form for messages. Pure:
 * no socket, no name lookup.
 */
#ifndef VIGIL_NETADDR_H
#define VIGIL_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define NETADDR_MAX 64 /* "[v6 address]:port" as shown */

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
	int any; /* ":PORT": every address, IPv6 with IPv4 mapped (IPv4 alone without IPv6) */
	char text[NETADDR_MAX];
};

/*
 * Parse ADDR:PORT: IPv4 "127.0.0.1:9477", IPv6 "[::1]:9477", "localhost:9477"
 * (127.0.0.1), or ":9477" for every address (IPv6 and IPv4). No host names
 * are looked up. -1 with err saying why.
 */
int netaddr_parse(const char *arg, struct netaddr *a, char *err, size_t errlen);

#endif

/*
 * netaddr.c: ADDR:PORT for the HTTP endpoint. See netaddr.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

int
netaddr_parse(const char *arg, struct netaddr *a, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	char *end;

	memset(a, 0, sizeof(*a));
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "an IPv6 address needs the form [ADDR]:PORT");
			return -1;
		}
		colon = close + 1;
		if ((size_t)(close - arg - 1) >= sizeof(host))
			goto bad_host;
		memcpy(host, arg + 1, (size_t)(close - arg - 1));
		host[close - arg - 1] = '\0';
	} else {
		if ((colon = strrchr(arg, ':')) == NULL) {
			snprintf(err, errlen, "need ADDR:PORT, e.g. 127.0.0.1:9477");
			return -1;
		}
		if ((size_t)(colon - arg) >= sizeof(host))
			goto bad_host;
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = '\0';
	}
	port = colon + 1;
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || p == 0 || p > 65535) {
		snprintf(err, errlen, "the port must be a number from 1 to 65535");
		return -1;
	}

	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	if (arg[0] == '[') {
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad_host;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*in6);
		snprintf(a->text, sizeof(a->text), "[%s]:%lu", host, p);
		return 0;
	}
	if (host[0] == '\0') {
		/* Every address: IPv6 and, through it, IPv4 (see http_listen). */
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*in6);
		a->any = 1;
		snprintf(a->text, sizeof(a->text), "[::]:%lu", p);
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		goto bad_host;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)p);
	a->len = sizeof(*in4);
	snprintf(a->text, sizeof(a->text), "%s:%lu", host, p);
	return 0;

bad_host:
	snprintf(err, errlen, "the address must be an IPv4 address, [IPv6 address], localhost "
			      "or empty (every address)");
	return -1;
}

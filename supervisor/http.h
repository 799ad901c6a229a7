/*
 * http.h: the optional HTTP endpoint (--metrics ADDR:PORT), served with
 * libevent's evhttp on the supervisor's event base: GET /metrics (the
 * Prometheus exposition, metrics.c) and GET /status (the document of
 * `vigilctl status --json`). Bounded: header and body sizes, a time limit
 * per connection, and at most HTTP_MAX_CONNECTIONS connections at once;
 * beyond that, new ones wait in the kernel's backlog. Unauthenticated: see
 * docs/SECURITY.md.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

struct supervisor;

#define HTTP_MAX_CONNECTIONS 16
#define HTTP_MAX_HEADERS 8192 /* bytes of request line and headers */
#define HTTP_MAX_BODY 1024    /* bytes of request body (we take none) */
#define HTTP_TIMEOUT_SEC 10   /* to read a request, or to write a reply */
#define HTTP_ACCEPT_PAUSE_USEC 100000 /* out of descriptors: stop accepting this long */
#define HTTP_ADDR_MAX 64     /* "[v6 address]:port" as shown */

/* Where to listen: the address to bind, and its text form for messages. */
struct http_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int any; /* ":PORT": every address, IPv6 with IPv4 mapped (IPv4 alone without IPv6) */
	char text[HTTP_ADDR_MAX];
};

/*
 * Parse ADDR:PORT: IPv4 "127.0.0.1:9477", IPv6 "[::1]:9477", "localhost:9477"
 * (127.0.0.1), or ":9477" for every address (IPv6 and IPv4). No host names
 * are looked up. -1 with err saying why.
 */
int http_parse_addr(const char *arg, struct http_addr *a, char *err, size_t errlen);

/* Listen on sv->metrics_addr; NULL with err ("cannot bind ADDR: why") on failure. */
struct http *http_start(struct supervisor *sv, char *err, size_t errlen);

/* Close every connection and the listening socket. */
void http_free(struct http *h);

#endif

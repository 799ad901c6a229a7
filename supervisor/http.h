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

struct supervisor;

#define HTTP_MAX_CONNECTIONS 16
#define HTTP_MAX_HEADERS 8192 /* bytes of request line and headers */
#define HTTP_MAX_BODY 1024    /* bytes of request body (we take none) */
#define HTTP_TIMEOUT_SEC 10   /* to read a request, or to write a reply */
#define HTTP_ACCEPT_PAUSE_USEC 100000 /* out of descriptors: stop accepting this long */

/* Listen on sv->set->metrics_addr; NULL with err ("cannot bind ADDR: why") on failure. */
struct http *http_start(struct supervisor *sv, char *err, size_t errlen);

/* Close every connection and the listening socket. */
void http_free(struct http *h);

#endif

/*
 * etcdtls.h: the TLS side of the etcd client (etcd.c): the context made from
 * --cacert/--cert/--key, one evhttp connection over TLS with the server's
 * name (or address) checked, and why a handshake failed, in words.
 */
#ifndef VIGIL_FLEET_ETCDTLS_H
#define VIGIL_FLEET_ETCDTLS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

/*
 * A client context: the server must chain to cacert (the system's CAs if
 * NULL); cert and key (both or neither) are presented. NULL with err naming
 * the file and what is wrong with it.
 */
SSL_CTX *etcdtls_ctx_new(const char *cacert, const char *cert, const char *key, char *err,
                         size_t errlen);

/*
 * A new connection to host:port over TLS from ctx, the certificate checked
 * against host (a DNS name, sent as SNI too, or an IP address); *ssl is its
 * TLS state, owned by the connection. NULL if it could not be made.
 */
struct evhttp_connection *etcdtls_connect(struct event_base *base, SSL_CTX *ctx, const char *host,
                                          uint16_t port, SSL **ssl);

/*
 * Why the TLS connection conn (with ssl) failed, if it was TLS that failed
 * ("TLS: the server's certificate is refused: ..."); "" otherwise.
 */
const char *etcdtls_why(SSL *ssl, struct evhttp_connection *conn, char *buf, size_t len);

#endif

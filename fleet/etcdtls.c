/*
 * etcdtls.c: TLS for the etcd client, on libevent's bufferevent_openssl. See etcdtls.h.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "etcdtls.h"

/* The first OpenSSL error queued, as text ("" if none); the queue is emptied. */
static const char *
etcdtls_ssl_error(char *buf, size_t len)
{
	unsigned long code = ERR_get_error();

	buf[0] = '\0';
	if (code != 0)
		ERR_error_string_n(code, buf, len);
	ERR_clear_error();
	return buf;
}

/* The context every https connection starts from: the CA to verify with, a client certificate. */
SSL_CTX *
etcdtls_ctx_new(const char *cacert, const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context: %s",
		         etcdtls_ssl_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cacert != NULL ? SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1
	                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "--cacert %s: %s", cacert != NULL ? cacert : "(system)",
		         etcdtls_ssl_error(why, sizeof(why)));
		goto fail;
	}
	if (cert != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "--cert %s: %s", cert, etcdtls_ssl_error(why, sizeof(why)));
		goto fail;
	}
	if (key != NULL && (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	                    SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(err, errlen, "--key %s: %s", key, etcdtls_ssl_error(why, sizeof(why)));
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct evhttp_connection *
etcdtls_connect(struct event_base *base, SSL_CTX *ctx, const char *host, uint16_t port, SSL **sslp)
{
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	struct in6_addr addr;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (inet_pton(AF_INET, host, &addr) == 1 || inet_pton(AF_INET6, host, &addr) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
		goto fail;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		goto fail;
	/* A TLS close is not a truncation etcd could do to us: its replies are framed. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn = evhttp_connection_base_bufferevent_new(base, NULL, bev, host, port);
	if (conn == NULL) {
		bufferevent_free(bev); /* frees ssl */
		return NULL;
	}
	*sslp = ssl;
	return conn;
fail:
	SSL_free(ssl);
	return NULL;
}

const char *
etcdtls_why(SSL *ssl, struct evhttp_connection *conn, char *buf, size_t len)
{
	long verify;
	unsigned long code;
	char msg[160];

	buf[0] = '\0';
	if (ssl == NULL)
		return buf;
	verify = SSL_get_verify_result(ssl);
	if (verify != X509_V_OK) {
		snprintf(buf, len, "TLS: the server's certificate is refused: %s",
		         X509_verify_cert_error_string(verify));
		return buf;
	}
	code = bufferevent_get_openssl_error(evhttp_connection_get_bufferevent(conn));
	if (code != 0 && ERR_GET_LIB(code) != 0) { /* not the bare SSL_ERROR_SYSCALL of a refusal */
		ERR_error_string_n(code, msg, sizeof(msg));
		snprintf(buf, len, "TLS: %s", msg);
	}
	ERR_clear_error();
	return buf;
}

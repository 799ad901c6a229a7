/*
 * etcdmsg.h: the JSON of etcd v3's HTTP/JSON gateway (etcd 3.4, /v3/...),
 * without I/O: keys and values travel base64-encoded, 64-bit numbers as
 * strings, and fields that are zero or false are left out of replies.
 * Builders return new jansson references (NULL only when out of memory);
 * parsers never log and fill a caller's buffer with what was wrong.
 */
#ifndef VIGIL_ETCDMSG_H
#define VIGIL_ETCDMSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A key-value pair as a range or a watch returns it (key and value decoded, NUL-terminated). */
struct etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t lease;
};

/* Base64 (RFC 4648, with padding) of len bytes, as a new string; NULL when out of memory. */
char *etcdmsg_b64(const void *data, size_t len);

/*
 * Decode base64 text into a new NUL-terminated buffer (*len bytes before the
 * NUL); NULL if s is not valid base64 or memory ran out.
 */
char *etcdmsg_unb64(const char *s, size_t *len);

/* The end of the range of every key that starts with prefix (prefix with its last byte + 1). */
void etcdmsg_prefix_end(const char *prefix, char *out, size_t cap);

/* A JSON string holding key in base64 (a new reference). */
json_t *etcdmsg_key(const char *key);

/* {"key":...,"value":...[,"lease":"ID"]}: a put (lease 0: none). */
json_t *etcdmsg_put(const char *key, const char *value, int64_t lease);

/* {"request_delete_range":{"key":...}}, one key. */
json_t *etcdmsg_txn_delete(const char *key);

/* {"request_put":{...}}, for a transaction's list of operations. */
json_t *etcdmsg_txn_put(const char *key, const char *value, int64_t lease);

/*
 * A transaction guarded by key's create revision being rev (0: the key does
 * not exist): {"compare":[...],"success":ops,"failure":[range of key]}. The
 * failure branch reads key, so that one round trip tells why it failed.
 * Steals the reference to ops.
 */
json_t *etcdmsg_txn_guarded(const char *key, int64_t rev, json_t *ops);

/* {"key":...,"range_end":...} for every key under prefix; keys_only leaves values out. */
json_t *etcdmsg_range_prefix(const char *prefix, int keys_only, int serializable);

/* A 64-bit field of a reply: etcd writes them as strings; absent means 0. -1 if malformed. */
int etcdmsg_int(const json_t *obj, const char *field, int64_t *out);

/* The revision in a reply's header; -1 with err if there is none. */
int etcdmsg_revision(const json_t *reply, int64_t *rev, char *err, size_t errlen);

/* Decode one kv object; -1 with err naming what was wrong. Free with etcdmsg_kv_free. */
int etcdmsg_kv(const json_t *obj, struct etcd_kv *kv, char *err, size_t errlen);
void etcdmsg_kv_free(struct etcd_kv *kv);

/*
 * The kvs of a range reply (or of a transaction's response_range): a new
 * array in *kvs, its length in *n. -1 with err if malformed.
 */
int etcdmsg_kvs(const json_t *range, struct etcd_kv **kvs, size_t *n, char *err, size_t errlen);
void etcdmsg_kvs_free(struct etcd_kv *kvs, size_t n);

/* The error text of a gateway error reply ({"error":"...","code":N}), or NULL. */
const char *etcdmsg_error(const json_t *reply);

#endif

/*
 * etcdmsg.c: the gateway's JSON, built and read. See etcdmsg.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdmsg.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
etcdmsg_b64(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64chars[(v >> 18) & 63];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int
b64val(char c)
{
	const char *p = c != '\0' ? strchr(b64chars, c) : NULL;

	return p == NULL ? -1 : (int)(p - b64chars);
}

char *
etcdmsg_unb64(const char *s, size_t *len)
{
	size_t n = strlen(s), k = 0;
	char *out;

	if (n % 4 != 0)
		return NULL;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad > 0 || (v[j] = b64val(s[i + j])) < 0) {
				free(out);
				return NULL;
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		out[k++] = (char)(x >> 16);
		if (pad < 2)
			out[k++] = (char)(x >> 8 & 0xff);
		if (pad < 1)
			out[k++] = (char)(x & 0xff);
	}
	out[k] = '\0';
	*len = k;
	return out;
}

void
etcdmsg_prefix_end(const char *prefix, char *out, size_t cap)
{
	snprintf(out, cap, "%s", prefix);
	size_t n = strlen(out);

	/* Our prefixes end in '/' (never 0xff), so the last byte + 1 is the end. */
	if (n > 0)
		out[n - 1] = (char)(out[n - 1] + 1);
}

json_t *
etcdmsg_key(const char *key)
{
	char *b = etcdmsg_b64(key, strlen(key));
	json_t *j = b != NULL ? json_string(b) : NULL;

	free(b);
	return j;
}

json_t *
etcdmsg_put(const char *key, const char *value, int64_t lease)
{
	char *v = etcdmsg_b64(value, strlen(value));
	json_t *j = json_object();

	if (j == NULL || v == NULL || json_object_set_new(j, "key", etcdmsg_key(key)) == -1 ||
	    json_object_set_new(j, "value", json_string(v)) == -1) {
		free(v);
		json_decref(j);
		return NULL;
	}
	free(v);
	if (lease != 0) {
		char id[24];

		snprintf(id, sizeof(id), "%" PRId64, lease);
		if (json_object_set_new(j, "lease", json_string(id)) == -1) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

json_t *
etcdmsg_txn_put(const char *key, const char *value, int64_t lease)
{
	return json_pack("{s:o?}", "request_put", etcdmsg_put(key, value, lease));
}

json_t *
etcdmsg_txn_delete(const char *key)
{
	return json_pack("{s:{s:o?}}", "request_delete_range", "key", etcdmsg_key(key));
}

json_t *
etcdmsg_txn_guarded(const char *key, int64_t rev, json_t *ops)
{
	char r[24];

	snprintf(r, sizeof(r), "%" PRId64, rev);
	return json_pack("{s:[{s:s,s:s,s:o?,s:s}],s:o,s:[{s:{s:o?}}]}", "compare", "target",
	                 "CREATE", "result", "EQUAL", "key", etcdmsg_key(key), "create_revision", r,
	                 "success", ops, "failure", "request_range", "key", etcdmsg_key(key));
}

json_t *
etcdmsg_range_prefix(const char *prefix, int keys_only, int serializable)
{
	char end[512];
	json_t *j;

	etcdmsg_prefix_end(prefix, end, sizeof(end));
	j = json_pack("{s:o?,s:o?}", "key", etcdmsg_key(prefix), "range_end", etcdmsg_key(end));
	if (j != NULL && keys_only)
		json_object_set_new(j, "keys_only", json_true());
	if (j != NULL && serializable)
		json_object_set_new(j, "serializable", json_true());
	return j;
}

int
etcdmsg_int(const json_t *obj, const char *field, int64_t *out)
{
	const json_t *v = json_object_get(obj, field);
	char *end;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	errno = 0;
	long long x = strtoll(json_string_value(v), &end, 10);
	if (errno != 0 || end == json_string_value(v) || *end != '\0')
		return -1;
	*out = x;
	return 0;
}

int
etcdmsg_revision(const json_t *reply, int64_t *rev, char *err, size_t errlen)
{
	const json_t *h = json_object_get(reply, "header");

	if (!json_is_object(h) || etcdmsg_int(h, "revision", rev) == -1 || *rev <= 0) {
		snprintf(err, errlen, "reply without a header revision");
		return -1;
	}
	return 0;
}

int
etcdmsg_kv(const json_t *obj, struct etcd_kv *kv, char *err, size_t errlen)
{
	const char *k = json_string_value(json_object_get(obj, "key"));
	const char *v = json_string_value(json_object_get(obj, "value"));
	size_t klen;

	memset(kv, 0, sizeof(*kv));
	if (k == NULL || (kv->key = etcdmsg_unb64(k, &klen)) == NULL || strlen(kv->key) != klen) {
		snprintf(err, errlen, "kv without a valid base64 key");
		etcdmsg_kv_free(kv);
		return -1;
	}
	kv->value = etcdmsg_unb64(v != NULL ? v : "", &kv->value_len);
	if (kv->value == NULL || etcdmsg_int(obj, "create_revision", &kv->create_revision) == -1 ||
	    etcdmsg_int(obj, "mod_revision", &kv->mod_revision) == -1 ||
	    etcdmsg_int(obj, "lease", &kv->lease) == -1) {
		snprintf(err, errlen, "kv %s: bad value or revision", kv->key);
		etcdmsg_kv_free(kv);
		return -1;
	}
	return 0;
}

void
etcdmsg_kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

int
etcdmsg_kvs(const json_t *range, struct etcd_kv **kvs, size_t *n, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(range, "kvs");
	size_t len = json_array_size(arr);

	*kvs = NULL;
	*n = 0;
	if (arr != NULL && !json_is_array(arr)) {
		snprintf(err, errlen, "kvs is not an array");
		return -1;
	}
	if (len == 0)
		return 0;
	if ((*kvs = calloc(len, sizeof(**kvs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (etcdmsg_kv(json_array_get(arr, i), &(*kvs)[i], err, errlen) == -1) {
			etcdmsg_kvs_free(*kvs, i);
			*kvs = NULL;
			return -1;
		}
	}
	*n = len;
	return 0;
}

void
etcdmsg_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		etcdmsg_kv_free(&kvs[i]);
	free(kvs);
}

const char *
etcdmsg_error(const json_t *reply)
{
	const json_t *e = json_object_get(reply, "error");

	if (json_is_string(e))
		return json_string_value(e);
	if (json_is_object(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));

		return m != NULL ? m : "error";
	}
	return NULL;
}

/*
 * test_fleet_etcdmsg.c: the etcd gateway's JSON (fleet/etcdmsg.c) and the
 * key layout (fleet/keys.c): base64 both ways, the guarded transaction's
 * shape, replies as etcd 3.4 writes them (numbers as strings, zero fields
 * left out), and keys parsed back.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "etcdmsg.h"
#include "keys.h"

/* Criterion passes parameters to another process: arrays, never pointers. */
struct b64case {
	char plain[32], coded[48];
};
struct text {
	char s[64];
};

ParameterizedTestParameters(etcdmsg, b64_roundtrip)
{
	static struct b64case cases[] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"/vigil/v1/hosts/b", "L3ZpZ2lsL3YxL2hvc3RzL2I="},
	};
	return cr_make_param_array(struct b64case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct b64case *c, etcdmsg, b64_roundtrip)
{
	char *coded = etcdmsg_b64(c->plain, strlen(c->plain));
	size_t len;
	char *plain = etcdmsg_unb64(c->coded, &len);

	cr_expect_str_eq(coded, c->coded, "b64(%s)", c->plain);
	cr_assert_not_null(plain, "unb64(%s)", c->coded);
	cr_expect_eq(len, strlen(c->plain));
	cr_expect_str_eq(plain, c->plain);
	free(coded);
	free(plain);
}

ParameterizedTestParameters(etcdmsg, b64_rejects)
{
	static struct text bad[] = {{"Zg="},      {"Z==="}, {"Zm9v!A=="},
	                            {"Zg==Zg=="}, {"Z=g="}, {"abc"}};
	return cr_make_param_array(struct text, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct text *t, etcdmsg, b64_rejects)
{
	size_t len;
	char *p = etcdmsg_unb64(t->s, &len);

	cr_expect_null(p, "'%s' is not base64", t->s);
	free(p);
}

Test(etcdmsg, prefix_end_is_the_next_key_after_the_prefix)
{
	char end[64];

	etcdmsg_prefix_end("/vigil/v1/", end, sizeof(end));
	cr_expect_str_eq(end, "/vigil/v10");
}

Test(etcdmsg, the_guarded_transaction_compares_the_create_revision_and_reads_on_failure)
{
	json_t *ops = json_pack("[o]", etcdmsg_txn_put("/k", "v", 77));
	json_t *t = etcdmsg_txn_guarded("/h", 42, ops);
	char *s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);

	cr_expect_str_eq(s, "{\"compare\":[{\"create_revision\":\"42\",\"key\":\"L2g=\","
	                    "\"result\":\"EQUAL\",\"target\":\"CREATE\"}],"
	                    "\"failure\":[{\"request_range\":{\"key\":\"L2g=\"}}],"
	                    "\"success\":[{\"request_put\":{\"key\":\"L2s=\",\"lease\":\"77\","
	                    "\"value\":\"dg==\"}}]}");
	free(s);
	json_decref(t);
}

Test(etcdmsg, a_range_reply_as_etcd_34_writes_it)
{
	json_t *r = json_loads("{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L2g=\","
	                       "\"create_revision\":\"2\",\"mod_revision\":\"5\",\"version\":\"1\","
	                       "\"value\":\"eHg=\",\"lease\":\"7587899323745221125\"},"
	                       "{\"key\":\"L2U=\",\"mod_revision\":\"6\"}],\"count\":\"2\"}",
	                       0, NULL);
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	char err[128];

	cr_assert_eq(etcdmsg_revision(r, &rev, err, sizeof(err)), 0);
	cr_expect_eq(rev, 9);
	cr_assert_eq(etcdmsg_kvs(r, &kvs, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(kvs[0].key, "/h");
	cr_expect_str_eq(kvs[0].value, "xx");
	cr_expect_eq(kvs[0].create_revision, 2);
	cr_expect_eq(kvs[0].mod_revision, 5);
	cr_expect_eq(kvs[0].lease, 7587899323745221125LL);
	cr_expect_str_eq(kvs[1].value, "", "a value left out is empty");
	cr_expect_eq(kvs[1].create_revision, 0, "a revision left out is 0");
	etcdmsg_kvs_free(kvs, n);
	json_decref(r);
}

Test(etcdmsg, malformed_replies_are_errors_that_say_why)
{
	json_t *r = json_loads("{\"kvs\":[{\"key\":\"!!\"}]}", 0, NULL);
	json_t *e = json_loads("{\"error\":\"etcdserver: no leader\",\"code\":14}", 0, NULL);
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	char err[128];

	cr_expect_eq(etcdmsg_kvs(r, &kvs, &n, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "kv without a valid base64 key");
	cr_expect_eq(etcdmsg_revision(r, &rev, err, sizeof(err)), -1);
	cr_expect_str_eq(etcdmsg_error(e), "etcdserver: no leader");
	cr_expect_null(etcdmsg_error(r));
	json_decref(r);
	json_decref(e);
}

Test(keys, layout_and_parse)
{
	char k[KEYS_MAX], host[VIGIL_NAME_MAX + 1], name[VIGIL_NAME_MAX + 1];

	keys_host("web-3", k, sizeof(k));
	cr_expect_str_eq(k, "/vigil/v1/hosts/web-3");
	cr_expect_eq(keys_parse(k, host, name), KEYS_HOST);
	cr_expect_str_eq(host, "web-3");
	keys_worker("web-3", "api@1", k, sizeof(k));
	cr_expect_str_eq(k, "/vigil/v1/workers/web-3/api@1");
	cr_expect_eq(keys_parse(k, host, name), KEYS_WORKER);
	cr_expect_str_eq(host, "web-3");
	cr_expect_str_eq(name, "api@1");
	keys_host_workers("web-3", k, sizeof(k));
	cr_expect_str_eq(k, "/vigil/v1/workers/web-3/");
}

ParameterizedTestParameters(keys, unknown_keys_are_other)
{
	static struct text keys[] = {{"/vigil/v1/hosts/"},        {"/vigil/v1/workers/h"},
	                             {"/vigil/v1/workers/h/"},    {"/vigil/v1/workers//w"},
	                             {"/vigil/v1/workers/h/w/x"}, {"/vigil/v2/hosts/h"},
	                             {"/vigil/v1/hosts/a b"},     {"/other"}};
	return cr_make_param_array(struct text, keys, sizeof(keys) / sizeof(keys[0]));
}

ParameterizedTest(struct text *key, keys, unknown_keys_are_other)
{
	char host[VIGIL_NAME_MAX + 1], name[VIGIL_NAME_MAX + 1];

	cr_expect_eq(keys_parse(key->s, host, name), KEYS_OTHER, "%s", key->s);
}

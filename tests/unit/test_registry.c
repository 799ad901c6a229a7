/*
 * test_registry.c: the worker table. Workers here have no timer assigned,
 * which registry_free and registry_remove accept, except where a test
 * checks that a real timer goes with its worker.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "registry.h"

#define BIG 10000

static struct registry r;

static void
setup(void)
{
	cr_assert_eq(registry_init(&r, 8), 0);
}

static void
teardown(void)
{
	registry_free(&r);
}

TestSuite(registry, .init = setup, .fini = teardown);

static struct worker *
add_to(struct registry *reg, const char *name)
{
	struct worker *w = registry_add(reg, name, strlen(name));
	cr_assert_not_null(w, "add %s: %s", name, strerror(errno));
	return w;
}

static struct worker *
add(const char *name)
{
	return add_to(&r, name);
}

static struct worker *
find(const struct registry *reg, const char *name)
{
	return registry_find(reg, name, strlen(name));
}

Test(registry, add_then_find)
{
	struct worker *a = add("web-1");
	struct worker *b = add("web-2");

	cr_expect_neq(a, b);
	cr_expect_eq(find(&r, "web-1"), a);
	cr_expect_eq(find(&r, "web-2"), b);
	cr_expect_null(find(&r, "web-3"));
	cr_expect_null(find(&r, "web"), "a prefix is not a match");
	cr_expect_null(find(&r, "web-10"), "a longer name is not a match");
	cr_expect_null(find(&r, "Web-1"), "names are case-sensitive");
	cr_expect_eq(r.count, 2);
	cr_expect_str_eq(a->name, "web-1");
	cr_expect_eq(a->core.state, WORKER_NEW, "a new worker starts zeroed");
	cr_expect_eq(a->core.heartbeats, 0);
	cr_expect_null(a->addr);
	cr_expect_null(a->status);
	cr_assert_not_null(a->timer, "storage for the timer comes with the worker");
	cr_expect_not(event_initialized(a->timer), "the timer is not assigned yet");
}

Test(registry, empty_registry_finds_nothing)
{
	cr_expect_null(find(&r, "web-1"));
	cr_expect_null(registry_find(&r, "", 0));
	cr_expect_eq(r.count, 0);
}

/* Names arrive as slices of a datagram, not NUL-terminated. */
Test(registry, find_by_slice)
{
	struct worker *a = add("db");
	struct worker *b = add("dbx");
	const char datagram[] = "WORKER=dbxy\nHEARTBEAT=1\n";

	cr_expect_eq(registry_find(&r, datagram + 7, 2), a, "slice \"db\" of \"dbxy...\"");
	cr_expect_eq(registry_find(&r, datagram + 7, 3), b, "slice \"dbx\" of \"dbxy...\"");
	cr_expect_null(registry_find(&r, datagram + 7, 4), "slice \"dbxy\"");

	/* And a slice can be added: the name is copied and terminated. */
	struct worker *c = registry_add(&r, datagram + 7, 4);
	cr_assert_not_null(c);
	cr_expect_str_eq(c->name, "dbxy");
	cr_expect_eq(find(&r, "dbxy"), c);
}

/* Which bucket of reg holds w (through the public table, whatever the hash). */
static size_t
bucket_of(const struct registry *reg, const struct worker *w)
{
	for (size_t i = 0; i < reg->nbuckets; i++) {
		for (const struct worker *p = reg->buckets[i]; p != NULL; p = p->next) {
			if (p == w)
				return i;
		}
	}
	cr_assert_fail("%s is in no bucket", w->name);
	return 0;
}

/*
 * A prefix of a stored name that hashes to the same chain must still not
 * match. Found through a scratch registry of the same size, so the test does
 * not depend on the hash function.
 */
Test(registry, prefix_in_the_same_chain_is_not_a_match)
{
	struct registry scratch;
	char name[32];
	int found = 0;

	cr_assert_eq(registry_init(&scratch, 8), 0);
	cr_assert_eq(scratch.nbuckets, r.nbuckets);
	size_t want = bucket_of(&scratch, add_to(&scratch, "svc"));
	for (int i = 0; i < 10000 && !found; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		struct worker *w = add_to(&scratch, name);
		found = bucket_of(&scratch, w) == want;
		registry_remove(&scratch, w);
	}
	registry_free(&scratch);
	cr_assert(found, "no name svc-N shares a bucket with svc");

	struct worker *w = add(name);
	cr_expect_null(registry_find(&r, "svc", 3), "\"svc\" found %s", name);
	cr_expect_eq(find(&r, name), w);
	struct worker *svc = add("svc");
	cr_expect_eq(registry_find(&r, "svc", 3), svc);
	cr_expect_eq(find(&r, name), w);
	cr_expect_eq(bucket_of(&r, svc), bucket_of(&r, w), "the chain is not shared after all");
}

/* Same length, same prefix, one byte apart at the end: every one is its own worker. */
Test(registry, names_differing_in_the_last_char)
{
	const char tail[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-";
	struct registry reg;
	struct worker *ws[sizeof(tail)];
	char name[] = "worker-with-a-long-common-prefix-?";
	size_t last = sizeof(name) - 2, n = sizeof(tail) - 1;

	cr_assert_eq(registry_init(&reg, n), 0);
	for (size_t i = 0; i < n; i++) {
		name[last] = tail[i];
		ws[i] = add_to(&reg, name);
	}
	for (size_t i = 0; i < n; i++) {
		name[last] = tail[i];
		struct worker *w = find(&reg, name);
		cr_expect_eq(w, ws[i], "%s found %s", name, w ? w->name : "nothing");
	}
	name[last] = '!';
	cr_expect_null(find(&reg, name), "%s", name);
	registry_free(&reg);
}

Test(registry, full_refuses_new_names_only)
{
	char name[16];
	struct worker *ws[8];

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		ws[i] = add(name);
	}
	errno = 0;
	cr_expect_null(registry_add(&r, "w8", 2));
	cr_expect_eq(errno, ENOSPC, "errno %d (%s)", errno, strerror(errno));
	cr_expect_eq(r.count, 8);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		cr_expect_eq(find(&r, name), ws[i], "%s lost", name);
	}
	cr_expect_null(find(&r, "w8"), "a refused name is findable");
}

Test(registry, zero_max_refuses_everything)
{
	struct registry reg;

	cr_assert_eq(registry_init(&reg, 0), 0);
	errno = 0;
	cr_expect_null(registry_add(&reg, "a", 1));
	cr_expect_eq(errno, ENOSPC);
	cr_expect_eq(reg.count, 0);
	registry_free(&reg);
}

Test(registry, remove_frees_a_slot)
{
	char name[16];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		add(name);
	}
	registry_remove(&r, find(&r, "w3"));
	cr_expect_eq(r.count, 7);
	cr_expect_null(find(&r, "w3"));
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		if (i != 3)
			cr_expect_not_null(find(&r, name), "%s was removed with w3", name);
	}
	struct worker *w8 = add("w8");
	cr_expect_eq(r.count, 8);
	cr_expect_eq(find(&r, "w8"), w8);

	errno = 0;
	cr_expect_null(registry_add(&r, "w9", 2), "full again");
	cr_expect_eq(errno, ENOSPC);

	w8->core.heartbeats = 5;
	registry_remove(&r, w8);
	cr_expect_eq(r.count, 7);
	struct worker *again = add("w8");
	cr_expect_eq(r.count, 8);
	cr_expect_eq(find(&r, "w8"), again);
	cr_expect_eq(again->core.heartbeats, 0, "a name added again starts afresh");
}

Test(registry, overlong_name_is_refused)
{
	char name[VIGIL_NAME_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	errno = 0;
	cr_expect_null(registry_add(&r, name, strlen(name)));
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(r.count, 0);

	struct worker *w = registry_add(&r, name, VIGIL_NAME_MAX);
	cr_assert_not_null(w, "%d characters are fine", VIGIL_NAME_MAX);
	cr_expect_eq(strlen(w->name), VIGIL_NAME_MAX);
	cr_expect_eq(registry_find(&r, name, VIGIL_NAME_MAX), w);
}

Test(registry, list_is_sorted_by_name)
{
	const char *names[] = {"m", "b", "z", "a", "web-10", "web-2", "B"};
	const char *sorted[] = {"B", "a", "b", "m", "web-10", "web-2", "z"};
	struct worker *out[8];

	for (size_t i = 0; i < 7; i++)
		add(names[i]);
	memset(out, 0, sizeof(out));
	size_t n = registry_list(&r, out, 8);
	cr_assert_eq(n, 7);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(out[i]->name, sorted[i], "position %zu", i);
	cr_expect_null(out[7], "wrote past the workers");

	memset(out, 0, sizeof(out));
	cr_expect_eq(registry_list(&r, out, 2), 2, "the cap is respected");
	cr_expect_null(out[2], "wrote past the cap");
	cr_assert_not_null(out[0]);
	cr_assert_not_null(out[1]);
	cr_expect_lt(strcmp(out[0]->name, out[1]->name), 0, "%s before %s", out[0]->name,
	             out[1]->name);
}

Test(registry, empty_list)
{
	struct worker *out[1] = {NULL};

	cr_expect_eq(registry_list(&r, out, 1), 0);
	cr_expect_null(out[0]);
	cr_expect_eq(registry_list(&r, NULL, 0), 0);
}

/* Many names in a table sized for them: every one found, none confused, removal keeps chains. */
Test(registry, ten_thousand_workers)
{
	struct registry big;
	char name[32];

	cr_assert_eq(registry_init(&big, BIG), 0);
	for (int i = 0; i < BIG; i++) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = registry_add(&big, name, strlen(name));
		cr_assert_not_null(w, "add %s: %s", name, strerror(errno));
		w->core.last_seq = (uint64_t)i;
	}
	cr_expect_eq(big.count, BIG);
	for (int i = 0; i < BIG; i++) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = find(&big, name);
		cr_assert_not_null(w, "%s not found", name);
		cr_assert_eq(w->core.last_seq, (uint64_t)i, "%s found the wrong worker", name);
	}
	errno = 0;
	cr_expect_null(registry_add(&big, "one-more", 8));
	cr_expect_eq(errno, ENOSPC);

	/* Remove every odd one: heads, middles and tails of hash chains alike. */
	for (int i = 1; i < BIG; i += 2) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = find(&big, name);
		cr_assert_not_null(w, "%s not found", name);
		registry_remove(&big, w);
	}
	cr_expect_eq(big.count, BIG / 2);
	for (int i = 0; i < BIG; i++) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = find(&big, name);
		if (i % 2) {
			cr_assert_null(w, "%s still found after removal", name);
		} else {
			cr_assert_not_null(w, "%s lost when a neighbour was removed", name);
			cr_assert_eq(w->core.last_seq, (uint64_t)i);
		}
	}
	registry_free(&big);
	cr_expect_null(big.buckets);
	cr_expect_eq(big.count, 0);
}

/* A worker's timer is freed with it: the base has nothing pending afterwards. */
Test(registry, timer_goes_with_its_worker)
{
	struct event_base *base = event_base_new();
	struct timeval tv = {3600, 0};

	cr_assert_not_null(base);
	struct worker *a = add("a");
	struct worker *b = add("b");
	cr_assert_eq(evtimer_assign(a->timer, base, NULL, NULL), 0);
	cr_assert_eq(evtimer_assign(b->timer, base, NULL, NULL), 0);
	evtimer_add(a->timer, &tv);
	evtimer_add(b->timer, &tv);
	cr_assert_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 2);

	registry_remove(&r, a);
	cr_expect_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1,
	             "remove left the worker's timer pending");
	registry_free(&r);
	cr_expect_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0,
	             "free left a worker's timer pending");
	event_base_free(base);
	cr_assert_eq(registry_init(&r, 8), 0); /* for teardown */
}

Test(registry, row_reflects_the_worker)
{
	struct worker *w = add("web-1");
	struct vigil_status_row row;
	uint64_t now = 50000000;

	w->core.state = WORKER_DEAD;
	w->core.pid = 4242;
	w->core.last_seq = 17;
	w->core.missed = 2;
	w->core.timeouts = 5;
	w->core.heartbeats = 99;
	w->core.restarts = 1;
	w->core.last_hb = now - 1250000;
	w->core.timeout = 600000;
	w->core.interval = 200000;
	w->owner = 1000;
	cr_assert_eq(registry_set_status(w, "draining", 8), 0);
	memset(&row, 0x5a, sizeof(row));
	registry_row(w, now, &row);

	cr_expect_str_eq(row.name, "web-1");
	cr_expect_str_eq(row.state, "dead");
	cr_expect_eq(row.pid, 4242);
	cr_expect_eq(row.last_seq, 17);
	cr_expect_eq(row.missed, 2);
	cr_expect_eq(row.timeouts, 5);
	cr_expect_eq(row.heartbeats, 99);
	cr_expect_eq(row.restarts, 1);
	cr_expect_float_eq(row.silent_s, 1.25, 1e-9);
	cr_expect_eq(row.timeout_ms, 600);
	cr_expect_eq(row.interval_ms, 200);
	cr_expect_eq(row.uid, 1000, "the owning uid");
	cr_expect_str_eq(row.status, "draining");
}

/* The row is a view at time now: the state name and the silence follow the clock. */
Test(registry, row_follows_the_clock)
{
	struct worker *w = add("web-1");
	struct vigil_status_row row;
	uint64_t hb = 50000000;

	w->core.state = WORKER_ALIVE;
	w->core.last_hb = hb;
	w->core.timeout = 600000;
	w->core.interval = 100000;

	registry_row(w, hb + 150000, &row);
	cr_expect_str_eq(row.state, "alive");
	cr_expect_float_eq(row.silent_s, 0.15, 1e-9);

	registry_row(w, hb + 450000, &row);
	cr_expect_str_eq(row.state, "late", "silent 450 ms with a 100 ms interval");
	cr_expect_float_eq(row.silent_s, 0.45, 1e-9);

	registry_row(w, hb - 1000, &row); /* a clock read before the heartbeat was stored */
	cr_expect_float_eq(row.silent_s, 0.0, 1e-12, "negative silence: %f", row.silent_s);

	w->core.state = WORKER_STOPPED;
	registry_row(w, hb + 3600000000ULL, &row);
	cr_expect_str_eq(row.state, "stopped");
	cr_expect_float_eq(row.silent_s, 3600.0, 1e-6);
}

/* The longest name and status text survive the copy into a row whole and terminated. */
Test(registry, row_keeps_the_longest_name_and_status)
{
	char name[VIGIL_NAME_MAX + 1];
	struct vigil_status_row row;

	memset(name, 'n', VIGIL_NAME_MAX);
	name[VIGIL_NAME_MAX] = '\0';
	char text[VIGIL_STATUS_TEXT_MAX];
	struct worker *w = add(name);
	memset(text, 's', sizeof(text));
	cr_assert_eq(registry_set_status(w, text, sizeof(text)), 0);
	registry_row(w, 0, &row);

	cr_expect_str_eq(row.name, name);
	cr_expect_eq(strlen(row.status), VIGIL_STATUS_TEXT_MAX);
	cr_expect_str_eq(row.status, w->status);
	cr_expect_str_eq(row.state, "new");
}

/* The address is copied to size, replaced when it changes, and freed with the worker. */
Test(registry, address_kept_to_size)
{
	struct worker *w = add("web-1");
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "/run/vigil/web-1.sock"};
	struct sockaddr_un b = {.sun_family = AF_UNIX, .sun_path = "/run/vigil/web-1b.sock"};
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
	socklen_t blen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(b.sun_path) + 1);

	cr_assert_eq(registry_set_addr(w, &a, alen), 0);
	cr_assert_not_null(w->addr);
	cr_expect_eq(w->addrlen, alen);
	cr_expect_str_eq(w->addr->sun_path, a.sun_path);
	cr_expect_lt(malloc_usable_size(w->addr), sizeof(struct sockaddr_un),
		     "a short path must not cost a whole sockaddr_un");
	const struct sockaddr_un *kept = w->addr;
	cr_assert_eq(registry_set_addr(w, &a, alen), 0);
	cr_expect_eq(w->addr, kept, "the same address is not copied again");
	cr_assert_eq(registry_set_addr(w, &b, blen), 0);
	cr_expect_eq(w->addrlen, blen);
	cr_expect_str_eq(w->addr->sun_path, b.sun_path);
	/* An abstract address: a leading NUL, the rest counted by its length. */
	struct sockaddr_un c = {.sun_family = AF_UNIX, .sun_path = "\0abs\0x"};
	socklen_t clen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 6);
	cr_assert_eq(registry_set_addr(w, &c, clen), 0);
	cr_expect_eq(memcmp(w->addr->sun_path, "\0abs\0x", 6), 0);
}

/* Peer text is cut to VIGIL_STATUS_TEXT_MAX; valid UTF-8 kept, control and invalid bytes '?'. */
Test(registry, status_is_cut_and_sanitized)
{
	struct worker *w = add("web-1");
	char longtext[VIGIL_STATUS_TEXT_MAX + 50];

	cr_assert_eq(registry_set_status(w, "ok\x1b[2J\x7f\xc3\xa9!", 10), 0);
	cr_expect_str_eq(w->status, "ok?[2J?\xc3\xa9!", "'%s'", w->status);
	/* café ☕, as a program would write it. */
	static const char cafe[] = "caf\xc3\xa9 " "\xe2\x98\x95";
	cr_assert_eq(registry_set_status(w, cafe, strlen(cafe)), 0);
	cr_expect_str_eq(w->status, cafe, "'%s'", w->status);
	/* Invalid: a stray continuation, an overlong '/', a surrogate, a cut sequence, a C1 control. */
	static const char bad[] = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xc2\x9b" "e\xe2\x98";
	cr_assert_eq(registry_set_status(w, bad, strlen(bad)), 0);
	cr_expect_str_eq(w->status, "a?b??c???d?e?" "?", "'%s'", w->status);
	/* Cut at the limit, never inside a character. */
	memset(longtext, 'x', sizeof(longtext));
	memcpy(longtext + VIGIL_STATUS_TEXT_MAX - 1, "\xe2\x98\x95", 3);
	cr_assert_eq(registry_set_status(w, longtext, sizeof(longtext)), 0);
	cr_expect_eq(strlen(w->status), VIGIL_STATUS_TEXT_MAX - 1, "%zu bytes kept",
		     strlen(w->status));
	memset(longtext, 'x', sizeof(longtext));
	cr_assert_eq(registry_set_status(w, longtext, sizeof(longtext)), 0);
	cr_expect_eq(strlen(w->status), VIGIL_STATUS_TEXT_MAX);
	cr_assert_eq(registry_set_status(w, "", 0), 0);
	cr_expect_str_eq(w->status, "");

	struct vigil_status_row row;
	cr_assert_eq(registry_set_status(w, "serving", 7), 0);
	registry_row(w, 0, &row);
	cr_expect_str_eq(row.status, "serving");
	registry_row(add("quiet"), 0, &row);
	cr_expect_str_eq(row.status, "", "a worker that never sent STATUS= shows none");
}

/*
 * The memory target (docs/PERFORMANCE.md): at most 512 bytes per worker, its
 * bucket share included, for a worker with the longest name and a typical
 * socket path, its timer assigned; and a long name costs no more than its bytes.
 */
Test(registry, a_worker_fits_in_512_bytes)
{
	struct registry big;
	struct event_base *base = event_base_new();
	char name[VIGIL_NAME_MAX + 1];
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "/run/vigil/workers/"};

	cr_assert_not_null(base);
	cr_assert_eq(registry_init(&big, 1000000), 0);
	memset(name, 'n', VIGIL_NAME_MAX);
	name[VIGIL_NAME_MAX] = '\0';
	memcpy(a.sun_path + strlen(a.sun_path), name, 60);
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);

	struct worker *lng = registry_add(&big, name, VIGIL_NAME_MAX);
	struct worker *shrt = registry_add(&big, "w", 1);
	cr_assert(lng != NULL && shrt != NULL);
	/* Names are stored to size: the short one saves all but malloc's rounding. */
	size_t saved = registry_footprint(&big, lng) - registry_footprint(&big, shrt);
	cr_expect_geq(saved, VIGIL_NAME_MAX - 1 - 16, "a 1-byte name saves only %zu bytes", saved);
	cr_assert_eq(evtimer_assign(lng->timer, base, NULL, NULL), 0);
	cr_assert_eq(registry_set_addr(lng, &a, alen), 0);
	size_t bytes = registry_footprint(&big, lng);
	cr_expect_leq(bytes, 512, "a worker holds %zu bytes", bytes);

	/* The status text, when a worker sends one, is the one thing that grows it. */
	cr_assert_eq(registry_set_status(lng, "ok", 2), 0);
	cr_expect_leq(registry_footprint(&big, lng), 512 + VIGIL_STATUS_TEXT_MAX + 16);
	registry_free(&big);
	event_base_free(base);
}

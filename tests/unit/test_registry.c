/*
 * test_registry.c: the worker table. Workers here have no timer (NULL),
 * which registry_free and registry_remove accept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "registry.h"

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
add(const char *name)
{
	struct worker *w = registry_add(&r, name, strlen(name));
	cr_assert_not_null(w, "add %s: %s", name, strerror(errno));
	return w;
}

Test(registry, add_then_find)
{
	struct worker *a = add("web-1");
	struct worker *b = add("web-2");

	cr_expect_eq(registry_find(&r, "web-1", 5), a);
	cr_expect_eq(registry_find(&r, "web-2", 5), b);
	cr_expect_null(registry_find(&r, "web-3", 5));
	cr_expect_null(registry_find(&r, "web", 3), "a prefix is not a match");
	cr_expect_null(registry_find(&r, "web-10", 6), "a longer name is not a match");
	cr_expect_eq(r.count, 2);
	cr_expect_str_eq(a->name, "web-1");
	cr_expect_eq(a->core.state, WORKER_NEW, "a new worker starts zeroed");
	cr_expect_null(a->timer);
}

/* Names arrive as slices of a datagram, not NUL-terminated. */
Test(registry, find_by_slice)
{
	struct worker *a = add("db");
	const char datagram[] = "WORKER=dbx";

	cr_expect_eq(registry_find(&r, datagram + 7, 2), a);
	cr_expect_null(registry_find(&r, datagram + 7, 3));
}

Test(registry, full_refuses_new_names_only)
{
	char name[16];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		add(name);
	}
	errno = 0;
	cr_expect_null(registry_add(&r, "w8", 2));
	cr_expect_eq(errno, ENOSPC, "errno %d", errno);
	cr_expect_eq(r.count, 8);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		cr_expect_not_null(registry_find(&r, name, strlen(name)), "%s lost", name);
	}
}

Test(registry, remove_frees_a_slot)
{
	char name[16];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		add(name);
	}
	registry_remove(&r, registry_find(&r, "w3", 2));
	cr_expect_eq(r.count, 7);
	cr_expect_null(registry_find(&r, "w3", 2));
	cr_expect_not_null(registry_find(&r, "w4", 2), "a neighbour was removed too");
	add("w8");
	cr_expect_eq(r.count, 8);
	registry_remove(&r, registry_find(&r, "w8", 2));
	struct worker *again = add("w8");
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
	cr_expect_not_null(registry_add(&r, name, VIGIL_NAME_MAX), "64 characters are fine");
}

Test(registry, list_is_sorted_by_name)
{
	const char *names[] = {"m", "b", "z", "a", "web-10", "web-2"};
	const char *sorted[] = {"a", "b", "m", "web-10", "web-2", "z"};
	struct worker *out[8];

	for (size_t i = 0; i < 6; i++)
		add(names[i]);
	size_t n = registry_list(&r, out, 8);
	cr_assert_eq(n, 6);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(out[i]->name, sorted[i], "position %zu", i);
	cr_expect_eq(registry_list(&r, out, 2), 2, "the cap is respected");
}

Test(registry, empty_list)
{
	cr_expect_eq(registry_list(&r, NULL, 0), 0);
}

/* Many names in a table sized for them: every one found, none confused. */
Test(registry, ten_thousand_workers)
{
	struct registry big;
	char name[32];

	cr_assert_eq(registry_init(&big, 10000), 0);
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = registry_add(&big, name, strlen(name));
		cr_assert_not_null(w, "add %s", name);
		w->core.last_seq = (uint64_t)i;
	}
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "worker-%05d", i);
		struct worker *w = registry_find(&big, name, strlen(name));
		cr_assert_not_null(w, "%s not found", name);
		cr_assert_eq(w->core.last_seq, (uint64_t)i, "%s found the wrong worker", name);
	}
	cr_expect_null(registry_add(&big, "one-more", 8));
	registry_free(&big);
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
	strcpy(w->status, "draining");
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
	cr_expect_str_eq(row.status, "draining");
}

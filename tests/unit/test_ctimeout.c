/*
 * test_ctimeout.c: common timeouts by duration, on a real libevent base.
 */
#include <criterion/criterion.h>
#include <event2/event.h>

#include "ctimeout.h"
#include "duration.h"

static struct event_base *base;
static struct ctimeout_table table;

static void
setup(void)
{
	struct event_config *cfg = event_config_new();

	cr_assert_not_null(cfg);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	cr_assert_not_null(base);
	ctimeout_init(&table, base);
}

static void
teardown(void)
{
	event_base_free(base);
}

TestSuite(ctimeout, .init = setup, .fini = teardown);

Test(ctimeout, one_per_duration)
{
	const struct timeval *a = ctimeout_get(&table, 600000);
	const struct timeval *b = ctimeout_get(&table, 1000000);

	cr_assert(a != NULL && b != NULL);
	cr_expect_neq(a, b);
	cr_expect_eq(ctimeout_get(&table, 600000), a, "the same duration, the same queue");
	cr_expect_eq(ctimeout_get(&table, 1000000), b);
	cr_expect_eq(table.count, 2);
	cr_expect_null(ctimeout_get(&table, 0), "no queue for a zero delay");
	cr_expect_eq(table.count, 2);
}

/* libevent allows 256 per base: the 257th duration is refused, the others still served. */
Test(ctimeout, full_table_falls_back)
{
	const struct timeval *first[CTIMEOUT_MAX];

	for (uint64_t i = 0; i < CTIMEOUT_MAX; i++) {
		first[i] = ctimeout_get(&table, (i + 1) * 1000);
		cr_assert_not_null(first[i], "duration %llu ms refused", (unsigned long long)i + 1);
	}
	cr_expect_null(ctimeout_get(&table, 999999999), "a 257th duration");
	cr_expect_eq(table.count, CTIMEOUT_MAX);
	for (uint64_t i = 0; i < CTIMEOUT_MAX; i++)
		cr_expect_eq(ctimeout_get(&table, (i + 1) * 1000), first[i]);
}

static void
fired_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(uint64_t *)arg = vigil_now_usec();
}

struct readd {
	struct event *ev;
	const struct timeval *ctv;
	uint64_t at;
};

/* What a heartbeat does: the same timeout again, from now. */
static void
readd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct readd *r = arg;
	(void)fd;
	(void)what;
	r->at = vigil_now_usec();
	/* After our clock read, as the supervisor does: the deadline is at or after it. */
	event_base_update_cache_time(event_get_base(r->ev));
	event_add(r->ev, r->ctv);
}

/*
 * An event added through a common timeout fires no earlier than its delay
 * after the add, and re-adding it moves its deadline a full delay from the
 * re-add: behind one added earlier to the same queue.
 */
Test(ctimeout, fires_after_the_delay_and_readd_moves_it)
{
	uint64_t a_at = 0, b_at = 0;
	const struct timeval *ctv = ctimeout_get(&table, 40000);
	struct timeval at20 = {0, 20000};

	cr_assert_not_null(ctv);
	struct event *a = evtimer_new(base, fired_cb, &a_at);
	struct event *b = evtimer_new(base, fired_cb, &b_at);
	struct readd r = {.ev = a, .ctv = ctv};
	struct event *trigger = evtimer_new(base, readd_cb, &r);
	cr_assert(a != NULL && b != NULL && trigger != NULL);

	uint64_t t0 = vigil_now_usec();
	event_base_update_cache_time(base);
	event_add(a, ctv);
	event_add(b, ctv);
	event_add(trigger, &at20);
	cr_assert_eq(event_base_dispatch(base), 1, "the loop must end with nothing pending");

	cr_assert_neq(r.at, 0, "the re-add never ran");
	cr_expect_geq(b_at, t0 + 40000, "b fired %lld us early", (long long)(t0 + 40000 - b_at));
	cr_expect_geq(a_at, r.at + 40000, "a fired %lld us before its moved deadline",
		      (long long)(r.at + 40000 - a_at));
	cr_expect_gt(a_at, b_at, "a, re-added, must fire after b");
	event_free(a);
	event_free(b);
	event_free(trigger);
}

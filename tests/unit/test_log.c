/*
 * test_log.c: the rate limiter of lines a peer can trigger (common/log.c):
 * a burst per interval, a new window after it, and a time earlier than the
 * window's start (a heartbeat's arrival stamp, older than the last line's
 * time) counted in the current window, never taken for a new one.
 */
#include <stdint.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "log.h"

#define SEC 1000000ULL

static void
quiet(void)
{
	log_init("test_log", LOG_LEVEL_DEBUG);
	cr_redirect_stderr();
}

TestSuite(log_ratelimited, .init = quiet);

Test(log_ratelimited, a_burst_then_nothing_until_the_interval_ends)
{
	struct log_ratelimit rl = {.interval_usec = SEC, .burst = 2};

	cr_assert_eq(log_ratelimited(&rl, 10 * SEC, LOG_LEVEL_INFO, "one"), 1);
	cr_assert_eq(log_ratelimited(&rl, 10 * SEC + 1, LOG_LEVEL_INFO, "two"), 1);
	cr_assert_eq(log_ratelimited(&rl, 10 * SEC + 2, LOG_LEVEL_INFO, "three"), 0);
	cr_assert_eq(rl.suppressed, 1);
	cr_assert_eq(log_ratelimited(&rl, 11 * SEC - 1, LOG_LEVEL_INFO, "four"), 0);
	cr_assert_eq(log_ratelimited(&rl, 11 * SEC, LOG_LEVEL_INFO, "five"), 1);
	cr_assert_eq(rl.suppressed, 0, "the line written says how many were dropped, then counts anew");
}

Test(log_ratelimited, an_earlier_time_stays_in_the_current_window)
{
	struct log_ratelimit rl = {.interval_usec = SEC, .burst = 1};

	cr_assert_eq(log_ratelimited(&rl, 10 * SEC, LOG_LEVEL_INFO, "one"), 1);
	/* Unsigned now - window would wrap and open a new window. */
	cr_assert_eq(log_ratelimited(&rl, 10 * SEC - 500, LOG_LEVEL_INFO, "earlier"), 0);
	cr_assert_eq(log_ratelimited(&rl, 9 * SEC, LOG_LEVEL_INFO, "much earlier"), 0);
	cr_assert_eq(rl.suppressed, 2);
}

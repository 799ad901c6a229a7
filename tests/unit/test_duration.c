/*
 * test_duration.c: durations (common/duration.c): the accept and reject
 * tables of vigil_duration_parse, exact formatting, parse(format(x)) == x,
 * and the monotonic clock.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "duration.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Criterion runs each test in a fresh process and copies the parameter
 * array into it, so parameters hold their strings inline: a pointer to a
 * string literal would not survive the copy.
 */
#define CASE_MAX 32

#define MS VIGIL_USEC_PER_MSEC
#define SEC VIGIL_USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

TestSuite(duration_parse);
TestSuite(duration_format);
TestSuite(duration_clock);

/* ---- parse ---- */

struct parse_ok_case {
	char in[CASE_MAX];
	uint64_t usec;
};

ParameterizedTestParameters(duration_parse, accepts)
{
	static struct parse_ok_case cases[] = {
	    {"250ms", 250 * MS},
	    {"3s", 3 * SEC},
	    {"1.5s", 1500 * MS},
	    {"2min", 2 * MIN},
	    {"1h", HOUR},
	    {"500us", 500},
	    {"0s", 0},
	    {"0.001s", 1 * MS},
	    {"1.25min", 75 * SEC},
	    {"0us", 0},
	    {"1us", 1},
	    {"1.5ms", 1500},
	    {"0.5h", 30 * MIN},
	    {"10.000001s", 10 * SEC + 1},
	    {"0.0010ms", 1}, /* exact, though the fraction has four digits */
	    {"1.500000s", 1500 * MS},
	    {"90s", 90 * SEC},
	    {"86400s", 24 * HOUR},
	    {"18446744073709551615us", UINT64_MAX},
	    {"18446744073709.551615s", UINT64_MAX},
	    {"5124095576h", 5124095576ULL * HOUR}, /* the largest whole number of hours */
	    {"1.1234567h", 4044444120ULL},          /* seven fraction digits of an hour count */
	    {"0.0000001h", 360},
	    {"0.0000001min", 6},
	    {"1.000000000000s", SEC},              /* trailing zeros beyond nine digits */
	};

	return cr_make_param_array(struct parse_ok_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct parse_ok_case *c, duration_parse, accepts)
{
	uint64_t usec = 0xdeadbeef;
	const char *why = NULL;

	cr_assert_eq(vigil_duration_parse(c->in, &usec, &why), 0, "parse(\"%s\") failed: %s",
		     c->in, why != NULL ? why : "(no reason)");
	cr_expect_eq(usec, c->usec, "parse(\"%s\") = %llu us, expected %llu", c->in,
		     (unsigned long long)usec, (unsigned long long)c->usec);
}

struct parse_bad_case {
	char in[CASE_MAX];
	char why_has[CASE_MAX]; /* a phrase the reason must contain, or "" */
};

ParameterizedTestParameters(duration_parse, rejects)
{
	static struct parse_bad_case cases[] = {
	    {"", ""},
	    {"abc", ""},
	    {"-1s", ""},
	    {"+1s", ""},
	    {"5", "missing unit"},
	    {"1.5", "missing unit"},
	    {"5sec", "unit"},
	    {"5m", "unit"},
	    {"5S", "unit"},
	    {"5 s", "unit"},
	    {" 5s", ""},
	    {"5s ", "unit"},
	    {"5s5", "unit"},
	    {"1e3s", "unit"},
	    {"s", ""},
	    {"1.s", ""},
	    {".5s", ""},
	    {"1..5s", ""},
	    {"1.5.5s", ""},
	    {"99999999999999999999s", "too large"},
	    {"18446744073709551616us", "too large"},
	    {"18446744073709551615h", "too large"},
	    {"18446744073709551615ms", "too large"},
	    {"5124095577h", "too large"},
	    {"5124095576.1h", "too large"}, /* the fraction is what overflows */
	    {"18446744073709.551616s", "too large"}, /* UINT64_MAX + 1 */
	    {"1.5us", "finer than a microsecond"},
	    {"0.9us", "finer than a microsecond"},
	    {"0.0001ms", "finer than a microsecond"},
	    {"1.0000000001s", "finer than a microsecond"},
	};

	return cr_make_param_array(struct parse_bad_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct parse_bad_case *c, duration_parse, rejects)
{
	uint64_t usec = 0xdeadbeef;
	const char *why = NULL;

	cr_assert_eq(vigil_duration_parse(c->in, &usec, &why), -1,
		     "parse(\"%s\") accepted as %llu us", c->in, (unsigned long long)usec);
	cr_assert_not_null(why, "parse(\"%s\") gave no reason", c->in);
	cr_expect_gt(strlen(why), 0, "parse(\"%s\") gave an empty reason", c->in);
	if (c->why_has[0] != '\0')
		cr_expect_not_null(strstr(why, c->why_has),
				   "parse(\"%s\"): reason \"%s\" lacks \"%s\"", c->in, why,
				   c->why_has);
}

/* ---- format ---- */

struct format_case {
	uint64_t usec;
	char text[CASE_MAX];
};

ParameterizedTestParameters(duration_format, exact)
{
	static struct format_case cases[] = {
	    {1500 * MS, "1.5s"},
	    {250 * MS, "250ms"},
	    {2 * MIN, "2min"},
	    {0, "0s"},
	    {1500, "1500us"},
	    {SEC, "1s"},
	    {1250 * MS, "1.25s"},
	    {1, "1us"},
	    {999, "999us"},
	    {MS, "1ms"},
	    {999 * MS, "999ms"},
	    {1050 * MS, "1.05s"},
	    {1005 * MS, "1.005s"},
	    {SEC + 1, "1000001us"},
	    {90 * SEC, "90s"},
	    {61500 * MS, "61.5s"},
	    {MIN, "1min"},
	    {HOUR, "60min"},
	    {UINT64_MAX, "18446744073709551615us"},
	};

	return cr_make_param_array(struct format_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct format_case *c, duration_format, exact)
{
	char buf[64];

	memset(buf, 'Z', sizeof(buf));
	vigil_duration_format(c->usec, buf, sizeof(buf));
	cr_assert_not_null(memchr(buf, '\0', sizeof(buf)), "format(%llu) not terminated",
			   (unsigned long long)c->usec);
	cr_expect_str_eq(buf, c->text, "format(%llu) = \"%s\", expected \"%s\"",
			 (unsigned long long)c->usec, buf, c->text);
}

Test(duration_format, respects_cap)
{
	char buf[16];

	memset(buf, 'Z', sizeof(buf));
	vigil_duration_format(UINT64_MAX, buf, 5);
	cr_expect_eq(strlen(buf), 4, "\"%s\" in a 5-byte buffer", buf);
	cr_expect_eq(strncmp(buf, "1844", 4), 0, "\"%s\" in a 5-byte buffer", buf);
	for (size_t i = 5; i < sizeof(buf); i++)
		cr_expect_eq(buf[i], 'Z', "byte %zu past cap overwritten", i);
}

/* ---- parse(format(x)) == x ---- */

/*
 * Format x, parse the text back, and expect x again. Only a failure is
 * reported: the sweep below makes too many checks to send each to the runner.
 */
static void
expect_round_trip(uint64_t x)
{
	char buf[64];
	uint64_t back = 0;
	const char *why = NULL;

	vigil_duration_format(x, buf, sizeof(buf));
	if (vigil_duration_parse(buf, &back, &why) != 0)
		cr_assert_fail("format(%llu) = \"%s\", which parse rejects: %s",
			       (unsigned long long)x, buf, why != NULL ? why : "(no reason)");
	if (back != x)
		cr_assert_fail("format(%llu) = \"%s\", parsed back as %llu", (unsigned long long)x,
			       buf, (unsigned long long)back);
}

struct round_trip_case {
	uint64_t usec;
};

ParameterizedTestParameters(duration_format, round_trip)
{
	static struct round_trip_case cases[] = {
	    {0},
	    {1},
	    {999},
	    {MS},
	    {1500},
	    {999999},
	    {SEC},
	    {SEC + 1},
	    {1250 * MS},
	    {1500 * MS},
	    {59999999},
	    {MIN},
	    {61500 * MS},
	    {90 * SEC},
	    {HOUR},
	    {HOUR + MS},
	    {24 * HOUR},
	    {UINT64_MAX},
	    {UINT64_MAX - UINT64_MAX % MS},  /* the largest value printed in seconds */
	    {UINT64_MAX - UINT64_MAX % MIN}, /* the largest value printed in minutes */
	};

	return cr_make_param_array(struct round_trip_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct round_trip_case *c, duration_format, round_trip)
{
	expect_round_trip(c->usec);
}

Test(duration_format, round_trip_sweep)
{
	/* Every unit boundary and the values either side, then a pseudo-random spread. */
	static const uint64_t scale[] = {1, MS, SEC, MIN, HOUR};
	uint64_t x = 88172645463325252ULL;

	for (size_t i = 0; i < ARRAY_LEN(scale); i++)
		for (uint64_t k = 1; k <= 1000; k++) {
			expect_round_trip(k * scale[i] - 1);
			expect_round_trip(k * scale[i]);
			expect_round_trip(k * scale[i] + 1);
		}
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		expect_round_trip(x);
		expect_round_trip(x >> (i % 64));
		expect_round_trip((x >> (i % 40)) / MS * MS);
	}
}

/* ---- the clock ---- */

static uint64_t
mono_usec(void)
{
	struct timespec ts;

	cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

Test(duration_clock, monotonic_non_decreasing)
{
	uint64_t prev = vigil_now_usec();

	for (int i = 0; i < 100000; i++) {
		uint64_t now = vigil_now_usec();

		if (now < prev)
			cr_assert_fail("call %d: %llu after %llu", i, (unsigned long long)now,
				       (unsigned long long)prev);
		prev = now;
	}
}

Test(duration_clock, is_clock_monotonic)
{
	uint64_t before = mono_usec();
	uint64_t now = vigil_now_usec();
	uint64_t after = mono_usec();

	cr_expect_geq(now, before, "vigil_now_usec %llu before CLOCK_MONOTONIC %llu",
		      (unsigned long long)now, (unsigned long long)before);
	cr_expect_leq(now, after, "vigil_now_usec %llu after CLOCK_MONOTONIC %llu",
		      (unsigned long long)now, (unsigned long long)after);
}

Test(duration_clock, advances_with_time)
{
	struct timespec nap = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
	uint64_t start = vigil_now_usec();

	while (nanosleep(&nap, &nap) != 0)
		;
	uint64_t elapsed = vigil_now_usec() - start;

	cr_expect_geq(elapsed, 5 * MS, "a 5 ms sleep measured %llu us",
		      (unsigned long long)elapsed);
	cr_expect_lt(elapsed, 5 * SEC, "a 5 ms sleep measured %llu us",
		     (unsigned long long)elapsed);
}

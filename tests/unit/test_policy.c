/*
 * test_policy.c: --on-timeout ladders, and the process start time that
 * guards a signal against a reused pid.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "identity.h"
#include "policy.h"

static struct policy p;
static char err[256];

/* The signal the policy sends at MISSED m; 0 for none (or for a hook). */
static int
sig_at(uint64_t m)
{
	const struct policy_step *st = policy_step_at(&p, m);
	return st != NULL ? st->sig : 0;
}

Test(policy, notify_alone_has_no_steps)
{
	cr_assert_eq(policy_parse("notify", &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(p.n, 0);
	for (uint64_t m = 1; m < 10; m++)
		cr_expect_eq(sig_at(m), 0);
	char d[64];
	policy_describe(&p, d, sizeof(d));
	cr_expect_str_eq(d, "notify");
}

Test(policy, a_ladder)
{
	cr_assert_eq(policy_parse("notify,signal:TERM@2,signal:SIGKILL@4", &p, err, sizeof(err)), 0,
	             "%s", err);
	cr_assert_eq(p.n, 2);
	cr_expect_eq(sig_at(1), 0);
	cr_expect_eq(sig_at(2), SIGTERM);
	cr_expect_eq(sig_at(3), 0);
	cr_expect_eq(sig_at(4), SIGKILL);
	cr_expect_eq(sig_at(8), 0, "each step once, at its own MISSED");
	char d[64];
	policy_describe(&p, d, sizeof(d));
	cr_expect_str_eq(d, "signal:TERM@2,signal:KILL@4");
	/* Names in any case, with or without SIG. */
	cr_assert_eq(policy_parse("signal:usr1@1", &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sig_at(1), SIGUSR1);
}

static const struct {
	const char *text;
	const char *why; /* a piece of the error */
} bad[] = {
    {"", "unknown step ''"},
    {"kill", "unknown step 'kill'"},
    {"notify,", "unknown step ''"},
    {"signal:", "unknown step 'signal:'"},
    {"signal:TERM", "needs @N"},
    {"signal:@2", "unknown signal ''"},
    {"signal:FOO@2", "unknown signal 'FOO'"},
    {"signal:SEGV@2", "unknown signal 'SEGV'"},
    {"signal:9@2", "unknown signal '9'"},
    {"signal:TERM@0", "'0' after @"},
    {"signal:TERM@-1", "'-1' after @"},
    {"signal:TERM@1000001", "'1000001' after @"},
    {"signal:TERM@", "'' after @"},
    {"signal:TERM@2x", "'2x' after @"},
    {"signal:TERM@3,signal:KILL@3", "higher MISSED"},
    {"signal:TERM@3,signal:KILL@2", "higher MISSED"},
    {"exec:", "unknown step 'exec:'"},
    {"exec:bin/page", "needs an absolute path"},
    {"exec:@2", "needs an absolute path"},
    {"exec:/bin/page@0", "'0' after @"},
    {"exec:/bin/page@1,signal:KILL@1", "higher MISSED"},
};

Test(policy, bad_policies_say_why)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(policy_parse(bad[i].text, &p, err, sizeof(err)), -1, "'%s' accepted",
		             bad[i].text);
		cr_expect(strstr(err, bad[i].why) != NULL, "'%s': error '%s', want '%s'",
		          bad[i].text, err, bad[i].why);
	}
}

/* exec:PATH runs at MISSED 1 unless @N says otherwise; '@' may appear in the path. */
Test(policy, exec_steps)
{
	cr_assert_eq(policy_parse("exec:/usr/local/bin/page,signal:TERM@2,exec:/opt/a@b/x@5", &p,
				  err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(p.n, 3);
	const struct policy_step *st = policy_step_at(&p, 1);
	cr_assert_not_null(st);
	cr_expect_eq(st->sig, 0);
	cr_expect_str_eq(st->path, "/usr/local/bin/page");
	cr_expect_eq(sig_at(2), SIGTERM);
	cr_expect_str_eq(policy_step_at(&p, 2)->path, "");
	st = policy_step_at(&p, 5);
	cr_assert_not_null(st);
	cr_expect_str_eq(st->path, "/opt/a@b/x");
	char d[256];
	policy_describe(&p, d, sizeof(d));
	cr_expect_str_eq(d, "exec:/usr/local/bin/page@1,signal:TERM@2,exec:/opt/a@b/x@5");
	/* An '@' not followed by digits only is part of the path. */
	cr_assert_eq(policy_parse("exec:/opt/a@b/x", &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(policy_step_at(&p, 1)->path, "/opt/a@b/x");
	cr_assert_eq(policy_parse("exec:/srv/hook@x", &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(policy_step_at(&p, 1)->path, "/srv/hook@x");
	/* A path too long for the step. */
	char text[400] = "exec:/";
	memset(text + 6, 'a', 300);
	text[306] = '\0';
	cr_expect_eq(policy_parse(text, &p, err, sizeof(err)), -1);
	cr_expect(strstr(err, "longer than 255 bytes") != NULL, "%s", err);
}

Test(policy, at_most_eight_steps)
{
	char text[512] = "";
	for (int i = 1; i <= 9; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof(text) - n, "%ssignal:USR1@%d", i > 1 ? "," : "", i);
		if (i == 8)
			cr_expect_eq(policy_parse(text, &p, err, sizeof(err)), 0, "%s", err);
	}
	cr_expect_eq(policy_parse(text, &p, err, sizeof(err)), -1);
	cr_expect(strstr(err, "more than 8 steps") != NULL, "%s", err);
}

/* Field 22 of /proc/PID/stat, whatever the command name holds. */
Test(policy, start_time_from_stat)
{
	const char *plain = "1234 (sleep) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 "
	                    "987654 2000 100 18446744073709551615";
	const char *tricky = "1234 (a) b) c 9 9) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 "
	                     "0 1 0 55 2000";
	cr_expect_eq(identity_start_time_from_stat(plain, strlen(plain)), 987654);
	cr_expect_eq(identity_start_time_from_stat(tricky, strlen(tricky)), 55);
	cr_expect_eq(identity_start_time_from_stat("1234 (x) S 1", 12), 0, "truncated");
	cr_expect_eq(identity_start_time_from_stat("no parenthesis", 14), 0);
	/* A live process: non-zero, and the same each time; a missing one: 0. */
	uint64_t me = identity_start_time((uint64_t)getpid());
	cr_expect_neq(me, 0);
	cr_expect_eq(identity_start_time((uint64_t)getpid()), me);
	cr_expect_eq(identity_start_time(999999999), 0);
}

Test(policy, intensity_parse)
{
	struct intensity in;

	cr_assert_eq(policy_parse_intensity("5/60s", &in, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(in.max, 5);
	cr_expect_eq(in.window, 60000000ULL);
	cr_assert_eq(policy_parse_intensity("1/1.5s", &in, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(in.window, 1500000ULL);
	const char *wrong[] = {"", "5", "/60s", "0/60s", "x/60s", "5/", "5/60", "5/0s", "1234567/1s",
			       "-1/1s"};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++)
		cr_expect_eq(policy_parse_intensity(wrong[i], &in, err, sizeof(err)), -1,
			     "'%s' accepted", wrong[i]);
}

/* More than R incidents in one fixed window: over; a window after, counting starts again. */
Test(policy, intensity_window)
{
	struct intensity in = {.max = 2, .window = 10000000}; /* 2 in 10 s */
	struct intensity_count c = {0};
	uint64_t t0 = 1000000000;

	cr_expect_eq(policy_incident(&in, &c, t0), 0);
	cr_expect_eq(policy_incident(&in, &c, t0 + 1000000), 0);
	cr_expect_eq(policy_incident(&in, &c, t0 + 9000000), 1, "a third within 10 s");
	cr_expect_eq(policy_incident(&in, &c, t0 + 9500000), 1);
	cr_expect_eq(policy_incident(&in, &c, t0 + 10000000), 0, "the window has passed");
	cr_expect_eq(c.n, 1);
	struct intensity off = {0};
	struct intensity_count c2 = {0};
	for (int i = 0; i < 100; i++)
		cr_expect_eq(policy_incident(&off, &c2, t0 + (uint64_t)i), 0, "no limit set");
}

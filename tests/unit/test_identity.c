/*
 * test_identity.c: naming an sd_notify sender from its /proc/PID/cgroup.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "identity.h"
#include "wire.h"

struct cgroup_case {
	const char *text;
	const char *unit; /* NULL: none */
};

/* Loops, not parameterized tests: Criterion may not share pointers with a test's process. */
static const struct cgroup_case cases[] = {
	    /* cgroup v2 */
	{"0::/system.slice/web.service\n", "web.service"},
	{"0::/system.slice/system-vigil\\x2dworker.slice/vigil-worker@a.service\n",
	 "vigil-worker@a.service"},
	{"0::/system.slice/web.service/payload\n", "web.service"},
	{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/editor.service\n",
	     "editor.service"},
	{"0::/user.slice/user-1000.slice/session-3.scope\n", NULL},
	/* the innermost unit decides: a scope under a service is not that service */
	{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-123.scope\n", NULL},
	{"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", NULL},
	{"0::/init.scope\n", NULL},
	{"0::/\n", NULL},
	{"0::/system.slice/weird\\x2dname.service\n", NULL}, /* not a valid worker name */
	{"0::/system.slice/.service\n", NULL},
	{"0::/system.slice/web.service", "web.service"}, /* no final newline */
	    /* cgroup v1 or hybrid: the name=systemd line, whatever else is there */
	{"12:memory:/system.slice/db.service\n1:name=systemd:/system.slice/web.service\n0::/\n",
	     "web.service"},
	{"9:name=systemd:/\n4:memory:/x.service\n0::/\n", NULL},
	{"5:cpu:/system.slice/db.service\n", NULL}, /* a controller's view is not the unit */
	{"", NULL},
	{"garbage without colons\n", NULL},
	{"0:/system.slice/web.service\n", NULL},
};

Test(identity, unit_from_cgroup)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cgroup_case *c = &cases[i];
		char out[VIGIL_NAME_MAX + 1] = "untouched";
		int rc = identity_unit_from_cgroup(c->text, strlen(c->text), out, sizeof(out));

		if (c->unit == NULL) {
			cr_expect_eq(rc, -1, "%s: found %s", c->text, out);
		} else {
			cr_expect_eq(rc, 0, "%s: no unit found", c->text);
			cr_expect_str_eq(out, c->unit, "%s", c->text);
		}
	}
}

/* A unit name longer than a worker name may be is not taken (pid-PID instead). */
Test(identity, overlong_unit_is_refused)
{
	char text[200], out[VIGIL_NAME_MAX + 1];

	snprintf(text, sizeof(text), "0::/system.slice/%0*d.service\n", VIGIL_NAME_MAX, 7);
	cr_expect_eq(identity_unit_from_cgroup(text, strlen(text), out, sizeof(out)), -1);
}

/* A live process: the unit its cgroup names, or pid-PID; a missing one: no name at all. */
Test(identity, name_of_this_process)
{
	char out[VIGIL_NAME_MAX + 1], want[32];

	cr_assert_eq(identity_name((uint64_t)getpid(), out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "pid-%d", (int)getpid());
	cr_expect(strcmp(out, want) == 0 || strstr(out, ".service") != NULL, "name %s", out);
	cr_expect_eq(identity_name(999999999, out, sizeof(out)), -1,
		     "a process that is gone must not be named pid-N");
}

/* /proc/PID/stat: the state, the parent and the start time, whatever the command's name holds. */
Test(identity, stat_fields)
{
	const char *text = "4242 (a) b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			   "987654 1000 10\n";
	struct identity_stat st;

	cr_assert_eq(identity_stat_parse(text, strlen(text), &st), 0);
	cr_expect_eq(st.state, 'S');
	cr_expect_eq(st.ppid, 17);
	cr_expect_eq(st.start_time, 987654);
	cr_expect_eq(identity_stat_parse("4242 (x", 7, &st), -1, "no ')': malformed");
	/* This process, read live: running, and its parent is ours. */
	cr_assert_eq(identity_stat((uint64_t)getpid(), &st), 0);
	cr_expect_eq(st.ppid, (uint64_t)getppid());
	cr_expect(identity_alive((uint64_t)getpid(), st.start_time));
	cr_expect(!identity_alive((uint64_t)getpid(), st.start_time + 1),
		  "another start time is another process");
}

/* /proc/PID/status: the real and effective uid, from the Uid: line. */
Test(identity, uids)
{
	const char *text = "Name:\tsleep\nUmask:\t0022\nUid:\t65534\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
	uint64_t r = 1, e = 1;

	cr_assert_eq(identity_uids_parse(text, strlen(text), &r, &e), 0);
	cr_expect_eq(r, 65534);
	cr_expect_eq(e, 0);
	cr_expect_eq(identity_uids_parse("Name:\tx\n", 8, &r, &e), -1);
	cr_expect_eq(identity_uids_parse("Uid:\t\n", 6, &r, &e), -1);
	cr_assert_eq(identity_uids((uint64_t)getpid(), &r, &e), 0);
	cr_expect_eq(r, (uint64_t)getuid());
	cr_expect_eq(e, (uint64_t)geteuid());
}

/*
 * A process that started after a datagram arrived cannot have sent it; start
 * times count in ticks (100 a second), so within the arrival's tick nothing is sure.
 */
Test(identity, start_against_arrival)
{
	/* Tick 500 is [5.00 s, 5.01 s). */
	cr_expect_eq(identity_started_vs(500, 100, 4999999), 1, "started after the arrival");
	cr_expect_eq(identity_started_vs(500, 100, 5000000), 0, "the same tick: cannot tell");
	cr_expect_eq(identity_started_vs(500, 100, 5009999), 0, "the same tick: cannot tell");
	cr_expect_eq(identity_started_vs(500, 100, 5010000), -1, "surely before");
	cr_expect_eq(identity_started_vs(500, 0, 0), 0, "no tick rate: cannot tell");
}

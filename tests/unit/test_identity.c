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

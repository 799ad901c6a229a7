/*
 * test_fdbudget.c: the descriptor budget (fdbudget.c): the reserve and the
 * budget for a limit, and acquire/release against the real RLIMIT_NOFILE
 * (Criterion runs each test in its own process: the budget starts afresh).
 */
#include <dirent.h>
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "control.h"
#include "fdbudget.h"
#include "http.h"

#define CLIENTS (CONTROL_MAX_CLIENTS + 1 + HTTP_MAX_CONNECTIONS)
#define RESERVE (CLIENTS + 1 + FDBUDGET_RESERVE_MISC)

static void
keep_clients(void)
{
	fdbudget_keep(CLIENTS);
}

TestSuite(fdbudget, .init = keep_clients);

Test(fdbudget, the_reserve_holds_every_client_and_at_most_half_the_limit)
{
	cr_expect_eq(fdbudget_reserve(1024), RESERVE);
	cr_expect_eq(fdbudget_reserve(524288), RESERVE);
	cr_expect_eq(fdbudget_reserve(2 * RESERVE), RESERVE);
	cr_expect_eq(fdbudget_reserve(64), 32, "a small limit still leaves some to the workers");
	cr_expect_eq(fdbudget_reserve(0), 0);
}

Test(fdbudget, the_budget_is_the_limit_less_the_reserve_less_what_is_open)
{
	cr_expect_eq(fdbudget_compute(1024, 12), 1024 - RESERVE - 12);
	cr_expect_eq(fdbudget_compute(64, 12), 20);
	cr_expect_eq(fdbudget_compute(64, 32), 0);
	cr_expect_eq(fdbudget_compute(64, 60), 0, "more open than the reserve leaves: none");
	cr_expect_eq(fdbudget_compute(0, 0), 0);
}

/* The soft limit set to soft (the hard one kept). */
static void
set_soft(rlim_t soft)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_geq(rl.rlim_max, soft, "the hard limit is below %llu", (unsigned long long)soft);
	rl.rlim_cur = soft;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

Test(fdbudget, init_raises_the_soft_limit_to_the_hard_one)
{
	struct rlimit rl;

	set_soft(64);
	size_t limit = fdbudget_init(0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_expect_eq(rl.rlim_cur, rl.rlim_max);
	cr_expect_eq(limit, (size_t)rl.rlim_cur);
	cr_expect_eq(fdbudget_limit(), limit);
}

/* Descriptors open in this process, as /proc/self/fd lists them (less the listing's own). */
static size_t
open_now(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

Test(fdbudget, acquire_stops_at_the_budget_and_release_gives_back)
{
	set_soft(64);
	size_t nopen = open_now();
	size_t n = 0;
	while (fdbudget_acquire() == 0 && n < 64)
		n++;
	cr_expect_gt(n, 0, "a limit of 64 still watches some");
	cr_expect_eq(n, 64 - 32 - nopen, "64, less half of it, less the %zu open", nopen);
	cr_expect_eq(fdbudget_held(), n);
	cr_expect_eq(fdbudget_limit(), 64);
	cr_expect_eq(fdbudget_acquire(), -1, "still spent");
	fdbudget_release();
	cr_expect_eq(fdbudget_held(), n - 1);
	cr_expect_eq(fdbudget_acquire(), 0, "one given back, one to take");
	for (size_t i = 0; i < n + 5; i++)
		fdbudget_release();
	cr_expect_eq(fdbudget_held(), 0, "never below zero");
}

/*
 * fdbudget.c: the supervisor's descriptors, budgeted. See fdbudget.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>

#include "fdbudget.h"
#include "log.h"

#define FDBUDGET_SCAN_MAX 1024 /* without /proc: descriptors below this are counted */

static struct {
	size_t limit;  /* the soft RLIMIT_NOFILE; 0: not read yet */
	size_t budget; /* what fdbudget_acquire may hand out */
	size_t held;   /* handed out, not given back */
	int counted;   /* the open descriptors are counted: budget is set */
	size_t clients; /* the control plane's connections, kept in the reserve */
	struct rlimit given; /* the limit we were started with, for the programs we start */
	int raised;          /* the soft limit was raised from given's */
} fdb;

/* The soft RLIMIT_NOFILE (descriptors are ints: never more than INT_MAX). */
static size_t
fdbudget_rlimit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024; /* cannot happen; the usual default */
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return INT_MAX;
	return (size_t)rl.rlim_cur;
}

/* Descriptors open now: /proc/self/fd's entries; without /proc, those below FDBUDGET_SCAN_MAX. */
static size_t
fdbudget_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
		return n > 0 ? n - 1 : 0; /* the directory's own descriptor is not ours to count */
	}
	for (int fd = 0; fd < FDBUDGET_SCAN_MAX && (size_t)fd < fdb.limit; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

size_t
fdbudget_reserve(size_t limit)
{
	size_t r = fdb.clients + 1 + FDBUDGET_RESERVE_MISC;

	/* A small limit still leaves some to the workers. */
	return r < limit / 2 ? r : limit / 2;
}

size_t
fdbudget_compute(size_t limit, size_t nopen)
{
	size_t r = fdbudget_reserve(limit);

	return limit > r + nopen ? limit - r - nopen : 0;
}

void
fdbudget_keep(size_t clients)
{
	fdb.clients = clients;
}

size_t
fdbudget_init(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		unsigned long long was = (unsigned long long)rl.rlim_cur;
		fdb.given = rl;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("cannot raise the descriptor limit from %llu to %llu", was,
				 (unsigned long long)rl.rlim_max);
		else
			fdb.raised = 1;
	}
	fdb.limit = fdbudget_rlimit();
	log_debug("descriptors: at most %zu, %zu of them reserved", fdb.limit,
		  fdbudget_reserve(fdb.limit));
	if (want > 0 && fdbudget_compute(fdb.limit, 0) < want)
		log_warnx("--detect-exit: %zu descriptors allowed for up to %zu workers: some will "
			  "not be watched for exit (raise LimitNOFILE=)",
			  fdb.limit, want);
	return fdb.limit;
}

int
fdbudget_acquire(void)
{
	if (!fdb.counted) {
		if (fdb.limit == 0)
			fdb.limit = fdbudget_rlimit();
		size_t nopen = fdbudget_count_open();
		fdb.budget = fdbudget_compute(fdb.limit, nopen);
		fdb.counted = 1;
		log_debug("descriptors: %zu open, %zu reserved of %zu: %zu for exit watches", nopen,
			  fdbudget_reserve(fdb.limit), fdb.limit, fdb.budget);
	}
	if (fdb.held >= fdb.budget)
		return -1;
	fdb.held++;
	return 0;
}

void
fdbudget_release(void)
{
	if (fdb.held > 0)
		fdb.held--;
}

size_t
fdbudget_held(void)
{
	return fdb.held;
}

size_t
fdbudget_limit(void)
{
	return fdb.limit;
}

/*
 * The soft limit is lowered back only for the instant of a posix_spawn (the
 * event loop opens nothing meanwhile; descriptors already open above it stay
 * valid), since a spawn cannot set a limit in the child alone.
 */
void
fdbudget_child_begin(void)
{
	if (fdb.raised)
		(void)setrlimit(RLIMIT_NOFILE, &fdb.given);
}

void
fdbudget_child_end(void)
{
	if (!fdb.raised)
		return;
	struct rlimit rl = fdb.given;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

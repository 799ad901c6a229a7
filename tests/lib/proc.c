/*
 * proc.c: process helpers for the integration tests. See proc.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

void
vt_tmpdir(char *out, size_t cap)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, cap, "%s/vigil-test.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(out) == NULL)
		cr_assert_fail("mkdtemp %s: %s", out, strerror(errno));
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
vt_rmdir(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

pid_t
vt_spawn(const char *log, char *const argv[])
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
vt_run(char *const argv[], char *out, size_t cap, int merge)
{
	int pfd[2];
	size_t used = 0;
	int status;

	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(pfd[1], 1);
		if (merge)
			dup2(pfd[1], 2);
		else {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 2);
		}
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n;
		if (cap > 0 && used + take > cap - 1)
			take = cap - 1 - used;
		memcpy(out + used, tmp, take);
		used += take;
	}
	if (cap > 0)
		out[used] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t
vt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
vt_wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = vt_now_ms() + (uint64_t)timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (vt_now_ms() >= end)
			return -1;
		usleep(5000);
	}
}

int
vt_stop(pid_t pid, int sig, int timeout_ms)
{
	if (pid <= 0)
		return -1;
	kill(pid, sig);
	int status = vt_wait_exit(pid, timeout_ms);
	if (status == -1) {
		kill(pid, SIGKILL);
		vt_wait_exit(pid, 2000);
	}
	return status;
}

int
vt_wait_for(int (*pred)(void *arg), void *arg, int timeout_ms)
{
	uint64_t end = vt_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (pred(arg))
			return 1;
		if (vt_now_ms() >= end)
			return 0;
		usleep(10000);
	}
}

json_t *
vt_status(const char *ctl)
{
	char *argv[] = {VIGIL_CTL_BIN, "--control", (char *)ctl, "status", "--json", NULL};
	static char out[1 << 20];
	json_error_t jerr;

	if (vt_run(argv, out, sizeof(out), 0) != 0)
		return NULL;
	return json_loads(out, 0, &jerr);
}

json_t *
vt_worker(json_t *status, const char *name)
{
	json_t *workers = json_object_get(status, "workers");
	size_t i;
	json_t *w;

	json_array_foreach(workers, i, w)
	{
		if (strcmp(json_string_value(json_object_get(w, "name")), name) == 0)
			return w;
	}
	return NULL;
}

int
vt_file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (fp == NULL)
		return 0;
	while (!found && getline(&line, &cap, fp) != -1)
		found = strstr(line, needle) != NULL;
	free(line);
	fclose(fp);
	return found;
}

void
vt_dump(const char *path)
{
	FILE *fp = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (fp == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", path);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(fp);
}

int
vt_accepts(void *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *p = path;
	int fd, ok;

	if (strlen(p) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, p, strlen(p) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

pid_t
vt_start_supervisor(const char *log, const char *ctl, char *const argv[])
{
	pid_t pid = vt_spawn(log, argv);

	if (!vt_wait_for(vt_accepts, (void *)ctl, 5000)) {
		vt_dump(log);
		cr_assert_fail("the supervisor does not accept on %s", ctl);
	}
	return pid;
}

struct vt_field_want {
	const char *ctl, *name, *key, *value;
};

static int
vt_field_is(void *arg)
{
	const struct vt_field_want *w = arg;
	json_t *st = vt_status(w->ctl);
	json_t *v = st ? json_object_get(vt_worker(st, w->name), w->key) : NULL;
	int ok = json_is_string(v) && strcmp(json_string_value(v), w->value) == 0;

	json_decref(st);
	return ok;
}

void
vt_expect_worker(const char *ctl, const char *log, const char *name, const char *key,
		 const char *value, int timeout_ms)
{
	struct vt_field_want w = {ctl, name, key, value};

	if (!vt_wait_for(vt_field_is, &w, timeout_ms)) {
		vt_dump(log);
		cr_assert_fail("worker %s: %s never became %s within %d ms", name, key, value,
			       timeout_ms);
	}
}

void
vt_expect_clean_logs(const char *const logs[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_expect(!vt_file_contains(logs[i], "runtime error:") &&
			      !vt_file_contains(logs[i], "Sanitizer"),
			  "sanitizer report in %s", logs[i]);
}

void
vt_stop_clean(pid_t *pid, const char *what)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGCONT);
	int st = vt_stop(*pid, SIGTERM, 3000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exit status %d at the end", what, st);
	*pid = 0;
}

struct vt_needle {
	const char *path, *needle;
};

static int
vt_has_needle(void *arg)
{
	const struct vt_needle *n = arg;
	return vt_file_contains(n->path, n->needle);
}

void
vt_expect_log(const char *path, const char *needle, int timeout_ms)
{
	struct vt_needle n = {path, needle};

	if (!vt_wait_for(vt_has_needle, &n, timeout_ms)) {
		vt_dump(path);
		cr_assert_fail("%s never said \"%s\"", path, needle);
	}
}

/* Whether port p on 127.0.0.1 can be bound now: 1, 0 if in use; the test fails on another error. */
static int
vt_port_free(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	cr_assert_neq(fd, -1, "socket: %s", strerror(errno));
	ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	cr_assert(ok || errno == EADDRINUSE, "bind 127.0.0.1:%d: %s", port, strerror(errno));
	close(fd);
	return ok;
}

/*
 * Outside the kernel's ephemeral range (tests/scripts/vigiltest.py says why:
 * a port from bind(0) can be taken by any outgoing connection's source port
 * before the daemon binds it); bind(0) where nothing is left outside it.
 */
int
vt_free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int low = 32768, high = 60999, fd;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f != NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768, high = 60999;
		fclose(f);
	}
	int below = low > 1024 ? low - 1024 : 0, above = high < 65535 ? 65535 - high : 0;
	/* Seeded apart in each process, so that two tests side by side try different ports. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint32_t x = (uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec ^ 1u;
	for (int i = 0; i < 10000 && below + above > 0; i++) {
		x ^= x << 13; /* xorshift32 */
		x ^= x >> 17;
		x ^= x << 5;
		int k = (int)(x % (uint32_t)(below + above));
		int port = k < below ? 1024 + k : high + 1 + (k - below);
		if (vt_port_free(port))
			return port;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "bind: %s",
		     strerror(errno));
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

const char *
vt_pid_name(pid_t pid)
{
	static char name[32];

	snprintf(name, sizeof(name), "pid-%d", (int)pid);
	return name;
}

long
vt_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	long utime = -1, stime = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "r");
	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* After "(comm)", which may hold spaces: state is field 3, utime 14, stime 15. */
	const char *p = strrchr(buf, ')');
	cr_assert_not_null(p);
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime,
			    &stime),
		     2);
	return utime + stime;
}

double
vt_metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

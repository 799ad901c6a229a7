/*
 * test_http.c: the real vigil-supervisor with --metrics, two real
 * vigil-worker processes, and the real curl, promtool and jq: what a
 * Prometheus server and an operator see on /metrics and /status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "proc.h"

#define OUT_MAX 65536

static struct vt_env e;

static void
setup(void)
{
	vt_env_init(&e);
	vt_env_metrics(&e);
}

static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* Run a shell command line (the tools are found on PATH); its exit status, stdout in out. */
static int __attribute__((format(printf, 4, 5)))
sh(char *out, size_t cap, int merge, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char scratch[256];
	if (out == NULL) {
		out = scratch;
		cap = sizeof(scratch);
	}
	return vt_run(argv, out, cap, merge);
}

/* curl, promtool and jq are needed; without them skip, except under CI, where that fails. */
static void
need_tools(void)
{
	static const char *tools[] = {"curl", "promtool", "jq"};

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		if (sh(NULL, 0, 0, "command -v %s", tools[i]) == 0)
			continue;
		if (getenv("CI") != NULL)
			cr_assert_fail("%s is not installed (scripts/deps test)", tools[i]);
		cr_skip_test("%s is not installed (scripts/deps test)", tools[i]);
	}
}

/* The HTTP status code of a request; extra is more curl options. */
static int
http_code(const char *extra, const char *path)
{
	char out[64];

	sh(out, sizeof(out), 0, "curl -s -o /dev/null -w '%%{http_code}' --max-time 5 %s 'http://%s%s'",
	   extra, e.addr, path);
	return atoi(out);
}

static int
serving(void *arg)
{
	return http_code("", "/metrics") == 200;
}

static void
start_supervisor(void)
{
	vt_env_start_supervisor(&e, "--timeout", "600ms", "--metrics", e.addr, NULL);
	if (!vt_wait_for(serving, NULL, 5000)) {
		vt_dump(e.log);
		cr_assert_fail("supervisor does not serve http://%s/metrics", e.addr);
	}
}

static void
expect_state(const char *name, const char *state)
{
	vt_env_expect_state(&e, name, state, 0, 5000);
}

Test(http, metrics_and_status_of_a_live_and_a_killed_worker)
{
	static char text[OUT_MAX], out[OUT_MAX], want[OUT_MAX];

	need_tools();
	start_supervisor();
	vt_env_start_worker(&e, "w1", NULL);
	pid_t w2 = vt_env_start_worker(&e, "w2", NULL);
	expect_state("w1", "alive");
	expect_state("w2", "alive");
	vt_stop(w2, SIGKILL, 2000);
	expect_state("w2", "dead");

	/* What Prometheus scrapes, checked by Prometheus's own linter. */
	cr_assert_eq(sh(out, sizeof(out), 0,
			"curl -sS --max-time 5 -o %s/metrics.txt -w '%%{http_code} %%{content_type}' "
			"http://%s/metrics",
			e.dir, e.addr),
		     0);
	cr_expect_str_eq(out, "200 text/plain; version=0.0.4; charset=utf-8");
	int rc = sh(out, sizeof(out), 1, "promtool check metrics < %s/metrics.txt", e.dir);
	cr_expect_eq(rc, 0, "promtool check metrics: exit %d:\n%s", rc, out);
	cr_expect_str_eq(out, "", "promtool has remarks:\n%s", out);

	cr_assert_eq(sh(text, sizeof(text), 0, "cat %s/metrics.txt", e.dir), 0);
	cr_expect_eq(vt_metric(text, "vigil_worker_up{worker=\"w1\"}"), 1, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_worker_up{worker=\"w2\"}"), 0, "%s", text);
	cr_expect_geq(vt_metric(text, "vigil_worker_timeouts_total{worker=\"w2\"}"), 1, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_worker_timeouts_total{worker=\"w1\"}"), 0, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_worker_state{worker=\"w2\",state=\"dead\"}"), 1,
		     "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_workers{state=\"alive\"}"), 1, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_workers{state=\"dead\"}"), 1, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_workers{state=\"stopped\"}"), 0, "%s", text);
	cr_expect_gt(vt_metric(text, "vigil_worker_heartbeats_total{worker=\"w1\"}"), 0,
		     "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_worker_timeout_seconds{worker=\"w1\"}"), 0.6,
		     "%s", text);
	cr_expect_gt(vt_metric(text, "vigil_worker_last_heartbeat_age_seconds{worker=\"w2\"}"), 0.6,
		     "%s", text);
	cr_expect_gt(vt_metric(text, "vigil_datagrams_total"), 0, "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_invalid_datagrams_total{reason=\"bad_value\"}"), 0,
		     "%s", text);
	cr_expect_eq(vt_metric(text, "vigil_http_connections"), 1, "%s", text);

	/* /status: the document of vigilctl status --json, same shape, same workers. */
	static const char shape[] =
	    "jq -cS '[paths as $p | [($p | map(if type == \"number\" then \"#\" else . end)), "
	    "(getpath($p) | type)]] | unique'";
	cr_assert_eq(sh(out, sizeof(out), 0,
			"curl -sS --max-time 5 -o %s/status.json -w '%%{http_code} %%{content_type}' "
			"http://%s/status",
			e.dir, e.addr),
		     0);
	cr_expect_str_eq(out, "200 application/json");
	cr_assert_eq(sh(out, sizeof(out), 0, "%s %s/status.json", shape, e.dir), 0,
		     "/status is not JSON");
	cr_assert_eq(sh(want, sizeof(want), 0, "%s --control %s status --json | %s", VIGIL_CTL_BIN,
			e.ctl, shape),
		     0);
	cr_expect_str_eq(out, want, "/status and vigilctl status --json differ in shape");
	cr_assert_eq(sh(out, sizeof(out), 0,
			"jq -r '[.workers[] | .name + \"=\" + .state] | join(\",\")' %s/status.json",
			e.dir),
		     0);
	cr_expect_str_eq(out, "w1=alive,w2=dead\n");

	/* Anything else. */
	cr_expect_eq(http_code("", "/index.html"), 404);
	cr_expect_eq(http_code("", "/metrics/x"), 404);
	cr_expect_eq(http_code("-X POST", "/nope"), 404);
	cr_expect_eq(http_code("-X POST", "/metrics"), 405);
	cr_expect_eq(http_code("-X PUT", "/status"), 405);
	cr_expect_eq(http_code("-X DELETE", "/metrics"), 405);
	cr_expect_eq(http_code("-I", "/metrics"), 200, "HEAD is GET without the body");
	cr_expect_eq(http_code("", "/metrics?debug=1"), 200, "a query string is ignored");
	sh(out, sizeof(out), 0, "curl -s -i -X POST --max-time 5 http://%s/metrics", e.addr);
	cr_expect_not_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"), "405 without Allow:\n%s", out);
	vt_env_end(&e);
}

/* The headers curl -I (HEAD) or -D (GET) received for path, in out. */
static void
headers_of(char *out, size_t cap, const char *how, const char *path)
{
	sh(out, cap, 0, "curl -s --max-time 5 %s 'http://%s%s'", how, e.addr, path);
}

/* The value of header name (with its ": ") in a header block, as a number; -1 if absent. */
static long
header_number(const char *block, const char *name)
{
	const char *p = strcasestr(block, name);
	return p != NULL ? atol(p + strlen(name)) : -1;
}

/*
 * GET / is the status page: HTML, self-contained (nothing loaded from
 * elsewhere, which its Content-Security-Policy also forbids), read-only
 * (POST is 405). HEAD of it and of the documents says the length GET sends.
 */
Test(http, status_page_and_the_lengths_of_head)
{
	char out[16384], head[2048], path[512];

	need_tools();
	start_supervisor();
	vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive");

	vt_env_path(&e, "page.html", path, sizeof(path));
	cr_assert_eq(sh(head, sizeof(head), 0, "curl -s --max-time 5 -D - -o %s 'http://%s/'", path,
			e.addr),
		     0);
	cr_expect(strstr(head, "HTTP/1.1 200 OK\r\n") == head, "%s", head);
	cr_expect_not_null(strcasestr(head, "\r\nContent-Type: text/html; charset=utf-8\r\n"), "%s",
			   head);
	cr_expect_not_null(strcasestr(head, "\r\nContent-Security-Policy: default-src 'none'; "),
			   "%s", head);
	long get_len = header_number(head, "\r\nContent-Length: ");
	cr_assert_eq(sh(out, sizeof(out), 0, "wc -c <%s", path), 0);
	cr_expect_eq(atol(out), get_len, "GET / sent %ld bytes, said %ld", atol(out), get_len);
	cr_expect(vt_file_contains(path, "<!DOCTYPE html>"), "not the page");
	cr_expect(vt_file_contains(path, "fetch(\"status\""), "the page does not poll /status");
	/* Self-contained: no attribute or rule that loads anything. */
	cr_expect_neq(sh(out, sizeof(out), 0, "grep -Einq '(src|href) *=|url\\(|@import|//[a-z0-9.-]+\\.[a-z]' %s",
			 path),
		      0, "the page loads something from elsewhere: %s", out);

	headers_of(head, sizeof(head), "-I", "/");
	cr_expect_eq(header_number(head, "\r\nContent-Length: "), get_len, "HEAD /:\n%s", head);
	cr_expect_eq(http_code("-X POST", "/"), 405, "the page is read-only");
	/* The documents: HEAD counts what GET would send (a moment apart, the same size here). */
	headers_of(head, sizeof(head), "-I", "/status");
	long status_len = header_number(head, "\r\nContent-Length: ");
	headers_of(out, sizeof(out), "-o /dev/null -w '%{size_download}'", "/status");
	cr_expect(status_len > 0 && labs(status_len - atol(out)) <= 8,
		  "HEAD /status says %ld, GET sent %s", status_len, out);
	headers_of(head, sizeof(head), "-I", "/metrics");
	cr_expect_gt(header_number(head, "\r\nContent-Length: "), 1000, "HEAD /metrics:\n%s", head);
	cr_expect_null(strcasestr(head, "Transfer-Encoding"), "HEAD /metrics:\n%s", head);
	vt_env_end(&e);
}

/* Idle connections up to the limit hold the rest in the backlog; closing them frees it. */
Test(http, connections_are_bounded)
{
	enum { LIMIT = 16 }; /* HTTP_MAX_CONNECTIONS */
	int fds[LIMIT];
	char out[OUT_MAX];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	need_tools();
	start_supervisor();
	for (int i = 0; i < LIMIT; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	/* Half a request on one: still a connection, still counted. */
	cr_assert_eq(write(fds[0], "GET /met", 8), 8);
	usleep(200000);
	int rc = sh(NULL, 0, 0, "curl -s -o /dev/null --max-time 1 http://%s/metrics", e.addr);
	cr_expect_eq(rc, 28, "curl exit %d: the 17th connection was served at once", rc);

	for (int i = 0; i < LIMIT / 2; i++)
		close(fds[i]);
	cr_expect(vt_wait_for(serving, NULL, 3000), "not serving after connections closed");
	for (int i = LIMIT / 2; i < LIMIT; i++)
		close(fds[i]);
	/* Closes are seen as the loop turns: the count comes back to 1 (this scrape's own). */
	double open = -1;
	for (uint64_t end = vt_now_ms() + 3000; open != 1 && vt_now_ms() < end;) {
		cr_assert_eq(sh(out, sizeof(out), 0, "curl -s --max-time 5 http://%s/metrics",
				e.addr), 0);
		if ((open = vt_metric(out, "vigil_http_connections")) != 1)
			usleep(20000);
	}
	cr_expect_eq(open, 1, "closed connections still counted");
	vt_env_end(&e);
}

/* Out of descriptors, the supervisor stops accepting for a moment instead of spinning. */
Test(http, descriptor_exhaustion_pauses_accepting)
{
	enum { N = 12 };
	int fds[N];
	char out[OUT_MAX], path[64];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	need_tools();
	start_supervisor();
	/* Room for 4 more descriptors than it holds now: fewer than the 16 connections allowed. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)e.sv);
	int open_fds = 0;
	cr_assert_eq(sh(out, sizeof(out), 0, "ls %s | wc -l", path), 0);
	open_fds = atoi(out);
	struct rlimit rl = {.rlim_cur = (rlim_t)open_fds + 4, .rlim_max = (rlim_t)open_fds + 4};
	cr_assert_eq(prlimit(e.sv, RLIMIT_NOFILE, &rl, NULL), 0, "prlimit: %s", strerror(errno));

	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	long before = vt_cpu_ticks(e.sv);
	usleep(1000000);
	long used = vt_cpu_ticks(e.sv) - before;
	long hz = sysconf(_SC_CLK_TCK);
	cr_expect_lt(used, hz / 5, "%ld ticks of CPU in 1 s with descriptors exhausted (%ld/s)",
		     used, hz);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	cr_expect(vt_wait_for(serving, NULL, 3000), "not serving once descriptors are back");
	cr_expect(vt_file_contains(e.log, "Too many open files (pausing new HTTP clients)"),
		  "the pause was not logged");
	vt_env_end(&e);
}

/* A request beyond the header limit is refused; the endpoint goes on. */
Test(http, oversized_headers_are_refused)
{
	need_tools();
	start_supervisor();
	cr_expect_eq(http_code("-H \"X-Big: $(head -c 10000 /dev/zero | tr '\\0' a)\"", "/metrics"),
		     400);
	cr_expect_eq(http_code("", "/metrics"), 200);
	vt_env_end(&e);
}

Test(http, bind_failure_exits_1_naming_the_address)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char out[4096], want[128];

	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", e.sock, "--control", e.ctl,
			"--metrics", e.addr, NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);
	close(fd);
	snprintf(want, sizeof(want), "cannot bind %s: Address already in use", e.addr);
	cr_expect_eq(rc, 1, "exit %d:\n%s", rc, out);
	cr_expect_not_null(strstr(out, want), "no \"%s\" in:\n%s", want, out);
	cr_expect_null(strstr(out, "Sanitizer"), "%s", out);
}

/* Arrays, not pointers: Criterion copies parameters into a fresh process. */
struct value {
	char s[32];
};

ParameterizedTestParameters(http, bad_metrics_values_exit_2)
{
	static struct value values[] = {
	    {""},           {"9477"},        {"127.0.0.1"},      {"127.0.0.1:"},    {"127.0.0.1:0"},
	    {"127.0.0.1:65536"}, {"127.0.0.1:-1"}, {"127.0.0.1:80x"}, {"1.2.3:9477"}, {"::1:9477"},
	    {"[::1:9477"},  {"[::1]9477"},   {"[zz]:9477"},      {"example.com:9477"},
	};
	return cr_make_param_array(struct value, values, sizeof(values) / sizeof(values[0]));
}

ParameterizedTest(struct value *v, http, bad_metrics_values_exit_2)
{
	char out[4096], want[128];
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", e.sock, "--control", e.ctl,
			"--metrics", v->s, NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);

	snprintf(want, sizeof(want), "invalid --metrics '%s'", v->s);
	cr_expect_eq(rc, 2, "--metrics '%s': exit %d:\n%s", v->s, rc, out);
	cr_expect_not_null(strstr(out, want), "no \"%s\" in:\n%s", want, out);
}

ParameterizedTestParameters(http, good_metrics_values_serve)
{
	static struct value hosts[] = {{"127.0.0.1"}, {"localhost"}, {"[::1]"}, {""}};
	return cr_make_param_array(struct value, hosts, sizeof(hosts) / sizeof(hosts[0]));
}

/* Each accepted form of --metrics (HOST:PORT) serves on 127.0.0.1, or on ::1. */
ParameterizedTest(struct value *host, http, good_metrics_values_serve)
{
	char arg[64], url[96];
	int v6 = strcmp(host->s, "[::1]") == 0;

	need_tools();
	snprintf(arg, sizeof(arg), "%s:%d", host->s, e.port);
	snprintf(url, sizeof(url), "http://%s:%d/metrics", v6 ? "[::1]" : "127.0.0.1", e.port);
	if (v6 && sh(NULL, 0, 0, "test -e /proc/net/if_inet6") != 0)
		cr_skip_test("no IPv6 on this host");
	vt_env_start_supervisor(&e, "--metrics", arg, NULL);
	int ok = 0;
	for (int i = 0; i < 300 && !ok; i++) {
		char out[16];
		sh(out, sizeof(out), 0, "curl -s -g -o /dev/null -w '%%{http_code}' --max-time 2 '%s'",
		   url);
		ok = strcmp(out, "200") == 0;
		if (!ok)
			usleep(10000);
	}
	if (!ok)
		vt_dump(e.log);
	cr_expect(ok, "--metrics %s: %s not served", arg, url);
	vt_env_end(&e);
}

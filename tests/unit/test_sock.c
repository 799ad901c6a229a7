/*
 * test_sock.c: binding Unix sockets safely, each test in its own
 * temporary directory (mkdtemp), removed when the test ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "proc.h"
#include "sock.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

static char dir[256];
static char err[VIGIL_ERRLEN];

static void
setup(void)
{
	vt_tmpdir(dir, sizeof(dir));
	err[0] = '\0';
	umask(022);
}

static void
teardown(void)
{
	vt_rmdir(dir);
}

TestSuite(sock, .init = setup, .fini = teardown);

static void
path_in(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	cr_assert(n > 0 && (size_t)n < cap, "path too long for the test buffer");
}

static void
make_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	fputs(content, fp);
	cr_assert_eq(fclose(fp), 0);
}

/* Send one datagram to path from a fresh unbound socket; 0 or -1 with errno. */
static int
send_to(const char *path, const char *text)
{
	struct sockaddr_un sun;
	socklen_t len;
	char e[VIGIL_ERRLEN];

	cr_assert_eq(vigil_sock_addr(path, &sun, &len, e, sizeof(e)), 0, "%s", e);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_neq(fd, -1);
	ssize_t n = sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sun, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Expect fd to hold exactly the datagram text, now. */
static void
expect_received(int fd, const char *text)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	cr_assert_gt(n, 0, "nothing received: %s", strerror(errno));
	buf[n] = '\0';
	cr_expect_str_eq(buf, text);
}

static void
connect_stream(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	char e[VIGIL_ERRLEN];

	cr_assert_eq(vigil_sock_addr(path, &sun, &len, e, sizeof(e)), 0, "%s", e);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_neq(c, -1);
	cr_expect_eq(connect(c, (struct sockaddr *)&sun, len), 0, "connect %s: %s", path,
	             strerror(errno));
	close(c);
}

Test(sock, creates_missing_parents)
{
	char path[400], parent[400];
	struct vigil_sock s;
	struct stat st;

	path_in(path, sizeof(path), "a/b/c/test.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_expect(S_ISSOCK(st.st_mode), "%s is not a socket", path);
	const char *parents[] = {"a", "a/b", "a/b/c"};
	for (size_t i = 0; i < ARRAY_LEN(parents); i++) {
		path_in(parent, sizeof(parent), parents[i]);
		cr_assert_eq(stat(parent, &st), 0, "%s: %s", parent, strerror(errno));
		cr_expect(S_ISDIR(st.st_mode), "%s", parent);
		cr_expect_eq(st.st_mode & 0777, 0755, "%s: mode %o", parent, st.st_mode & 0777);
	}
	vigil_sock_close(&s);

	/* Existing parents are fine too. */
	path_in(path, sizeof(path), "a/b/other.sock");
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	vigil_sock_close(&s);
}

struct mode_case {
	mode_t mode;
	mode_t umask; /* the process's umask at the time: must not matter */
};

ParameterizedTestParameters(sock, sets_the_requested_mode)
{
	static struct mode_case cases[] = {
	    {0600, 022}, {0640, 022}, {0660, 022}, {0666, 022},
	    {0666, 077}, {0777, 077}, {0660, 000}, {0600, 000},
	};
	return cr_make_param_array(struct mode_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct mode_case *c, sock, sets_the_requested_mode)
{
	char path[400];
	struct vigil_sock s;
	struct stat st;

	umask(c->umask);
	path_in(path, sizeof(path), "mode.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, c->mode, err, sizeof(err)), 0, "%s",
	             err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, c->mode, "asked %o under umask %03o, got %o",
	             (unsigned)c->mode, (unsigned)c->umask, (unsigned)(st.st_mode & 0777));
	cr_expect_eq(umask(c->umask), c->umask, "the process umask was left changed");
	vigil_sock_close(&s);
}

struct type_case {
	int type;
	char label[16];
};

ParameterizedTestParameters(sock, non_blocking_and_close_on_exec)
{
	static struct type_case cases[] = {{SOCK_DGRAM, "SOCK_DGRAM"},
	                                   {SOCK_STREAM, "SOCK_STREAM"}};
	return cr_make_param_array(struct type_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct type_case *c, sock, non_blocking_and_close_on_exec)
{
	char path[400];
	struct vigil_sock s;
	int type;
	socklen_t len = sizeof(type);

	path_in(path, sizeof(path), "flags.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, c->type, 0600, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(s.fd, 0);
	cr_expect(fcntl(s.fd, F_GETFL) & O_NONBLOCK, "%s: not non-blocking", c->label);
	cr_expect(fcntl(s.fd, F_GETFD) & FD_CLOEXEC, "%s: not close-on-exec", c->label);
	cr_assert_eq(getsockopt(s.fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	cr_expect_eq(type, c->type, "%s: socket type %d", c->label, type);
	vigil_sock_close(&s);
}

Test(sock, dgram_receives_at_its_path)
{
	char path[400];
	struct vigil_sock s;

	path_in(path, sizeof(path), "hb.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(s.path, path);
	cr_assert_eq(send_to(path, "WORKER=a\nHEARTBEAT=1\n"), 0, "%s", strerror(errno));
	expect_received(s.fd, "WORKER=a\nHEARTBEAT=1\n");
	vigil_sock_close(&s);
}

Test(sock, stream_listens)
{
	char path[400];
	struct vigil_sock s;

	path_in(path, sizeof(path), "ctl.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_STREAM, 0600, err, sizeof(err)), 0, "%s", err);
	connect_stream(path);
	int a = accept(s.fd, NULL, NULL);
	cr_expect_geq(a, 0, "accept: %s", strerror(errno));
	if (a >= 0)
		close(a);
	vigil_sock_close(&s);
	cr_expect_eq(access(path, F_OK), -1, "stream socket file left after close");
}

ParameterizedTestParameters(sock, stale_socket_is_replaced)
{
	static struct type_case cases[] = {{SOCK_DGRAM, "SOCK_DGRAM"},
	                                   {SOCK_STREAM, "SOCK_STREAM"}};
	return cr_make_param_array(struct type_case, cases, ARRAY_LEN(cases));
}

/* A crash leaves the file behind with nobody on it: the next start takes the path over. */
ParameterizedTest(struct type_case *c, sock, stale_socket_is_replaced)
{
	char path[400];
	struct vigil_sock a, b;
	struct stat st;

	path_in(path, sizeof(path), "stale.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, c->type, 0600, err, sizeof(err)), 0, "%s", err);
	close(a.fd); /* a crash: the file stays, nobody listens */
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));

	cr_assert_eq(vigil_sock_bind(&b, path, c->type, 0600, err, sizeof(err)), 0,
	             "%s: a stale socket was not replaced: %s", c->label, err);
	cr_assert_eq(lstat(path, &st), 0);
	cr_expect_eq(st.st_ino, b.ino, "the file at the path is not the new socket");
	if (c->type == SOCK_DGRAM) {
		cr_assert_eq(send_to(path, "x"), 0, "%s", strerror(errno));
		expect_received(b.fd, "x");
	} else {
		connect_stream(path);
	}
	vigil_sock_close(&b);
}

ParameterizedTestParameters(sock, live_socket_is_refused)
{
	static struct type_case cases[] = {{SOCK_DGRAM, "SOCK_DGRAM"},
	                                   {SOCK_STREAM, "SOCK_STREAM"}};
	return cr_make_param_array(struct type_case, cases, ARRAY_LEN(cases));
}

/* Another instance is running: refuse, name the path, and leave its socket working. */
ParameterizedTest(struct type_case *c, sock, live_socket_is_refused)
{
	char path[400];
	struct vigil_sock a, b;
	struct stat st;

	path_in(path, sizeof(path), "live.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, c->type, 0600, err, sizeof(err)), 0, "%s", err);
	memset(&b, 0x5a, sizeof(b));
	cr_expect_eq(vigil_sock_bind(&b, path, c->type, 0600, err, sizeof(err)), -1,
	             "%s: stole a live socket", c->label);
	cr_expect(strstr(err, path) != NULL, "the path is not named: %s", err);
	cr_expect(strstr(err, "another process") != NULL, "%s", err);
	cr_expect_eq(b.fd, -1);
	cr_assert_eq(lstat(path, &st), 0, "the live socket's file was removed");
	cr_expect_eq(st.st_ino, a.ino, "the live socket's file was replaced");
	if (c->type == SOCK_DGRAM) {
		cr_assert_eq(send_to(path, "still here"), 0, "%s", strerror(errno));
		expect_received(a.fd, "still here");
	} else {
		connect_stream(path);
	}
	vigil_sock_close(&a);
}

/* A live socket of the other type cannot be probed as stale: refuse, and leave it alone. */
Test(sock, live_socket_of_another_type_is_refused)
{
	char path[400];
	struct vigil_sock a, b;
	struct stat st;

	path_in(path, sizeof(path), "ctl.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_STREAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(vigil_sock_bind(&b, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1,
	             "a DGRAM bind took over a listening STREAM socket");
	cr_expect(strstr(err, path) != NULL, "the path is not named: %s", err);
	cr_assert_eq(lstat(path, &st), 0, "the live socket's file was removed");
	cr_expect_eq(st.st_ino, a.ino);
	connect_stream(path);
	vigil_sock_close(&a);
}

struct squatter_case {
	char label[16];
};

ParameterizedTestParameters(sock, non_socket_is_refused)
{
	static struct squatter_case cases[] = {
	    {"file"}, {"empty file"}, {"directory"}, {"fifo"}, {"symlink"}};
	return cr_make_param_array(struct squatter_case, cases, ARRAY_LEN(cases));
}

/* Whatever else sits at the path is refused and left exactly as it was. */
ParameterizedTest(struct squatter_case *c, sock, non_socket_is_refused)
{
	char path[400], target[400];
	struct vigil_sock s;
	struct stat before, after;

	path_in(path, sizeof(path), "squatter");
	if (strcmp(c->label, "file") == 0) {
		make_file(path, "precious data\n");
	} else if (strcmp(c->label, "empty file") == 0) {
		make_file(path, "");
	} else if (strcmp(c->label, "directory") == 0) {
		cr_assert_eq(mkdir(path, 0755), 0);
	} else if (strcmp(c->label, "fifo") == 0) {
		cr_assert_eq(mkfifo(path, 0600), 0);
	} else {
		/* A symlink to a live socket: the link itself is not a socket. */
		struct vigil_sock t;
		path_in(target, sizeof(target), "target.sock");
		cr_assert_eq(vigil_sock_bind(&t, target, SOCK_DGRAM, 0600, err, sizeof(err)), 0,
		             "%s", err);
		cr_assert_eq(symlink(target, path), 0);
	}
	cr_assert_eq(lstat(path, &before), 0);

	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1,
	             "bound over a %s", c->label);
	cr_expect(strstr(err, path) != NULL, "%s: the path is not named: %s", c->label, err);
	cr_expect(strstr(err, "not a socket") != NULL, "%s: %s", c->label, err);
	cr_assert_eq(lstat(path, &after), 0, "the %s was removed", c->label);
	cr_expect_eq(after.st_ino, before.st_ino, "the %s was replaced", c->label);
	cr_expect_eq(after.st_size, before.st_size, "the %s was changed", c->label);
	cr_expect_eq(after.st_mode, before.st_mode, "the %s was changed", c->label);
}

/* The longest path that fits sun_path binds; one byte more is refused, never truncated. */
Test(sock, path_length_boundary)
{
	char path[SUN_PATH_SIZE + 2];
	struct vigil_sock s;
	struct stat st;
	size_t dirlen = strlen(dir);

	cr_assert_lt(dirlen + 2, SUN_PATH_SIZE - 1, "TMPDIR too long for this test: %s", dir);
	/* dir + "/" + "ppp...": exactly SUN_PATH_SIZE - 1 bytes. */
	memset(path, 'p', sizeof(path));
	memcpy(path, dir, dirlen);
	path[dirlen] = '/';
	path[SUN_PATH_SIZE - 1] = '\0';
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0,
	             "%zu bytes: %s", strlen(path), err);
	cr_expect_eq(lstat(path, &st), 0, "%s", strerror(errno));
	cr_expect_str_eq(s.path, path);
	vigil_sock_close(&s);
	cr_expect_eq(access(path, F_OK), -1);

	path[SUN_PATH_SIZE - 1] = 'p';
	path[SUN_PATH_SIZE] = '\0';
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1,
	             "%zu bytes accepted", strlen(path));
	cr_expect(strstr(err, "too long") != NULL, "%s", err);
	cr_expect(strstr(err, path) != NULL, "the path is not named: %s", err);
	cr_expect_eq(s.fd, -1);
	/* Not truncated and bound under the first SUN_PATH_SIZE - 1 bytes either. */
	path[SUN_PATH_SIZE - 1] = '\0';
	cr_expect_eq(access(path, F_OK), -1, "bound a truncated path");
}

Test(sock, much_too_long_path_is_refused)
{
	char path[300];
	struct vigil_sock s;

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, "too long") != NULL, "%s", err);
	cr_expect(strstr(err, path) != NULL, "the path is not named: %s", err);
}

Test(sock, empty_path_is_refused)
{
	struct vigil_sock s;

	cr_expect_eq(vigil_sock_bind(&s, "", SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, "empty") != NULL, "%s", err);
	cr_expect_eq(s.fd, -1);
}

Test(sock, parent_that_is_a_file_is_named)
{
	char file[400], path[450];
	struct vigil_sock s;

	path_in(file, sizeof(file), "plain");
	make_file(file, "");
	snprintf(path, sizeof(path), "%s/x.sock", file);
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, file) != NULL, "the directory is not named: %s", err);
	cr_expect(strstr(err, "x.sock") == NULL, "names the socket, not the directory: %s", err);
	cr_expect(strstr(err, "directory") != NULL, "%s", err);
	cr_expect_eq(s.fd, -1);

	/* Deeper: the file is in the middle of the missing directories. */
	snprintf(path, sizeof(path), "%s/sub/x.sock", file);
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, file) != NULL, "the directory is not named: %s", err);
}

/* Root ignores directory permissions, so this runs only where they apply. */
Test(sock, permission_denied_is_named)
{
	char locked[400], path[450];
	struct vigil_sock s;

	path_in(locked, sizeof(locked), "locked");
	cr_assert_eq(mkdir(locked, 0500), 0);
	if (access(locked, W_OK) == 0) {
		teardown(); /* a skipped test does not reach .fini */
		cr_skip_test("directory permissions are not enforced for this user (root?)");
	}
	snprintf(path, sizeof(path), "%s/x.sock", locked);
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, path) != NULL, "the path is not named: %s", err);
	cr_expect(strstr(err, strerror(EACCES)) != NULL, "%s", err);
	cr_expect_eq(s.fd, -1);
	chmod(locked, 0700); /* so that teardown can remove it */
}

Test(sock, close_unlinks_its_file)
{
	char path[400];
	struct vigil_sock s;

	path_in(path, sizeof(path), "mine.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	int fd = s.fd;
	vigil_sock_close(&s);
	cr_expect_eq(access(path, F_OK), -1, "socket file left after close");
	cr_expect_eq(s.fd, -1);
	cr_expect_eq(fcntl(fd, F_GETFD), -1, "the descriptor is still open");
	vigil_sock_close(&s); /* twice is harmless */
	cr_expect_eq(s.fd, -1);
}

/* At exit we remove our own socket file, never a newer one at the same path. */
Test(sock, close_leaves_a_replacement_alone)
{
	char path[400];
	struct vigil_sock a, b;
	struct stat st;

	path_in(path, sizeof(path), "shared.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(vigil_sock_bind(&b, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(a.ino, b.ino);
	vigil_sock_close(&a);
	cr_assert_eq(lstat(path, &st), 0, "closing the old socket removed the new one's file");
	cr_expect_eq(st.st_ino, b.ino);
	cr_assert_eq(send_to(path, "to b"), 0, "%s", strerror(errno));
	expect_received(b.fd, "to b");
	vigil_sock_close(&b);
	cr_expect_eq(access(path, F_OK), -1, "the new socket's own close left its file");
}

/* A close after our file was replaced by something else entirely leaves that alone too. */
Test(sock, close_leaves_a_foreign_file_alone)
{
	char path[400];
	struct vigil_sock a;

	path_in(path, sizeof(path), "shared.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(unlink(path), 0);
	make_file(path, "not ours\n");
	vigil_sock_close(&a);
	cr_expect_eq(access(path, F_OK), 0, "closing removed a file that was not ours");
}

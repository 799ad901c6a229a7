/*
 * test_sock.c: binding Unix sockets safely, each test in its own
 * temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"
#include "sock.h"

static char dir[256];
static char err[VIGIL_ERRLEN];

static void
setup(void)
{
	vt_tmpdir(dir, sizeof(dir));
	err[0] = '\0';
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
	snprintf(out, cap, "%s/%s", dir, name);
}

Test(sock, creates_parents_mode_and_flags)
{
	char path[400];
	struct vigil_sock s;
	struct stat st;

	path_in(path, sizeof(path), "a/b/c/test.sock");
	cr_assert_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0640, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
	cr_expect(fcntl(s.fd, F_GETFL) & O_NONBLOCK, "not non-blocking");
	cr_expect(fcntl(s.fd, F_GETFD) & FD_CLOEXEC, "not close-on-exec");
	vigil_sock_close(&s);
	cr_expect_eq(access(path, F_OK), -1, "socket file left after close");
	cr_expect_eq(s.fd, -1);
}

Test(sock, stale_socket_is_replaced)
{
	char path[400];
	struct vigil_sock a, b;

	path_in(path, sizeof(path), "stale.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	close(a.fd); /* a crash: the file stays, nobody listens */
	cr_assert_eq(access(path, F_OK), 0);
	cr_expect_eq(vigil_sock_bind(&b, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0,
		     "a stale socket was not replaced: %s", err);
	vigil_sock_close(&b);
}

Test(sock, live_socket_is_refused)
{
	char path[400];
	struct vigil_sock a, b;

	path_in(path, sizeof(path), "live.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_DGRAM, 0600, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(vigil_sock_bind(&b, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1,
		     "stole a live socket");
	cr_expect(strstr(err, path) != NULL && strstr(err, "another process") != NULL, "%s", err);
	cr_expect_eq(b.fd, -1);
	vigil_sock_close(&a);
}

Test(sock, live_stream_socket_is_refused_and_listens)
{
	char path[400];
	struct vigil_sock a, b;
	struct sockaddr_un sun;
	socklen_t len;

	path_in(path, sizeof(path), "ctl.sock");
	cr_assert_eq(vigil_sock_bind(&a, path, SOCK_STREAM, 0600, err, sizeof(err)), 0, "%s", err);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(vigil_sock_addr(path, &sun, &len, err, sizeof(err)), 0);
	cr_expect_eq(connect(c, (struct sockaddr *)&sun, len), 0, "not listening: %s",
		     strerror(errno));
	close(c);
	cr_expect_eq(vigil_sock_bind(&b, path, SOCK_STREAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, "another process") != NULL, "%s", err);
	vigil_sock_close(&a);
}

Test(sock, regular_file_is_refused)
{
	char path[400];
	struct vigil_sock s;

	path_in(path, sizeof(path), "file");
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, path) != NULL && strstr(err, "not a socket") != NULL, "%s", err);
	cr_expect_eq(access(path, F_OK), 0, "the file was removed");
}

Test(sock, too_long_path_is_refused_not_truncated)
{
	char path[300];
	struct vigil_sock s;

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, "too long") != NULL, "%s", err);
	cr_expect(strstr(err, "xxxxxxxxxx") != NULL, "the path is not named: %s", err);

	char exact[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sun;
	socklen_t len;
	memset(exact, 'y', sizeof(exact));
	exact[sizeof(exact) - 1] = '\0'; /* 107 bytes: the longest that fits */
	cr_expect_eq(vigil_sock_addr(exact, &sun, &len, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(vigil_sock_addr("", &sun, &len, err, sizeof(err)), -1);
	cr_expect(strstr(err, "empty") != NULL, "%s", err);
}

Test(sock, parent_that_is_a_file_is_named)
{
	char file[400], path[450];
	struct vigil_sock s;

	path_in(file, sizeof(file), "plain");
	FILE *fp = fopen(file, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/x.sock", file);
	cr_expect_eq(vigil_sock_bind(&s, path, SOCK_DGRAM, 0600, err, sizeof(err)), -1);
	cr_expect(strstr(err, file) != NULL, "the directory is not named: %s", err);
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
	vigil_sock_close(&a);
	cr_expect_eq(stat(path, &st), 0, "closing the old socket removed the new one's file");
	cr_expect_eq(st.st_ino, b.ino);
	vigil_sock_close(&b);
	cr_expect_eq(access(path, F_OK), -1);
}

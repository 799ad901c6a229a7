/*
 * test_fleet_authfile.c: vigil-fleet's --auth-file (fleet/authfile.c): one
 * line user:password read (the password may hold ':'), a file anyone but its
 * owner may access refused naming it, and malformed files refused saying how.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "authfile.h"

static char path[64];

/* A file holding text, with mode. */
static void
write_file(const char *text, mode_t mode)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/vigil-authfile.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

static void
cleanup(void)
{
	unlink(path);
}

TestSuite(authfile, .fini = cleanup);

Test(authfile, one_line_is_user_and_password)
{
	char user[AUTHFILE_FIELD_MAX], pw[AUTHFILE_FIELD_MAX], err[512];

	write_file("root:pa:ss word\n", 0600);
	cr_assert_eq(authfile_read(path, user, pw, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(user, "root");
	cr_assert_str_eq(pw, "pa:ss word");
}

Test(authfile, a_file_others_may_read_is_refused_naming_it)
{
	char user[AUTHFILE_FIELD_MAX], pw[AUTHFILE_FIELD_MAX], err[512], want[128];

	write_file("root:secret\n", 0640);
	cr_assert_eq(authfile_read(path, user, pw, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "--auth-file %s: permissions 0640 are too open", path);
	cr_assert(strstr(err, want) != NULL, "%s", err);
}

Test(authfile, malformed_files_are_refused)
{
	static const char *const bad[] = {"root\n", ":secret\n", "root:\n", "a:b\nc:d\n", ""};
	char user[AUTHFILE_FIELD_MAX], pw[AUTHFILE_FIELD_MAX], err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i], 0600);
		cr_assert_eq(authfile_read(path, user, pw, err, sizeof(err)), -1, "'%s'", bad[i]);
		cr_assert(strstr(err, path) != NULL, "%s", err);
		unlink(path);
	}
}

Test(authfile, a_missing_file_is_named)
{
	char user[AUTHFILE_FIELD_MAX], pw[AUTHFILE_FIELD_MAX], err[512];

	cr_assert_eq(authfile_read("/nonexistent/auth", user, pw, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--auth-file /nonexistent/auth: No such file or directory");
}

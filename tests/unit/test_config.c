/*
 * test_config.c: the configuration file (config.c), the option table
 * (options.c) and how the two meet (configure_build: the file, then the command
 * line). Every error is checked with its exact text and line.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "config.h"
#include "duration.h"
#include "options.h"
#include "configure.h"

static struct config *
parse(const char *text)
{
	struct settings def;

	settings_init(&def);
	struct config *c = config_new(&def);
	cr_assert_not_null(c);
	config_parse_buffer(c, "t.conf", text, strlen(text));
	return c;
}

/* All of c's errors, one a line. */
static void
errors_of(const struct config *c, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < c->nerrors; i++) {
		strncat(out, c->errors[i].text, cap - strlen(out) - 1);
		strncat(out, "\n", cap - strlen(out) - 1);
	}
}

Test(config, a_valid_file)
{
	struct config *c = parse("# vigil\n"
				 "[supervisor]\n"
				 "timeout = 3s\n"
				 "  log-level = debug ; indented, with a comment\n"
				 "detect-exit = yes\n"
				 "max-workers: 100\n"
				 "on-timeout = signal:TERM@2\n"
				 "startup-grace = 5s\n"
				 "\n"
				 "[worker web-1]\n"
				 "timeout = 500ms\n"
				 "on-timeout = signal:KILL@3\n"
				 "intensity = 5/60s\n"
				 "[worker db]\n"
				 "[ worker   batch@2 ]\n"
				 "expected = no\n");
	char errs[4096];

	errors_of(c, errs, sizeof(errs));
	cr_assert_eq(c->nerrors, 0, "errors: %s", errs);
	cr_expect_eq(c->set.timeout, 3000000);
	cr_expect_eq(c->set.log_level, LOG_LEVEL_DEBUG);
	cr_expect_eq(c->set.detect_exit, 1);
	cr_expect_eq(c->set.max_workers, 100);
	cr_expect_eq(c->set.policy.n, 1);
	cr_expect_eq(c->set.startup_grace, 5000000);
	cr_expect_str_eq(c->set.socket_path, SUPERVISOR_SOCKET_DEFAULT, "a default kept");
	cr_expect_eq(c->key_line[options_find("timeout", 7) - options_table], 3);
	cr_assert_eq(c->nworkers, 3);
	cr_expect_eq(c->nexpected, 2);
	/* Sorted by name, for config_worker's binary search. */
	cr_expect_str_eq(c->workers[0].name, "batch@2");
	cr_expect_str_eq(c->workers[1].name, "db");
	cr_expect_str_eq(c->workers[2].name, "web-1");

	const struct config_worker *w = config_worker(c, "web-1");
	cr_assert_not_null(w);
	cr_expect_eq(w->line, 10);
	cr_expect_eq(w->expected, 1);
	cr_expect_eq(w->given, CONFIG_W_TIMEOUT | CONFIG_W_POLICY | CONFIG_W_INTENSITY);
	cr_expect_eq(w->timeout, 500000);
	cr_assert_not_null(w->policy);
	cr_expect_eq(w->policy->step[0].at, 3);
	cr_expect_eq(w->intensity.max, 5);
	cr_expect_eq(w->intensity.window, 60000000);

	w = config_worker(c, "db");
	cr_assert_not_null(w);
	cr_expect_eq(w->given, 0, "a section without keys: expected, the global settings");
	cr_expect_eq(w->expected, 1);
	cr_expect_null(w->policy);
	cr_expect_eq(config_worker(c, "batch@2")->expected, 0);
	cr_expect_null(config_worker(c, "nobody"));
	config_free(c);
}

Test(config, empty_and_comment_only_files_are_valid)
{
	struct config *c = parse("");
	cr_expect_eq(c->nerrors, 0);
	cr_expect_eq(c->nworkers, 0);
	config_free(c);
	c = parse("; nothing\n# at all\n\n   \n[supervisor]\n");
	cr_expect_eq(c->nerrors, 0);
	cr_expect_eq(c->set.given, 0);
	config_free(c);
}

Test(config, a_byte_order_mark_and_crlf_are_fine)
{
	struct config *c = parse("\xEF\xBB\xBF[supervisor]\r\ntimeout = 2s\r\n");
	char errs[1024];

	errors_of(c, errs, sizeof(errs));
	cr_expect_eq(c->nerrors, 0, "%s", errs);
	cr_expect_eq(c->set.timeout, 2000000);
	config_free(c);
}

/* One error each, with its exact text (and so its line). */
struct bad {
	const char *text;
	const char *error;
};

static const struct bad bad_cases[] = {
    {"[supervisor]\ntimout = 3s\n", "t.conf:2: unknown key 'timout' in [supervisor]"},
    {"[worker web-1]\n\n\ntimout = 3s\n", "t.conf:4: unknown key 'timout' in [worker web-1]"},
    {"[worker web-1]\nsocket = /x\n", "t.conf:2: unknown key 'socket' in [worker web-1]"},
    {"[supervisor]\nexpected = yes\n", "t.conf:2: unknown key 'expected' in [supervisor]"},
    {"[supervisor]\nconfig = /x\n", "t.conf:2: unknown key 'config' in [supervisor]"},
    {"[supervisor]\ntimeout = abc\n",
     "t.conf:2: invalid value 'abc' for 'timeout' in [supervisor]: not a number"},
    {"[supervisor]\ntimeout = 0s\n",
     "t.conf:2: invalid value '0s' for 'timeout' in [supervisor]: must be at least 1ms"},
    {"[supervisor]\nmax-workers = 0\n",
     "t.conf:2: invalid value '0' for 'max-workers' in [supervisor]: need a number from 1 to "
     "16777216"},
    {"[supervisor]\ndetect-exit = perhaps\n",
     "t.conf:2: invalid value 'perhaps' for 'detect-exit' in [supervisor]: use yes or no"},
    {"[supervisor]\nlog-level = loud\n",
     "t.conf:2: invalid value 'loud' for 'log-level' in [supervisor]: use error, warning, info "
     "or debug"},
    {"[supervisor]\nmetrics = nowhere\n",
     "t.conf:2: invalid value 'nowhere' for 'metrics' in [supervisor]: need ADDR:PORT, e.g. "
     "127.0.0.1:9477"},
    {"[worker a]\non-timeout = exec:/no/such/hook\n",
     "t.conf:2: invalid value 'exec:/no/such/hook' for 'on-timeout' in [worker a]: "
     "/no/such/hook: No such file or directory"},
    {"[worker a]\ntimeout = phi:8\n",
     "t.conf:2: invalid value 'phi:8' for 'timeout' in [worker a]: phi:T is for [supervisor] "
     "only; a worker's timeout is a duration"},
    {"[worker a]\nexpected = maybe\n",
     "t.conf:2: invalid value 'maybe' for 'expected' in [worker a]: use yes or no"},
    {"[supervisor]\ntimeout = 1s\nlog-level = info\ntimeout = 2s\n",
     "t.conf:4: duplicate key 'timeout' in [supervisor] (first at line 2)"},
    {"[worker a]\nexpected = no\nexpected = no\n",
     "t.conf:3: duplicate key 'expected' in [worker a] (first at line 2)"},
    {"[supervisor]\n[worker a]\n[supervisor]\n",
     "t.conf:3: duplicate section [supervisor] (first at line 1)"},
    {"[worker a]\n[worker b]\n[worker a]\ntimeout = 1s\n",
     "t.conf:3: duplicate section [worker a] (first at line 1)"},
    {"[frob]\nkey = value\nother = 1\n",
     "t.conf:1: unknown section [frob] (use [supervisor] or [worker NAME])"},
    {"[workers a]\n", "t.conf:1: unknown section [workers a] (use [supervisor] or [worker NAME])"},
    {"[worker]\n", "t.conf:1: [worker] needs a name: [worker NAME]"},
    {"[worker a b]\n",
     "t.conf:1: invalid worker name 'a b' (1 to 64 of A-Z a-z 0-9 . _ @ : -)"},
    {"[worker a/b]\n",
     "t.conf:1: invalid worker name 'a/b' (1 to 64 of A-Z a-z 0-9 . _ @ : -)"},
    {"[worker a\n", "t.conf:1: section header without ']'"},
    {"[worker a] b\n", "t.conf:1: unexpected text after the section header: 'b'"},
    {"timeout = 1s\n",
     "t.conf:1: key 'timeout' outside any section (settings go in [supervisor])"},
    {"[supervisor]\njust words\n", "t.conf:2: expected 'key = value', got 'just words'"},
    {"[supervisor]\nwords ; timeout = 1s\n",
     "t.conf:2: expected 'key = value', got 'words ; timeout = 1s'"},
    {"[supervisor]\n= 1s\n", "t.conf:2: a value without a key"},
    {"[supervisor]\ntimeout =\n", "t.conf:2: missing value for 'timeout' in [supervisor]"},
};

ParameterizedTestParameters(config, each_error_named_with_its_line)
{
	static size_t idx[sizeof(bad_cases) / sizeof(bad_cases[0])];
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(size_t *i, config, each_error_named_with_its_line)
{
	const struct bad *b = &bad_cases[*i];
	struct config *c = parse(b->text);
	char errs[4096];

	errors_of(c, errs, sizeof(errs));
	cr_expect_eq(c->nerrors, 1, "for %s: %s", b->text, errs);
	cr_expect(c->nerrors >= 1 && strcmp(c->errors[0].text, b->error) == 0,
		  "for %s\nwant %s\ngot  %s", b->text, b->error, errs);
	config_free(c);
}

Test(config, every_error_in_line_order)
{
	struct config *c = parse("timeout = 1s\n"              /* 1 */
				 "[supervisor]\n"              /* 2 */
				 "timout = 3s\n"               /* 3 */
				 "timeout = abc\n"             /* 4 */
				 "[worker w]\n"                /* 5 */
				 "timeout = 1s\n"              /* 6 */
				 "[worker x]\n"                /* 7 */
				 "[worker w]\n"                /* 8 */
				 "intensity = 5\n"             /* 9 */
				 "[frob]\n"                    /* 10 */
				 "[worker y]\n"                /* 11 */
				 "expected = sometimes\n");    /* 12 */
	char errs[4096];

	errors_of(c, errs, sizeof(errs));
	cr_expect_str_eq(errs,
			 "t.conf:1: key 'timeout' outside any section (settings go in [supervisor])\n"
			 "t.conf:3: unknown key 'timout' in [supervisor]\n"
			 "t.conf:4: invalid value 'abc' for 'timeout' in [supervisor]: not a number\n"
			 "t.conf:8: duplicate section [worker w] (first at line 5)\n"
			 "t.conf:9: invalid value '5' for 'intensity' in [worker w]: need R/W: a count "
			 "from 1 to 999999, a slash, a duration (e.g. 5/60s)\n"
			 "t.conf:10: unknown section [frob] (use [supervisor] or [worker NAME])\n"
			 "t.conf:12: invalid value 'sometimes' for 'expected' in [worker y]: use yes "
			 "or no\n");
	/* The duplicate is dropped; the first section stands. */
	cr_expect_eq(c->nworkers, 3);
	cr_expect_eq(config_worker(c, "w")->line, 5);
	config_free(c);
}

Test(config, a_line_too_long_and_a_nul_byte)
{
	char text[1024];
	char pad[400];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), "[supervisor]\n; %s\ntimeout = 1s\nsocket = /%s\n", pad, pad);
	struct config *c = parse(text);
	char errs[4096];
	errors_of(c, errs, sizeof(errs));
	cr_expect_eq(c->nerrors, 2, "%s", errs);
	cr_expect_str_eq(errs, "t.conf:2: line too long (more than 197 characters)\n"
			       "t.conf:4: line too long (more than 197 characters)\n");
	cr_expect_eq(c->set.timeout, 1000000, "the line after a long one is read whole");
	config_free(c);

	struct settings def;
	settings_init(&def);
	c = config_new(&def);
	static const char nul[] = "[supervisor]\ntime\0out = 1s\nlog-level = debug\n";
	config_parse_buffer(c, "t.conf", nul, sizeof(nul) - 1);
	errors_of(c, errs, sizeof(errs));
	cr_expect_str_eq(errs, "t.conf:2: a NUL byte in the line\n");
	cr_expect_eq(c->set.log_level, LOG_LEVEL_DEBUG);
	config_free(c);
}

Test(config, allow_user_may_repeat)
{
	struct config *c = parse("[supervisor]\nallow-user = 1\nallow-user = 2\nallow-group = 1\n");
	struct settings def;

	settings_init(&def);
	cr_expect_eq(c->nerrors, 0);
	cr_expect_eq(c->set.allow.nuids, def.allow.nuids + 2);
	cr_expect_eq(c->set.allow.ngids, def.allow.ngids + 1);
	config_free(c);
}

Test(config, too_many_errors_are_counted)
{
	size_t cap = 200 * 16 + 32;
	char *text = malloc(cap);
	size_t n = (size_t)snprintf(text, cap, "[supervisor]\n");

	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, cap - n, "bad%03d = 1\n", i);
	struct config *c = parse(text);
	cr_expect_eq(c->nerrors, CONFIG_ERRORS_MAX + 1);
	cr_expect_str_eq(c->errors[c->nerrors - 1].text, "t.conf: ... and 100 more errors");
	config_free(c);
	free(text);
}

/* The file, then the command line, through configure_build as the daemon does. */
static char conf_path[64];

static void
write_conf(const char *text)
{
	snprintf(conf_path, sizeof(conf_path), "/tmp/vigil-test-config.XXXXXX");
	int fd = mkstemp(conf_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
cleanup(void)
{
	if (conf_path[0] != '\0')
		unlink(conf_path);
}

static void
usage_none(FILE *fp)
{
	(void)fp;
}

static int
build(struct options_cli *cli, struct config **c, char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	optind = 0;
	options_parse_argv(argc, argv, cli, usage_none);
	return configure_build(cli, c);
}

TestSuite(build, .fini = cleanup);

Test(build, the_command_line_overrides_the_file)
{
	write_conf("[supervisor]\ntimeout = 3s\nlog-level = debug\nmax-workers = 10\n"
		   "[worker w]\ntimeout = 1s\n");
	struct options_cli cli;
	struct config *c;
	char *argv[] = {"vigil-supervisor", "--config", conf_path, "--timeout", "5s", "-m", "20",
			NULL};

	cr_assert_eq(build(&cli, &c, argv), 0);
	cr_expect_eq(c->loaded, 1);
	cr_expect_eq(c->set.timeout, 5000000, "--timeout wins over timeout =");
	cr_expect_eq(c->set.max_workers, 20, "-m wins over max-workers =");
	cr_expect_eq(c->set.log_level, LOG_LEVEL_DEBUG, "what the command line leaves, the file sets");
	cr_expect_eq(config_worker(c, "w")->timeout, 1000000, "a worker's own timeout stands");
	config_free(c);
	options_cli_free(&cli);
}

Test(build, the_command_line_switches_phi_on_over_the_file)
{
	write_conf("[supervisor]\ntimeout = 3s\nphi-pause = 1s\n");
	struct options_cli cli;
	struct config *c;
	char *argv[] = {"vigil-supervisor", "--config", conf_path, "--timeout", "phi:8", NULL};

	cr_assert_eq(build(&cli, &c, argv), 0);
	cr_expect_eq(c->set.phi.threshold, 8.0);
	cr_expect_eq(c->set.timeout, 0);
	cr_expect_eq(c->set.phi.pause, 1000000);
	config_free(c);
	options_cli_free(&cli);
}

Test(build, phi_settings_without_phi_name_their_line)
{
	write_conf("[supervisor]\n\nphi-pause = 1s\n");
	struct options_cli cli;
	struct config *c;
	char *argv[] = {"vigil-supervisor", "--config", conf_path, NULL};
	char want[128];

	cr_assert_eq(build(&cli, &c, argv), 1);
	snprintf(want, sizeof(want), "%s:3: 'phi-pause' needs 'timeout = phi:T'", conf_path);
	cr_assert_eq(c->nerrors, 1);
	cr_expect_str_eq(c->errors[0].text, want);
	config_free(c);
	options_cli_free(&cli);
}

Test(build, a_missing_file_given_is_an_error_the_default_is_not)
{
	struct options_cli cli;
	struct config *c;
	char *argv[] = {"vigil-supervisor", "--config", "/nonexistent/vigil.conf", NULL};

	cr_assert_eq(build(&cli, &c, argv), 1);
	cr_assert_eq(c->nerrors, 1);
	cr_expect_str_eq(c->errors[0].text,
			 "/nonexistent/vigil.conf: cannot read /nonexistent/vigil.conf: No such "
			 "file or directory");
	config_free(c);
	options_cli_free(&cli);

	/* The default path, as if it did not exist: no file, no error. */
	char *argv2[] = {"vigil-supervisor", "-t", "2s", NULL};
	optind = 0;
	options_parse_argv(3, argv2, &cli, usage_none);
	cli.config_path = "/nonexistent/vigil.conf";
	cr_assert_eq(configure_build(&cli, &c), 0);
	cr_expect_eq(c->loaded, 0);
	cr_expect_eq(c->set.timeout, 2000000);
	config_free(c);
	options_cli_free(&cli);
}

Test(build, more_expected_workers_than_max_workers)
{
	write_conf("[supervisor]\nmax-workers = 2\n[worker a]\n[worker b]\n[worker c]\n"
		   "[worker d]\nexpected = no\n");
	struct options_cli cli;
	struct config *c;
	char *argv[] = {"vigil-supervisor", "--config", conf_path, NULL};
	char want[128];

	cr_assert_eq(build(&cli, &c, argv), 1);
	snprintf(want, sizeof(want), "%s: 3 workers expected, more than max-workers (2)", conf_path);
	cr_assert_eq(c->nerrors, 1);
	cr_expect_str_eq(c->errors[0].text, want);
	config_free(c);
	options_cli_free(&cli);
}

/*
 * What the path names: only a regular file of at most CONFIG_FILE_MAX bytes
 * is read; anything else is refused at once, by name, never waited on.
 */
static char file_dir[64];

static void
file_setup(void)
{
	snprintf(file_dir, sizeof(file_dir), "/tmp/vigil-test-file.XXXXXX");
	cr_assert_not_null(mkdtemp(file_dir), "mkdtemp: %m");
}

/* The path of name in file_dir. */
static const char *
file_path(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", file_dir, name);
	return path;
}

static void
file_cleanup(void)
{
	static const char *const names[] = {"fifo", "zero", "cap", "over", "sparse", "valid"};

	if (file_dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(file_path(names[i]));
	rmdir(file_path("dir"));
	rmdir(file_dir);
	file_dir[0] = '\0';
}

TestSuite(file, .init = file_setup, .fini = file_cleanup, .timeout = 10);

/* config_parse_file on path: its return, and its errors in out. */
static struct config *
parse_file(const char *path, int *rc, char *out, size_t cap)
{
	struct settings def;

	settings_init(&def);
	struct config *c = config_new(&def);
	cr_assert_not_null(c);
	*rc = config_parse_file(c, path);
	errors_of(c, out, cap);
	return c;
}

/* A file of exactly size bytes: a valid configuration, padded with comment lines. */
static void
write_sized(const char *path, size_t size)
{
	static const char head[] = "[supervisor]\ntimeout = 2s\n";
	char *text = malloc(size);
	size_t n = sizeof(head) - 1;

	cr_assert_not_null(text);
	cr_assert_geq(size, n + 2);
	memcpy(text, head, n);
	while (n < size) {
		size_t line = size - n < 100 ? size - n : 100;
		memset(text + n, '#', line - 1);
		text[n + line - 1] = '\n';
		n += line;
	}
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(text, 1, size, fp), size);
	cr_assert_eq(fclose(fp), 0);
	free(text);
}

struct not_regular {
	const char *name;
	int (*make)(const char *path);
	const char *what;
};

static int
make_fifo(const char *path)
{
	return mkfifo(path, 0600);
}

static int
make_zero(const char *path)
{
	return symlink("/dev/zero", path);
}

static int
make_dir(const char *path)
{
	return mkdir(path, 0700);
}

static const struct not_regular not_regular_cases[] = {
    {"fifo", make_fifo, "a FIFO"},              /* open() would wait for a writer */
    {"zero", make_zero, "a character device"},  /* read() would never end */
    {"dir", make_dir, "a directory"},
};

ParameterizedTestParameters(file, only_a_regular_file_is_read)
{
	static size_t idx[sizeof(not_regular_cases) / sizeof(not_regular_cases[0])];
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(size_t *i, file, only_a_regular_file_is_read)
{
	const struct not_regular *k = &not_regular_cases[*i];
	char path[128], want[512], errs[1024];
	int rc;

	snprintf(path, sizeof(path), "%s", file_path(k->name));
	cr_assert_eq(k->make(path), 0, "%s: %m", path);
	uint64_t t0 = vigil_now_usec();
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	uint64_t took = vigil_now_usec() - t0;

	snprintf(want, sizeof(want), "%s: not a regular file (%s)\n", path, k->what);
	cr_expect_eq(rc, -1);
	cr_expect_str_eq(errs, want);
	cr_expect_eq(c->missing, 0, "%s is there", k->name);
	cr_expect_eq(c->loaded, 0);
	cr_expect_lt(took, 100000, "%s: refused after %llu us", k->name, (unsigned long long)took);
	config_free(c);
}

Test(file, one_byte_over_the_limit_is_refused)
{
	char path[128], want[512], errs[1024];
	int rc;

	snprintf(path, sizeof(path), "%s", file_path("over"));
	write_sized(path, CONFIG_FILE_MAX + 1);
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	snprintf(want, sizeof(want), "%s: too large (1048577 bytes; at most 1 MiB)\n", path);
	cr_expect_eq(rc, -1);
	cr_expect_str_eq(errs, want);
	cr_expect_eq(c->loaded, 0);
	cr_expect_eq(c->set.timeout, 0, "nothing of it applied");
	config_free(c);
}

Test(file, a_sparse_file_far_too_large_is_refused_unread)
{
	char path[128], want[512], errs[1024];
	int rc;

	snprintf(path, sizeof(path), "%s", file_path("sparse"));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 100 << 20), 0);
	close(fd);
	uint64_t t0 = vigil_now_usec();
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	uint64_t took = vigil_now_usec() - t0;
	snprintf(want, sizeof(want), "%s: too large (104857600 bytes; at most 1 MiB)\n", path);
	cr_expect_eq(rc, -1);
	cr_expect_str_eq(errs, want);
	cr_expect_lt(took, 100000, "refused after %llu us", (unsigned long long)took);
	config_free(c);
}

Test(file, a_file_of_exactly_the_limit_is_read)
{
	char path[128], errs[1024];
	int rc;

	snprintf(path, sizeof(path), "%s", file_path("cap"));
	write_sized(path, CONFIG_FILE_MAX);
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	cr_expect_eq(rc, 0, "%s", errs);
	cr_expect_str_eq(errs, "");
	cr_expect_eq(c->loaded, 1);
	cr_expect_eq(c->set.timeout, 2000000);
	config_free(c);
}

/* A regular file whose size says nothing (procfs: 0): read up to the limit, no further. */
Test(file, a_file_larger_than_its_size_says_is_cut_at_the_limit)
{
	static const char path[] = "/proc/kallsyms";
	char want[512], errs[1024];
	struct stat st;
	int rc, fd = open(path, O_RDONLY);
	char byte;

	if (fd == -1 || fstat(fd, &st) == -1 || st.st_size != 0 ||
	    lseek(fd, CONFIG_FILE_MAX, SEEK_SET) == -1 || read(fd, &byte, 1) != 1) {
		if (fd != -1)
			close(fd);
		cr_skip_test("no %s of more than 1 MiB to read here", path);
	}
	close(fd);
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	snprintf(want, sizeof(want), "%s: too large (more than 1048576 bytes; at most 1 MiB)\n",
		 path);
	cr_expect_eq(rc, -1);
	cr_expect_str_eq(errs, want);
	config_free(c);
}

Test(file, a_missing_file_is_flagged_missing)
{
	char path[128], want[512], errs[1024];
	int rc;

	snprintf(path, sizeof(path), "%s", file_path("nothere.conf"));
	struct config *c = parse_file(path, &rc, errs, sizeof(errs));
	snprintf(want, sizeof(want), "%s: cannot read %s: No such file or directory\n", path, path);
	cr_expect_eq(rc, -1);
	cr_expect_str_eq(errs, want);
	cr_expect_eq(c->missing, 1);
	cr_expect_eq(c->loaded, 0);
	config_free(c);

	/* Not missing: there, but not ours to read (unless we are root). */
	snprintf(path, sizeof(path), "%s", file_path("valid"));
	write_sized(path, 64);
	cr_assert_eq(chmod(path, 0), 0);
	c = parse_file(path, &rc, errs, sizeof(errs));
	cr_expect_eq(c->missing, 0, "%s", errs);
	if (geteuid() != 0) {
		snprintf(want, sizeof(want), "%s: cannot read %s: Permission denied\n", path, path);
		cr_expect_str_eq(errs, want);
	}
	config_free(c);
}

/* Every option of the command line is a key of [supervisor], and the other way round. */
Test(options, every_long_option_is_a_key)
{
	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		if (o->special != OPTION_SPECIAL_NONE) {
			cr_expect(!(o->flags & OPTION_FILE), "%s is for the command line only", o->name);
			continue;
		}
		cr_expect(o->flags & OPTION_FILE, "--%s has no key in the file", o->name);
		cr_expect_not_null(o->parse, "--%s has no parse function", o->name);
		cr_expect_eq(options_find(o->name, strlen(o->name)), o);
	}
}

/* --help as options_usage prints it; free() it. */
static char *
usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	options_usage(fp);
	cr_assert_eq(fclose(fp), 0);
	return buf;
}

/* Every row has help text and its line in --help ("  -s, --socket PATH  ..."), with its default. */
Test(options, every_option_is_in_the_generated_help)
{
	char *help = usage_text();
	char want[256];

	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		const char *arg = o->arg != NULL ? o->arg : "";
		const char *sp = o->arg != NULL ? " " : "";

		cr_expect(o->help != NULL && o->help[0] != '\0', "--%s has no help text", o->name);
		cr_expect_eq(o->arg != NULL, (o->flags & OPTION_ARG) != 0,
			     "--%s: an argument name if and only if it takes a value", o->name);
		if (o->short_name != 0)
			snprintf(want, sizeof(want), "\n  -%c, --%s%s%s ", o->short_name, o->name, sp,
				 arg);
		else
			snprintf(want, sizeof(want), "\n      --%s%s%s ", o->name, sp, arg);
		cr_expect_not_null(strstr(help, want), "--help has no line starting '%s'", want + 1);
		if (o->def != NULL) {
			snprintf(want, sizeof(want), "(default %s)", o->def);
			cr_expect_not_null(strstr(help, want), "--help does not show --%s's %s",
					   o->name, want);
		}
	}
	free(help);
}

/* Wrapped lines start at the description's column, never with a '-' that reads as an option. */
Test(options, the_generated_help_wraps_at_its_column)
{
	char *help = usage_text();
	char *save = NULL;
	size_t options = 0;

	cr_assert_eq(strncmp(help, "Usage: vigil-supervisor [OPTION]...\n", 36), 0, "%s", help);
	cr_expect_not_null(strstr(help, "\n\nExit status: 0 after SIGTERM or SIGINT, 1 on a "
					"runtime error"));
	for (char *line = strtok_r(help, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "  -", 3) == 0 || strncmp(line, "      --", 8) == 0) {
			options++;
			continue;
		}
		if (line[0] != ' ')
			continue; /* the header and the exit statuses */
		cr_expect_eq(strspn(line, " "), 26, "not at the column: '%s'", line);
		cr_expect_neq(line[26], '-', "reads as an option: '%s'", line);
		cr_expect(strlen(line) <= 80 || strchr(line + 26, ' ') == NULL, "too wide: '%s'",
			  line);
	}
	cr_expect_eq(options, options_count + 1, "one line per option, and timeout phi:T");
	free(help);
}

/* A default --help shows that is a value is the one settings_init() sets. */
Test(options, the_defaults_shown_are_the_defaults)
{
	size_t checked = 0;
	char err[256];

	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		struct settings want, got;

		if (o->def == NULL || o->parse == NULL || o->size == 0)
			continue;
		settings_init(&want);
		settings_init(&got);
		if (o->parse(&got, o->def, err, sizeof(err)) == -1)
			continue; /* words, not a value: "off" */
		cr_expect_eq(memcmp((char *)&got + o->offset, (char *)&want + o->offset, o->size), 0,
			     "--help says --%s defaults to %s; settings_init() does not", o->name,
			     o->def);
		checked++;
	}
	cr_expect_geq(checked, 8, "only %zu defaults checked", checked);
}

/*
 * options.h: vigil-supervisor's settings and the one table of its options.
 * Every row is a long option (getopt_long) and, unless it is marked command
 * line only, a key of the configuration file (config.h) with the same name
 * and the same value syntax, parsed by the same function into a struct
 * settings. The row also holds what --help says of it (options_usage). A new
 * option is a field here and a row in options.c; the supervisor reads it
 * from the settings in force (supervisor.h's set).
 */
#ifndef VIGIL_OPTIONS_H
#define VIGIL_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "allow.h"
#include "netaddr.h"
#include "log.h"
#include "phi.h"
#include "policy.h"

/* Defaults and bounds of the settings. */
#define SUPERVISOR_SOCKET_DEFAULT "/run/vigil/supervisor.sock"
#define SUPERVISOR_CONTROL_DEFAULT "/run/vigil/control.sock"
#define SUPERVISOR_MAX_WORKERS_DEFAULT 65536
#define SUPERVISOR_TIMEOUT_FALLBACK (10 * 1000000ULL) /* no --timeout, no INTERVAL_MS */
#define SUPERVISOR_INTERVAL_FACTOR 3 /* default timeout = 3 x the worker's interval */
#define SUPERVISOR_TIMEOUT_MIN 1000ULL                     /* --timeout: at least 1ms */
#define SUPERVISOR_TIMEOUT_MAX (7 * 24 * 3600 * 1000000ULL) /* --timeout: at most 168h */
#define SUPERVISOR_INTERVAL_MAX_MS (24 * 3600 * 1000ULL)     /* INTERVAL_MS beyond: 24h */
#define SUPERVISOR_TIMEOUT_LOG_BURST 100 /* "timed out" lines per second, at most */
#define SUPERVISOR_HOOK_TIMEOUT (10 * 1000000ULL) /* --hook-timeout default */
#define SUPERVISOR_MIN_TIMEOUT_DEFAULT 10000ULL /* --min-timeout: a peer's claim, at least 10ms */

/* --identity: how the process behind a datagram is told apart from a later one with its pid. */
enum settings_identity {
	IDENTITY_AUTO = 0,   /* pidfds from the kernel if it gives them, else start times */
	IDENTITY_PIDFD,      /* SCM_PIDFD, or refuse to start */
	IDENTITY_START_TIME, /* start times against arrival times, even where SCM_PIDFD works */
};

#define SETTINGS_PATH_MAX 256     /* socket paths, as given (sock.c checks sun_path) */
#define SETTINGS_GRACE_DEFAULT (30 * 1000000ULL) /* startup-grace */
#define SETTINGS_SOCKET_MODE_DEFAULT 0660 /* socket-mode */
#define OPTIONS_MAX 64            /* rows in the table: bits of settings.given */

/* Everything the options set, with the defaults of settings_init(). */
struct settings {
	char socket_path[SETTINGS_PATH_MAX];
	char control_path[SETTINGS_PATH_MAX];
	uint64_t timeout;       /* usec; 0: derive per worker */
	struct phi_params phi;  /* timeout phi:T; threshold 0 when off */
	size_t max_workers;
	int detect_exit;        /* watch each worker's process with a pidfd */
	enum settings_identity identity; /* pidfds from the kernel, or start times */
	uint64_t min_timeout;   /* usec: the least timeout a peer may claim (WATCHDOG_USEC=, INTERVAL_MS=) */
	struct policy policy;   /* on-timeout: signals and hooks at given MISSED counts */
	uint64_t hook_timeout;  /* usec: a hook still running then is killed */
	struct intensity intensity; /* R/W: when a worker is failed */
	struct allow allow;     /* who may register a name */
	char metrics[NETADDR_MAX]; /* "": no HTTP endpoint */
	struct netaddr metrics_addr;
	enum log_level log_level;
	uint64_t startup_grace; /* usec an expected worker has to heartbeat first */
	unsigned socket_mode;   /* the heartbeat socket's mode when we bind it (not systemd) */
	long long socket_group; /* ... and its group: a gid, or -1 to leave it as created */
	char state_file[SETTINGS_PATH_MAX]; /* the registry's snapshot (store.h); "": the default */
	uint64_t given;         /* bit i: option i was given */
};

enum option_flag {
	OPTION_ARG = 1u << 0,     /* takes a value */
	OPTION_FILE = 1u << 1,    /* a key of [supervisor] */
	OPTION_WORKER = 1u << 2,  /* also a key of [worker NAME] */
	OPTION_RESTART = 1u << 3, /* cannot change at runtime: a reload keeps the old value */
	OPTION_REPEAT = 1u << 4,  /* may be given more than once; each adds */
};

/* Options handled by the command line itself, not by a parse function. */
enum option_special {
	OPTION_SPECIAL_NONE = 0,
	OPTION_SPECIAL_CONFIG,
	OPTION_SPECIAL_CHECK,
	OPTION_SPECIAL_HELP,
	OPTION_SPECIAL_VERSION,
};

struct option_def {
	const char *name; /* --name, and the key "name" */
	int short_name;   /* getopt's short option, 0 if none */
	unsigned flags;   /* OPTION_* */
	enum option_special special;
	/* Parse arg into s; -1 with err saying why (without the option's name). */
	int (*parse)(struct settings *s, const char *arg, char *err, size_t errlen);
	size_t offset, size; /* the one field it sets, if so; OPTION_RESTART: compared at a reload */
	/* --help: "-s, --socket ARG  HELP (default DEF)"; HELP is wrapped, '\n' breaks a line. */
	const char *arg;  /* the value's name, e.g. "DUR", "PATH"; NULL without OPTION_ARG */
	const char *help; /* what it does */
	const char *def;  /* its default as shown; NULL: none shown */
	const char *alt_arg, *alt_help; /* a second form of the value (timeout phi:T), or NULL */
};

extern const struct option_def options_table[];
extern const size_t options_count;

/* The command line as given: the options in order, for every (re)load to apply last. */
struct options_cli {
	struct {
		unsigned opt; /* index in options_table */
		const char *arg;
	} *args;
	size_t nargs;
	const char *config_path; /* --config (made absolute), else the default */
	char config_abs[4096];   /* a relative --config, made absolute */
	int config_given;        /* --config was given: the file must exist */
	int check_config;        /* --check-config */
};

/* The defaults. */
void settings_init(struct settings *s);

/*
 * path, made absolute against the directory the supervisor started in (it
 * then runs from "/"), into out (zero-filled); -1 if it does not fit cap.
 */
int options_absolute(const char *path, char *out, size_t cap);

/* The row called name (len bytes), or NULL. */
const struct option_def *options_find(const char *name, size_t len);

/* Apply option i with arg to s, marking it given; -1 with err (the reason). */
int options_apply(struct settings *s, unsigned i, const char *arg, char *err, size_t errlen);

/* --help: every row of the table in order, then the exit statuses. */
void options_usage(FILE *fp);

/*
 * Parse argv into cli, checking every value (exit 2 with a usage error),
 * and handle --help and --version (exit 0). cli->args points into argv.
 */
void options_parse_argv(int argc, char **argv, struct options_cli *cli,
			void (*usage)(FILE *fp));

/* Apply the command line's options to s, in order; -1 with err naming the option. */
int options_apply_cli(const struct options_cli *cli, struct settings *s, char *err,
		      size_t errlen);

/*
 * What the options together must satisfy; -1 with err and *opt the index of
 * the option at fault (the phi settings need timeout phi:T).
 */
int settings_check(const struct settings *s, unsigned *opt, char *err, size_t errlen);

void options_cli_free(struct options_cli *cli);

#endif
